"""Search-space declarations: ``choice``, ``uniform``, ``loguniform``, ``randint``, ``constant``.

These only *declare* what may be searched; drawing values lives in ``dagreuse.search``. Bounds are
checked here, when the pipeline is written, so a malformed space fails before any work starts.

``randint(low, high)`` is half-open, ``low <= x < high``, like ``numpy`` and ``scipy.stats.randint``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Choice", "Constant", "Dimension", "LogUniform", "RandInt", "Uniform",
           "choice", "constant", "loguniform", "randint", "uniform"]


class Dimension:
    """Base of all space declarations."""

    finite = False

    def values(self) -> list[Any]:
        raise TypeError(f"{self!r} is continuous; it has no finite list of values.")

    def size(self) -> float:
        """How many distinct values (``inf`` when continuous), without listing them."""
        return len(self.values()) if self.finite else math.inf


def _number(name: str, owner: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"The {name!r} parameter of {owner} must be a number. Got {value!r} instead.")
    return value


class Uniform(Dimension):
    def __init__(self, low: float, high: float):
        self.low = _number("low", "uniform", low)
        self.high = _number("high", "uniform", high)
        if not low < high:
            raise ValueError(f"uniform needs low < high. Got low={low!r}, high={high!r} instead.")

    def __repr__(self) -> str:
        return f"uniform({self.low!r}, {self.high!r})"


class LogUniform(Dimension):
    def __init__(self, low: float, high: float):
        self.low = _number("low", "loguniform", low)
        self.high = _number("high", "loguniform", high)
        if not 0 < low < high:
            raise ValueError(
                f"loguniform needs 0 < low < high. Got low={low!r}, high={high!r} instead."
            )

    def __repr__(self) -> str:
        return f"loguniform({self.low!r}, {self.high!r})"


class RandInt(Dimension):
    finite = True

    def __init__(self, low: int, high: int):
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"The {name!r} parameter of randint must be an int. Got {v!r} instead.")
        if not low < high:
            raise ValueError(
                f"randint needs low < high (high is excluded). Got low={low!r}, high={high!r} instead."
            )
        self.low, self.high = low, high

    def values(self) -> list[int]:
        return list(range(self.low, self.high))

    def size(self) -> float:
        return self.high - self.low

    def __repr__(self) -> str:
        return f"randint({self.low!r}, {self.high!r})"


class Constant(Dimension):
    finite = True

    def __init__(self, value: Any):
        self.value = value

    def values(self) -> list[Any]:
        return [self.value]

    def __repr__(self) -> str:
        return f"constant({self.value!r})"


class Choice(Dimension):
    """A choice among values (a list) or among labelled alternatives (a dict).

    At stage level, a dict maps labels to operators or ``(operator, param_space)`` pairs and a
    list of operators is labelled by class name. As a parameter, a list is a choice of values.
    """

    finite = True

    def __init__(self, options: Mapping[str, Any] | Sequence[Any]):
        if isinstance(options, Mapping):
            if not options:
                raise ValueError("choice needs at least one option. Got an empty dict instead.")
            bad = [k for k in options if not isinstance(k, str)]
            if bad:
                raise TypeError(f"choice labels must be strings. Got {bad[0]!r} instead.")
            self.options: dict[str, Any] | list[Any] = dict(options)
        elif isinstance(options, Sequence) and not isinstance(options, str):
            if len(options) == 0:
                raise ValueError("choice needs at least one option. Got an empty list instead.")
            self.options = list(options)
        else:
            raise TypeError(
                f"choice takes a list of values or a dict of labelled options. Got {options!r} instead."
            )

    @property
    def labelled(self) -> bool:
        return isinstance(self.options, dict)

    def values(self) -> list[Any]:
        return list(self.options.values()) if self.labelled else list(self.options)

    def __repr__(self) -> str:
        return f"choice({self.options!r})"


def choice(options: Mapping[str, Any] | Sequence[Any]) -> Choice:
    """Choose one of ``options``: a list of values, or a dict of labelled operators/values."""
    return Choice(options)


def uniform(low: float, high: float) -> Uniform:
    """A float drawn uniformly from ``[low, high]``."""
    return Uniform(low, high)


def loguniform(low: float, high: float) -> LogUniform:
    """A float whose logarithm is uniform on ``[log low, log high]`` (``0 < low < high``)."""
    return LogUniform(low, high)


def randint(low: int, high: int) -> RandInt:
    """An int drawn uniformly from ``low, ..., high - 1``."""
    return RandInt(low, high)


def constant(value: Any) -> Constant:
    """A fixed value (any plain value in a param space means the same)."""
    return Constant(value)
