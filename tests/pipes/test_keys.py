"""Deterministic content keys: golden values are pinned so a change to keying is deliberate."""

import functools
import subprocess
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.linear_model import LogisticRegression

from dagreuse.pipes import KeyingError, Pipeline, canonical, data_token, merge, space, token

GOLDEN = {
    "token": "5d4b037e706d1f556ac8034fe8f5f959",
    "pca": "9eeda05671689668c6f23fff7d29070b",
    "data": "28319bc3c1574ad022ef8cd727a2f82e",
}


def test_golden_values_stay_the_same():
    got = {
        "token": token("stage", canonical({"ngram_range": (1, 2), "alpha": 1e-4, "k": None})),
        "pca": token(canonical(PCA(n_components=3, random_state=0))),
        "data": data_token(np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])),
    }
    assert got == GOLDEN


def test_equal_but_distinct_objects_key_equal():
    assert canonical(PCA(2)) == canonical(PCA(2))
    assert canonical(PCA(2)) != canonical(PCA(3))
    assert canonical((1, 2)) == canonical(tuple([1, 2]))
    assert canonical((1, 2)) != canonical([1, 2])  # scikit-learn may treat them differently
    assert len({token(canonical(v)) for v in (1, 1.0, True)}) == 3
    assert canonical({"a": 1, "b": 2}) == canonical({"b": 2, "a": 1})
    assert canonical(np.float64(0.5)) == canonical(0.5)
    sel = SelectPercentile(chi2, percentile=10)
    assert canonical(sel) == canonical(SelectPercentile(chi2, percentile=10))
    assert canonical(functools.partial(chi2)) == canonical(functools.partial(chi2))


def test_keys_agree_across_processes():
    code = ("from sklearn.decomposition import PCA; from dagreuse.pipes import canonical, token;"
            "print(token(canonical(PCA(n_components=3, random_state=0))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == GOLDEN["pca"]


def _pipe(op):
    return Pipeline([("clf", op)])


def test_unkeyable_values_are_errors_naming_stage_and_parameter(data):
    X, y = data
    lock = object()
    pipe = Pipeline([("f", lambda X: (lock, X)[1]), ("clf", LogisticRegression())])
    with pytest.raises(KeyingError, match=r"operator of stage 'f' \(a value its closure holds\)"):
        merge(pipe, [{}], X, y, cv=2)
    pipe = Pipeline([("clf", LogisticRegression(random_state=np.random.RandomState(0)))])
    with pytest.raises(KeyingError, match=r"stage 'clf'.*random_state.*RandomState"):
        merge(pipe, [{}], X, y, cv=2)
    pipe = Pipeline([("clf", LogisticRegression(), {"C": space.choice([object()])})])
    with pytest.raises(KeyingError, match=r"Parameter 'C' of stage 'clf'"):
        merge(pipe, [{"clf": ("LogisticRegression", {"C": object()})}], X, y, cv=2)


def _adder(a):
    def add(X):
        return X + a
    return add


def test_functions_without_an_import_path_are_keyed_by_what_they_are():
    def key(f):
        return token(canonical(f))

    assert key(lambda X, k=1: X * k) == key(lambda X, k=1: X * k)
    assert key(lambda X, k=1: X * k) != key(lambda X, k=2: X * k)  # defaults
    assert key(lambda X, k=1: X * k) != key(lambda X, k=1: X + k)  # code
    assert key(_adder(1)) == key(_adder(1)) != key(_adder(2))  # closure values
    code = "f = lambda X, k=1: X * k"
    ns = {"__name__": "__main__"}
    exec(code, ns)
    out = subprocess.run([sys.executable, "-c", f"{code}\nfrom dagreuse.pipes import canonical, "
                          "token; print(token(canonical(f)))"], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == key(ns["f"])  # the same in another process


def test_fast_keys_of_configured_steps_equal_the_estimators_own():
    """merge keys a configured step from its alternative's canonical parameters, made once;
    that must be exactly the canonical form of the configured clone."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from dagreuse.pipes.testing import Counted

    pipe = Pipeline([
        ("scale", StandardScaler(), {"with_mean": space.choice([True, False])}),
        ("reduce", Counted(PCA(random_state=0)), {"estimator__n_components": space.randint(2, 5)}),
        ("clf", make_pipeline(SelectPercentile(chi2), LogisticRegression()), {}),
    ])
    for stage, params in (("scale", {"with_mean": False}), ("reduce", {"estimator__n_components": 3}),
                          ("clf", {})):
        alt = pipe.stage(stage).single
        desc = {k: canonical(v) for k, v in params.items()}
        op, key = alt.task_operator(params, desc)
        assert key == canonical(alt.build(params)) == canonical(op)
        assert op.get_params(deep=True).items() >= params.items()
