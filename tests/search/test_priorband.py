"""PriorBand (issue 21, part 4): its sampling weights, incumbent perturbation, and reuse."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from dagreuse.cache import Unbounded
from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.pipes.testing import Counted, read_counts
from dagreuse.search import PriorBand, run
from dagreuse.search._priorband import Mixture
from dagreuse.search._sampling import perturb

ITER = resources.Iterations("max_iter")


def _pipe(log=None):
    pca = Counted(PCA(random_state=0), log, "pca") if log else PCA(random_state=0)
    key = "estimator__n_components" if log else "n_components"
    return Pipeline([
        ("scale", StandardScaler()),
        ("pca", pca, {key: space.choice([8, 16, 32], prior=16, confidence="high")}),
        ("clf", SGDClassifier(random_state=0),
         {"alpha": space.loguniform(1e-6, 1e-1, prior=1e-4, confidence="medium")}),
    ])


def test_weights_follow_the_rung_and_the_incumbent():
    mix = Mixture(_pipe(), 3, 27, np.random.default_rng(0))
    for r in range(4):  # no incumbent yet: all that is not random goes to the prior
        assert mix.weights(r) == pytest.approx((1 / (1 + 3**r), 1 - 1 / (1 + 3**r), 0.0))
    good = {"scale": ("StandardScaler", {}), "pca": ("PCA", {"n_components": 32}),
            "clf": ("SGDClassifier", {"alpha": 0.05})}  # far from the prior
    mix.tell({"resource": 27, "mean_score": 0.9, "config": good, "status": "ok"})
    mix.tell({"resource": 9, "mean_score": 0.99, "config": good, "status": "ok"})  # not the top
    p_random, p_prior, p_inc = mix.weights(1)
    assert p_random == 0.25 and p_prior + p_inc == pytest.approx(0.75)
    assert p_inc > p_prior  # the best config sits at the incumbent, not at the prior
    kinds = Counter(mix.draws[-1] for _ in range(4000) if mix.draw(1))
    assert abs(kinds["random"] / 4000 - 0.25) < 0.03 and abs(kinds["incumbent"] / 4000 - p_inc) < 0.03


def test_incumbent_perturbation_moves_about_half_the_parameters():
    pipe = _pipe()
    rng = np.random.default_rng(0)
    stage = pipe.stage("clf")
    value = ("SGDClassifier", {"alpha": 1e-3})
    moved = [perturb(stage, value, rng)[1]["alpha"] for _ in range(4000)]
    changed = np.array([m != 1e-3 for m in moved])
    assert 0.45 < changed.mean() < 0.55
    steps = np.log(np.array(moved)[changed] / 1e-3) / np.log(1e-1 / 1e-6)  # in the unit range
    assert 0.18 < steps.std() < 0.26  # a step of 0.25, truncated at the range's ends


def test_priorband_keeps_the_reuse(tmp_path):
    X, y = load_digits(return_X_y=True)
    for base in ("hyperband", "asha"):
        log = str(tmp_path / f"fits-{base}")
        pb = PriorBand(_pipe(log), ITER, min_resource=1, max_resource=9, eta=3, seed=0, base=base,
                       n_configs=12)
        with Runner(Unbounded(), scheduler="sync") as runner:
            result = run(pb, X[:600], y[:600], cv=2, runner=runner)
        assert result.trials and not result.errors()
        fits = [n for (event, *_), n in read_counts(log).items() if event == "fit"]
        assert fits and all(n == 1 for n in fits)
        assert set(pb.mixture.draws) <= {"random", "prior", "incumbent"} and "prior" in pb.mixture.draws


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="'base' parameter of PriorBand must be one of"):
        PriorBand(_pipe(), ITER, max_resource=9, base="bohb")
    bare = Pipeline([("clf", SGDClassifier(), {"alpha": space.loguniform(1e-6, 1e-1)})])
    with pytest.raises(ValueError, match="needs a prior in the space"):
        PriorBand(bare, ITER, max_resource=9)
    with pytest.raises(ValueError, match="needs 'n_configs'"):
        PriorBand(_pipe(), ITER, max_resource=9, base="asha")
