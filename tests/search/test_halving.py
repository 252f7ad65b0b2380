"""Successive halving, Hyperband and ASHA end to end on real Runners: the thesis' plan, work
counted with instrumented operators, scores equal to scikit-learn from scratch, the sync oracle
and Dask agreeing, failures and bad input."""

import math

import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from dagreuse.cache import NoCache, Unbounded
from dagreuse.pipes import Pipeline, Runner, resolve_cv, space
from dagreuse.pipes.resources import Iterations, Samples, fit_pipeline
from dagreuse.pipes.testing import COUNT_LOG, Counted, CountedSGDClassifier, read_counts, read_units
from dagreuse.search import ASHA, GriddedRandomSearch, Hyperband, SuccessiveHalving, run
from dagreuse.search._rungs import ladder
from tests.conftest import fits

ITER = Iterations("max_iter")


def sgd_pipe(leaf=None):
    return Pipeline([
        ("scale", StandardScaler()),
        ("clf", leaf or CountedSGDClassifier(random_state=0, tol=None),
         {"alpha": space.loguniform(1e-5, 1e-1)}),
    ])


def prefix_pipe(log):
    return Pipeline([
        ("scale", space.choice({"std": StandardScaler(), "none": None})),
        ("reduce", Counted(PCA(random_state=0), log, "reduce"),
         {"estimator__n_components": space.randint(2, 12)}),
        ("clf", LogisticRegression(max_iter=300), {"C": space.loguniform(1e-2, 1e2)}),
    ])


@pytest.fixture
def units_log(log, monkeypatch):
    monkeypatch.setenv(COUNT_LOG, log)
    return log


def comparable(result):
    return [{k: t[k] for k in ("config", "resource", "rung", "bracket", "scores", "status", "error")}
            for t in result.trials]


