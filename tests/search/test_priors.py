"""Priors in the space (issue 21, part 1) and the searches that sample from them (part 3).

The rule (ALGORITHMS.md §7, NePS's): a numeric prior is a normal at the prior value with standard
deviation ``1 - confidence`` in the range normalised to [0, 1] (log for loguniform), truncated to
it; a choice puts mass ``confidence`` on the prior value and spreads the rest uniformly. Checked
against scipy's truncated normal over 10,000 draws per kind.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dagreuse.cache import Unbounded
from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.pipes.testing import Counted, read_counts
from dagreuse.search import ASHA, GriddedRandomSearch, RandomSearch, run
from dagreuse.search._sampling import sample_dimension, sample_stage

N = 10_000


def _draws(dim, seed=0):
    rng = np.random.default_rng(seed)
    return np.array([sample_dimension(dim, rng, prior=True) for _ in range(N)])


def _truncnorm(mean, std):
    return stats.truncnorm((0 - mean) / std, (1 - mean) / std, loc=mean, scale=std)


@pytest.mark.parametrize("confidence, std", [("low", 0.75), ("medium", 0.5), ("high", 0.25), (0.9, 0.1)])
def test_numeric_prior_is_a_truncated_normal_in_the_normalised_range(confidence, std):
    x = _draws(space.uniform(-2.0, 6.0, prior=0.0, confidence=confidence))
    assert x.min() >= -2 and x.max() <= 6
    u = (x + 2) / 8
    assert stats.kstest(u, _truncnorm(0.25, std).cdf).pvalue > 1e-3


def test_log_prior_is_normal_in_log_space():
    x = _draws(space.loguniform(1e-4, 1e-1, prior=3e-3, confidence="medium"))
    u = (np.log(x) - math.log(1e-4)) / (math.log(1e-1) - math.log(1e-4))
    mean = (math.log(3e-3) - math.log(1e-4)) / (math.log(1e-1) - math.log(1e-4))
    assert stats.kstest(u, _truncnorm(mean, 0.5).cdf).pvalue > 1e-3


def test_integer_prior_bins_the_range():
    dim = space.randint(0, 10, prior=7, confidence="high")
    x = _draws(dim)
    assert set(x) <= set(range(10)) and x.dtype.kind == "i"
    dist = _truncnorm(0.75, 0.25)  # 7's bin centre is (7 + 0.5) / 10
    expected = [dist.cdf((k + 1) / 10) - dist.cdf(k / 10) for k in range(10)]
    counts = np.bincount(x, minlength=10)
    assert stats.chisquare(counts, np.array(expected) * N).pvalue > 1e-3
    assert Counter(x).most_common(1)[0][0] == 7


def test_categorical_prior_puts_confidence_on_its_value():
    x = _draws(space.choice([200, 400, 800], prior=400, confidence="high"))
    counts = Counter(x.tolist())
    assert stats.chisquare([counts[200], counts[400], counts[800]],
                           [0.125 * N, 0.75 * N, 0.125 * N]).pvalue > 1e-3


def test_confidence_narrows_the_spread():
    spreads = [np.std(_draws(space.uniform(0.0, 1.0, prior=0.5, confidence=c)))
               for c in ("low", "medium", "high")]
    assert spreads[0] > spreads[1] > spreads[2]
    # without a prior, or with the uniform sampler, the draw is uniform
    rng = np.random.default_rng(0)
    x = [sample_dimension(space.uniform(0.0, 1.0, prior=0.5, confidence=0.9), rng) for _ in range(N)]
    assert stats.kstest(x, "uniform").pvalue > 1e-3


def test_bad_priors_are_clear_errors():
    with pytest.raises(ValueError, match=r"'prior' parameter of uniform\(0, 1\) must be a number in"):
        space.uniform(0, 1, prior=2)
    with pytest.raises(ValueError, match=r"must be an int in 0\.\.4"):
        space.randint(0, 5, prior=5)
    with pytest.raises(ValueError, match="one of its values"):
        space.choice([1, 2], prior=3)
    with pytest.raises(ValueError, match="parameter of constant is not allowed"):
        space.constant(1, prior=1)
    with pytest.raises(ValueError, match="'confidence' parameter of loguniform needs a prior"):
        space.loguniform(1e-3, 1, confidence="low")
    with pytest.raises(ValueError, match="'low', 'medium', 'high' or a float in"):
        space.uniform(0, 1, prior=0.5, confidence="sure")


def _pipe(log=None):
    scale = Counted(StandardScaler(), log, "std") if log else StandardScaler()
    return Pipeline([
        ("scale", space.choice({"std": scale, "minmax": MinMaxScaler()}, prior="std",
                               confidence="high")),
        ("clf", SGDClassifier(random_state=0),
         {"alpha": space.loguniform(1e-6, 1e-1, prior=1e-4, confidence="high")}),
    ])


def test_stage_choices_and_searches_sample_from_the_prior():
    pipe = _pipe()
    rng = np.random.default_rng(0)
    labels = Counter(sample_stage(pipe.stage("scale"), rng, prior=True)[0] for _ in range(2000))
    assert 0.7 < labels["std"] / 2000 < 0.8
    prior = RandomSearch(pipe, 400, seed=0, sampler="prior").configs()
    uniform = RandomSearch(pipe, 400, seed=0).configs()
    near = [sum(abs(math.log10(c["clf"][1]["alpha"]) + 4) < 1 for c in cs) for cs in (prior, uniform)]
    assert near[0] > 1.5 * near[1]
    half = RandomSearch(pipe, 400, seed=0, sampler="prior", prior_fraction=0.5).configs()
    assert near[1] < sum(abs(math.log10(c["clf"][1]["alpha"]) + 4) < 1 for c in half) < near[0]
    assert RandomSearch(pipe, 5, seed=3, sampler="prior").configs() == RandomSearch(
        pipe, 5, seed=3, sampler="prior").configs()
    gridded = GriddedRandomSearch(pipe, [2, 5], seed=0, sampler="prior").configs()
    assert len(gridded) == 10 and len({str(c) for c in gridded}) == 10


def test_sampler_arguments_are_checked():
    pipe = _pipe()
    with pytest.raises(ValueError, match="'sampler' parameter of RandomSearch must be one of"):
        RandomSearch(pipe, 3, sampler="bayes")
    with pytest.raises(ValueError, match="'prior_fraction' parameter of ASHA must be a number in"):
        ASHA(pipe, resources.Iterations("max_iter"), max_resource=8, n_configs=4, sampler="prior",
             prior_fraction=1.5)
    with pytest.raises(ValueError, match="needs sampler='prior'"):
        RandomSearch(pipe, 3, prior_fraction=0.5)
    bare = Pipeline([("clf", SGDClassifier(), {"alpha": space.loguniform(1e-6, 1e-1)})])
    with pytest.raises(ValueError, match="needs a prior in the space"):
        RandomSearch(bare, 3, sampler="prior")


def test_asha_with_priors_keeps_the_reuse(tmp_path):
    X, y = load_digits(return_X_y=True)
    log = str(tmp_path / "fits")
    asha = ASHA(_pipe(log), resource=resources.Iterations("max_iter"), min_resource=1,
                max_resource=8, eta=2, seed=0, n_configs=16, brackets=[0], sampler="prior",
                prior_fraction=0.8)
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(asha, X[:500], y[:500], cv=2, runner=runner)
    assert len(result.trials) > 16 and not result.errors()
    fits = [n for (event, *_), n in read_counts(log).items() if event == "fit"]
    assert fits and all(n == 1 for n in fits)  # every prefix node computed once
    starts = [t for t in result.trials if t["rung"] == 0]
    assert sum(t["config"]["scale"][0] == "std" for t in starts) >= 10  # most from the prior
