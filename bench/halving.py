"""The thesis' Fig. 4.7, measured rather than simulated: how much does reuse save when successive
halving shrinks the leaves so that the shared prefix dominates?

Writes bench/out/halving.json and bench/out/halving.png (the three panels).

Workload in the shape of the thesis' TIMIT task (random features, then a linear model trained
for a fixed number of iterations): generated data (scikit-learn's ``make_classification``,
float32), StandardScaler -> RBFSampler (random Fourier features; gamma and n_components searched)
-> SGDClassifier, 15 epochs (alpha searched). The leaf's full-resource fit costs at least as much
as the featurization, and its cost falls with its rows (an L-BFGS leaf, as in the thesis, costs
a quarter of its full fit at 1/64 of the rows). The resource is the leaf's
training-set size (``resources.Samples``): every prefix node is computed on the whole fold once
and shared by every rung. dagreuse runs with WReciprocal at half the working set (and, for
reference, Unbounded) on one local Dask worker with 2 threads.

Panels:

* left — uniform allocation: 100 pipelines from gridded random search with branching
  1, 5, 10, 50, 100 on the random-features stage (and 100/b classifiers under each);
* middle — successive halving, eta = 4, r = R/64, on 100 pipelines (branching 10 x 10);
* right — successive halving, eta = 4, r = R/256, on 256 pipelines (branching 8 x 32).

The independent evaluation is that of the same schedule: every (config, resource, fold) that the
search evaluated, fitted from scratch as its own scikit-learn pipeline (its prefix on the whole
fold, the leaf on the same rows) in its own task on the same cluster, all at once (it is given
the schedule, so it never waits at a rung's end: that favours it). Scores are asserted equal.
*speedup* is independent wall / dagreuse wall; *ideal* is ``profile.ideal_speedup``.

    python bench/halving.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import sys
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import Unbounded, WReciprocal
from dagreuse.pipes import Pipeline, Runner, resolve_cv, space
from dagreuse.pipes.resources import Samples, fit_pipeline
from dagreuse.search import GriddedRandomSearch, SuccessiveHalving, run

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _workloads import cluster_of

OUT = pathlib.Path(__file__).parent / "out"
THESIS = {"uniform": "about 2x (branching 10)", "sha64": "over 8x", "sha256": "over 17x"}
CV = 0.05  # one holdout fold of 5%: the leaf is always scored on all of it


def timit_like(n: int = 12_000, d: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=n, n_features=d, n_informative=48, n_redundant=16,
                               n_classes=2, flip_y=0.05, random_state=0)
    return X.astype(np.float32), y


def pipeline() -> Pipeline:
    return Pipeline([
        ("scale", StandardScaler()),
        ("features", RBFSampler(random_state=0), {"gamma": space.loguniform(5e-5, 5e-3),
                                                  "n_components": space.choice([500, 1000])}),
        ("clf", SGDClassifier(max_iter=15, tol=None, random_state=0),
         {"alpha": space.loguniform(1e-6, 1e-2)}),
    ])


def _fit_score(estimator, X, y, train, test, level):
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    t0 = time.perf_counter()
    if level is None:
        fitted = clone(estimator).fit(X[train], y[train])
    else:
        fitted = fit_pipeline(estimator, X[train], y[train], Samples(), level)
    return fitted.score(X[test], y[test]), time.perf_counter() - t0


def independent(client, pipe, schedule, X, y, folds):
    """Every (config, level) of ``schedule`` on every fold, from scratch, each its own task."""
    t0 = time.perf_counter()
    [Xf, yf] = client.scatter([X, y], broadcast=True, hash=False)
    futures = [client.submit(_fit_score, pipe.build(c), Xf, yf, tr, te, level, pure=False)
               for c, level in schedule for tr, te in folds]
    scores, seconds = zip(*client.gather(futures), strict=True)
    return time.perf_counter() - t0, list(scores), sum(seconds)


def dagreuse(client, make_search, X, y, cache):
    with Runner(cache, client=client) as runner:
        t0 = time.perf_counter()
        result = run(make_search(), X, y, cv=CV, scoring="accuracy", runner=runner)
        return time.perf_counter() - t0, result


def panel(client, name, make_search, X, y):
    """Unbounded (to learn the working set), WReciprocal at half of it, then the independent
    evaluation of the schedule the search ran. Returns a row of figures."""
    pipe = make_search().pipeline
    folds = resolve_cv(CV, X, y, classifier=True)
    _, full = dagreuse(client, make_search, X, y, Unbounded())
    ws = full.profile.working_set_bytes
    wall, result = dagreuse(client, make_search, X, y, WReciprocal(ws // 2, seed=0))
    schedule = [(t["config"], t["resource"]) for t in result.trials]
    indep_wall, scores, indep_compute = independent(client, pipe, schedule, X, y, folds)
    ours = [s for t in result.trials for s in t["scores"]]
    assert np.allclose(ours, scores, atol=1e-9), f"{name}: scores differ from scikit-learn's"
    assert [t["scores"] for t in full.trials] == [t["scores"] for t in result.trials]
    p = result.profile
    row = {"panel": name, "evaluations": len(schedule), "configs": len({t["config_id"] for t in
                                                                        result.trials}),
           "independent_wall_s": indep_wall, "independent_compute_s": indep_compute,
           "dagreuse_wall_s": wall, "dagreuse_compute_s": p.spent_seconds,
           "unbounded_wall_s": full.profile.wall_seconds, "speedup": indep_wall / wall,
           "ideal_speedup": p.ideal_speedup, "profile_speedup": p.speedup,
           "working_set_bytes": ws, "peak_bytes": p.cache_stats["peak_bytes"],
           "computed": p.n_computed, "unique_nodes": p.n_unique_nodes,
           "best_score": result.best_score}
    row["of_ideal"] = row["speedup"] / row["ideal_speedup"]
    print(f"{name:<26}{len(schedule):>6}{indep_wall:>9.1f}{wall:>9.1f}{row['speedup']:>9.2f}"
          f"{p.ideal_speedup:>8.2f}{row['of_ideal']:>8.0%}{p.n_computed:>7}/{p.n_unique_nodes:<5}"
          f"{ws / 1e6:>8.0f}")
    return row


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    left = [r for r in rows if r["panel"].startswith("uniform")]
    b = [int(r["panel"].split("b=")[1]) for r in left]
    axes[0].plot(b, [r["speedup"] for r in left], "o-", label="measured")
    axes[0].plot(b, [r["ideal_speedup"] for r in left], "s--", label="ideal (profile)")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("branching factor of the random-features stage")
    axes[0].set_title("uniform allocation, 100 pipelines")
    uniform10 = next(r for r in left if r["panel"].endswith("b=10"))
    for ax, key, title in ((axes[1], "sha64", "SHA eta=4, r=R/64, 100 pipelines"),
                           (axes[2], "sha256", "SHA eta=4, r=R/256, 256 pipelines")):
        r = next(r for r in rows if r["panel"] == key)
        x = np.arange(2)
        ax.bar(x - 0.2, [uniform10["speedup"], r["speedup"]], 0.4, label="measured")
        ax.bar(x + 0.2, [uniform10["ideal_speedup"], r["ideal_speedup"]], 0.4, label="ideal")
        ax.set_xticks(x, ["uniform (b=10)", "successive halving"])
        ax.set_title(title)
    for ax in axes:
        ax.set_ylabel("speedup over independent evaluation (x)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Fig. 4.7 measured: dagreuse, WReciprocal at half the working set, 2 threads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data (a smoke run)")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    from threadpoolctl import threadpool_limits

    X, y = timit_like(n=2_000, d=64) if args.quick else timit_like()
    pipe = pipeline()
    searches = [(f"uniform b={b}", lambda b=b: GriddedRandomSearch(pipe, [1, b, 100 // b], seed=0))
                for b in (1, 5, 10, 50, 100)]
    searches += [
        ("sha64", lambda: SuccessiveHalving(GriddedRandomSearch(pipe, [1, 10, 10], seed=0),
                                            Samples(), min_resource=1 / 64, eta=4)),
        ("sha256", lambda: SuccessiveHalving(GriddedRandomSearch(pipe, [1, 8, 32], seed=0),
                                             Samples(), min_resource=1 / 256, eta=4)),
    ]
    t0 = time.perf_counter()
    with cluster_of("threads") as client, threadpool_limits(1):
        client.run(warnings.filterwarnings, "ignore", category=ConvergenceWarning)
        dagreuse(client, searches[0][1], X[:500], y[:500], Unbounded())  # warm-up, not measured
        print(f"{len(X)} rows x {X.shape[1]} features, holdout {CV:.0%}; WReciprocal at 1/2 of "
              "the working set\n")
        print(f"{'panel':<26}{'evals':>6}{'indep s':>9}{'ours s':>9}{'speedup':>9}{'ideal':>8}"
              f"{'/ideal':>8}{'computed':>13}{'WS MB':>8}")
        rows = [panel(client, name, make, X, y) for name, make in searches]
    total = time.perf_counter() - t0
    uniform10 = next(r for r in rows if r["panel"] == "uniform b=10")
    print(f"\nthesis (simulated): uniform {THESIS['uniform']}, SHA R/64 {THESIS['sha64']}, "
          f"SHA R/256 {THESIS['sha256']}")
    for key in ("sha64", "sha256"):
        r = next(r for r in rows if r["panel"] == key)
        print(f"{key}: {r['speedup'] / uniform10['speedup']:.1f}x the uniform panel's (b=10) speedup")
    print(f"whole bench: {total:.0f} s")
    OUT.mkdir(exist_ok=True)
    report = {"rows": rows, "thesis": THESIS, "seconds": total, "rows_of_data": len(X),
              "features": X.shape[1], "holdout": CV}
    (OUT / "halving.json").write_text(json.dumps(report, indent=2, default=float))
    plot(rows, OUT / "halving.png")
    print(f"wrote {OUT / 'halving.json'} and {OUT / 'halving.png'}")


if __name__ == "__main__":
    main()
