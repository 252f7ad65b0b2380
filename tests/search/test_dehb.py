"""DEHB (issue 21, part 2): its schedule, DE operators and selection, and that reuse survives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import Unbounded
from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.pipes.testing import Counted, read_counts
from dagreuse.search import DEHB, run
from dagreuse.search._dehb import crossover, mutate, parent_pool
from dagreuse.search._encoding import UnitSpace

ITER = resources.Iterations("max_iter")


def _pipe(log=None):
    pca = Counted(PCA(random_state=0), log, "pca") if log else PCA(random_state=0)
    key = "estimator__n_components" if log else "n_components"
    return Pipeline([("scale", StandardScaler()), ("pca", pca, {key: space.choice([8, 16, 32])}),
                     ("clf", SGDClassifier(random_state=0), {"alpha": space.loguniform(1e-6, 1e-1),
                                                            "l1_ratio": space.uniform(0.0, 1.0),
                                                            "penalty": "elasticnet"})])


def _drive(dehb, score=lambda p: 0.5):
    """ask/tell to the end; returns the proposals rung by rung."""
    rungs = []
    while not dehb.finished:
        props = dehb.ask()
        assert props, "a DEHB that is not finished always has a rung to propose"
        rungs.append(props)
        dehb.tell([{"job": p.job, "mean_score": score(p), "status": "ok"} for p in props])
    return rungs


def test_floor_brackets_give_20_evaluations_per_iteration_at_3_9_27():
    dehb = DEHB(_pipe(), ITER, min_resource=3, max_resource=27, eta=3, seed=0, n_iterations=3,
                bracket_sizes="floor")
    assert dehb.plan == [(0, 9), (1, 3), (2, 3)] and dehb.evaluations_per_iteration() == 20
    rungs = _drive(dehb)
    assert [len(r) for r in rungs] == [9, 3, 1, 3, 1, 3] * 3
    assert [r[0].resource for r in rungs[:6]] == [3, 9, 27, 9, 27, 27]
    # the first iteration promotes (resuming), later ones fill rungs with offspring (from scratch)
    assert all(p.promoted_from == 3 for p in rungs[1]) and rungs[1][0].config in [
        p.config for p in rungs[0]]
    assert all(p.promoted_from is None for r in rungs[6:] for p in r)
    assert DEHB(_pipe(), ITER, min_resource=3, max_resource=27, eta=3).evaluations_per_iteration() == 22


def test_parent_pool_is_topped_up_to_three_distinct_members():
    rng = np.random.default_rng(0)
    pts = [np.full(2, i / 10) for i in range(6)]
    pool = parent_pool([pts[0]], pts, rng)
    assert len(pool) == 3 and pool[0] is pts[0] and len({id(p) for p in pool}) == 3
    assert parent_pool(pts[:4], pts, rng) == pts[:4]


def test_mutation_is_rand_1_and_resamples_out_of_range_coordinates():
    pool = [np.array([0.2, 0.9]), np.array([0.6, 0.1]), np.array([0.4, 0.5])]
    rng, again = np.random.default_rng(3), np.random.default_rng(3)
    v = mutate(pool, 0.5, rng)
    a, b, c = (pool[i] for i in again.choice(3, 3, replace=False))
    expected = a + 0.5 * (b - c)
    inside = (expected >= 0) & (expected <= 1)
    np.testing.assert_allclose(v[inside], expected[inside])
    wild = [np.array([0.0]), np.array([1.0]), np.array([0.0])]  # 0 + 0.5 (1 - 0) or 1 + 0.5 (0 - 1)...
    for seed in range(20):
        out = mutate([w * 1 for w in wild] + [np.array([1.0])], 2.0, np.random.default_rng(seed))
        assert 0 <= out[0] <= 1


def test_crossover_takes_one_forced_coordinate_at_least():
    target, mutant = np.zeros(8), np.ones(8)
    for seed in range(10):
        child = crossover(target, mutant, 0.0, np.random.default_rng(seed))
        assert child.sum() == 1  # p = 0: only the forced coordinate
    takes = [crossover(target, mutant, 0.5, np.random.default_rng(s)).sum() for s in range(400)]
    assert 4 < np.mean(takes) < 5  # 1 forced + 7 at p = 0.5 -> 4.5 on average


def test_selection_is_greedy_with_ties_to_the_offspring():
    dehb = DEHB(_pipe(), ITER, min_resource=3, max_resource=27, eta=3, seed=1, n_iterations=2,
                bracket_sizes="floor")
    rungs = _drive(dehb)  # every score equal: each offspring ties with its target and replaces it
    offspring = [p.config for p in rungs[6]]  # iteration 2, bracket 0, budget 3: 9 offspring
    pop = dehb.pops[3]
    assert [dehb.space.decode(x) for x in pop.points] == offspring
    worse = DEHB(_pipe(), ITER, min_resource=3, max_resource=27, eta=3, seed=1, n_iterations=2,
                 bracket_sizes="floor")
    rungs = _drive(worse, lambda p: 0.9 if p.job < 20 else 0.1)  # offspring all worse
    assert len(rungs[6]) == 9 and worse.pops[3].fitness == [-0.9] * 9  # every target kept


def test_decoding_bins_choices_and_logs():
    us = UnitSpace(_pipe())
    assert us.d == 3
    config = us.decode(np.array([0.999, 0.5, 0.25]))
    assert config["pca"][1]["n_components"] == 32 and config["clf"][1]["penalty"] == "elasticnet"
    assert math.isclose(config["clf"][1]["alpha"], 10 ** -3.5) and config["clf"][1]["l1_ratio"] == 0.25


def test_reuse_survives_dehb(tmp_path):
    X, y = load_digits(return_X_y=True)
    log = str(tmp_path / "fits")
    dehb = DEHB(_pipe(log), ITER, min_resource=3, max_resource=27, eta=3, seed=0, n_iterations=2,
                bracket_sizes="floor")
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(dehb, X[:600], y[:600], cv=2, runner=runner)
    assert len(result.trials) == 40 and math.isfinite(result.best_score)
    fits = [n for (event, *_), n in read_counts(log).items() if event == "fit"]
    assert len(fits) == 6 and all(n == 1 for n in fits)  # 3 n_components x 2 folds, once each
    again = DEHB(_pipe(log), ITER, min_resource=3, max_resource=27, eta=3, seed=0, n_iterations=2,
                 bracket_sizes="floor")
    # seeded: the same first rung (the rest follows the scores)
    assert [p.config for p in _drive(again)[0]] == [t["config"] for t in result.trials][:9]


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="'bracket_sizes' parameter of DEHB must be one of"):
        DEHB(_pipe(), ITER, max_resource=27, bracket_sizes="ceil")
    with pytest.raises(ValueError, match="'n_iterations' parameter of DEHB must be an int >= 1"):
        DEHB(_pipe(), ITER, max_resource=27, n_iterations=0)
    with pytest.raises(ValueError, match="'mutation_factor' parameter of DEHB must be a number in"):
        DEHB(_pipe(), ITER, max_resource=27, mutation_factor=3)
    with pytest.raises(TypeError, match=r"'pipeline' parameter of DEHB must be a dagreuse\.pipes\.Pipeline"):
        DEHB("pipe", ITER, max_resource=27)
