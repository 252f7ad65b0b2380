"""Successive halving against what a user would pick instead: the same configs, resource and
budget, on the same 2 cores.

Writes bench/out/halving_peers.json.

Workload (front-loaded): generated data, StandardScaler -> RBFSampler (random Fourier features,
the expensive part) -> SGDClassifier trained one epoch (``partial_fit`` pass) per resource unit.
81 configs from gridded random search (3 feature maps x 27 alphas), max 27 epochs, eta 3, one
holdout fold. Every contender evaluates exactly these 81 configs:

* dagreuse ``ASHA`` (one bracket) and ``SuccessiveHalving``, ``resources.Iterations("max_iter")``
  — promotions resume from the cached checkpoint, and configs share their feature maps;
* scikit-learn's ``HalvingGridSearchCV`` (``resource="clf__max_iter"``: each rung refits its
  pipelines from scratch with ``max_iter`` at the rung's level), ``n_jobs=2``;
* Optuna with ``SuccessiveHalvingPruner`` and with ``HyperbandPruner`` (the configs enqueued, so
  its sampler draws nothing), the objective training epoch by epoch and reporting each,
  ``n_jobs=2``;
* Ray Tune's ``ASHAScheduler`` when ``ray`` imports (``pip install ray``), 2 CPUs.

Optuna, Ray and dagreuse train the same models epoch for epoch, so a config's score at 27 epochs
is the same in all three. For each contender: its wall, its final best score (at 27 epochs), the
time it first reached that score, the time of its first full-resource result, and the training
units (epochs) it spent; then how much sooner dagreuse reached the fastest peer's best score.
``--seeds K`` repeats that last comparison on K - 1 more gridded draws (dagreuse ASHA and the
Optuna pruners only) and prints the median: one draw's order decides which config a pruner
trains first to the full resource, unpruned, and so when it finds its best.

    pip install -e ".[bench]"; python bench/halving_peers.py [--seeds K]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import pathlib
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, Runner, resolve_cv, resources, space
from dagreuse.search import ASHA, GriddedRandomSearch, SuccessiveHalving, run

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _workloads import timit_like

OUT = pathlib.Path(__file__).parent / "out"
R, ETA, CV = 27, 3, 0.05
BRANCHING = [1, 3, 27]  # gridded random search: 3 feature maps x 27 alphas
SPACE = {"gamma": (5e-5, 5e-3), "n_components": [500, 1000], "alpha": (1e-6, 1e-2)}


def pipeline() -> Pipeline:
    return Pipeline([
        ("scale", StandardScaler()),
        ("features", RBFSampler(random_state=0), {"gamma": space.loguniform(*SPACE["gamma"]),
                                                  "n_components": space.choice(SPACE["n_components"])}),
        ("clf", SGDClassifier(tol=None, random_state=0), {"alpha": space.loguniform(*SPACE["alpha"])}),
    ])


def flat(config) -> dict:
    """A dagreuse config as one dict of parameters (the peers' form)."""
    return {"gamma": config["features"][1]["gamma"],
            "n_components": config["features"][1]["n_components"],
            "alpha": config["clf"][1]["alpha"]}


def summary(name, wall, timeline, units, **extra):
    """``timeline``: (elapsed s, score) of each evaluation at the full resource."""
    best = max(s for _, s in timeline)
    reached = min(t for t, s in timeline if s >= best)
    return {"contender": name, "wall_s": wall, "best_score": best, "time_to_best_s": reached,
            "first_full_s": min(t for t, _ in timeline), "units": units,
            "full_evaluations": len(timeline), "timeline": sorted(timeline), **extra}


# -- dagreuse --------------------------------------------------------------------------------
def dagreuse(name, make, X, y):
    with Runner() as runner:  # a local cluster: one worker, 2 threads, the default cache
        t0 = time.perf_counter()
        result = run(make(), X, y, cv=CV, scoring="accuracy", runner=runner)
        wall = time.perf_counter() - t0
    timeline = [(t["elapsed"], t["mean_score"]) for t in result.trials if t["resource"] == R]
    return summary(name, wall, timeline, result.profile.units_trained,
                   speedup=result.profile.speedup, ideal=result.profile.ideal_speedup)


# -- scikit-learn ----------------------------------------------------------------------------
def sklearn_halving(configs, X, y, folds):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV
    from sklearn.pipeline import make_pipeline

    est = make_pipeline(StandardScaler(), RBFSampler(random_state=0),
                        SGDClassifier(tol=None, random_state=0))
    grid = [{"rbfsampler__gamma": [c["gamma"]], "rbfsampler__n_components": [c["n_components"]],
             "sgdclassifier__alpha": [c["alpha"]]} for c in configs]
    search = HalvingGridSearchCV(est, grid, factor=ETA, resource="sgdclassifier__max_iter",
                                 min_resources=1, max_resources=R, cv=folds, scoring="accuracy",
                                 n_jobs=2, refit=False)
    t0 = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - t0
    res = search.cv_results_
    top = res["n_resources"] == max(res["n_resources"])
    units = int(sum(n * r for n, r in zip(search.n_candidates_, search.n_resources_, strict=True)))
    # scikit-learn reports at the end: every score is known only then
    return summary("scikit-learn HalvingGridSearchCV", wall,
                   [(wall, s) for s in res["mean_test_score"][top]], units)


# -- Optuna ----------------------------------------------------------------------------------
def train_epochs(c, X, y, train, test, report):
    """The peers' objective: the prefix from scratch, then one partial_fit pass per epoch,
    reporting the validation score after each; ``report(epoch, score)`` may stop it."""
    scale = StandardScaler()
    rf = RBFSampler(gamma=c["gamma"], n_components=c["n_components"], random_state=0)
    Z = rf.fit_transform(scale.fit_transform(X[train]), y[train])
    Zv = rf.transform(scale.transform(X[test]))
    clf = SGDClassifier(alpha=c["alpha"], tol=None, random_state=0, max_iter=R)
    classes = np.unique(y[train])
    score = math.nan
    for epoch in range(1, R + 1):
        clf.partial_fit(Z, y[train], classes=classes)
        score = clf.score(Zv, y[test])
        if report(epoch, score):
            break
    return score


def optuna_run(name, pruner, configs, X, y, folds):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train, test = folds[0]
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for c in configs:
        study.enqueue_trial(c)

    def objective(trial):
        c = {"gamma": trial.suggest_float("gamma", *SPACE["gamma"], log=True),
             "n_components": trial.suggest_categorical("n_components", SPACE["n_components"]),
             "alpha": trial.suggest_float("alpha", *SPACE["alpha"], log=True)}

        def report(epoch, score):
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return False

        return train_epochs(c, X, y, train, test, report)

    t0 = time.perf_counter()
    start = time.time()
    study.optimize(objective, n_trials=len(configs), n_jobs=2)
    wall = time.perf_counter() - t0
    done = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    timeline = [(t.datetime_complete.timestamp() - start, t.value) for t in done]
    units = sum(len(t.intermediate_values) for t in study.trials)
    return summary(name, wall, timeline, units)


# -- Ray Tune --------------------------------------------------------------------------------
def ray_asha(configs, X, y, folds):
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
    except ImportError as exc:
        return {"contender": "Ray Tune ASHAScheduler", "skipped": f"ray does not import: {exc}"}
    train, test = folds[0]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        def report(epoch, score):
            tune.report({"score": score})  # the scheduler stops the trial; never stop here
            return False

        def trainable(config, X=None, y=None):
            train_epochs(config["c"], X, y, train, test, report)

        tuner = tune.Tuner(
            tune.with_parameters(trainable, X=X, y=y),
            param_space={"c": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=ASHAScheduler(
                max_t=R, grace_period=1, reduction_factor=ETA, brackets=1)),
            run_config=tune.RunConfig(verbose=0, storage_path=str(OUT / "ray")),
        )
        t0, start = time.perf_counter(), time.time()
        grid = tuner.fit()
        wall = time.perf_counter() - t0
    finally:
        ray.shutdown()
    frames = [r.metrics_dataframe for r in grid]
    timeline = [(f["timestamp"].iloc[-1] - start, f["score"].iloc[-1]) for f in frames
                if f["training_iteration"].iloc[-1] == R]
    units = int(sum(f["training_iteration"].iloc[-1] for f in frames))
    return summary("Ray Tune ASHAScheduler", wall, timeline, units)


def contenders(seed, X, y, folds, every=True):
    """Each contender's row on the 81 configs of gridded draw ``seed``; with ``every=False`` only
    dagreuse ASHA and the Optuna pruners (scikit-learn's reports only at its end, and Ray's
    per-trial overhead takes minutes: neither is ever the fastest to its best)."""
    pipe = pipeline()
    source = lambda: GriddedRandomSearch(pipe, BRANCHING, seed=seed)  # noqa: E731
    configs = [flat(c) for c in source().configs()]
    iters = resources.Iterations("max_iter")
    rows = [dagreuse("dagreuse ASHA", lambda: ASHA(
        source(), iters, min_resource=1, max_resource=R, eta=ETA, brackets=[0]), X, y)]
    if every:
        rows.append(dagreuse("dagreuse SuccessiveHalving", lambda: SuccessiveHalving(
            source(), iters, min_resource=1, max_resource=R, eta=ETA), X, y))
        rows.append(sklearn_halving(configs, X, y, folds))
    try:
        import optuna
    except ImportError as exc:
        rows.append({"contender": "Optuna", "skipped": f"optuna does not import: {exc}"})
    else:
        rows.append(optuna_run("Optuna SuccessiveHalvingPruner", optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=ETA), configs, X, y, folds))
        rows.append(optuna_run("Optuna HyperbandPruner", optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=R, reduction_factor=ETA), configs, X, y, folds))
    if every:
        rows.append(ray_asha(configs, X, y, folds))
    return rows


