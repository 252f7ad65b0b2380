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

__all__ = ["density", "distinct", "enumerate_stage", "perturb", "sample_dimension", "sample_stage",
           "stage_size"]


def sample_dimension(dim: space.Dimension, rng: np.random.Generator, prior: bool = False) -> Any:
    """A value of ``dim``: uniform, or from its prior when ``prior`` and it has one (below)."""
    if prior and dim.prior is not None:
        return _from_prior(dim, rng)
    if isinstance(dim, space.Constant):
        return dim.value
    if isinstance(dim, space.Cell):  # uniform: one operation per edge
        return space.Arch(dim.ops[i] for i in rng.integers(len(dim.ops), size=dim.edges))
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


def _from_prior(dim: space.Dimension, rng: np.random.Generator) -> Any:
    """A draw from ``dim``'s prior (NePS's rule, ALGORITHMS.md §7): for a choice, the prior value
    with probability ``confidence``, else one of the others uniformly; for a number, a normal at
    the prior with standard deviation ``1 - confidence`` in the range normalised to [0, 1] (log
    for loguniform), truncated to it. An int's range is its ``high - low`` equal bins, the prior
    at the centre of its own (so that with no prior every int is as likely as with randint)."""
    if isinstance(dim, space.Choice):
        values = dim.values()
        i = dim.index(dim.prior)
        if len(values) == 1 or rng.random() < dim.confidence:
            return values[i]
        j = int(rng.integers(len(values) - 1))
        return values[j + (j >= i)]
    if isinstance(dim, space.RandInt):
        n = dim.high - dim.low
        u = _truncated_normal((dim.prior - dim.low + 0.5) / n, 1 - dim.confidence, rng)
        return int(dim.low + min(int(u * n), n - 1))
    log = isinstance(dim, space.LogUniform)
    lo, hi, at = ((math.log(dim.low), math.log(dim.high), math.log(dim.prior)) if log
                  else (dim.low, dim.high, dim.prior))
    u = _truncated_normal((at - lo) / (hi - lo), 1 - dim.confidence, rng)
    x = lo + u * (hi - lo)
    return float(min(max(math.exp(x) if log else x, dim.low), dim.high))


def _unit(dim: space.Dimension, value: Any) -> float:
    """``value`` of a numeric ``dim`` in its range normalised to [0, 1] (log for loguniform; an
    int at the centre of its bin), as :func:`_from_prior` places a prior."""
    if isinstance(dim, space.RandInt):
        return (value - dim.low + 0.5) / (dim.high - dim.low)
    if isinstance(dim, space.LogUniform):
        return math.log(value / dim.low) / math.log(dim.high / dim.low)
    return (value - dim.low) / (dim.high - dim.low)


def density(dim: space.Dimension, value: Any, center: Any, confidence: float) -> float:
    """The density at ``value`` of the prior rule centred at ``center`` with ``confidence`` (in
    the normalised range for numbers; a probability for choices)."""
    if isinstance(dim, space.Constant):
        return 1.0
    if isinstance(dim, space.Choice):
        k = len(dim.values())
        return 1.0 if k == 1 else (confidence if value == center else (1 - confidence) / (k - 1))
    from scipy.stats import truncnorm

    mean, std = _unit(dim, center), 1 - confidence
    return float(truncnorm.pdf(_unit(dim, value), -mean / std, (1 - mean) / std, mean, std))


def perturb(stage: Stage, value: tuple[str, dict[str, Any]], rng: np.random.Generator,
            rate: float = 0.5, std: float = 0.25) -> tuple[str, dict[str, Any]]:
    """A neighbour of a stage value (PriorBand's incumbent sampling): each parameter changed with
    probability ``rate`` — a number by a normal step of ``std`` in its normalised range (truncated
    to it), a choice resampled uniformly; the alternative itself likewise (its parameters then
    drawn uniformly)."""
    label, params = value
    labels = list(stage.alternatives)
    if len(labels) > 1 and rng.random() < rate:
        new = labels[int(rng.integers(len(labels)))]
        if new != label:
            return sample_stage(space_stage(stage, new), rng)
    alt = stage.alternatives[label]
    out = {}
    for p, dim in alt.space.items():
        v = params[p]
        if isinstance(dim, space.Constant) or rng.random() >= rate:
            out[p] = v
        elif isinstance(dim, space.Choice):
            out[p] = sample_dimension(dim, rng)
        else:
            near = type(dim)(dim.low, dim.high, prior=v, confidence=1 - std)
            out[p] = _from_prior(near, rng)
    return label, out


def space_stage(stage: Stage, label: str) -> Stage:
    """``stage`` restricted to its alternative ``label``."""
    return Stage(stage.name, {label: stage.alternatives[label]})


def _truncated_normal(mean: float, std: float, rng: np.random.Generator) -> float:
    """A normal draw truncated to [0, 1], by inverting its CDF there (one uniform per draw)."""
    from scipy.special import ndtr, ndtri

    a, b = ndtr((0 - mean) / std), ndtr((1 - mean) / std)
    return float(min(max(mean + std * ndtri(a + rng.random() * (b - a)), 0.0), 1.0))


def sample_stage(stage: Stage, rng: np.random.Generator,
                 prior: bool = False) -> tuple[str, dict[str, Any]]:
    """A stage value: its alternative (from the stage's prior when ``prior`` and it has one),
    then each parameter (:func:`sample_dimension`)."""
    labels = list(stage.alternatives)
    if prior and stage.prior is not None:
        label = sample_dimension(space.Choice(labels, stage.prior, stage.confidence), rng, True)
    else:
        label = labels[int(rng.integers(len(labels)))]
    alt = stage.alternatives[label]
    return alt.label, {p: sample_dimension(d, rng, prior) for p, d in alt.space.items()}


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


def distinct(stage: Stage, n: int, rng: np.random.Generator,
             prior: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """``n`` distinct stage values drawn at random (all of them, shuffled, when there are n);
    from the priors when ``prior``, topped up uniformly if they are too narrow to give ``n``."""
    size = stage_size(stage)
    if n > size:
        raise ValueError(
            f"The branching factor for stage {stage.name!r} must be at most its number of "
            f"distinct values ({int(size)}). Got {n} instead."
        )
    if size <= 4 * n and not prior:
        values = enumerate_stage(stage)
        order = rng.permutation(len(values))[:n]
        return [values[i] for i in order]
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for _ in range(1000 * n if size > 4 * n else 20 * n):
        value = sample_stage(stage, rng, prior)
        seen.setdefault(_key(value), value)
        if len(seen) == n:
            return list(seen.values())
    values = enumerate_stage(stage)  # finite here: a continuous stage is never short
    rest = [values[i] for i in rng.permutation(len(values)) if _key(values[i]) not in seen]
    return [*seen.values(), *rest][:n]
