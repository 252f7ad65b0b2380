"""Search-space declarations: ``choice``, ``uniform``, ``loguniform``, ``randint``, ``constant``,
and ``cell`` (an NB201-style architecture cell, whose values are :class:`Arch`).

These only *declare* what may be searched; drawing values lives in ``dagreuse.search``. Bounds are
checked here, when the pipeline is written, so a malformed space fails before any work starts.

``randint(low, high)`` is half-open, ``low <= x < high``, like ``numpy`` and ``scipy.stats.randint``.

**Priors.** Every dimension but ``constant`` takes ``prior=`` (an expert's guess of a good value)
and ``confidence=`` (``"low"``, ``"medium"`` — the default with a prior — or ``"high"``: 0.25,
0.5, 0.75; or a float in (0, 1)). What a prior means for sampling (``sampler="prior"`` of the
searches) is decided in ``dagreuse.search._sampling``: a truncated normal around it for numbers,
mass ``confidence`` on it for choices. A prior outside the range is an error here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CONFIDENCE", "NB201_OPS", "Arch", "Cell", "Choice", "Constant", "Dimension", "LogUniform",
           "RandInt", "Uniform", "cell", "choice", "constant", "loguniform", "randint", "uniform"]


CONFIDENCE = {"low": 0.25, "medium": 0.5, "high": 0.75}


class Dimension:
    """Base of all space declarations; ``prior`` (None: none) and its ``confidence`` in (0, 1)."""

    finite = False
    prior: Any = None
    confidence: float | None = None

    def _set_prior(self, prior: Any, confidence: Any, inside: bool, allowed: str) -> None:
        name = type(self).__name__.lower()
        if prior is None:
            if confidence is not None:
                raise ValueError(f"The 'confidence' parameter of {name} needs a prior. Got "
                                 f"confidence={confidence!r} and no prior.")
            return
        if not inside:
            raise ValueError(f"The 'prior' parameter of {self!r} must be {allowed}. Got {prior!r} "
                             "instead.")
        conf = "medium" if confidence is None else confidence
        if isinstance(conf, str) and conf in CONFIDENCE:
            conf = CONFIDENCE[conf]
        elif isinstance(conf, bool) or not isinstance(conf, int | float) or not 0 < conf < 1:
            raise ValueError(
                f"The 'confidence' parameter of {name} must be 'low', 'medium', 'high' or a float "
                f"in (0, 1). Got {confidence!r} instead.")
        self.prior, self.confidence = prior, float(conf)

    def _prior_text(self) -> str:
        return "" if self.prior is None else f", prior={self.prior!r}, confidence={self.confidence!r}"

    def values(self) -> list[Any]:
        raise TypeError(f"{self!r} is continuous; it has no finite list of values.")

    def size(self) -> float:
        """How many distinct values (``inf`` when continuous), without listing them."""
        return len(self.values()) if self.finite else math.inf


def _number(name: str, owner: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise TypeError(f"The {name!r} parameter of {owner} must be a number. Got {value!r} instead.")
    return value


def _within(value: Any, low: float, high: float) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value) and low <= value <= high)


class Uniform(Dimension):
    def __init__(self, low: float, high: float, prior: float | None = None, confidence: Any = None):
        self.low = _number("low", "uniform", low)
        self.high = _number("high", "uniform", high)
        if not low < high:
            raise ValueError(f"The 'low' and 'high' parameters of uniform need low < high. Got low={low!r}, "
                             f"high={high!r} instead.")
        self._set_prior(prior, confidence, _within(prior, low, high), f"a number in [{low}, {high}]")

    def __repr__(self) -> str:
        return f"uniform({self.low!r}, {self.high!r}{self._prior_text()})"


class LogUniform(Dimension):
    def __init__(self, low: float, high: float, prior: float | None = None, confidence: Any = None):
        self.low = _number("low", "loguniform", low)
        self.high = _number("high", "loguniform", high)
        if not 0 < low < high:
            raise ValueError(
                f"The 'low' and 'high' parameters of loguniform need 0 < low < high. Got low={low!r}, "
                f"high={high!r} instead."
            )
        self._set_prior(prior, confidence, _within(prior, low, high), f"a number in [{low}, {high}]")

    def __repr__(self) -> str:
        return f"loguniform({self.low!r}, {self.high!r}{self._prior_text()})"


class RandInt(Dimension):
    finite = True

    def __init__(self, low: int, high: int, prior: int | None = None, confidence: Any = None):
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"The {name!r} parameter of randint must be an int. Got {v!r} instead.")
        if not low < high:
            raise ValueError(
                "The 'low' and 'high' parameters of randint need low < high (high is excluded). Got "
                f"low={low!r}, "
                f"high={high!r} instead."
            )
        self.low, self.high = low, high
        self._set_prior(prior, confidence, isinstance(prior, int) and _within(prior, low, high - 1),
                        f"an int in {low}..{high - 1}")

    def values(self) -> list[int]:
        return list(range(self.low, self.high))

    def size(self) -> float:
        return self.high - self.low

    def __repr__(self) -> str:
        return f"randint({self.low!r}, {self.high!r}{self._prior_text()})"


class Constant(Dimension):
    finite = True

    def __init__(self, value: Any, prior: Any = None, confidence: Any = None):
        if prior is not None or confidence is not None:
            raise ValueError(f"The 'prior' parameter of constant is not allowed: constant({value!r}) has "
                             "one value. Got "
                             f"prior={prior!r}, confidence={confidence!r}.")
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

    def __init__(self, options: Mapping[str, Any] | Sequence[Any], prior: Any = None,
                 confidence: Any = None):
        if isinstance(options, Mapping):
            if not options:
                raise ValueError("The 'options' parameter of choice needs at least one option. Got an "
                                 "empty dict instead.")
            bad = [k for k in options if not isinstance(k, str)]
            if bad:
                raise TypeError(f"The 'options' parameter of choice: labels must be strings. Got {bad[0]!r} "
                                "instead.")
            self.options: dict[str, Any] | list[Any] = dict(options)
        elif isinstance(options, Sequence) and not isinstance(options, str):
            if len(options) == 0:
                raise ValueError("The 'options' parameter of choice needs at least one option. Got an "
                                 "empty list instead.")
            self.options = list(options)
        else:
            raise TypeError(
                f"The 'options' parameter of choice must be a list of values or a dict of labelled options. "
                f"Got {options!r} instead."
            )
        keys = list(self.options) if self.labelled else self.options
        self._set_prior(prior, confidence, any(_same(prior, k) for k in keys),
                        "one of its " + ("labels" if self.labelled else "values"))

    def index(self, value: Any) -> int:
        """The position of ``value`` (a label for labelled options) among the options."""
        keys = list(self.options) if self.labelled else self.options
        return next(i for i, k in enumerate(keys) if _same(value, k))

    @property
    def labelled(self) -> bool:
        return isinstance(self.options, dict)

    def values(self) -> list[Any]:
        return list(self.options.values()) if self.labelled else list(self.options)

    def __repr__(self) -> str:
        return f"choice({self.options!r}{self._prior_text()})"


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # arrays and the like compare elementwise
        return a is b


def choice(options: Mapping[str, Any] | Sequence[Any], prior: Any = None,
           confidence: Any = None) -> Choice:
    """Choose one of ``options``: a list of values, or a dict of labelled operators/values
    (``prior``: a value, or a label)."""
    return Choice(options, prior, confidence)


def uniform(low: float, high: float, prior: float | None = None, confidence: Any = None) -> Uniform:
    """A float drawn uniformly from ``[low, high]``."""
    return Uniform(low, high, prior, confidence)


def loguniform(low: float, high: float, prior: float | None = None,
               confidence: Any = None) -> LogUniform:
    """A float whose logarithm is uniform on ``[log low, log high]`` (``0 < low < high``)."""
    return LogUniform(low, high, prior, confidence)


def randint(low: int, high: int, prior: int | None = None, confidence: Any = None) -> RandInt:
    """An int drawn uniformly from ``low, ..., high - 1``."""
    return RandInt(low, high, prior, confidence)


def constant(value: Any, prior: Any = None, confidence: Any = None) -> Constant:
    """A fixed value (any plain value in a param space means the same); it takes no prior."""
    return Constant(value, prior, confidence)


#: The operations of NAS-Bench-201's cell, in its order.
NB201_OPS = ("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3")


class Arch(tuple):
    """An architecture of a cell: one operation name per edge, plain hashable data.

    Edges are ordered by their target node, then their source: ``(1<-0, 2<-0, 2<-1, 3<-0, ...)``,
    as NAS-Bench-201 writes them; ``str`` gives its string ``|op~0|+|op~0|op~1|+|...|`` and
    :meth:`parse` reads one back. It keys and serialises as the tuple of its names.
    """

    def __new__(cls, ops: Any) -> Arch:
        ops = tuple(ops)
        n = _nodes_of(len(ops))
        if n is None or not all(isinstance(o, str) and o for o in ops):
            raise ValueError("An Arch needs one operation name per edge of a cell with n nodes, "
                             f"n * (n - 1) / 2 names (1, 3, 6, 10, ...). Got {ops!r} instead.")
        return super().__new__(cls, ops)

    @property
    def nodes(self) -> int:
        return _nodes_of(len(self))

    def edges(self) -> list[tuple[int, int, str]]:
        """``(source, target, op)`` of every edge, in order."""
        pairs = [(i, j) for j in range(1, self.nodes) for i in range(j)]
        return [(i, j, op) for (i, j), op in zip(pairs, self, strict=True)]

    def __str__(self) -> str:
        groups = [[f"{op}~{i}" for i, j2, op in self.edges() if j2 == j] for j in range(1, self.nodes)]
        return "+".join("|" + "|".join(g) + "|" for g in groups)

    def __repr__(self) -> str:
        return f"Arch({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> Arch:
        """The Arch of an NB201 string such as ``|conv_3x3~0|+|none~0|skip_connect~1|+|...|``."""
        ops = []
        for j, group in enumerate(text.split("+"), start=1):
            for i, item in enumerate(group.strip("|").split("|")):
                op, _, source = item.rpartition("~")
                if not op or source != str(i):
                    raise ValueError(f"{text!r} is not an NB201 architecture string: node {j}'s "
                                     f"edge {i} reads {item!r}.")
                ops.append(op)
        return cls(ops)


def _nodes_of(edges: int) -> int | None:
    """The nodes of a complete forward cell with ``edges`` edges (None when there is no such)."""
    n = (1 + math.isqrt(1 + 8 * edges)) // 2
    return n if edges >= 1 and n * (n - 1) // 2 == edges else None


class Cell(Dimension):
    """An NB201-style cell: every edge ``i -> j`` (``i < j``) takes one of ``ops``. Its values
    are :class:`Arch`; ``len(ops) ** edges`` of them. A weight-sharing search draws them
    uniformly, one edge at a time (``dagreuse.search``)."""

    finite = True

    def __init__(self, edges: int = 6, ops: Sequence[str] = NB201_OPS):
        if isinstance(edges, bool) or not isinstance(edges, int) or _nodes_of(edges) is None:
            raise ValueError("The 'edges' parameter of cell must be the edge count of a complete "
                             f"cell, n * (n - 1) / 2 for n >= 2 nodes (1, 3, 6, 10, ...). Got "
                             f"{edges!r} instead.")
        if (isinstance(ops, str) or not isinstance(ops, Sequence) or not ops
                or not all(isinstance(o, str) and o for o in ops) or len(set(ops)) != len(ops)):
            raise ValueError("The 'ops' parameter of cell must be a non-empty list of distinct "
                             f"operation names. Got {ops!r} instead.")
        self.edges, self.ops = edges, tuple(ops)

    @property
    def nodes(self) -> int:
        return _nodes_of(self.edges)

    def size(self) -> float:
        return len(self.ops) ** self.edges

    def values(self) -> list[Arch]:
        if self.size() > 1_000_000:
            raise TypeError(f"{self!r} has {self.size():,} architectures; too many to list.")
        return [Arch(ops) for ops in itertools.product(self.ops, repeat=self.edges)]

    def __repr__(self) -> str:
        return f"cell(edges={self.edges}, ops={list(self.ops)!r})"


def cell(edges: int = 6, ops: Sequence[str] = NB201_OPS) -> Cell:
    """A cell of ``edges`` edges, one of ``ops`` on each (NB201: 6 edges, 5 ops, 15,625 cells)."""
    return Cell(edges, ops)
