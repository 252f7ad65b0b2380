import math

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dagreuse.pipes import Pipeline, merge, space
from dagreuse.search import GriddedRandomSearch, GridSearch, RandomSearch


def pipe():
    return Pipeline([
        ("scale", space.choice({"std": StandardScaler(), "minmax": MinMaxScaler(), "none": None})),
        ("reduce", PCA(), {"n_components": space.randint(2, 40)}),
        ("clf", LogisticRegression(max_iter=300), {"C": space.loguniform(1e-3, 1e2)}),
    ])


def test_gridded_random_search_shape_and_sharing():
    search = GriddedRandomSearch(pipe(), branching=[3, 5, 5], seed=0)
    configs = search.configs()
    assert len(configs) == 75
    assert {c["scale"][0] for c in configs} == {"std", "minmax", "none"}
    for label in ("std", "minmax", "none"):
        under = [c for c in configs if c["scale"][0] == label]
        assert len({c["reduce"][1]["n_components"] for c in under}) == 5  # distinct per parent
    # children of different parents draw their own values (unlike grid search)
    per_parent = [frozenset(c["reduce"][1]["n_components"] for c in configs if c["scale"][0] == s)
                  for s in ("std", "minmax", "none")]
    assert len(set(per_parent)) > 1
    X, y = np.random.default_rng(0).random((60, 50)), np.arange(60) % 2
    dag = merge(search.pipeline, configs, X, y, cv=2)
    assert dag.count("reduce") == 2 * 15 and dag.count("scale") == 2 * 2


def test_seeded_reproducibility_and_plain_values():
    a = GriddedRandomSearch(pipe(), [2, 3, 2], seed=7).configs()
    assert a == GriddedRandomSearch(pipe(), [2, 3, 2], seed=7).configs()
    assert a != GriddedRandomSearch(pipe(), [2, 3, 2], seed=8).configs()
    r = RandomSearch(pipe(), n=10, seed=1).configs()
    assert r == RandomSearch(pipe(), n=10, seed=1).configs() and len(r) == 10
    for c in a + r:
        assert type(c["reduce"][1]["n_components"]) is int and type(c["clf"][1]["C"]) is float
        assert 2 <= c["reduce"][1]["n_components"] < 40 and 1e-3 <= c["clf"][1]["C"] <= 1e2


def test_grid_search_enumerates_finite_spaces():
    p = Pipeline([("scale", space.choice({"std": StandardScaler(), "none": None})),
                  ("reduce", PCA(), {"n_components": space.choice([2, 4, 8])}),
                  ("clf", LogisticRegression(), {"C": space.choice([0.1, 1.0])})])
    configs = GridSearch(p).configs()
    assert len(configs) == 2 * 3 * 2 and len({repr(c) for c in configs}) == 12
    with pytest.raises(ValueError, match=r"Parameter 'C' of stage 'clf' .* is loguniform.*continuous"):
        GridSearch(pipe())


@pytest.mark.parametrize(("branching", "match"), [
    ([3, 5], r"'branching' parameter of GriddedRandomSearch must be a list of 3 ints >= 1"),
    ([3, 0, 5], r"must be a list of 3 ints >= 1 .*Got \[3, 0, 5\]"),
    ("355", r"must be a list of 3 ints"),
    ([4, 5, 5], r"branching factor for stage 'scale' must be at most its number of distinct "
                r"values \(3\). Got 4"),
])
def test_bad_branching(branching, match):
    with pytest.raises(ValueError, match=match):
        GriddedRandomSearch(pipe(), branching, seed=0).configs()


def test_bad_strategy_arguments():
    with pytest.raises(ValueError, match=r"'n' parameter of RandomSearch must be an int >= 1. Got 0"):
        RandomSearch(pipe(), n=0)
    with pytest.raises(TypeError, match=r"'seed' parameter of RandomSearch must be an int or None"):
        RandomSearch(pipe(), n=3, seed="x")
    with pytest.raises(TypeError, match=r"'pipeline' parameter of GridSearch must be a dagreuse"):
        GridSearch([("clf", LogisticRegression())])


def test_node_count_bound():
    b = [3, 4, 2]
    configs = GriddedRandomSearch(pipe(), b, seed=0).configs()
    assert len(configs) == math.prod(b)


def test_a_huge_randint_is_sampled_without_listing_its_values():
    """randint(0, 2**40) (a seed, say) has 2**40 values: counting them must not list them."""
    from sklearn.dummy import DummyClassifier

    pipe = Pipeline([("clf", DummyClassifier(), {"random_state": space.randint(0, 2**40)})])
    configs = GriddedRandomSearch(pipe, [5], seed=0).configs()
    assert len({c["clf"][1]["random_state"] for c in configs}) == 5
