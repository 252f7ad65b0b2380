"""What successive halving, Hyperband and ASHA share: the schedule of resource levels, the checks
of their arguments, where their configs come from, and how a rung ranks its results.

Levels. From the minimum resource ``r`` up by factors of ``eta``: ``r, r*eta, r*eta**2, ...``
while they stay within ``R``; ``s_max`` is the largest ``s`` with ``r * eta**s <= R``, computed
with integers (or, for fractions, with a relative tolerance of 1e-9), never with
``floor(log(...))``. When ``R`` is not ``r`` times a power of ``eta``, the top level is ``R``
itself, so the winner is always trained on the full resource (the thesis leaves this open:
ALGORITHMS.md §2 AMBIG (c)); e.g. r=1, R=300, eta=4 gives 1, 4, 16, 64, 300.

Ranking. Scores are greater-is-better. NaN, inf and failed evaluations rank worst and are never
promoted; ties go to the earlier result — in ASHA the one that arrived first, in synchronous
successive halving the one ranked higher in the rung below (listed first in the bottom rung), so
that its promotions do not depend on the order a cluster happened to finish them in. A rung of
``n`` results promotes from its top ``floor(n / eta)``, counting results already promoted and
failed ones.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from dagreuse.pipes import Config, Pipeline, space
from dagreuse.pipes.resources import Resource

from ._base import BatchStrategy, Strategy
from ._proposals import RandomSearch, check_seed

__all__ = ["Entry", "MultiFidelity", "check_int", "ladder", "ranked", "score_of", "top"]


def check_int(owner: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be an int >= {low}. Got {value!r} instead."
        )
    return int(value)


def ladder(r: Any, R: Any, eta: int) -> list[Any]:
    """The levels ``r, r*eta, ...`` within ``R``, the top one ``R`` (module docstring)."""
    levels = [r]
    while levels[-1] * eta <= R * (1 + 1e-9):
        levels.append(levels[-1] * eta)
    if isinstance(r, float):
        levels = [float(v) for v in levels]
    levels[-1] = R
    return levels


@dataclass
class Entry:
    """One result in a rung: who, its score, when it arrived, the job that produced it."""

    member: int
    score: float
    arrival: int
    job: Any = None


def score_of(trial: dict[str, Any]) -> float:
    """A trial's rank score: its mean score, or -inf for a failure, NaN or inf (ranked worst)."""
    score = trial.get("mean_score", math.nan)
    ok = trial.get("status", "ok") == "ok" and isinstance(score, numbers.Real)
    return float(score) if ok and math.isfinite(score) else -math.inf


def ranked(entries: list[Entry]) -> list[Entry]:
    """Best first; ties to the earlier arrival."""
    return sorted(entries, key=lambda e: (-e.score, e.arrival))


def top(entries: list[Entry], k: int) -> list[Entry]:
    """The promotable among the best ``k``: those with a finite score."""
    return [e for e in ranked(entries)[:k] if math.isfinite(e.score)]


class MultiFidelity(Strategy):
    """Base of the halving strategies: the source of configs, the resource and its levels."""

    def __init__(self, source: Pipeline | BatchStrategy, resource: Resource, min_resource: Any,
                 max_resource: Any, eta: int, seed: int | None):
        owner = type(self).__name__
        if isinstance(source, Pipeline):
            self.pipeline, self.source = source, None
        elif isinstance(source, BatchStrategy):
            self.pipeline, self.source = source.pipeline, source
        else:
            raise TypeError(
                f"The first parameter of {owner} must be a dagreuse Pipeline or a proposal "
                f"strategy such as GriddedRandomSearch(pipeline, branching=[...]). Got {source!r} "
                "instead."
            )
        if not isinstance(resource, Resource):
            raise TypeError(
                f"The 'resource' parameter of {owner} must be a dagreuse.pipes.resources resource "
                f"such as resources.Samples() or resources.Iterations('max_iter'). Got "
                f"{resource!r} instead."
            )
        check_seed(owner, seed)
        self.resource, self.seed = resource, seed
        self.sampler, self.prior_fraction = "uniform", None  # how configs are drawn (ASHA's)
        self.eta = check_int(owner, "eta", eta, 2)
        leaf = self.pipeline.stages[-1]
        for alt in leaf.alternatives.values():
            where = f"the leaf stage {leaf.name!r}" + (f" alternative {alt.label!r}"
                                                        if len(leaf.alternatives) > 1 else "")
            resource.check(alt.operator, where)
            searched = getattr(resource, "param", None)
            if searched in alt.space and not isinstance(alt.space[searched], space.Constant):
                raise ValueError(
                    f"{where} searches {searched!r}, which is the resource of {owner}: remove "
                    "it from the param space (the levels set it)."
                )
        first = next(iter(leaf.alternatives.values())).operator
        R = resource.default_max(first) if max_resource is None else max_resource
        self.max_resource = resource.check_level(R, "max_resource", owner)

    def _levels(self, min_resource: Any) -> list[Any]:
        owner = type(self).__name__
        r = self.resource.check_level(min_resource, "min_resource", owner)
        if r > self.max_resource:
            raise ValueError(
                f"The 'min_resource' parameter of {owner} must be at most max_resource "
                f"({self.max_resource!r}). Got {min_resource!r} instead."
            )
        self.min_resource = r
        return ladder(r, self.max_resource, self.eta)

    def _configs(self, n: int | None, what: str) -> list[Config]:
        """``n`` configs: drawn at random from the pipeline (seeded), or the first ``n`` of the
        source strategy's (all of them when ``n`` is None)."""
        owner = type(self).__name__
        if self.source is None:
            if n is None:
                raise ValueError(
                    f"The 'n_configs' parameter of {owner} is needed to draw configs from a "
                    f"pipeline: {what}. Give n_configs, or a proposal strategy as first parameter."
                )
            return RandomSearch(self.pipeline, n, seed=self.seed, sampler=self.sampler,
                                prior_fraction=self.prior_fraction).configs()
        configs = self.source.configs()
        if n is not None and n > len(configs):
            raise ValueError(
                f"{owner} needs {n} configs ({what}), but {type(self.source).__name__} proposes "
                f"{len(configs)}."
            )
        return configs if n is None else configs[:n]

    def _default_min(self, rungs_below: int) -> Any:
        """``max_resource / eta**rungs_below`` (an int, at least 1, for integral resources)."""
        R = self.max_resource
        if self.resource.integral:
            return max(1, R // self.eta**rungs_below)
        return R / self.eta**rungs_below
