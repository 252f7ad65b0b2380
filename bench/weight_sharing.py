"""Weight sharing's search quality against its compute (issue 22), measured on two data sets that
need no download: digits as 1x8x8 images (scikit-learn's) and MNIST-1D (generated locally by
the ``mnist1d`` package, as 1x1x40 "images").

For each data set, one **reference sample** of stand-alone architectures (NB201 cells with an
activation, drawn uniformly) is trained from scratch; then, per seed, each method searches and
its winner is trained from scratch the same way:

* **RSWS** — supernet trained one architecture per minibatch, candidates ranked on shared
  weights, the top re-scored, the best retrained;
* **DEHB-WS** — DEHB's jobs inherit copies of the supernet, rung-wise masked averaging; its
  incumbent is reported both fine-tuned from the supernet and retrained;
* **AutoHAS** — controller over the cell, activation, lr and weight decay, temporary weights;
* **random search, stand-alone, equal compute** — the best of ``n`` architectures drawn from the
  reference sample, ``n`` = RSWS's epochs over the reference's epochs per architecture; its
  figure is the *expected* best test accuracy over every such draw (selected on test: an upper
  bound for random search at that compute).

"Stand-alone accuracy" is always: train on the search split for ``--epochs`` epochs, score on a
held-out test split; a method searches on the search split only (a 20% validation part inside).
Epochs spent count every epoch a method trained — the supernet once, its copies, and its own
retraining — but not the bench's test retraining of its winner. Kendall tau: RSWS's shared-weight
accuracy (on the search's validation part) of the reference architectures against their
stand-alone test accuracy.

    python bench/weight_sharing.py [--quick] [--seeds 3] [--device cuda]

Writes bench/out/weight_sharing.json and bench/out/weight_sharing.png.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import pathlib
import time

import numpy as np
from scipy.stats import kendalltau
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from dagreuse.cache import Unbounded
from dagreuse.pipes import Pipeline, Problem, Runner, evaluations, space
from dagreuse.pipes.supernet import CellNet
from dagreuse.search import DEHBWS, RSWS, AutoHAS, GridSearch, run

OUT = pathlib.Path(__file__).parent / "out"
ACTIVATIONS = ["relu", "hardswish", "mish"]


def datasets(quick: bool) -> dict:
    """name -> (X_search, y_search, X_test, y_test), float32 images (N, 1, H, W)."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    Xs, Xt, ys, yt = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    out = {"digits": (Xs, ys, Xt, yt)}
    if not quick:
        from mnist1d.data import get_dataset_args, make_dataset

        d = make_dataset(get_dataset_args())  # generated from the package's templates, offline
        f = lambda a: a.astype(np.float32).reshape(-1, 1, 1, a.shape[1])  # noqa: E731
        out["mnist1d"] = (f(d["x"][:1600]), d["y"][:1600], f(d["x_test"][:600]), d["y_test"][:600])
    return out


def arch_space(channels: int) -> dict:
    return {"cell": space.cell(), "channels": channels, "cells_per_stage": 1,
            "activation": space.choice(ACTIVATIONS), "lr": space.loguniform(1e-3, 1.0),
            "weight_decay": space.loguniform(1e-5, 1e-2)}


def standalone(runner, candidates, data, epochs, channels, device):
    """Test accuracy of each candidate (a config of ``arch_space``) trained from scratch on the
    search split: one grid search over labelled alternatives, all through the Runner."""
    Xs, ys, Xt, yt = data
    alternatives = {f"c{i}": CellNet(cell=str(c["cell"]), activation=c["activation"],
                                     channels=channels, lr=c.get("lr", 0.05),
                                     weight_decay=c.get("weight_decay", 3e-4),
                                     max_epochs=epochs, device=device)
                    for i, c in enumerate(candidates)}
    pipe = Pipeline([("net", space.choice(alternatives))])
    X, y = np.concatenate([Xs, Xt]), np.concatenate([ys, yt])
    fold = [(np.arange(len(Xs)), np.arange(len(Xs), len(X)))]
    result = run(GridSearch(pipe), X, y, cv=fold, runner=runner)
    by_label = {t["config"]["net"][0]: t["mean_score"] for t in result.trials}
    return [by_label[f"c{i}"] for i in range(len(candidates))]


