"""Drawing values from the declarations of ``dagreuse.pipes.space`` (declaring lives in pipes).

A *stage value* is ``(operator_label, {param: value})``; every value drawn is a plain Python
object (no numpy scalars), so configs stay JSON-serialisable.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np

from dagreuse.pipes import canonical, space
from dagreuse.pipes._pipeline import Stage

__all__ = ["distinct", "enumerate_stage", "sample_dimension", "sample_stage", "stage_size"]


def sample_dimension(dim: space.Dimension, rng: np.random.Generator) -> Any:
    if isinstance(dim, space.Constant):
        return dim.value
    if isinstance(dim, space.Choice):
        values = dim.values()
        return values[int(rng.integers(len(values)))]
    if isinstance(dim, space.RandInt):
        return int(rng.integers(dim.low, dim.high))
    if isinstance(dim, space.LogUniform):
        return float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
    if isinstance(dim, space.Uniform):
        return float(rng.uniform(dim.low, dim.high))
    raise TypeError(f"Cannot sample from {dim!r}.")


def sample_stage(stage: Stage, rng: np.random.Generator) -> tuple[str, dict[str, Any]]:
    labels = list(stage.alternatives)
    alt = stage.alternatives[labels[int(rng.integers(len(labels)))]]
    return alt.label, {p: sample_dimension(d, rng) for p, d in alt.space.items()}


def stage_size(stage: Stage) -> float:
    """Number of distinct values of a stage (``inf`` when any parameter is continuous)."""
    return sum(math.prod(d.size() for d in alt.space.values()) for alt in stage.alternatives.values())


def enumerate_stage(stage: Stage) -> list[tuple[str, dict[str, Any]]]:
    """Every value of a finite stage, in declaration order."""
    out = []
    for alt in stage.alternatives.values():
        continuous = [p for p, d in alt.space.items() if not d.finite]
        if continuous:
            raise ValueError(
                f"Parameter {continuous[0]!r} of stage {stage.name!r} ({alt.label}) is "
                f"{alt.space[continuous[0]]!r}, which is continuous: grid search needs "
                "choice, randint or constant. Use RandomSearch or GriddedRandomSearch instead."
            )
        names = list(alt.space)
        for combo in itertools.product(*(alt.space[p].values() for p in names)):
            out.append((alt.label, dict(zip(names, combo, strict=True))))
    return out


def _key(value: tuple[str, dict[str, Any]]) -> str:
    return json.dumps(canonical(value), sort_keys=True)


def distinct(stage: Stage, n: int, rng: np.random.Generator) -> list[tuple[str, dict[str, Any]]]:
    """``n`` distinct stage values drawn at random (all of them, shuffled, when there are n)."""
    size = stage_size(stage)
    if n > size:
        raise ValueError(
            f"The branching factor for stage {stage.name!r} must be at most its number of "
            f"distinct values ({int(size)}). Got {n} instead."
        )
    if size <= 4 * n:
        values = enumerate_stage(stage)
        order = rng.permutation(len(values))[:n]
        return [values[i] for i in order]
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for _ in range(1000 * n):
        value = sample_stage(stage, rng)
        seen.setdefault(_key(value), value)
        if len(seen) == n:
            break
    return list(seen.values())
