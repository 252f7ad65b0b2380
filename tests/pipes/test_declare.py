"""Declaring pipelines and spaces; bad input fails early with a message naming the culprit."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.naive_bayes import ComplementNB
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, merge, space


def log1p(X, scale=1.0):
    return np.log1p(np.abs(X)) * scale


def test_native_forms():
    pipe = Pipeline([
        ("fn", log1p, {"scale": space.uniform(0.5, 2.0)}),
        ("scale", space.choice({"std": StandardScaler(), "none": None})),
        ("reduce", PCA(), {"n_components": space.randint(2, 5)}),
        ("clf", space.choice({
            "nb": (ComplementNB(), {"alpha": space.loguniform(1e-3, 1)}),
            "lr": LogisticRegression(),
        })),
    ])
    assert pipe.names == ["fn", "scale", "reduce", "clf"]
    assert list(pipe.stage("clf").alternatives) == ["nb", "lr"]
    assert pipe.stage("fn").single.kind == "function"
    resolved = pipe.resolve({"fn": ("log1p", {"scale": 1.0}), "scale": ("none", {}),
                             "reduce": ("PCA", {"n_components": 3}), "clf": ("lr", {})})
    assert [alt.kind for _, alt, _ in resolved] == ["function", "passthrough", "transformer",
                                                     "estimator"]
    assert "clf: nb{alpha: loguniform(0.001, 1)} | lr" in repr(pipe)


def test_value_choices_and_constants():
    dim = space.choice([(1, 1), (1, 2)])
    assert dim.values() == [(1, 1), (1, 2)] and not dim.labelled
    pipe = Pipeline([("clf", LogisticRegression(), {"C": 2.0, "penalty": space.constant("l2")})])
    [(_, _, params)] = pipe.resolve({})
    assert params == {"C": 2.0, "penalty": "l2"}


@pytest.mark.parametrize(("make", "exc", "match"), [
    (lambda: space.uniform(2, 1), ValueError, r"parameters of uniform need low < high. Got low=2, high=1"),
    (lambda: space.loguniform(0, 1), ValueError, r"parameters of loguniform need 0 < low < high"),
    (lambda: space.randint(5, 5), ValueError, r"parameters of randint need low < high"),
    (lambda: space.randint(1.5, 5), TypeError, r"'low' parameter of randint must be an int"),
    (lambda: space.choice([]), ValueError, r"parameter of choice needs at least one option"),
    (lambda: space.choice({}), ValueError, r"parameter of choice needs at least one option"),
    (lambda: space.choice("abc"), TypeError, r"parameter of choice must be a list of values or a dict"),
    (lambda: space.uniform("a", 1), TypeError, r"'low' parameter of uniform must be a number"),
])
def test_malformed_spaces(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


@pytest.mark.parametrize(("steps", "exc", "match"), [
    ([], ValueError, r"'steps' parameter of Pipeline must be a non-empty list"),
    ([("clf", 42)], TypeError, r"operator of stage 'clf' must be a scikit-learn estimator.*Got 42"),
    ([("clf", LogisticRegression)], TypeError, r"must be an estimator instance, e.g. LogisticRegression\(\)"),
    ([("f", log1p)], TypeError, r"last stage must be a scikit-learn estimator"),
    ([("clf", LogisticRegression(), {"Cee": 1.0})], ValueError, r"Unknown parameter 'Cee' for stage 'clf'"),
    ([("f", log1p, {"bogus": 1}), ("clf", LogisticRegression())], ValueError,
     r"Unknown parameter 'bogus' for stage 'f'.*Allowed: scale"),
    ([("clf", LogisticRegression(), {"C": [1, 2]})], TypeError, r"write space.choice"),
    ([("a", PCA()), ("a", LogisticRegression())], ValueError, r"names must be unique. Got 'a'"),
    ([("a__b", LogisticRegression())], ValueError, r"contain no '__'"),
    ([("clf", space.choice({"x": 3}))], TypeError, r"stage 'clf' alternative 'x' must be"),
])
def test_bad_pipelines(steps, exc, match):
    with pytest.raises(exc, match=match):
        Pipeline(steps)


def _pipe():
    return Pipeline([("scale", space.choice({"std": StandardScaler(), "none": None})),
                     ("clf", LogisticRegression(), {"C": space.loguniform(1e-2, 1e2)})])


@pytest.mark.parametrize(("config", "match"), [
    ({"scale": ("std", {}), "clf": ("LogisticRegression", {"C": 1.0}), "extra": ("x", {})},
     r"Unknown stage 'extra' in config. Stages: scale, clf"),
    ({"scale": ("minmax", {}), "clf": ("LogisticRegression", {})},
     r"Unknown operator label 'minmax' for stage 'scale'. Allowed: std, none"),
    ({"scale": ("std", {}), "clf": ("LogisticRegression", {"gamma": 1})},
     r"Unknown parameter 'gamma' for stage 'clf'"),
    ({"clf": ("LogisticRegression", {})}, r"no entry for stage 'scale'"),
    ({"scale": "std", "clf": ("LogisticRegression", {})}, r"must be \(label, \{param: value\}\)"),
])
def test_bad_configs_fail_in_merge(data, config, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        merge(_pipe(), [config], X, y, cv=3)


GOOD = {"scale": ("std", {}), "clf": ("LogisticRegression", {"C": 1.0})}


@pytest.mark.parametrize(("cv", "exc", "match"), [
    (1, ValueError, r"'cv' parameter must be an int >= 2, a float in \(0, 1\).*Got 1"),
    (1.5, ValueError, r"'cv' parameter must be .* Got 1.5"),
    ("five", TypeError, r"'cv' parameter must be .* Got 'five'"),
    (True, TypeError, r"'cv' parameter must be"),
    (KFold(500), ValueError, r"'cv' parameter KFold.*cannot split this data"),
])
def test_bad_cv(data, cv, exc, match):
    X, y = data
    with pytest.raises(exc, match=match):
        merge(_pipe(), [GOOD], X, y, cv=cv)


def test_cv_forms(data):
    X, y = data
    assert len(merge(_pipe(), [GOOD], X, y, cv=4).folds) == 4
    [(train, test)] = merge(_pipe(), [GOOD], X, y, cv=0.25).folds
    assert len(test) == 60 and len(train) == 180
    assert len(merge(_pipe(), [GOOD], X, y, cv=KFold(3)).folds) == 3


def test_x_y_length_mismatch_and_bad_scoring(data):
    X, y = data
    with pytest.raises(ValueError, match=r"'X' and 'y' parameters must have the same number of "
                                         r"samples. Got X with 240 and y with 239"):
        merge(_pipe(), [GOOD], X, y[:-1], cv=3)
    with pytest.raises(ValueError, match=r"'scoring' parameter must be a valid scikit-learn "
                                         r"scorer name.*Got 'acuracy'"):
        merge(_pipe(), [GOOD], X, y, cv=3, scoring="acuracy")
    with pytest.raises(ValueError, match=r"'configs' parameter must hold at least one config"):
        merge(_pipe(), [], X, y)
