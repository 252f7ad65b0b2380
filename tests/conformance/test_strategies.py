"""Every strategy passes this suite: ask/tell round trip and seeded reproducibility."""

import pytest
from sklearn.linear_model import LogisticRegression

from dagreuse.pipes import Pipeline, space
from dagreuse.search import GriddedRandomSearch, GridSearch, RandomSearch, Strategy


def pipe():
    return Pipeline([("clf", LogisticRegression(), {"C": space.choice([0.1, 1.0, 10.0]),
                                                    "tol": space.loguniform(1e-5, 1e-3)})])


def grid_pipe():
    return Pipeline([("clf", LogisticRegression(), {"C": space.choice([0.1, 1.0, 10.0])})])


STRATEGIES = {
    "grid": lambda seed: GridSearch(grid_pipe()),
    "random": lambda seed: RandomSearch(pipe(), n=5, seed=seed),
    "gridded": lambda seed: GriddedRandomSearch(pipe(), [3], seed=seed),
}


@pytest.mark.parametrize("make", STRATEGIES.values(), ids=STRATEGIES.keys())
def test_ask_tell_round_trip(make):
    s = make(0)
    assert isinstance(s, Strategy)
    proposals = s.ask()
    assert proposals and all(p.resource is None for p in proposals)
    for p in proposals:
        s.pipeline.resolve(p.config)  # every proposal is a valid config
    s.tell([{"config": p.config, "mean_score": 0.5} for p in proposals])
    assert s.ask() == []


@pytest.mark.parametrize("make", STRATEGIES.values(), ids=STRATEGIES.keys())
def test_seeded_reproducibility(make):
    assert [p.config for p in make(3).ask()] == [p.config for p in make(3).ask()]