def expected_best(accuracies: list[float], n: int) -> float:
    """E[max of n draws without replacement] from ``accuracies``."""
    a = sorted(accuracies)
    k = len(a)
    n = max(1, min(n, k))
    return float(sum(a[i] * math.comb(i, n - 1) for i in range(k)) / math.comb(k, n))


def spent(result) -> int:
    """Training epochs a search computed: every checkpoint and copy node it trained."""
    trace = result.profile.trace
    done = [trace.nodes[e["key"]] for e in trace.events if e["ev"] == "compute"]
    return int(sum(n.get("units", 0) for n in done if n.get("checkpoint")))


def methods(args, seed: int) -> dict:
    sp = arch_space(args.channels)
    e = args.epochs
    return {
        "RSWS": RSWS(sp, epochs=args.supernet_epochs, n_candidates=args.candidates,
                     eval_batches=10, top=10, retrain_epochs=e, chunk=10, seed=seed,
                     device=args.device),
        "DEHB-WS": DEHBWS(sp, min_resource=1, max_resource=9, eta=3, n_iterations=1,
                          warmup_epochs=5, finetune_epochs=5, retrain_epochs=e, seed=seed,
                          device=args.device),
        "AutoHAS": AutoHAS(sp, epochs=args.supernet_epochs, retrain_epochs=e, chunk=10,
                           seed=seed, device=args.device),
    }


def shared_scores(runner, rsws, reference, data) -> list[float]:
    """RSWS's supernet (a cache hit: the same checkpoints) scoring the reference sample."""
    Xs, ys = data[0], data[1]
    trainer = rsws.supernet()
    final = next(iter(rsws.pipeline.stages[0].alternatives.values())).operator
    problem = Problem.of(Xs, ys, 0.2, None, final)  # run's own: the same folds, the same keys
    group = {"candidates": [{"cell": c["cell"], "activation": c["activation"]} for c in reference],
             "batches": None, "seed": rsws.seed}
    (res,) = runner.execute(evaluations(trainer, rsws.ladder, [group], problem,
                                        resource=rsws.resource))
    return list(res["values"])


