"""A pipeline's space as the unit hypercube, for optimizers that move configs around (DEHB).

One coordinate per stage with several alternatives (its label) and one per searched parameter
of every alternative (constants have none). A coordinate ``u`` in [0, 1] decodes as DEHB's
reference code does it: linearly for ``uniform``, in log space for ``loguniform``, and into
``k`` equal-width bins for a choice of ``k`` values, a stage's ``k`` labels or ``randint``'s
``k`` ints (``u = 1`` falls in the last bin); a ``cell`` is one such choice per edge. A config
uses the coordinates of the alternatives it chose; the others ride along, so a later mutation
that switches alternative finds them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dagreuse.pipes import Config, Pipeline, space

__all__ = ["UnitSpace"]


@dataclass(frozen=True)
class _Coordinate:
    stage: str
    label: str | None  # None: the stage's choice of alternative
    param: str | None
    dim: Any  # a space.Dimension, or the list of labels
    edge: int | None = None  # a cell's edge: a cell is one coordinate per edge


class UnitSpace:
    """Configs of ``pipeline`` as points of ``[0, 1]**d`` (module docstring)."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        coords: list[_Coordinate] = []
        for stage in pipeline.stages:
            labels = list(stage.alternatives)
            if len(labels) > 1:
                coords.append(_Coordinate(stage.name, None, None, labels))
            for label, alt in stage.alternatives.items():
                for param, dim in alt.space.items():
                    if isinstance(dim, space.Cell):
                        coords += [_Coordinate(stage.name, label, param, dim, e)
                                   for e in range(dim.edges)]
                    elif not isinstance(dim, space.Constant):
                        coords.append(_Coordinate(stage.name, label, param, dim))
        self.coords = coords
        self.d = len(coords)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """A point drawn uniformly."""
        return rng.random(self.d)

    def decode(self, u: np.ndarray) -> Config:
        """The config at point ``u``."""
        where = {(c.stage, c.label, c.param, c.edge): float(x)
                 for c, x in zip(self.coords, u, strict=True)}
        config: Config = {}
        for stage in self.pipeline.stages:
            labels = list(stage.alternatives)
            label = labels[_bin(where[stage.name, None, None, None], len(labels))] if len(
                labels) > 1 else labels[0]
            alt = stage.alternatives[label]
            params = {p: _decoded(d, where, (stage.name, label, p)) for p, d in alt.space.items()}
            config[stage.name] = (alt.label, params)
        return config


def _decoded(dim: Any, where: dict, at: tuple) -> Any:
    """The value of ``dim`` whose coordinate (of edge ``e``, for a cell) is ``where[*at, e]``."""
    if isinstance(dim, space.Constant):
        return dim.value
    if isinstance(dim, space.Cell):
        return space.Arch(dim.ops[_bin(where[(*at, e)], len(dim.ops))] for e in range(dim.edges))
    return _value(dim, where[(*at, None)])


def _bin(u: float, k: int) -> int:
    return min(int(u * k), k - 1)


def _value(dim: space.Dimension, u: float) -> Any:
    if isinstance(dim, space.Choice):
        values = dim.values()
        return values[_bin(u, len(values))]
    if isinstance(dim, space.RandInt):
        return int(dim.low + _bin(u, dim.high - dim.low))
    if isinstance(dim, space.LogUniform):
        lo, hi = math.log(dim.low), math.log(dim.high)
        return float(min(max(math.exp(lo + u * (hi - lo)), dim.low), dim.high))
    if isinstance(dim, space.Uniform):
        return float(dim.low + u * (dim.high - dim.low))
    raise TypeError(f"Cannot place {dim!r} in the unit hypercube.")
