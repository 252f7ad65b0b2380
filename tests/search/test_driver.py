"""search.run end to end on real clusters: the public contract of the core issue."""

import logging
import math

import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dagreuse.cache import Trace, Unbounded, WReciprocal
from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import GriddedRandomSearch, RandomSearch, run


def pipe(broken=False):
    reduce = PCA() if not broken else PCA(n_components=500)  # more components than features
    return Pipeline([
        ("scale", space.choice({"std": StandardScaler(), "minmax": MinMaxScaler(), "none": None})),
        ("reduce", reduce, {} if broken else {"n_components": space.randint(2, 15)}),
        ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(1e-2, 1e2)}),
    ])


def test_public_contract(data, client):
    X, y = data
    search = GriddedRandomSearch(pipe(), branching=[3, 2, 2], seed=0)
    with Runner(cache=WReciprocal("512MB"), client=client) as runner:
        result = run(search, X, y, cv=3, scoring="accuracy", runner=runner)
    assert len(result.trials) == 12
    t = result.trials[0]
    assert set(t) >= {"config", "scores", "mean_score", "status", "error"}
    assert len(t["scores"]) == 3 and t["status"] == "ok" and t["error"] is None
    assert result.best_score == max(t["mean_score"] for t in result.trials)
    assert result.best_config in [t["config"] for t in result.trials]
    p = result.profile
    assert p.speedup > 1 and p.ideal_speedup >= p.speedup * 0.999
    assert set(p.cache_stats) >= {"hits", "misses", "evictions", "peak_bytes", "capacity"}
    assert "scale" in str(p) and "speedup" in str(p)
    df = result.trials_dataframe()
    assert {"scale", "reduce__n_components", "clf__C", "mean_score"} <= set(df.columns)


def test_sync_and_dask_trials_are_identical(data, client):
    X, y = data
    results = []
    for runner in (Runner(Unbounded(), scheduler="sync"), Runner(Unbounded(), client=client)):
        with runner:
            r = run(RandomSearch(pipe(), n=8, seed=3), X, y, cv=3, runner=runner)
        results.append([{k: t[k] for k in ("config", "scores", "status", "error")} for t in r.trials])
    assert results[0] == results[1]


def test_failing_candidates_keep_the_others_quietly(data, client, caplog):
    X, y = data
    p = Pipeline([
        ("reduce", PCA(), {"n_components": space.choice([3, 500])}),  # 500 > 20 features
        ("clf", LogisticRegression(max_iter=500), {"C": space.choice([0.1, 1.0])}),
    ])
    with Runner(Unbounded(), client=client) as runner, caplog.at_level(logging.INFO):
        result = run(GriddedRandomSearch(p, [2, 2], seed=0), X, y, cv=3, runner=runner,
                     error_score=-1.0)
    # an operator's error is an expected outcome: no Dask error report per task, one line
    assert not [r for r in caplog.records if r.name.startswith("distributed") and
                r.levelno >= logging.ERROR]
    lines = [r.getMessage() for r in caplog.records if r.name == "dagreuse.search"]
    assert len(lines) == 1 and lines[0].startswith("2 evaluation(s) failed with: stage 'reduce'")
    [error] = result.errors()
    assert error["count"] == 2 and error["stages"] == ["reduce"]
    assert error["config"]["reduce"][1]["n_components"] == 500
    bad = [t for t in result.trials if t["config"]["reduce"][1]["n_components"] == 500]
    good = [t for t in result.trials if t not in bad]
    assert len(bad) == 2 and len(good) == 2
    for t in bad:
        assert t["status"] == "error" and t["scores"] == [-1.0] * 3
        assert "stage 'reduce' (PCA) failed: ValueError" in t["error"]
    assert all(t["status"] == "ok" and 0 < t["mean_score"] <= 1 for t in good)
    assert result.best_config in [t["config"] for t in good]


def test_all_failing_gives_nan_best(data):
    X, y = data
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(RandomSearch(pipe(broken=True), n=2, seed=0), X, y, cv=2, runner=runner)
    assert result.best_config is None and math.isnan(result.best_score)
    assert all(math.isnan(t["mean_score"]) for t in result.trials)


def test_run_checks_its_arguments(data):
    X, y = data
    with pytest.raises(TypeError, match=r"'strategy' parameter of run must be a dagreuse.search"):
        run(pipe(), X, y)
    with pytest.raises(TypeError, match=r"'error_score' parameter must be a number"):
        run(RandomSearch(pipe(), n=1), X, y, error_score="raise!")
    with pytest.raises(ValueError, match=r"same number of samples"):
        run(RandomSearch(pipe(), n=1), X, y[:10], runner=Runner(scheduler="sync"))


def test_trace_round_trips_through_json(data, tmp_path):
    X, y = data
    with Runner(WReciprocal("20kB", seed=0), scheduler="sync") as runner:
        result = run(GriddedRandomSearch(pipe(), [2, 2, 2], seed=0), X, y, cv=2, runner=runner)
    path = tmp_path / "run.trace.json"
    result.profile.save(path)
    trace = Trace.load(path)
    assert trace.to_dict() == Trace.from_dict(result.profile.trace.to_dict()).to_dict()
    assert trace.count("request") == 16 and trace.count("evict") == result.profile.cache_stats["evictions"]
