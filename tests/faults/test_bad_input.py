"""Bad input, fuzzed: malformed spaces, pipelines, data, resources, strategies and cluster
arguments. Every case either runs or raises a ``TypeError``/``ValueError`` that names the
parameter in quotes — never an internal error (``KeyError``, ``AttributeError``,
``IndexError``...) and never a hang. 750 examples in all (``EXAMPLES`` per test)."""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import MissingDependency
from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.search import ASHA, DEHB, GriddedRandomSearch, Hyperband, RandomSearch, SuccessiveHalving, run

EXAMPLES = 150
#: the same cases every run (CI); FUZZ_RANDOM=1 draws new ones, to look for more
fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=os.environ.get("FUZZ_RANDOM") is None,
                suppress_health_check=list(HealthCheck))

#: anything a user might pass by mistake
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from([0.0, -1.0, 1e-9, 0.5, 1.0, 2.0, 1e9]),
    st.sampled_from([math.nan, math.inf, -math.inf]), st.text(max_size=4), st.just([]),
    st.lists(st.integers(0, 3), max_size=3), st.just({}), st.just({"a": 1}), st.just((1, 2)),
    st.just(object()), st.just(np.array([1.0, 2.0])),
)


def named_error(exc: BaseException) -> None:
    """The contract: a TypeError or ValueError naming a parameter ('name') in its message."""
    if isinstance(exc, MissingDependency):  # an optional extra: named, with its install line
        return
    assert isinstance(exc, TypeError | ValueError), f"{type(exc).__name__}: {exc}"
    assert re.search(r"'[A-Za-z_][\w.]*'", str(exc)), f"names no parameter: {exc}"


