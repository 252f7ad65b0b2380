"""Shared fixtures: small real data, a real in-process Dask cluster, counting pipelines."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dagreuse.pipes import Pipeline, space
from dagreuse.pipes.testing import Counted


@pytest.fixture(scope="session")
def data():
    X, y = make_classification(n_samples=240, n_features=20, n_informative=8, n_classes=3,
                               random_state=0)
    return X, y


@pytest.fixture(scope="session")
def client():
    """One in-process LocalCluster for the session (threads; starting one costs ~1 s)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as c:
        yield c


def counted_pipeline(log: str) -> Pipeline:
    """scale (3 choices, two of them counted) -> counted PCA -> logistic regression."""
    return Pipeline([
        ("scale", space.choice({
            "std": Counted(StandardScaler(), log, "scale"),
            "minmax": Counted(MinMaxScaler(), log, "scale"),
            "none": None,
        })),
        ("reduce", Counted(PCA(random_state=0), log, "reduce"),
         {"estimator__n_components": space.randint(2, 12)}),
        ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(1e-2, 1e2)}),
    ])


def fits(counts, tag: str, event: str = "fit") -> int:
    return sum(n for (ev, t, *_), n in counts.items() if ev == event and t == tag)


@pytest.fixture
def log(tmp_path):
    return str(tmp_path / "counts.log")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
