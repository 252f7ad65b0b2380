"""Resource levels in the DAG (pipes/resources.py): the subsets of Samples, the checkpoint chains
of Iterations, and scores equal to a scikit-learn pipeline fitted from scratch at that level."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import NoCache, Trace, Unbounded
from dagreuse.pipes import Pipeline, Runner, merge, space
from dagreuse.pipes.resources import Iterations, Samples, fit_pipeline
from dagreuse.pipes.testing import (
    COUNT_LOG,
    Counted,
    CountedGradientBoostingClassifier,
    CountedSGDClassifier,
    read_counts,
    read_units,
)
from tests.conftest import fits


@pytest.fixture
def units_log(log, monkeypatch):
    monkeypatch.setenv(COUNT_LOG, log)
    return log


def results_by(dag, results):
    """{(config index, fold): test scores}."""
    return {(i, r.fold): res for r, res in zip(dag.requests, results, strict=True) for i in r.configs}


@pytest.fixture(params=["sync", "dask"])
def make_runner(request, client):
    def make(cache):
        return Runner(cache, scheduler="sync") if request.param == "sync" else Runner(cache, client=client)
    return make


# -- Samples ---------------------------------------------------------------------------------

def test_sample_rows_are_nested_sorted_and_stratified():
    y = np.repeat([0, 1, 2], [60, 30, 10])[np.random.default_rng(1).permutation(100)]
    s = Samples(seed=3)
    previous = np.array([], dtype=int)
    for f in (1 / 64, 1 / 16, 0.1, 0.25, 0.3, 1 / 3, 1.0):
        rows = s.rows(y, f)
        assert len(rows) == max(1, int(np.ceil(round(f * 100, 9))))
        assert np.all(np.diff(rows) > 0)  # original order
        assert set(previous) <= set(rows)  # nested across levels
        counts = np.bincount(y[rows], minlength=3)
        assert np.all(np.abs(counts - len(rows) * np.array([0.6, 0.3, 0.1])) <= 1)
        previous = rows
    np.testing.assert_array_equal(s.rows(y, 1.0), np.arange(100))
    np.testing.assert_array_equal(s.rows(y, 0.3), Samples(seed=3).rows(y, 0.3))
    assert len(s.rows(y, 0.3)) == 30  # 0.3 * 100 is 30.000000000000004
    assert not np.array_equal(s.rows(y, 0.3), Samples(seed=4).rows(y, 0.3))


def samples_pipeline(log=None):
    return Pipeline([
        ("scale", Counted(StandardScaler(), log, "scale")),
        ("reduce", PCA(random_state=0), {"n_components": space.choice([4, 8])}),
        ("clf", LogisticRegression(max_iter=500), {"C": space.loguniform(1e-2, 1e2)}),
    ])


def test_samples_leaves_share_the_prefix_and_score_like_scikit_learn(data, log, make_runner):
    X, y = data
    pipe = samples_pipeline(log)
    cfgs = [{"reduce": ("PCA", {"n_components": k}), "clf": ("LogisticRegression", {"C": c})}
            for k in (4, 8) for c in (0.1, 10.0)]
    levels = [(f,) for f in (0.25, 1.0)] * 2
    resource = Samples()
    dag = merge(pipe, cfgs, X, y, cv=3, resource=resource, levels=levels)
    with make_runner(Unbounded()) as runner:
        got = results_by(dag, runner.execute(dag))
    assert fits(read_counts(log), "scale") == 3  # one prefix per fold, shared by every level
    for i, (cfg, (f,)) in enumerate(zip(cfgs, levels, strict=True)):
        for fold, (train, test) in enumerate(dag.folds):
            est = make_pipeline(StandardScaler(), PCA(cfg["reduce"][1]["n_components"], random_state=0),
                                LogisticRegression(max_iter=500, C=cfg["clf"][1]["C"]))
            fitted = fit_pipeline(est, X[train], y[train], resource, f)
            assert got[i, fold]["test"]["score"] == pytest.approx(fitted.score(X[test], y[test]),
                                                                  abs=1e-12)
    leaves = [n for n in dag.nodes.values() if n.leaf]
    assert len({n.task.level for n in leaves}) == 2 and len(leaves) == 4 * 3


def test_samples_level_one_is_the_plain_evaluation(data):
    X, y = data
    pipe = samples_pipeline()
    cfg = [{"reduce": ("PCA", {"n_components": 4}), "clf": ("LogisticRegression", {"C": 1.0})}]
    with Runner(Unbounded(), scheduler="sync") as runner:
        plain = runner.execute(merge(pipe, cfg, X, y, cv=3))
        full = runner.execute(merge(pipe, cfg, X, y, cv=3, resource=Samples(), levels=[(1.0,)]))
    assert [r["test"] for r in plain] == [r["test"] for r in full]


# -- Iterations ------------------------------------------------------------------------------

def sgd_pipeline():
    return Pipeline([
        ("scale", StandardScaler()),
        ("clf", CountedSGDClassifier(random_state=0, tol=None), {"alpha": space.loguniform(1e-5, 1e-1)}),
    ])


def passes(est, Xt, y, r):
    """The reference: r partial_fit passes on a fresh estimator."""
    est = clone(est)
    for _ in range(r):
        est.partial_fit(Xt, y, classes=np.unique(y))
    return est


def test_checkpoints_resume_partial_fit_and_score_like_passes_from_scratch(data, units_log,
                                                                           make_runner):
    X, y = data
    cfgs = [{"clf": ("CountedSGDClassifier", {"alpha": a})} for a in (1e-4, 1e-2)]
    dag = merge(sgd_pipeline(), cfgs * 3, X, y, cv=3, resource=Iterations("max_iter"),
                levels=[(1,)] * 2 + [(1, 3)] * 2 + [(1, 3, 9)] * 2)
    kinds = [n.task.kind for n in dag.nodes.values()]
    assert kinds.count("checkpoint") == 2 * 3 * 3 and kinds.count("score") == 2 * 3 * 3
    with make_runner(Unbounded()) as runner:
        got = results_by(dag, runner.execute(dag))
    # each (config, fold) trained 9 units in all, not 1 + 3 + 9
    assert sorted(read_units(units_log).values()) == [9] * 6
    for i, cfg in enumerate(cfgs * 3):
        level = (1, 3, 9)[i // 2]
        for fold, (train, test) in enumerate(dag.folds):
            scale = StandardScaler().fit(X[train])
            est = passes(SGDClassifier(random_state=0, tol=None, alpha=cfg["clf"][1]["alpha"]),
                         scale.transform(X[train]), y[train], level)
            want = est.score(scale.transform(X[test]), y[test])
            assert got[i, fold]["test"]["score"] == pytest.approx(want, abs=1e-12)


def test_warm_start_checkpoints_equal_one_fit(data, units_log):
    X, y = data
    pipe = Pipeline([("clf", CountedGradientBoostingClassifier(random_state=0, max_depth=2),
                      {"learning_rate": space.choice([0.1, 0.3])})])
    cfgs = [{"clf": ("CountedGradientBoostingClassifier", {"learning_rate": 0.3})}] * 2
    resource = Iterations("n_estimators")
    dag = merge(pipe, cfgs, X, y, cv=2, resource=resource, levels=[(2,), (2, 6)])
    with Runner(Unbounded(), scheduler="sync") as runner:
        got = results_by(dag, runner.execute(dag))
    assert sorted(read_units(units_log).values()) == [6, 6]  # 2 trees, then 4 more, per fold
    for fold, (train, test) in enumerate(dag.folds):
        one = GradientBoostingClassifier(random_state=0, max_depth=2, learning_rate=0.3,
                                         n_estimators=6).fit(X[train], y[train])
        assert got[1, fold]["test"]["score"] == pytest.approx(one.score(X[test], y[test]), abs=1e-12)
        fitted = fit_pipeline(make_pipeline(clone(one).set_params(n_estimators=100)), X[train],
                              y[train], resource, 6)
        assert fitted.score(X[test], y[test]) == got[1, fold]["test"]["score"]


def test_a_promotion_resumes_from_the_cache_or_recomputes_from_the_nearest_ancestor(data, units_log):
    X, y = data
    cfg = [{"clf": ("CountedSGDClassifier", {"alpha": 1e-3})}]
    first = merge(sgd_pipeline(), cfg, X, y, cv=3, resource=Iterations("max_iter"), levels=[(2,)])
    second = merge(sgd_pipeline(), cfg, X, y, cv=3, resource=Iterations("max_iter"),
                   levels=[(2, 5)])
    scores = {}
    for cache in (Unbounded(), NoCache()):
        open(units_log, "w").close()
        trace = Trace()
        with Runner(cache, scheduler="sync") as runner, runner.open(trace) as session:
            session.submit(first)
            list(session.results())
            session.submit(second)
            scores[repr(cache)] = [r["test"] for _, r in session.results()]
        units = sum(read_units(units_log).values())
        hits = [e for e in trace.events if e["ev"] == "hit" and trace.nodes[e["key"]].get("checkpoint")]
        if isinstance(cache, Unbounded):
            assert units == 3 * 5 and len(hits) == 3  # 2 units, then 3 more from the checkpoint
        else:
            assert units == 3 * (2 + 5) and not hits  # the promotion retrains its 2 units
    assert scores["Unbounded()"] == scores["NoCache()"]


def test_leaves_that_cannot_continue_are_refused_before_any_work(data):
    X, y = data
    with pytest.raises(TypeError, match=r"the leaf stage 'clf' \(KNeighborsClassifier\) cannot "
                                         r"continue training.*partial_fit.*warm_start"):
        merge(Pipeline([("clf", KNeighborsClassifier())]), [{}], X, y, cv=2,
              resource=Iterations("n_neighbors"), levels=[(1,)])
    with pytest.raises(ValueError, match=r"Iterations\('n_estimators'\) names a parameter that "
                                         r"the leaf stage 'clf' \(SGDClassifier\) does not have"):
        merge(Pipeline([("clf", SGDClassifier())]), [{}], X, y, cv=2,
              resource=Iterations("n_estimators"), levels=[(1,)])
    with pytest.raises(ValueError, match=r"'levels' parameter of merge must be a fraction .* in "
                                         r"\(0, 1\] with Samples. Got 1.5"):
        merge(Pipeline([("clf", SGDClassifier())]), [{}], X, y, cv=2, resource=Samples(),
              levels=[(1.5,)])
    with pytest.raises(ValueError, match=r"strictly increasing"):
        merge(Pipeline([("clf", SGDClassifier())]), [{}], X, y, cv=2,
              resource=Iterations("max_iter"), levels=[(3, 3)])
    with pytest.raises(ValueError, match=r"int >= 1 \(units of 'max_iter'\).*Got 2.5"):
        Iterations("max_iter").check_level(2.5, "min_resource", "ASHA")


def test_trace_records_levels_units_and_checkpoints(data, units_log):
    X, y = data
    cfg = [{"clf": ("CountedSGDClassifier", {"alpha": 1e-3})}]
    dag = merge(sgd_pipeline(), cfg, X, y, cv=2, resource=Iterations("max_iter"), levels=[(2, 6)])
    trace = Trace()
    with Runner(Unbounded(), scheduler="sync") as runner:
        runner.execute(dag, trace)
    ckpts = [n for n in trace.nodes.values() if n.get("checkpoint")]
    assert sorted((n["resource"], n["units"]) for n in ckpts) == [(2, 2), (2, 2), (6, 4), (6, 4)]
    assert all(n["bytes"] > 0 for n in ckpts)  # sized as the fitted model
    assert {e["resource"] for e in trace.requests()} == {6}
