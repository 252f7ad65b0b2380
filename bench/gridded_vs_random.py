"""The thesis' Table 4.1: does gridded random search lose accuracy against random search, and
what does it buy in reuse?

Writes bench/out/gridded_vs_random.json.

On scikit-learn's bundled digits, wine and breast_cancer, after a StandardScaler: a featurizer
choice (PCA with its n_components, SelectKBest with its k, or none) then a classifier choice
(logistic regression with its C, an RBF SVC with C and gamma, k nearest neighbours), 3-fold CV.
100 random pipelines (``RandomSearch``) against 100 gridded random ones (``GriddedRandomSearch``,
branching 1 x 10 x 10: 10 featurizers, 10 classifiers under each), 10 trials (seeds 0-9).
Printed per dataset: the mean and standard deviation over trials of (gridded best score - random
best score), and each one's mean ``profile.ideal_speedup`` and measured speedup.

    python bench/gridded_vs_random.py [--trials 10] [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import GriddedRandomSearch, RandomSearch, run

OUT = pathlib.Path(__file__).parent / "out"
DATASETS = {"digits": load_digits, "wine": load_wine, "breast_cancer": load_breast_cancer}


def pipeline(n_features: int) -> Pipeline:
    top = min(n_features, 30)
    return Pipeline([
        ("scale", StandardScaler()),  # one node per fold, shared by all: the solvers converge
        ("features", space.choice({
            "pca": (PCA(random_state=0), {"n_components": space.randint(2, top + 1)}),
            "kbest": (SelectKBest(), {"k": space.randint(2, top + 1)}),
            "none": None})),
        ("clf", space.choice({
            "logreg": (LogisticRegression(max_iter=500), {"C": space.loguniform(1e-3, 1e2)}),
            "svc": (SVC(), {"C": space.loguniform(1e-2, 1e2), "gamma": space.loguniform(1e-4, 1e0)}),
            "knn": (KNeighborsClassifier(), {"n_neighbors": space.randint(1, 30)})})),
    ])


def one(strategy, X, y):
    with Runner(processes=False) as runner:
        t0 = time.perf_counter()
        result = run(strategy, X, y, cv=3, runner=runner, progress=False)
        wall = time.perf_counter() - t0
    return {"best": result.best_score, "ideal": result.profile.ideal_speedup,
            "speedup": result.profile.speedup, "wall": wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="2 trials")
    args = parser.parse_args()
    if args.quick:
        args.trials = 2
    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    t_all = time.perf_counter()
    rows = []
    for name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        pipe = pipeline(X.shape[1])
        random = [one(RandomSearch(pipe, 100, seed=s), X, y) for s in range(args.trials)]
        gridded = [one(GriddedRandomSearch(pipe, [1, 10, 10], seed=s), X, y) for s in range(args.trials)]
        diff = np.array([g["best"] - r["best"] for g, r in zip(gridded, random, strict=True)])
        rows.append({"dataset": name, "diff_mean": float(diff.mean()), "diff_std": float(diff.std()),
                     "random_ideal": float(np.mean([r["ideal"] for r in random])),
                     "gridded_ideal": float(np.mean([g["ideal"] for g in gridded])),
                     "random_speedup": float(np.mean([r["speedup"] for r in random])),
                     "gridded_speedup": float(np.mean([g["speedup"] for g in gridded])),
                     "random": random, "gridded": gridded})
        r = rows[-1]
        print(f"  {name}: gridded - random best {r['diff_mean']:+.4f} ± {r['diff_std']:.4f}, ideal "
              f"{r['random_ideal']:.2f}x / {r['gridded_ideal']:.2f}x ({time.perf_counter() - t_all:.0f} s)",
              flush=True)
    print(f"\n100 random vs 100 gridded random (1 x 10 x 10) pipelines, {args.trials} trials, 3-fold CV\n")
    print(f"{'dataset':<15}{'gridded - random best':>24}{'ideal: random':>15}{'gridded':>9}"
          f"{'speedup: random':>17}{'gridded':>9}")
    for r in rows:
        print(f"{r['dataset']:<15}{r['diff_mean']:>+15.4f} ± {r['diff_std']:.4f}"
              f"{r['random_ideal']:>15.2f}x{r['gridded_ideal']:>8.2f}x"
              f"{r['random_speedup']:>16.2f}x{r['gridded_speedup']:>8.2f}x")
    print(f"\nwhole bench {time.perf_counter() - t_all:.0f} s")
    OUT.mkdir(exist_ok=True)
    (OUT / "gridded_vs_random.json").write_text(json.dumps({"args": vars(args), "rows": rows},
                                                           indent=1))


if __name__ == "__main__":
    main()