def test_hyperband_plans_the_thesis_brackets():
    assert Hyperband(sgd_pipe(), ITER, max_resource=81, eta=3).brackets() == [
        (81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    assert len(Hyperband(sgd_pipe(), ITER, max_resource=243, eta=3).brackets()) == 6
    assert len(Hyperband(sgd_pipe(), ITER, max_resource=1000, eta=10).brackets()) == 4
    assert ladder(1, 300, 4) == [1, 4, 16, 64, 300]  # the top level is max_resource
    assert ladder(1 / 81, 1.0, 3)[-1] == 1.0 and len(ladder(1 / 81, 1.0, 3)) == 5
    assert Hyperband(sgd_pipe(), Samples(), eta=3).brackets()[0] == (81, 1 / 81)


def test_hyperband_trains_1581_units_with_checkpoints_and_1902_without(data, units_log):
    X, y = data[0], (data[1] > 0).astype(int)  # binary: SGD's multiclass passes cost 5x more
    results, units = {}, {}
    for cache in (Unbounded(), NoCache()):
        open(units_log, "w").close()
        with Runner(cache, scheduler="sync") as runner:
            results[repr(cache)] = run(Hyperband(sgd_pipe(), ITER, max_resource=81, eta=3, seed=0),
                                       X, y, cv=2, runner=runner)
        per_fold = {}
        for (_, data_), n in read_units(units_log).items():
            per_fold[data_] = per_fold.get(data_, 0) + n
        units[repr(cache)] = sorted(per_fold.values())
    with_ckpt = results["Unbounded()"]
    assert len({t["config_id"] for t in with_ckpt.trials if t["rung"] == 0}) == 143
    assert units == {"Unbounded()": [1581, 1581], "NoCache()": [1902, 1902]}
    assert with_ckpt.profile.units_trained == 2 * 1581
    assert with_ckpt.profile.independent_units == 2 * 1902
    assert with_ckpt.profile.checkpoint_hits == 2 * (len(with_ckpt.trials) - 143)  # promotions
    assert comparable(with_ckpt) == comparable(results["NoCache()"])  # the same scores
    top = max(t["resource"] for t in with_ckpt.trials)
    assert top == 81 and with_ckpt.best_trial["resource"] == 81
    assert with_ckpt.best_score == max(t["mean_score"] for t in with_ckpt.trials if t["resource"] == 81)


def test_a_config_that_reached_a_level_trained_that_many_units(data, units_log):
    X, y = data
    sha = SuccessiveHalving(sgd_pipe(), ITER, min_resource=1, max_resource=27, eta=3,
                            n_configs=27, seed=0)
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(sha, X, y, cv=3, runner=runner)
    reached = {}
    for t in result.trials:
        reached[t["config_id"]] = max(reached.get(t["config_id"], 0), t["resource"])
    assert sorted(reached.values()) == [1] * 18 + [3] * 6 + [9] * 2 + [27]
    units = sorted(read_units(units_log).values())
    assert units == sorted(r for r in reached.values() for _ in range(3))  # r_k, not the sum


def test_samples_prefix_nodes_are_computed_once_per_fold_across_rungs(data, log):
    X, y = data
    source = GriddedRandomSearch(prefix_pipe(log), branching=[2, 2, 8], seed=0)  # 32 configs
    sha = SuccessiveHalving(source, Samples(), min_resource=1 / 16, eta=4)
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(sha, X, y, cv=3, scoring="accuracy", runner=runner)
    assert [len([t for t in result.trials if t["rung"] == k]) for k in range(3)] == [32, 8, 2]
    counts = read_counts(log)
    assert all(n == 1 for n in counts.values())
    assert fits(counts, "reduce") == 2 * 2 * 3  # every PCA node once per fold, whatever the rung
    prefix_hits = sum(r["prefix_hits"] for r in result.profile.rungs if r["resource"] > 1 / 16)
    assert prefix_hits > 0
    assert [r["stage"] for r in result.profile.stages][-3:] == ["clf@1/16", "clf@1/4", "clf@1"]
    assert "clf@1/4" in str(result.profile) and "ckpt hits" in str(result.profile)
    with Runner(NoCache(), scheduler="sync") as runner:
        again = run(SuccessiveHalving(source, Samples(), min_resource=1 / 16, eta=4), X, y, cv=3,
                    scoring="accuracy", runner=runner)
    assert comparable(again) == comparable(result)
    assert fits(read_counts(log), "reduce") > 2 * 2 * 3 * 2  # recomputed without a cache
    # every (config, resource, fold) scores like a scikit-learn pipeline fitted from scratch
    cv = resolve_cv(3, X, y, classifier=True)
    for t in result.trials[::5]:
        cfg = t["config"]
        steps = [StandardScaler()] if cfg["scale"][0] == "std" else []
        k = cfg["reduce"][1]["estimator__n_components"]
        est = make_pipeline(*steps, PCA(k, random_state=0),
                            LogisticRegression(max_iter=300, C=cfg["clf"][1]["C"]))
        for f, (train, test) in enumerate(cv):
            fitted = fit_pipeline(est, X[train], y[train], Samples(), t["resource"])
            assert t["scores"][f] == pytest.approx(fitted.score(X[test], y[test]), abs=1e-12)


def test_sync_oracle_and_dask_give_identical_trials(data, client):
    X, y = data
    made = {
        "sha": lambda: SuccessiveHalving(sgd_pipe(SGDClassifier(random_state=0, tol=None)), ITER,
                                         min_resource=1, max_resource=9, eta=3, n_configs=9, seed=1),
        "asha": lambda: ASHA(sgd_pipe(SGDClassifier(random_state=0, tol=None)), ITER,
                             min_resource=1, max_resource=16, eta=2, brackets=[0, 1], n_configs=12,
                             seed=2),
    }
    for name, make in made.items():
        got = []
        for runner in (Runner(Unbounded(), scheduler="sync"), Runner(Unbounded(), client=client)):
            with runner:
                got.append(comparable(run(make(), X, y, cv=3, runner=runner, max_in_flight=1)))
        assert got[0] == got[1], name
        assert any(t["rung"] > 0 for t in got[0])


def test_hyperband_on_dask_with_whole_rungs_in_flight_reaches_the_oracles_levels(data, client):
    """With every job of a rung in flight, results certain to be kept start their next rung
    before the rung ends; the trials are still the oracle's (proposal order aside)."""
    X, y = data
    got = []
    for runner in (Runner(Unbounded(), scheduler="sync"), Runner(Unbounded(), client=client)):
        with runner:
            hb = Hyperband(sgd_pipe(SGDClassifier(random_state=0, tol=None)), ITER,
                           max_resource=9, eta=3, seed=4)
            got.append(sorted(comparable(run(hb, X, y, cv=2, runner=runner)), key=repr))
    assert got[0] == got[1]
    assert {t["rung"] for t in got[0]} == {0, 1, 2}


def test_asha_on_dask_with_jobs_in_flight_promotes_each_config_once(data, client):
    X, y = data
    asha = ASHA(sgd_pipe(SGDClassifier(random_state=0, tol=None)), ITER, min_resource=1,
                max_resource=27, eta=3, n_configs=30, seed=0)
    with Runner(Unbounded(), client=client) as runner:
        result = run(asha, X, y, cv=2, runner=runner, max_in_flight=4)
    seen = [(t["bracket"], t["rung"], t["config_id"]) for t in result.trials]
    assert len(seen) == len(set(seen)) and len({t["config_id"] for t in result.trials}) == 30
    assert {t["bracket"] for t in result.trials} == {0, 1, 2}
    assert result.profile.checkpoint_hits == 2 * sum(t["rung"] > 0 for t in result.trials)
    assert result.best_trial["resource"] == max(t["resource"] for t in result.trials)


class Fragile(SGDClassifier):
    """A real SGD classifier that fails past 3 units for small alphas, as a diverging model."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        if self.alpha < 1e-3 and self.max_iter >= 3:
            raise FloatingPointError("diverged")
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_a_candidate_failing_at_a_rung_scores_error_score_and_is_never_promoted(data, client):
    X, y = data
    sha = SuccessiveHalving(sgd_pipe(Fragile(random_state=0, tol=None)), ITER, min_resource=1,
                            max_resource=9, eta=3, n_configs=27, seed=0)
    with Runner(Unbounded(), client=client) as runner:
        result = run(sha, X, y, cv=2, runner=runner, error_score=-1.0)
    failed = [t for t in result.trials if t["status"] == "error"]
    assert failed and all(t["rung"] == 1 and t["scores"] == [-1.0, -1.0] for t in failed)
    assert all("FloatingPointError: diverged" in t["error"] for t in failed)
    top = {t["config_id"] for t in result.trials if t["rung"] == 2}
    assert top and not top & {t["config_id"] for t in failed}
    assert result.best_trial["rung"] == 2 and result.best_trial["status"] == "ok"


def test_result_carries_levels_curves_and_the_best_at_the_top(data):
    X, y = data
    sha = SuccessiveHalving(sgd_pipe(SGDClassifier(random_state=0, tol=None)), ITER,
                            min_resource=2, max_resource=8, eta=2, n_configs=4, seed=0)
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(sha, X, y, cv=2, runner=runner)
    t = result.trials[-1]
    assert (t["resource"], t["rung"], t["bracket"], t["promoted_from"]) == (8, 2, 0, 4)
    curves = result.curves()
    assert list(curves.columns) == ["config_id", "bracket", "rung", "resource", "mean_score", "status"]
    assert len(curves) == 4 + 2 + 1 and curves.groupby("config_id").size().max() == 3
    assert result.best_config == t["config"] and result.best_score == t["mean_score"]
    assert {"resource", "rung", "bracket"} <= set(result.trials_dataframe().columns)
    assert [r["resource"] for r in result.profile.rungs] == [2, 4, 8]
    assert [r["units"] for r in result.profile.rungs] == [2 * 4 * 2, 2 * 2 * 2, 4 * 1 * 2]


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: SuccessiveHalving(sgd_pipe(), ITER, max_resource=9, eta=1, n_configs=9), ValueError,
     r"'eta' parameter of SuccessiveHalving must be an int >= 2. Got 1"),
    (lambda: ASHA(sgd_pipe(), ITER, min_resource=0, max_resource=9, n_configs=9), ValueError,
     r"'min_resource' parameter of ASHA must be an int >= 1 .*Got 0"),
    (lambda: ASHA(sgd_pipe(), ITER, min_resource=27, max_resource=9, n_configs=9), ValueError,
     r"'min_resource' parameter of ASHA must be at most max_resource \(9\). Got 27"),
    (lambda: Hyperband(sgd_pipe(), Samples(), max_resource=1.5), ValueError,
     r"'max_resource' parameter of Hyperband must be a fraction of the training fold in \(0, 1\]"),
    (lambda: ASHA(sgd_pipe(), Samples(), min_resource=-0.1, n_configs=9), ValueError,
     r"'min_resource' parameter of ASHA must be a fraction"),
    (lambda: Hyperband(sgd_pipe(), Iterations("n_estimators"), max_resource=9), ValueError,
     r"Iterations\('n_estimators'\) names a parameter that the leaf stage 'clf' "
     r"\(CountedSGDClassifier\) does not have"),
    (lambda: Hyperband(Pipeline([("clf", SVC())]), Iterations("max_iter"), max_resource=9),
     TypeError, r"the leaf stage 'clf' \(SVC\) cannot continue training"),
    (lambda: ASHA(sgd_pipe(), ITER, max_resource=9, n_configs=0), ValueError,
     r"'n_configs' parameter of ASHA must be an int >= 1. Got 0"),
    (lambda: ASHA(sgd_pipe(), ITER, min_resource=1, max_resource=16, brackets=[0, 5], n_configs=9),
     ValueError, r"'brackets' parameter of ASHA must be distinct early-stopping rates in "
                 r"0..s_max = 0..2"),
    (lambda: ASHA(sgd_pipe(), ITER, max_resource=9), ValueError,
     r"'n_configs' parameter of ASHA is needed to draw configs from a pipeline"),
    (lambda: SuccessiveHalving(sgd_pipe(), ITER, min_resource=1, max_resource=27, eta=3,
                               n_configs=10), ValueError,
     r"needs at least eta\*\*3 = 27 configs for one to reach max_resource"),
    (lambda: SuccessiveHalving(sgd_pipe(), ITER, min_resource=1, max_resource=9, eta=3,
                               n_configs=9, early_stopping_rate=3), ValueError,
     r"'early_stopping_rate' parameter of SuccessiveHalving must be at most s_max = 2"),
    (lambda: ASHA(Pipeline([("clf", SGDClassifier(), {"max_iter": space.randint(1, 9)})]), ITER,
                  max_resource=9, n_configs=3), ValueError,
     r"the leaf stage 'clf' searches 'max_iter', which is the resource of ASHA"),
    (lambda: ASHA(sgd_pipe(), "max_iter", max_resource=9, n_configs=3), TypeError,
     r"'resource' parameter of ASHA must be a dagreuse.pipes.resources resource"),
    (lambda: SuccessiveHalving([("clf", SGDClassifier())], ITER), TypeError,
     r"first parameter of SuccessiveHalving must be a dagreuse Pipeline or a proposal strategy"),
])
def test_bad_input_is_refused_before_any_work(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_run_refuses_a_bad_max_in_flight(data):
    X, y = data
    with pytest.raises(ValueError, match=r"'max_in_flight' parameter of run must be an int >= 1"):
        run(ASHA(sgd_pipe(), ITER, max_resource=9, n_configs=3), X, y, max_in_flight=0,
            runner=Runner(scheduler="sync"))


def test_defaults_follow_the_thesis():
    asha = ASHA(sgd_pipe(), ITER, max_resource=256, n_configs=100)
    assert asha.eta == 4 and asha.min_resource == 1 and asha.brackets == (0, 1, 2)
    from dagreuse.search._asha import shares

    assert shares(1000, [0, 1, 2], 4, 4) == [706, 221, 73]  # 70.6 / 22.1 / 7.4 %
    assert math.isclose(ASHA(sgd_pipe(), Samples(), n_configs=10).min_resource, 1 / 256)
    assert SuccessiveHalving(sgd_pipe(), Samples(), eta=4, n_configs=70).levels == [1 / 64, 1 / 16,
                                                                                  1 / 4, 1.0]
    assert SuccessiveHalving(sgd_pipe(), ITER, max_resource=100, n_configs=27).levels == [3, 9, 27,
                                                                                        100]


def test_asynchronous_searches_keep_a_task_running_and_one_queued_per_thread(client):
    from dagreuse.search._driver import default_in_flight

    assert default_in_flight(Runner(scheduler="sync"), 3) == 1
    with Runner(client=client) as runner:  # 2 threads
        assert [default_in_flight(runner, folds) for folds in (1, 3, 5)] == [4, 2, 1]