def one_data_set(runner, name, data, args) -> dict:
    rng = np.random.default_rng(1234)
    reference = [{"cell": space.Arch(rng.choice(space.NB201_OPS, 6)),
                  "activation": ACTIVATIONS[int(rng.integers(3))]} for _ in range(args.reference)]
    t0 = time.perf_counter()
    ref_acc = standalone(runner, reference, data, args.epochs, args.channels, args.device)
    ref = {"accuracies": ref_acc, "best": max(ref_acc), "median": float(np.median(ref_acc)),
           "epochs": args.reference * args.epochs, "wall_s": time.perf_counter() - t0}
    print(f"\n{name}: reference sample of {args.reference} trained {args.epochs} epochs each: "
          f"best {ref['best']:.4f}, median {ref['median']:.4f} ({ref['wall_s']:.0f} s)")
    print(f"{'method':<22}{'seed':>5}{'epochs':>8}{'wall s':>8}{'test acc':>10}{'vs best':>9}"
          f"{'x fewer':>9}{'tau':>7}")
    rows = []
    for seed in range(args.seeds):
        for label, strategy in methods(args, seed).items():
            t0 = time.perf_counter()
            result = run(strategy, data[0], data[1], cv=0.2, runner=runner)
            wall = time.perf_counter() - t0
            epochs = spent(result)
            (acc,) = standalone(runner, [result.best_config], data, args.epochs,
                                args.channels, args.device)
            row = {"data": name, "method": label, "seed": seed, "epochs": epochs, "wall_s": wall,
                   "test_accuracy": acc, "search_score": result.best_score,
                   "vs_best": acc - ref["best"], "fewer": ref["epochs"] / epochs,
                   "arch": str(result.best_config["cell"]), "tau": None}
            if label == "DEHB-WS":
                row["finetuned_val_score"] = result.best_score
                row["retrained_val_score"] = result.retrained["mean_score"]
            if label == "RSWS":
                tau = kendalltau(shared_scores(runner, strategy, reference, data), ref_acc)
                row["tau"] = float(tau.statistic)
            rows.append(row)
            tau_text = "" if row["tau"] is None else f"{row['tau']:>7.2f}"
            print(f"{label:<22}{seed:>5}{epochs:>8}{wall:>8.1f}{acc:>10.4f}{row['vs_best']:>+9.4f}"
                  f"{row['fewer']:>9.1f}{tau_text}")
        rs = rows[-3]
        n = max(1, rs["epochs"] // args.epochs)
        rows.append({"data": name, "method": "random (equal compute)", "seed": seed,
                     "epochs": n * args.epochs, "wall_s": None,
                     "test_accuracy": expected_best(ref_acc, n),
                     "vs_best": expected_best(ref_acc, n) - ref["best"],
                     "fewer": ref["epochs"] / (n * args.epochs), "tau": None})
        print(f"{'random (equal compute)':<22}{seed:>5}{n * args.epochs:>8}{'':>8}"
              f"{rows[-1]['test_accuracy']:>10.4f}{rows[-1]['vs_best']:>+9.4f}"
              f"{rows[-1]['fewer']:>9.1f}")
    return {"reference": ref, "rows": rows}


def summary(report: dict) -> None:
    print("\nper data set and method, over seeds: test accuracy mean ± std, epochs, tau")
    for name, part in report["data"].items():
        for m in ("RSWS", "DEHB-WS", "AutoHAS", "random (equal compute)"):
            rows = [r for r in part["rows"] if r["method"] == m]
            acc = [r["test_accuracy"] for r in rows]
            taus = [r["tau"] for r in rows if r["tau"] is not None]
            within = sum(r["vs_best"] >= -0.01 and r["fewer"] >= 10 for r in rows)
            tau = f"  tau {np.mean(taus):.2f} ± {np.std(taus):.2f}" if taus else ""
            print(f"  {name:<8} {m:<22} {np.mean(acc):.4f} ± {np.std(acc):.4f}  epochs "
                  f"{np.mean([r['epochs'] for r in rows]):.0f}  within 1 point of the best "
                  f"stand-alone at >= 10x fewer epochs: {within}/{len(rows)}{tau}")


def plot(report: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["data"])
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        part = report["data"][name]
        ref = part["reference"]
        ax.axhline(ref["best"], color="black", ls="--", label="best of the reference sample")
        ax.axvline(ref["epochs"], color="grey", ls=":", label="epochs to train the sample")
        for m in ("RSWS", "DEHB-WS", "AutoHAS", "random (equal compute)"):
            rows = [r for r in part["rows"] if r["method"] == m]
            ax.scatter([r["epochs"] for r in rows], [r["test_accuracy"] for r in rows], label=m)
        ax.set_xscale("log")
        ax.set_xlabel("training epochs spent")
        ax.set_ylabel("winner's test accuracy (trained from scratch)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits only, small (a smoke run)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels", type=int, default=8)
    args = parser.parse_args()
    args.epochs = 4 if args.quick else 20  # stand-alone training (reference, retraining)
    args.supernet_epochs = 4 if args.quick else 30
    args.reference = 6 if args.quick else 32
    args.candidates = 32 if args.quick else 100
    if args.quick:
        args.seeds = min(args.seeds, 1)
    logging.getLogger("distributed").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    report = {"args": vars(args), "data": {}}
    with Runner(Unbounded()) as runner:
        for name, data in datasets(args.quick).items():
            report["data"][name] = one_data_set(runner, name, data, args)
    report["seconds"] = time.perf_counter() - t0
    summary(report)
    print(f"\nwhole bench: {report['seconds']:.0f} s")
    OUT.mkdir(exist_ok=True)
    (OUT / "weight_sharing.json").write_text(json.dumps(report, indent=2, default=str))
    plot(report, OUT / "weight_sharing.png")
    print(f"wrote {OUT / 'weight_sharing.json'} and {OUT / 'weight_sharing.png'}")


if __name__ == "__main__":
    main()
