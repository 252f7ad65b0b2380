"""Neural leaves: ASHA over epochs of a skorch MLP behind a scikit-learn prefix, three ways.

Writes bench/out/neural.json and bench/out/neural.png (best score against wall time).

Workload: scikit-learn's digits (no download), StandardScaler -> PCA(16 | 32 | 48) -> a skorch
MLP (hidden 64 | 128 | 256, dropout, AdamW with a log-uniform learning rate), 3-fold CV. The
same ``n_configs`` sampled configs, 1 to ``R`` epochs, ``eta``, one bracket. Contenders:

* dagreuse ``ASHA`` with ``resources.Epochs()``: a promotion resumes from the cached checkpoint of
  its lower rung, and configs share their prefix (one PCA per fold and n_components);
* the same ASHA with every promotion restarting from scratch (what Ray Tune without checkpoints
  and Optuna's pruners give): ``Restart`` below, the same prefix reuse, no checkpoints;
* Optuna with ``HyperbandPruner`` (the configs enqueued, ``n_jobs=2``), the objective fitting
  the prefix and training the net epoch by epoch on the three folds in step, reporting the mean
  validation accuracy after each epoch.

All three train the same nets (torch seeded alike), so a config's score at an epoch count is
the same in each. Printed: wall, epochs trained, best mean validation accuracy at ``R`` epochs,
the time each first reached it; then the epochs ratio checkpoints / restart (target <= 0.6) and
whether dagreuse reached the best score sooner than both peers.

    pip install -e ".[bench,torch]"; python bench/neural.py [--device cuda] [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from dagreuse.pipes import Pipeline, Runner, neural, resolve_cv, resources, space
from dagreuse.search import ASHA, RandomSearch, run

OUT = pathlib.Path(__file__).parent / "out"
CV = 3


class MLP(nn.Module):
    def __init__(self, hidden: int = 128, dropout: float = 0.2):
        super().__init__()
        self.seq = nn.Sequential(nn.LazyLinear(hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, 10))

    def forward(self, x):
        return self.seq(x)


def net(device: str) -> NeuralNetClassifier:
    return NeuralNetClassifier(MLP, criterion=nn.CrossEntropyLoss, optimizer=torch.optim.AdamW,
                               batch_size=128, train_split=None, device=device, verbose=0,
                               iterator_train__shuffle=True)


def pipeline(device: str) -> Pipeline:
    return Pipeline([
        ("scale", StandardScaler()),
        ("reduce", PCA(random_state=0), {"n_components": space.choice([16, 32, 48])}),
        ("net", net(device), {"lr": space.loguniform(1e-4, 1e-1),
                              "module__hidden": space.choice([64, 128, 256]),
                              "module__dropout": space.uniform(0.0, 0.5)}),
    ])


class Restart(resources.Epochs):
    """Epochs without checkpoints: every level trains a fresh net from epoch 0."""

    checkpoints = False


def summary(name, wall, timeline, epochs, **extra):
    """``timeline``: (elapsed s, mean score) of each evaluation at the full resource."""
    best = max(s for _, s in timeline)
    reached = min(t for t, s in timeline if s >= best)
    return {"contender": name, "wall_s": wall, "best_score": best, "time_to_best_s": reached,
            "epochs": epochs, "full_evaluations": len(timeline), "timeline": sorted(timeline),
            **extra}


def dagreuse(name, resource, configs, X, y, args):
    source = RandomSearch(pipeline(args.device), n=len(configs), seed=0)
    asha = ASHA(source, resource=resource, min_resource=1, max_resource=args.R, eta=args.eta,
                brackets=[0], n_configs=len(configs))
    with Runner() as runner:
        t0 = time.perf_counter()
        result = run(asha, X, y, cv=CV, runner=runner, progress=False)
        wall = time.perf_counter() - t0
    timeline = [(t["elapsed"], t["mean_score"]) for t in result.trials if t["resource"] == args.R]
    p = result.profile
    return summary(name, wall, timeline, p.units_trained, per_fold=True,
                   cpu_seconds=p.cpu_seconds, gpu_seconds=p.gpu_seconds, devices=p.devices)


def optuna_hyperband(configs, X, y, args):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds = resolve_cv(CV, X, y, classifier=True)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.HyperbandPruner(
                                    min_resource=1, max_resource=args.R, reduction_factor=args.eta))
    for c in configs:
        study.enqueue_trial(c)
    trained = []

    def objective(trial):
        c = {"n_components": trial.suggest_categorical("n_components", [16, 32, 48]),
             "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
             "hidden": trial.suggest_categorical("hidden", [64, 128, 256]),
             "dropout": trial.suggest_float("dropout", 0.0, 0.5)}
        nets = []
        for train, test in folds:  # the prefix from scratch, each fold
            pre = PCA(c["n_components"], random_state=0)
            scale = StandardScaler()
            Z = pre.fit_transform(scale.fit_transform(X[train]))
            Zv = pre.transform(scale.transform(X[test]))
            nets.append(Fold(net(args.device).set_params(
                lr=c["lr"], module__hidden=c["hidden"], module__dropout=c["dropout"]),
                Z, y[train], Zv, y[test]))
        score = float("nan")
        for epoch in range(1, args.R + 1):
            score = float(np.mean([f.epoch() for f in nets]))
            trained.append(len(nets))
            trial.report(score, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return score

    t0, start = time.perf_counter(), time.time()
    study.optimize(objective, n_trials=len(configs), n_jobs=2)
    wall = time.perf_counter() - t0
    done = study.get_trials(states=[optuna.trial.TrialState.COMPLETE])
    timeline = [(t.datetime_complete.timestamp() - start, t.value) for t in done]
    return summary("Optuna HyperbandPruner (n_jobs=2)", wall, timeline, sum(trained),
                   per_fold=True)


class Fold:
    """One fold's net for the Optuna objective, trained one epoch at a time in place: seeded and
    fed as dagreuse does it, with its own stream of torch's generator, so its model after ``e``
    epochs is dagreuse's at level ``e``."""

    def __init__(self, model, Z, y, Zv, yv):
        self.net, self.Zv, self.yv = model, Zv, yv
        dev = neural.device(model)
        self.Z, self.y = neural._tensors(Z, y, dev)
        with neural.LOCK:
            neural._seed(0)
            neural.Skorch(model).begin(self.Z, self.y, device=dev)
            self.rng = neural._generators()

    def epoch(self) -> float:
        with neural.LOCK:  # torch's generator is global: this fold's stream, then the next's
            neural._set_generators(self.rng)
            neural.Skorch(self.net).train(self.Z, self.y, 1)
            self.rng = neural._generators()
            return self.net.score(self.Zv, self.yv)