def attempt(fn, *args, **kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except Exception as exc:  # the contract is checked here
        named_error(exc)
        return None


@fuzz
@given(kind=st.sampled_from(["uniform", "loguniform", "randint", "choice", "constant"]),
       args=st.lists(junk, min_size=0, max_size=3), prior=junk, confidence=junk,
       use_prior=st.booleans())
def test_space_declarations(kind, args, prior, confidence, use_prior):
    kw = {"prior": prior, "confidence": confidence} if use_prior else {}
    attempt(getattr(space, kind), *args, **kw)


STEPS = [("scale", StandardScaler()), ("pca", PCA()), ("clf", LogisticRegression())]


@fuzz
@given(stages=st.lists(st.one_of(
    st.sampled_from(STEPS),
    st.tuples(junk, st.sampled_from([StandardScaler(), GaussianNB(), None, len, "passthrough"])),
    st.tuples(st.sampled_from(["a", "b", "clf"]), st.just(PCA()),
              st.one_of(junk, st.dictionaries(st.sampled_from(["n_components", "nope", "whiten"]),
                                              junk, max_size=2))),
    st.tuples(junk), junk), max_size=4))
def test_pipeline_declarations(stages):
    attempt(Pipeline, stages)


def tiny_pipeline():
    return Pipeline([("scale", StandardScaler()),
                     ("clf", LogisticRegression(max_iter=50), {"C": space.loguniform(1e-2, 1e2)})])


data = st.sampled_from([
    "ok", "empty", "one", "mismatch", "nan", "inf", "object", "strings", "3d", "list", "none",
    "y-none", "y-continuous", "y-one-class", "y-2d", "sparse-y",
])


def make_data(kind, rng):
    X, y = rng.normal(size=(30, 4)), np.repeat([0, 1, 2], 10)
    if kind == "empty":
        X, y = X[:0], y[:0]
    elif kind == "one":
        X, y = X[:1], y[:1]
    elif kind == "mismatch":
        y = y[:-3]
    elif kind == "nan":
        X[3, 1] = np.nan
    elif kind == "inf":
        X[0, 0] = np.inf
    elif kind == "object":
        X = X.astype(object)
        X[2, 2] = "x"
    elif kind == "strings":
        X = np.array([["a"] * 4] * 30)
    elif kind == "3d":
        X = X.reshape(30, 2, 2)
    elif kind == "list":
        X = X.tolist()
    elif kind == "none":
        X = None
    elif kind == "y-none":
        y = None
    elif kind == "y-continuous":
        y = rng.normal(size=30)
    elif kind == "y-one-class":
        y = np.zeros(30, dtype=int)
    elif kind == "y-2d":
        y = np.stack([y, y], axis=1)
    elif kind == "sparse-y":
        y = list(map(str, y))
    return X, y


VALID_RUN = {"cv": st.sampled_from([2, 3, 0.25]), "scoring": st.sampled_from([None, "accuracy"]),
             "error_score": st.sampled_from([np.nan, 0.0]), "max_in_flight": st.sampled_from([None, 1])}


@fuzz
@given(kind=data, bad=st.sampled_from([None, None, *VALID_RUN]), data=st.data())
def test_data_and_run_arguments(kind, bad, data):
    """Malformed data with valid arguments, or one malformed argument."""
    kw = {k: data.draw(junk if k == bad else v, label=k) for k, v in VALID_RUN.items()}
    X, y = make_data(kind, np.random.default_rng(0))
    with Runner(scheduler="sync") as runner:
        result = attempt(run, RandomSearch(tiny_pipeline(), n=2, seed=0), X, y, runner=runner,
                         progress=False, **kw)
    event("ran" if result is not None else "refused")
    if result is not None:
        assert len(result.trials) == 2  # failing candidates are trials with their error


LEAF = Pipeline([("clf", SGDClassifier(tol=None, random_state=0), {"alpha": space.loguniform(1e-5, 1e-1)})])


@fuzz
@given(strategy=st.sampled_from(["sha", "hyperband", "asha", "dehb"]),
       resource=st.one_of(st.sampled_from(["samples", "iterations", "bad-param", "epochs"]), junk),
       min_resource=st.one_of(st.none(), junk), max_resource=st.one_of(st.none(), junk),
       eta=st.one_of(st.sampled_from([2, 3]), junk), extra=st.one_of(st.none(), junk))
def test_multi_fidelity_arguments(strategy, resource, min_resource, max_resource, eta, extra):
    res = {"samples": resources.Samples, "iterations": lambda: resources.Iterations("max_iter"),
           "bad-param": lambda: resources.Iterations("n_estimators"),
           "epochs": resources.Epochs}.get(resource) if isinstance(resource, str) else None
    res = attempt(res) if res is not None else resource
    kw = {"resource": res, "eta": eta, "seed": 0}
    if min_resource is not None:
        kw["min_resource"] = min_resource
    if max_resource is not None:
        kw["max_resource"] = max_resource
    make = {"sha": SuccessiveHalving, "hyperband": Hyperband, "asha": ASHA, "dehb": DEHB}[strategy]
    if extra is not None:
        kw[{"sha": "early_stopping_rate", "hyperband": "seed", "asha": "n_configs",
            "dehb": "n_iterations"}[strategy]] = extra
    source = LEAF if strategy != "sha" else RandomSearch(LEAF, n=4, seed=0)
    found = attempt(make, source, **kw)
    if found is not None and strategy in ("asha", "sha"):
        X, y = make_data("ok", np.random.default_rng(1))
        with Runner(scheduler="sync") as runner, warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            attempt(run, found, X, y, cv=2, runner=runner, progress=False)


@fuzz
@given(kw=st.dictionaries(st.sampled_from(
    ["cache", "scheduler", "n_workers", "threads_per_worker", "processes", "max_in_flight", "cost",
     "known_future", "dashboard", "gpus", "disk", "client"]), junk, max_size=3),
    strategy=st.sampled_from(["random", "gridded"]), n=junk, branching=junk, seed=junk)
def test_runner_and_strategy_arguments(kw, strategy, n, branching, seed):
    runner = attempt(Runner, **kw)
    if runner is not None:
        runner.close()  # never started: nothing to stop
    if strategy == "random":
        attempt(RandomSearch, tiny_pipeline(), n=n, seed=seed)
    else:
        attempt(GriddedRandomSearch, tiny_pipeline(), branching=branching, seed=seed)


def test_the_fuzz_suite_is_big_enough():
    assert 5 * EXAMPLES >= 500  # the issue's floor, over the five tests above
