"""scikit-learn compatible searchers: parity with scikit-learn, the estimator contract, and the
pipelines users write (each feature fitted, prefix work counted)."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, randint
from sklearn import model_selection as skms
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.feature_selection import SelectPercentile, chi2
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GroupKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from dagreuse.pipes.testing import Counted, read_counts
from dagreuse.search import GriddedRandomSearchCV, GridSearchCV, RandomizedSearchCV
from tests.conftest import fits


def pipe():
    return SkPipeline([("scale", StandardScaler()), ("pca", PCA(random_state=0)),
                       ("clf", LogisticRegression(max_iter=500))])


GRID = {"scale": [StandardScaler(), "passthrough"], "pca__n_components": [2, 5],
        "clf__C": [0.1, 1.0]}


def assert_same_cv_results(ours, theirs):
    assert set(ours) == set(theirs)
    for key, theirs_v in theirs.items():
        ours_v = ours[key]
        if key == "params":
            assert [repr(p) for p in ours_v] == [repr(p) for p in theirs_v]
            continue
        assert type(ours_v) is type(theirs_v), key
        assert np.shape(ours_v) == np.shape(theirs_v), key
        assert ours_v.dtype == theirs_v.dtype, key
        if "time" in key:
            continue
        if key.startswith("param_"):
            assert [repr(v) for v in ours_v] == [repr(v) for v in theirs_v], key
        else:
            np.testing.assert_allclose(ours_v, theirs_v, rtol=0, atol=1e-12, err_msg=key)


def test_grid_search_parity_with_scikit_learn(data):
    X, y = data
    ours = GridSearchCV(pipe(), GRID, cv=3, cache="64MB").fit(X, y)
    theirs = skms.GridSearchCV(pipe(), GRID, cv=3).fit(X, y)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert repr(ours.best_params_) == repr(theirs.best_params_)
    assert ours.best_index_ == theirs.best_index_ and ours.best_score_ == theirs.best_score_
    assert ours.n_splits_ == 3 and ours.refit_time_ >= 0 and ours.scorer_ is not None
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    assert ours.score(X, y) == theirs.score(X, y)
    assert ours.profile_.speedup > 1  # scale and PCA nodes were shared


def test_randomized_search_draws_scikit_learns_candidates(data, client):
    X, y = data
    dists = {"pca__n_components": randint(2, 10), "clf__C": loguniform(1e-2, 1e2)}
    ours = RandomizedSearchCV(pipe(), dists, n_iter=6, random_state=3, cv=3, client=client,
                              return_train_score=True).fit(X, y)
    theirs = skms.RandomizedSearchCV(pipe(), dists, n_iter=6, random_state=3, cv=3,
                                     return_train_score=True).fit(X, y)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_multimetric_groups_and_delegation(data):
    X, y = data
    groups = np.arange(len(y)) % 4
    kw = dict(cv=GroupKFold(4), scoring={"acc": "accuracy", "f1": "f1_macro"}, refit="f1")
    ours = GridSearchCV(pipe(), GRID, **kw).fit(X, y, groups=groups)
    theirs = skms.GridSearchCV(pipe(), GRID, **kw).fit(X, y, groups=groups)
    assert_same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_index_ == theirs.best_index_ and set(ours.scorer_) == {"acc", "f1"}
    t = GridSearchCV(SkPipeline([("scale", StandardScaler()), ("pca", PCA())]),
                     {"pca__n_components": [2, 3]}, cv=3, scoring=lambda est, X, y=None: 0.0).fit(X)
    assert t.transform(X).shape[1] in (2, 3)


def test_estimator_contract_clone_and_pickle(data):
    X, y = data
    search = GridSearchCV(pipe(), GRID, cv=3, cache="32MB")
    params = search.get_params()
    assert params["cache"] == "32MB" and params["client"] is None
    assert clone(search).get_params()["cache"] == "32MB"
    search.fit(X, y)
    again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(again.predict(X), search.predict(X))
    g = GriddedRandomSearchCV(pipe(), {"pca__n_components": [2, 3, 4], "clf__C": [1, 2]},
                              branching=[2, 2], random_state=0)
    assert clone(g).get_params()["branching"] == [2, 2]


def test_error_score_nan_and_raise(data):
    X, y = data
    grid = {"pca__n_components": [3, 500]}  # 500 > 20 features: PCA raises
    search = GridSearchCV(pipe(), grid, cv=3)
    with pytest.warns(FitFailedWarning, match="3 fits failed"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One or more of the test scores")
        search.fit(X, y)
    assert np.isnan(search.cv_results_["mean_test_score"][1])
    assert search.best_params_ == {"pca__n_components": 3}
    with pytest.raises(ValueError, match="n_components=500 must be between 0 and"):  # PCA's own
        GridSearchCV(pipe(), grid, cv=3, error_score="raise").fit(X, y)


def test_bad_reuse_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="'cache' parameter of GridSearchCV must be"):
        GridSearchCV(pipe(), GRID, cache=[1]).fit(X, y)
    with pytest.raises(ValueError, match="'branching' parameter of GriddedRandomSearchCV must be "
                                         "a list of 2 ints >= 1, one per step with parameters"):
        GriddedRandomSearchCV(pipe(), {"pca__n_components": [2, 3], "clf__C": [1.0]},
                              branching=[2]).fit(X, y)


def test_gridded_random_search_cv_shares_prefixes(data, log):
    X, y = data
    p = SkPipeline([("pca", Counted(PCA(random_state=0), log, "pca")),
                    ("clf", LogisticRegression(max_iter=500))])
    search = GriddedRandomSearchCV(
        p, {"pca__estimator__n_components": randint(2, 15), "clf__C": loguniform(1e-2, 1e2)},
        branching=[3, 4], random_state=0, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 12
    assert len({p["pca__estimator__n_components"] for p in search.cv_results_["params"]}) == 3
    assert fits(read_counts(log), "pca") == 3 * 3 + 1  # 3 PCA nodes x 3 folds (not 12 x 3) + refit


def test_validation_folds_are_transformed_once_per_prefix_node(data, log):
    X, y = data
    p = SkPipeline([("scale", Counted(StandardScaler(), log, "scale")),
                    ("pca", Counted(PCA(random_state=0), log, "pca")),
                    ("clf", LogisticRegression(max_iter=500))])
    grid = {"pca__estimator__n_components": [2, 4, 6], "clf__C": [0.1, 1.0, 10.0]}
    GridSearchCV(p, grid, cv=3).fit(X, y)
    counts = read_counts(log)
    # one node per fold for scale, 3 per fold for PCA; + the refit on all data (fit + no transform)
    assert fits(counts, "scale") == 3 + 1 and fits(counts, "scale", "transform") == 3
    assert fits(counts, "pca") == 9 + 1 and fits(counts, "pca", "transform") == 9


@pytest.mark.parametrize("grid", [
    {"scale": [None, "passthrough", StandardScaler()]},  # dask-ml crashes on "passthrough"
    {"clf": [SVC(), LogisticRegression(max_iter=500)]},  # steps as parameters
])
def test_identity_steps_and_steps_as_parameters(data, grid):
    X, y = data
    p = SkPipeline([("scale", "passthrough"), ("clf", LogisticRegression(max_iter=500))])
    ours = GridSearchCV(p, grid, cv=3).fit(X, y)
    theirs = skms.GridSearchCV(p, grid, cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)


def test_nested_pipelines_are_flattened(data, log):
    X, y = data
    inner = SkPipeline([("scale", Counted(MinMaxScaler(), log, "inner")), ("pca", PCA())])
    p = SkPipeline([("prep", inner), ("clf", LogisticRegression(max_iter=500))])
    grid = {"prep__pca__n_components": [2, 3], "clf__C": [0.5, 2.0]}
    ours = GridSearchCV(p, grid, cv=3, refit=False).fit(X, y)
    theirs = skms.GridSearchCV(clone(p).set_params(prep__scale=MinMaxScaler()), grid, cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    assert fits(read_counts(log), "inner") == 3  # the inner scaler is one node per fold
    assert "prep__scale" in {r["stage"] for r in ours.profile_.stages}


def test_feature_union_branches_are_their_own_nodes(data, log):
    X, y = data
    union = SkPipeline([
        ("scale", StandardScaler()),
        ("feats", FeatureUnion([("pca", Counted(PCA(3), log, "pca")),
                                ("mm", Counted(MinMaxScaler(), log, "mm")),
                                ("raw", "passthrough"), ("gone", "drop")],
                               transformer_weights={"mm": 2.0})),
        ("clf", LogisticRegression(max_iter=500))])
    grid = {"feats__pca__estimator__n_components": [2, 4], "clf__C": [0.1, 1.0]}
    ours = GridSearchCV(union, grid, cv=3).fit(X, y)
    counts = read_counts(log)
    assert fits(counts, "mm") == 3 + 1  # shared by both PCA settings: once per fold, + refit
    assert fits(counts, "pca") == 2 * 3 + 1
    assert fits(counts, "mm", "transform") == 3  # validation fold, once per node
    plain = clone(union).set_params(feats__pca=PCA(3), feats__mm=MinMaxScaler())
    theirs = skms.GridSearchCV(plain, {k.replace("__estimator", ""): v for k, v in grid.items()},
                               cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    stages = {r["stage"] for r in ours.profile_.stages}
    assert {"feats__pca", "feats__mm", "feats"} <= stages


def test_column_transformer_on_dataframes(data):
    X, y = data
    df = pd.DataFrame(X[:, :4], columns=list("abcd")).assign(color=np.array(["r", "g", "b"])[y])
    ct = SkPipeline([("cols", ColumnTransformer([("num", StandardScaler(), list("abcd")),
                                                  ("cat", OneHotEncoder(), ["color"])])),
                     ("clf", LogisticRegression(max_iter=500))])
    grid = {"cols__num": [StandardScaler(), MinMaxScaler()], "clf__C": [0.1, 1.0]}
    ours = GridSearchCV(ct, grid, cv=3).fit(df, y)
    theirs = skms.GridSearchCV(ct, grid, cv=3).fit(df, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    assert list(ours.feature_names_in_) == [*"abcd", "color"]


def test_sparse_text_pipeline(log):
    docs = [f"alpha beta {w} gamma {i % 7}" for i, w in enumerate(["red", "blue", "green"] * 30)]
    y = np.arange(90) % 3
    p = SkPipeline([("vec", Counted(TfidfVectorizer(), log, "vec")),
                    ("sel", SelectPercentile(chi2)), ("clf", ComplementNB())])
    grid = {"vec__estimator__ngram_range": [(1, 1), (1, 2)], "sel__percentile": [30, 60],
            "clf": [ComplementNB(), SGDClassifier(random_state=0)]}
    ours = GridSearchCV(p, grid, cv=3).fit(docs, y)
    theirs = skms.GridSearchCV(clone(p).set_params(vec=TfidfVectorizer()),
                               {k.replace("__estimator", ""): v for k, v in grid.items()},
                               cv=3).fit(docs, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    assert fits(read_counts(log), "vec") == 2 * 3 + 1  # per ngram_range per fold, + refit