def flat(config) -> dict:
    net_params = config["net"][1]
    return {"n_components": config["reduce"][1]["n_components"], "lr": net_params["lr"],
            "hidden": net_params["module__hidden"], "dropout": net_params["module__dropout"]}


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in rows:
        ts = [t for t, _ in r["timeline"]]
        best = np.maximum.accumulate([s for _, s in r["timeline"]])
        ax.step(ts, best, where="post", label=r["contender"])
    ax.set_xlabel("wall seconds")
    ax.set_ylabel("best mean validation accuracy")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="the nets' device: cpu or cuda")
    parser.add_argument("--n-configs", type=int, default=64)
    parser.add_argument("--R", type=int, default=32, help="the most epochs")
    parser.add_argument("--eta", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="8 configs, up to 4 epochs")
    args = parser.parse_args()
    if args.quick:
        args.n_configs, args.R = 8, 4
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=RuntimeWarning, message=".*asks for a GPU")
    X, y = load_digits(return_X_y=True)
    X = X.astype("float32")
    configs = [flat(c) for c in RandomSearch(pipeline(args.device), n=args.n_configs, seed=0).configs()]
    rows = [dagreuse("dagreuse ASHA, checkpoints", resources.Epochs(), configs, X, y, args),
            dagreuse("dagreuse ASHA, restart from scratch", Restart(), configs, X, y, args)]
    try:
        rows.append(optuna_hyperband(configs, X, y, args))
    except ImportError as exc:
        rows.append({"contender": "Optuna HyperbandPruner", "skipped": f"optuna: {exc}"})
    print(f"{len(configs)} configs, digits {X.shape}, {CV}-fold, 1..{args.R} epochs, eta "
          f"{args.eta}, device {args.device}\n")
    print(f"{'contender':<38}{'wall s':>8}{'epochs':>8}{'best':>8}{'to best s':>11}")
    for r in rows:
        if "skipped" in r:
            print(f"{r['contender']:<38}  skipped: {r['skipped']}")
            continue
        print(f"{r['contender']:<38}{r['wall_s']:>8.1f}{r['epochs']:>8.0f}{r['best_score']:>8.4f}"
              f"{r['time_to_best_s']:>11.1f}")
    ours, restart = rows[0], rows[1]
    ratio = ours["epochs"] / restart["epochs"]
    peers = [r for r in rows[1:] if "skipped" not in r]
    sooner = all(ours["time_to_best_s"] < p["time_to_best_s"] for p in peers)
    same = all(abs(ours["best_score"] - p["best_score"]) < 1e-9 for p in peers)
    print(f"\nepochs with checkpoints / restart: {ratio:.2f} (target <= 0.6); same best score as "
          f"both peers: {same}; reached it sooner than both: {sooner}")
    if ours["devices"]:
        print(f"dagreuse compute seconds: CPU {ours['cpu_seconds']:.1f}, GPU {ours['gpu_seconds']:.1f} "
              f"(nets on {', '.join(ours['devices'])})")
    OUT.mkdir(exist_ok=True)
    name = "neural" if args.device == "cpu" else f"neural-{args.device.split(':')[0]}"
    (OUT / f"{name}.json").write_text(json.dumps(
        {"args": vars(args), "rows": rows, "epochs_ratio": ratio, "sooner": sooner,
         "same_best": same}, indent=1))
    plot([r for r in rows if "skipped" not in r], OUT / f"{name}.png")


if __name__ == "__main__":
    main()
