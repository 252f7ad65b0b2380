"""Batch proposal strategies: grid, random and gridded random search (DESIGN §5)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dagreuse.pipes import Config, Pipeline

from ._base import BatchStrategy
from ._sampling import distinct, enumerate_stage, sample_stage

__all__ = ["SAMPLERS", "GridSearch", "GriddedRandomSearch", "RandomSearch", "check_sampler", "check_seed"]


def check_seed(owner: str, seed: Any) -> None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"The 'seed' parameter of {owner} must be an int or None. Got {seed!r} instead.")


class GridSearch(BatchStrategy):
    """Every combination of every stage's values (finite spaces only)."""

    def __init__(self, pipeline: Pipeline):
        super().__init__(pipeline)
        self._values = [enumerate_stage(s) for s in pipeline.stages]  # fails early if continuous

    def configs(self) -> list[Config]:
        names = self.pipeline.names
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*self._values)]

    def __repr__(self) -> str:
        return f"GridSearch({math.prod(len(v) for v in self._values)} configs)"


SAMPLERS = ("uniform", "prior")


def check_sampler(owner: str, pipeline: Pipeline, sampler: Any, prior_fraction: Any) -> float:
    """The fraction of configs drawn from the priors (0 for ``sampler="uniform"``), or a clear
    error: an unknown sampler, a fraction outside [0, 1], priors asked of a space without any."""
    if sampler not in SAMPLERS:
        raise ValueError(f"The 'sampler' parameter of {owner} must be one of {SAMPLERS}. Got "
                         f"{sampler!r} instead.")
    if sampler == "uniform":
        if prior_fraction is not None:
            raise ValueError(f"The 'prior_fraction' parameter of {owner} needs sampler='prior'. "
                             f"Got prior_fraction={prior_fraction!r} with sampler='uniform'.")
        return 0.0
    f = 1.0 if prior_fraction is None else prior_fraction
    if isinstance(f, bool) or not isinstance(f, int | float) or not 0 <= f <= 1:
        raise ValueError(f"The 'prior_fraction' parameter of {owner} must be a number in [0, 1]. "
                         f"Got {prior_fraction!r} instead.")
    if not any(st.prior is not None or any(d.prior is not None for d in alt.space.values())
               for st in pipeline.stages for alt in st.alternatives.values()):
        raise ValueError(f"{owner}(sampler='prior') needs a prior in the space: give one with "
                         "space.uniform(..., prior=...) and the like. The space has none.")
    return float(f)


class RandomSearch(BatchStrategy):
    """``n`` configs, every stage drawn independently (duplicates possible; they merge).

    ``sampler="prior"`` draws each config from the space's priors with probability
    ``prior_fraction`` (default 1), else uniformly (``_sampling`` says what a prior means)."""

    def __init__(self, pipeline: Pipeline, n: int, seed: int | None = None, *,
                 sampler: str = "uniform", prior_fraction: float | None = None):
        super().__init__(pipeline)
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"The 'n' parameter of RandomSearch must be an int >= 1. Got {n!r} instead.")
        check_seed("RandomSearch", seed)
        self.fraction = check_sampler("RandomSearch", pipeline, sampler, prior_fraction)
        self.n, self.seed, self.sampler = int(n), seed, sampler

    def configs(self) -> list[Config]:
        rng = np.random.default_rng(self.seed)
        out = []
        for _ in range(self.n):
            prior = self.sampler == "prior" and bool(rng.random() < self.fraction)
            out.append({s.name: sample_stage(s, rng, prior) for s in self.pipeline.stages})
        return out

    def __repr__(self) -> str:
        extra = "" if self.sampler == "uniform" else f", sampler='prior', prior_fraction={self.fraction}"
        return f"RandomSearch(n={self.n}, seed={self.seed}{extra})"


class GriddedRandomSearch(BatchStrategy):
    """Random search with a branching factor per stage, so candidates share prefixes.

    Stage 1 gets ``branching[0]`` distinct random values; *for each*, stage 2 independently gets
    ``branching[1]`` distinct random values; and so on. Children of different parents need not
    share values (unlike grid search), so coverage stays close to random search while the DAG has
    ``prod(branching)`` leaves and ``sum_i prod_{j<=i} branching[j]`` nodes per fold.
    ``sampler="prior"`` draws the distinct values from the space's priors.
    """

    def __init__(self, pipeline: Pipeline, branching: Sequence[int], seed: int | None = None, *,
                 sampler: str = "uniform"):
        super().__init__(pipeline)
        check_sampler("GriddedRandomSearch", pipeline, sampler, None)
        self.sampler = sampler
        n_stages = len(pipeline.stages)
        ok = isinstance(branching, Sequence) and not isinstance(branching, str)
        if not ok or len(branching) != n_stages or not all(
            isinstance(b, int | np.integer) and not isinstance(b, bool) and b >= 1 for b in branching
        ):
            raise ValueError(
                f"The 'branching' parameter of GriddedRandomSearch must be a list of {n_stages} "
                f"ints >= 1 (one per stage: {', '.join(pipeline.names)}). Got {branching!r} instead."
            )
        check_seed("GriddedRandomSearch", seed)
        self.branching, self.seed = [int(b) for b in branching], seed

    def configs(self) -> list[Config]:
        rng = np.random.default_rng(self.seed)
        stages = self.pipeline.stages
        out: list[Config] = []

        def grow(i: int, prefix: Config) -> None:
            if i == len(stages):
                out.append(prefix)
                return
            for value in distinct(stages[i], self.branching[i], rng, self.sampler == "prior"):
                grow(i + 1, {**prefix, stages[i].name: value})

        grow(0, {})
        return out

    def __repr__(self) -> str:
        return f"GriddedRandomSearch(branching={self.branching}, seed={self.seed})"