def sooner(rows) -> dict:
    """The fastest peer to its own best score, and how much sooner dagreuse ASHA reached it
    (absent when it never did)."""
    ours = next(r for r in rows if r["contender"] == "dagreuse ASHA")
    peers = [r for r in rows if "skipped" not in r and not r["contender"].startswith("dagreuse")]
    fastest = min(peers, key=lambda r: r["time_to_best_s"])
    hits = [t for t, s in ours["timeline"] if s >= fastest["best_score"]]
    out = {"fastest_peer": fastest["contender"], "peer_best": fastest["best_score"],
           "peer_time_to_best_s": fastest["time_to_best_s"],
           "peer_first_full_s": fastest["first_full_s"]}
    if hits:
        out.update(dagreuse_time_s=min(hits), dagreuse_sooner=fastest["time_to_best_s"] / min(hits))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data (a smoke run)")
    parser.add_argument("--seeds", type=int, default=1, help="gridded draws: the first with "
                        "every contender, the others with dagreuse ASHA and the Optuna pruners")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    from threadpoolctl import threadpool_limits

    X, y = timit_like(n=2_000, d=64) if args.quick else timit_like()
    folds = resolve_cv(CV, X, y, classifier=True)
    with threadpool_limits(1):
        rows = contenders(0, X, y, folds)
    print(f"{math.prod(BRANCHING)} configs, {len(X)} rows x {X.shape[1]} features, up to {R} epochs, "
          f"eta {ETA}, holdout {CV:.0%}\n")
    print(f"{'contender':<34}{'wall s':>8}{'best':>8}{'to best s':>11}{'1st full s':>11}"
          f"{'epochs':>8}{'at 27':>7}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['contender']:<34}  skipped: {r['skipped']}")
            continue
        print(f"{r['contender']:<34}{r['wall_s']:>8.1f}{r['best_score']:>8.4f}"
              f"{r['time_to_best_s']:>11.1f}{r['first_full_s']:>11.1f}{r['units']:>8}"
              f"{r['full_evaluations']:>7}")
    report = {"rows": rows, "draws": [sooner(rows)]}
    with threadpool_limits(1):
        report["draws"] += [sooner(contenders(s, X, y, folds, every=False))
                            for s in range(1, args.seeds)]
    print(f"\n{'draw':<6}{'fastest peer to its best':<34}{'best':>8}{'to best s':>11}"
          f"{'1st full s':>11}{'dagreuse s':>12}{'sooner':>8}")
    for seed, d in enumerate(report["draws"]):
        ours = (f"{d['dagreuse_time_s']:>12.1f}{d['dagreuse_sooner']:>7.2f}x"
                if "dagreuse_sooner" in d else f"{'never':>12}{'-':>8}")
        print(f"{seed:<6}{d['fastest_peer']:<34}{d['peer_best']:>8.4f}"
              f"{d['peer_time_to_best_s']:>11.1f}{d['peer_first_full_s']:>11.1f}{ours}")
    ratios = [d.get("dagreuse_sooner", 0.0) for d in report["draws"]]
    report["median_sooner"] = float(np.median(ratios))
    print(f"dagreuse ASHA reached the fastest peer's best {report['median_sooner']:.2f}x as soon "
          f"(median of {len(ratios)} draws; 'never' counts 0)")
    OUT.mkdir(exist_ok=True)
    (OUT / "halving_peers.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"wrote {OUT / 'halving_peers.json'}")


if __name__ == "__main__":
    main()
