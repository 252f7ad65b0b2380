"""Workloads shared by the bench scripts: the demo search, a front-loaded text pipeline, data in
the shape of the thesis' TIMIT task (random features, then a linear model), and the 2-core local
cluster they run on.

The text corpus is built offline from the docstrings of installed packages (parsed with ``ast``,
nothing imported), labelled by package: real, varied English/technical prose, no download.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import logging
import pathlib
from collections.abc import Iterator

import numpy as np
from distributed import Client, LocalCluster
from sklearn.datasets import make_classification
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import ComplementNB

from dagreuse.pipes import Pipeline, retain_freed_memory, space

__all__ = ["TEXT_BRANCHING", "cluster_of", "text_corpus", "text_pipeline", "timit_like"]

PACKAGES = ("sklearn", "scipy", "numpy", "distributed", "asyncio")
#: 2 vectorizers x 5 selections x 10 classifiers = 100 candidates (thesis §4.5.1 uses 100).
TEXT_BRANCHING = [2, 5, 10]


def text_corpus(per_package: int = 800, seed: int = 0) -> tuple[list[str], np.ndarray]:
    docs, labels = [], []
    for label, name in enumerate(PACKAGES):
        root = pathlib.Path(importlib.util.find_spec(name).origin).parent
        found = []
        for path in sorted(root.rglob("*.py")):
            if "tests" in path.parts:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="ignore"))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                    doc = ast.get_docstring(node)
                    if doc and len(doc) > 80:
                        found.append(doc)
        rng = np.random.default_rng(seed + label)
        for i in rng.permutation(len(found))[:per_package]:
            docs.append(found[i])
            labels.append(label)
    return docs, np.array(labels)


def timit_like(n: int = 12_000, d: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Generated binary data (``make_classification``, float32): ``d`` input features, as the
    thesis' speech frames have hundreds, to be mapped to random Fourier features."""
    X, y = make_classification(n_samples=n, n_features=d, n_informative=48, n_redundant=16,
                               n_classes=2, flip_y=0.05, random_state=0)
    return X.astype(np.float32), y


def text_pipeline() -> Pipeline:
    """TfidfVectorizer -> SelectPercentile(chi2) -> SGDClassifier | ComplementNB: front-loaded."""
    return Pipeline([
        ("vec", TfidfVectorizer(sublinear_tf=True), {
            "ngram_range": space.choice([(1, 1), (1, 2)]),
            "min_df": space.choice([1, 2]),
        }),
        ("select", SelectPercentile(chi2), {"percentile": space.randint(5, 60)}),
        ("clf", space.choice({
            "sgd": (SGDClassifier(random_state=0, max_iter=20, tol=None),
                    {"alpha": space.loguniform(1e-6, 1e-3)}),
            "nb": (ComplementNB(), {"alpha": space.loguniform(1e-3, 1.0)}),
        })),
    ])


@contextlib.contextmanager
def cluster_of(kind: str) -> Iterator[Client]:
    """2 cores either way: one worker with 2 threads ("threads"), or 2 single-thread worker
    processes ("processes"); Dask's default configuration otherwise. The workers keep freed
    memory (``retain_freed_memory``), as a Runner's own cluster does, for every contender run
    on it: the comparison measures reuse, not the allocator."""
    threads = kind == "threads"
    with LocalCluster(n_workers=1 if threads else 2, threads_per_worker=2 if threads else 1,
                      processes=not threads, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client, \
            retain_freed_memory(client):
        yield client
