"""Is dagreuse faster than the searchers people already use, on the same candidates?

The same candidates on the same data and folds, in one run, for: scikit-learn ``GridSearchCV``
(n_jobs=2), scikit-learn with ``Pipeline(memory=joblib.Memory(tmpdir))``, dask-ml
``GridSearchCV`` and dagreuse's ``GridSearchCV`` (Unbounded cache, and WReciprocal at half the
working set). dask-ml and dagreuse run on one local Dask cluster of 2 single-thread worker
processes; scikit-learn uses its own 2 processes. The first transformer is wrapped in
``Counted`` so every peer's prefix fits and transforms are counted.

Workloads: a front-loaded text pipeline (Tfidf -> SelectPercentile(chi2) -> SGD), a random
features pipeline (RBFSampler -> LogisticRegression(max_iter=20)) and a control with no shared
prefix (a single estimator). Then halving: scikit-learn's ``HalvingRandomSearchCV`` against
dagreuse's on the same candidates of the text pipeline, with the training-set size as the
resource (scikit-learn's default) and with the classifier's epochs (``clf__max_iter``); their
``cv_results_`` scores are asserted equal. Prints a table with ratios; writes
bench/out/peers.json.

    pip install -e ".[bench]" && python bench/peers.py [--only grid|halving]
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import sys
import tempfile
import time
import warnings

import joblib
import numpy as np
from scipy.stats import loguniform
from sklearn import model_selection as skms
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from dagreuse.cache import Unbounded, WReciprocal
from dagreuse.pipes.testing import Counted, read_counts
from dagreuse.search import GridSearchCV, HalvingRandomSearchCV

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _workloads import cluster_of, text_corpus

OUT = pathlib.Path(__file__).parent / "out"


def quiet():
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def workloads(log):
    docs, labels = text_corpus(per_package=800)
    X, y = load_digits(return_X_y=True)
    text = Pipeline([("vec", Counted(TfidfVectorizer(sublinear_tf=True), log, "prefix")),
                     ("sel", SelectPercentile(chi2)),
                     ("clf", SGDClassifier(random_state=0, max_iter=20, tol=None))])
    text_grid = {"vec__estimator__ngram_range": [(1, 1), (1, 2)], "sel__percentile": [10, 30, 50],
                 "clf__alpha": [1e-5, 1e-4, 1e-3]}
    rf = Pipeline([("rbf", Counted(RBFSampler(random_state=0), log, "prefix")),
                   ("clf", LogisticRegression(max_iter=20))])
    rf_grid = {"rbf__estimator__gamma": [1e-3, 3e-3], "rbf__estimator__n_components": [500, 1500],
               "clf__C": [0.01, 0.1, 1.0, 10.0]}
    control = Pipeline([("clf", SVC())])
    control_grid = {"clf__C": [0.1, 0.3, 1, 3, 10, 30], "clf__gamma": ["scale", 1e-3]}
    return [("front-loaded text", text, text_grid, docs, labels),
            ("random features", rf, rf_grid, X, y),
            ("control (no shared prefix)", control, control_grid, X, y)]


def run_peer(search, X, y, log):
    if os.path.exists(log):
        os.remove(log)
    t0 = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - t0
    counts = read_counts(log)
    row = {"wall_s": wall,
           "prefix_fits": sum(n for (ev, tag, *_), n in counts.items() if ev == "fit"),
           "prefix_transforms": sum(n for (ev, tag, *_), n in counts.items() if ev == "transform"),
           "best_score": float(search.best_score_)}
    return row, search


def halving(client, log, report):
    """scikit-learn's HalvingRandomSearchCV against dagreuse's, on the text pipeline."""
    docs, labels = text_corpus(per_package=800)
    text, grid = workloads(log)[0][1:3]
    dists = {**grid, "sel__percentile": [5, 10, 20, 30, 50], "clf__alpha": loguniform(1e-6, 1e-2)}
    for resource, kw in [("n_samples", {}),
                         ("clf__max_iter", {"min_resources": 2, "max_resources": 54})]:
        params = dict(n_candidates=60, factor=3, resource=resource, cv=StratifiedKFold(3),
                      random_state=0, **kw)
        print(f"\n== halving, resource {resource}: HalvingRandomSearchCV(n_candidates=60, "
              "factor=3), 3 folds ==")
        rows = {}
        rows["scikit-learn (n_jobs=2)"], ref = run_peer(
            skms.HalvingRandomSearchCV(text, dists, n_jobs=2, **params), docs, labels, log)
        rows["dagreuse"], ours = run_peer(
            HalvingRandomSearchCV(text, dists, client=client, cache=Unbounded(), **params),
            docs, labels, log)
        assert np.allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                           atol=1e-9), "dagreuse and scikit-learn disagree"
        ratio = rows["scikit-learn (n_jobs=2)"]["wall_s"] / rows["dagreuse"]["wall_s"]
        print(f"{'':<34}{'wall s':>8}{'prefix fits':>13}{'transforms':>12}")
        for label, r in rows.items():
            print(f"{label:<34}{r['wall_s']:>8.1f}{r['prefix_fits']:>13}{r['prefix_transforms']:>12}")
        print(f"dagreuse vs scikit-learn: {ratio:.2f}x (iterations {ours.n_iterations_}, "
              f"candidates {ours.n_candidates_}, equal cv_results_ scores)")
        report["workloads"][f"halving ({resource})"] = {"rows": rows, "speedup": ratio,
                                                       "n_candidates": list(ours.n_candidates_)}


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["grid", "halving"], help="one part of the bench")
    only = parser.parse_args().only
    quiet()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    OUT.mkdir(exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="dagreuse-peers-")
    log = os.path.join(tmp, "counts.log")
    report = {"machine": f"{os.cpu_count()} cores", "workloads": {}}
    # Dask's default configuration, as dask-ml users run it
    with cluster_of("processes") as client:
        client.run(quiet)
        joblib.Parallel(n_jobs=2)(joblib.delayed(abs)(i) for i in range(4))  # start loky workers
        for title, pipe, grid, X, y in workloads(log) if only != "halving" else ():
            cv = StratifiedKFold(3)
            n = len(skms.ParameterGrid(grid))
            print(f"\n== {title}: {n} candidates x 3 folds ==")
            rows = {}
            rows["scikit-learn (n_jobs=2)"], ref = run_peer(
                skms.GridSearchCV(pipe, grid, cv=cv, n_jobs=2), X, y, log)
            memdir = tempfile.mkdtemp(dir=tmp)
            rows["scikit-learn + Pipeline(memory)"], _ = run_peer(
                skms.GridSearchCV(
                    Pipeline(pipe.steps, memory=joblib.Memory(memdir, verbose=0)), grid, cv=cv,
                    n_jobs=2), X, y, log)
            from dask_ml.model_selection import GridSearchCV as DaskMLGridSearchCV

            rows["dask-ml (iid=False)"], _ = run_peer(
                DaskMLGridSearchCV(pipe, grid, cv=cv, iid=False, scheduler=client), X, y, log)
            rows["dagreuse Unbounded"], ours = run_peer(
                GridSearchCV(pipe, grid, cv=cv, client=client, cache=Unbounded()), X, y, log)
            half = max(ours.profile_.working_set_bytes // 2, 1)
            rows["dagreuse WReciprocal(1/2 WS)"], _ = run_peer(
                GridSearchCV(pipe, grid, cv=cv, client=client, cache=WReciprocal(half, seed=0)),
                X, y, log)
            assert np.allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               atol=1e-9), "dagreuse and scikit-learn disagree"
            base = rows["dagreuse Unbounded"]["wall_s"]
            print(f"{'':<34}{'wall s':>8}{'prefix fits':>13}{'transforms':>12}{'peer/dagreuse':>15}")
            for label, r in rows.items():
                r["ratio_to_dagreuse"] = r["wall_s"] / base
                print(f"{label:<34}{r['wall_s']:>8.1f}{r['prefix_fits']:>13}"
                      f"{r['prefix_transforms']:>12}{r['ratio_to_dagreuse']:>14.2f}x")
            peers = [r["wall_s"] for k, r in rows.items() if not k.startswith("dagreuse")]
            print(f"dagreuse vs fastest peer: {min(peers) / base:.2f}x "
                  f"(working set {ours.profile_.working_set_bytes / 1e6:.0f} MB)")
            report["workloads"][title] = {"candidates": n, "rows": rows,
                                          "speedup_vs_fastest_peer": min(peers) / base}
        if only != "grid":
            halving(client, log, report)
    name = "peers.json" if only is None else f"peers-{only}.json"
    (OUT / name).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {OUT / name}")


if __name__ == "__main__":
    main()
