"""The scikit-learn searchers' fit parameters and halving searchers, against scikit-learn:
equal results, and each unique node still computed once (counted operators)."""

import numpy as np
from scipy.stats import loguniform
from sklearn import model_selection as skms
from sklearn.decomposition import PCA
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import Unbounded
from dagreuse.pipes import merge_estimators
from dagreuse.pipes.testing import Counted, read_counts
from dagreuse.search import GridSearchCV, HalvingGridSearchCV, HalvingRandomSearchCV
from tests.conftest import fits
from tests.search.test_sklearn import assert_same_cv_results

ATTRS = ["n_candidates_", "n_resources_", "n_remaining_candidates_", "n_iterations_",
         "n_possible_iterations_", "n_required_iterations_", "max_resources_", "min_resources_",
         "best_index_", "best_params_"]


def counted(log, clf=None):
    return SkPipeline([("scale", StandardScaler()), ("pca", Counted(PCA(random_state=0), log, "pca")),
                       ("clf", clf or LogisticRegression(max_iter=500))])


def test_routed_sample_weight_keys_only_the_nodes_that_receive_it(data, log):
    X, y = data
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    grid = {"pca__estimator__n_components": [2, 5], "clf__C": [0.1, 1.0]}

    def keys(**fit_params):
        dag = merge_estimators(counted(log), [{"pca__estimator__n_components": 2}], X, y, cv=3,
                               fit_params=fit_params or None)
        return {n.stage: k for k, n in dag.nodes.items() if n.fold == 0}

    plain, to_clf, to_scale = keys(), keys(clf__sample_weight=w), keys(scale__sample_weight=w)
    assert to_clf["pca"] == plain["pca"] and to_clf["clf"] != plain["clf"]
    assert to_scale["scale"] != plain["scale"] and to_scale["pca"] != plain["pca"]
    ours = GridSearchCV(counted(log), grid, cv=3, cache=Unbounded()).fit(
        X, y, clf__sample_weight=w)
    assert fits(read_counts(log), "pca") == 2 * 3 + 1  # each (n_components, fold) once; refit
    theirs = skms.GridSearchCV(counted(None), grid, cv=3).fit(X, y, clf__sample_weight=w)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)
    unweighted = skms.GridSearchCV(counted(None), grid, cv=3).fit(X, y)
    assert not np.allclose(ours.cv_results_["mean_test_score"],
                           unweighted.cv_results_["mean_test_score"])


def test_halving_searchers_equal_scikit_learns(data):
    X, y = data
    grid = {"pca__n_components": [2, 3, 5, 8], "clf__C": [0.01, 0.1, 1.0, 10.0]}
    pipe = SkPipeline([("scale", StandardScaler()), ("pca", PCA(random_state=0)),
                       ("clf", LogisticRegression(max_iter=500))])
    for ours, theirs in [
        (HalvingGridSearchCV(pipe, grid, cv=3, random_state=0),
         skms.HalvingGridSearchCV(pipe, grid, cv=3, random_state=0)),
        (HalvingRandomSearchCV(pipe, {**grid, "clf__C": loguniform(1e-2, 1e2)}, factor=2,
                               cv=3, random_state=0),
         skms.HalvingRandomSearchCV(pipe, {**grid, "clf__C": loguniform(1e-2, 1e2)}, factor=2,
                                    cv=3, random_state=0)),
    ]:
        ours.fit(X, y)
        theirs.fit(X, y)
        assert_same_cv_results(ours.cv_results_, theirs.cv_results_)
        for attr in ATTRS:
            assert getattr(ours, attr) == getattr(theirs, attr), attr
        assert ours.profile_.n_computed > 0


def test_halving_on_an_estimator_parameter_shares_the_prefix_across_iterations(data, log):
    X, y = data
    grid = {"pca__estimator__n_components": [2, 5], "clf__alpha": [1e-4, 1e-3, 1e-2]}
    kw = dict(resource="clf__max_iter", min_resources=2, max_resources=18, factor=3, cv=3,
              random_state=0)
    sgd = SGDClassifier(random_state=0, tol=None)
    ours = HalvingGridSearchCV(counted(log, sgd), grid, cache=Unbounded(), **kw).fit(X, y)
    assert sum(ours.n_candidates_) > len(ours.n_candidates_)  # several candidates, rungs
    assert fits(read_counts(log), "pca") == 2 * 3 + 1  # each prefix once for all iterations
    theirs = skms.HalvingGridSearchCV(counted(None, sgd), grid, **kw).fit(X, y)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)


def test_halving_on_n_estimators_resumes_promotions_from_their_checkpoints(data, tmp_path,
                                                                         monkeypatch):
    from dagreuse.pipes.testing import COUNT_LOG, CountedGradientBoostingClassifier

    X, y = data
    log = tmp_path / "units.log"
    monkeypatch.setenv(COUNT_LOG, str(log))
    grid = {"clf__learning_rate": [0.05, 0.1, 0.2], "clf__max_depth": [1, 2, 3]}
    kw = dict(resource="clf__n_estimators", min_resources=2, max_resources=18, factor=3, cv=3,
              random_state=0)

    def pipe():
        return SkPipeline([("scale", StandardScaler()),
                           ("clf", CountedGradientBoostingClassifier(random_state=0))])

    ours = HalvingGridSearchCV(pipe(), grid, cache=Unbounded(), refit=False, **kw).fit(X, y)
    units = sum(int(line.split()[-1]) for line in log.read_text().splitlines())
    theirs = skms.HalvingGridSearchCV(pipe(), grid, refit=False, **kw).fit(X, y)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)  # to 1e-12: provably equal
    reached: dict[tuple, int] = {}
    for params, r in zip(ours.cv_results_["params"], ours.cv_results_["n_resources"], strict=True):
        key = (params["clf__learning_rate"], params["clf__max_depth"])
        reached[key] = max(reached.get(key, 0), int(r))
    assert units == 3 * sum(reached.values())  # each config trained to its top level, once
    assert units < 3 * int(sum(ours.cv_results_["n_resources"]))  # scikit-learn's: every rung


def test_verbose_prints_what_scikit_learn_prints(data, capsys):
    X, y = data
    grid = {"C": [0.1, 1.0]}
    for verbose in (1, 3):
        GridSearchCV(LogisticRegression(max_iter=500), grid, cv=3, verbose=verbose).fit(X, y)
        ours = capsys.readouterr().out.splitlines()
        skms.GridSearchCV(LogisticRegression(max_iter=500), grid, cv=3, verbose=verbose).fit(X, y)
        theirs = capsys.readouterr().out.splitlines()

        def untimed(lines):
            return [line.split(" total time=")[0].rstrip(".;") for line in lines]

        assert untimed(ours) == untimed(theirs) and ours[0].startswith("Fitting 3 folds")


def test_a_scikit_learn_search_inside_ours_runs_as_scikit_learn_runs_it(data):
    # the inner search's batches go to joblib, though it fits on the thread ours evaluates on
    X, y = data
    inner = skms.GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=2)
    ours = GridSearchCV(inner, {"cv": [2, 3]}, cv=2).fit(X, y)
    theirs = skms.GridSearchCV(inner, {"cv": [2, 3]}, cv=2).fit(X, y)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_estimator_.best_params_ == theirs.best_estimator_.best_params_
