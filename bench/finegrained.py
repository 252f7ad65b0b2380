"""Fine-grained search: thousands of nodes whose operators take about a millisecond.

digits, StandardScaler (with_mean x with_std) -> SelectKBest(k) -> GaussianNB(var_smoothing),
``GriddedRandomSearch`` with branching [4, 10, 25] (1,000 candidates, 3,135 nodes with 3 folds)
and [4, 20, 50] (4,000 candidates, 12,255 nodes). In one process run, per size:

* joblib — one scikit-learn Pipeline per (candidate, fold), ``Parallel(n_jobs=2)``: what a user
  writes without dagreuse;
* dagreuse's default ``Runner()``, its sync oracle, and the local cluster it did not choose
  (threads or processes), so the default's choice is checked on every run.

Each contender is warmed up first (imports, pools, the cluster), then timed on the search alone.
Prints walls, ratios and ``profile.ideal_speedup``; writes bench/out/finegrained.json. Targets
(issue 17): the default Runner at least 0.7 x ideal faster than joblib, and 1.5x its oracle.

    python bench/finegrained.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.feature_selection import SelectKBest
from sklearn.metrics import accuracy_score
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, Runner, merge, space
from dagreuse.search import GriddedRandomSearch, run

OUT = pathlib.Path(__file__).parent / "out"
SIZES = {"1,000 candidates": [4, 10, 25], "4,000 candidates": [4, 20, 50]}


def pipeline() -> Pipeline:
    return Pipeline([
        ("scale", StandardScaler(), {"with_mean": space.choice([True, False]),
                                     "with_std": space.choice([True, False])}),
        ("select", SelectKBest(), {"k": space.randint(5, 64)}),
        ("clf", GaussianNB(), {"var_smoothing": space.loguniform(1e-10, 1e-6)}),
    ])


def _fit_score(est, X, y, train, test) -> float:
    est = clone(est).fit(X[train], y[train])
    return accuracy_score(y[test], est.predict(X[test]))


def joblib_loop(pipe, configs, X, y, folds) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    scores = Parallel(n_jobs=2)(delayed(_fit_score)(pipe.build(c), X, y, tr, te)
                                for c in configs for tr, te in folds)
    return time.perf_counter() - t0, scores


def dagreuse_run(branching, X, y, **runner) -> tuple[float, object]:
    with Runner(**runner) as r:
        run(GriddedRandomSearch(pipeline(), [1, 1, 2], seed=1), X, y, cv=3, runner=r)  # warm-up
        t0 = time.perf_counter()
        result = run(GriddedRandomSearch(pipeline(), branching, seed=0), X, y, cv=3, runner=r)
        return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the 1,000-candidate size only")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    X, y = load_digits(return_X_y=True)
    with Runner() as default:
        processes = default.processes_used
    other = {"processes": not processes, "n_workers": 1 if processes else None}
    other_label = "threads, 1 worker" if processes else "worker processes"
    report: dict = {"cores": os.cpu_count(), "default": "processes" if processes else "threads"}
    for label, branching in SIZES.items():
        if args.quick and label != "1,000 candidates":
            continue
        pipe = pipeline()
        configs = GriddedRandomSearch(pipe, branching, seed=0).configs()
        folds = merge(pipe, configs[:1], X, y, cv=3).folds
        joblib_loop(pipe, configs[:4], X, y, folds)  # warm-up: the worker pool
        walls: dict[str, float] = {}
        walls["joblib n_jobs=2"], indep_scores = joblib_loop(pipe, configs, X, y, folds)
        walls["dagreuse Runner()"], result = dagreuse_run(branching, X, y)
        walls["dagreuse sync oracle"], oracle = dagreuse_run(branching, X, y, scheduler="sync")
        walls[f"dagreuse {other_label}"], _ = dagreuse_run(branching, X, y, **other)
        ours = sorted(s for t in result.trials for s in t["scores"])
        assert np.allclose(ours, sorted(indep_scores)), "scores differ from scikit-learn's"
        p = result.profile
        ideal = p.ideal_speedup
        nodes = p.n_computed
        print(f"\n== {label} x 3 folds: {nodes} nodes, ideal speedup {ideal:.2f}x, "
              f"{1e3 * p.spent_seconds / nodes:.2f} ms of compute per node ==")
        print(f"{'':<34}{'wall s':>8}{'vs joblib':>11}{'ms/node':>9}")
        for name, wall in walls.items():
            print(f"{name:<34}{wall:>8.2f}{walls['joblib n_jobs=2'] / wall:>10.2f}x"
                  f"{1e3 * wall / nodes:>9.2f}")
        vs_joblib = walls["joblib n_jobs=2"] / walls["dagreuse Runner()"]
        vs_sync = walls["dagreuse sync oracle"] / walls["dagreuse Runner()"]
        print(f"default Runner: {vs_joblib:.2f}x joblib = {vs_joblib / ideal:.0%} of ideal "
              f"(target 70%); {vs_sync:.2f}x its sync oracle (target 1.5x)")
        report[label] = {"nodes": nodes, "ideal_speedup": ideal, "walls": walls,
                         "vs_joblib": vs_joblib, "vs_joblib_of_ideal": vs_joblib / ideal,
                         "vs_sync": vs_sync, "compute_s": p.spent_seconds,
                         "oracle_compute_s": oracle.profile.spent_seconds}
    OUT.mkdir(exist_ok=True)
    (OUT / "finegrained.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"\nwrote {OUT / 'finegrained.json'}")


if __name__ == "__main__":
    main()
