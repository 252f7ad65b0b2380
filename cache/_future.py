"""The known future: which cached nodes the requests still to come will read.

A Runner session knows the requests submitted and not finished (*pending*), and a search may
say which finished ones it expects to build on (*expected*: the configs it may promote, whose
prefix and checkpoint a promotion resumes from). The store asks :meth:`KnownFuture.tier` of each
entry when it must evict: 2 — a pending request will read it, 1 — an expected one will, 0 —
neither. It evicts from the lowest tier present; within a tier, its policy chooses as always.

"Will read" is more than "is on the path": a request reads a node only on its way down to the
first uncached descendant, so a node whose readers on those paths are all cached is *shielded*
(the fold split, once its scaled copy is cached) and counts as not needed. Shared by the Runner's
sessions and the simulator, so a replay follows the live rule exactly.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable, Iterable

__all__ = ["EXPECTED", "PENDING", "KnownFuture"]

PENDING, EXPECTED = 2, 1


class KnownFuture:
    """Counts of the pending and expected requests' paths; ``readers(key)`` are the nodes that
    take ``key`` as a parent (in any position: a score leaf reads its prefix too)."""

    def __init__(self, readers: Callable[[Hashable], Iterable[Hashable]]):
        self.readers = readers
        self.counts = {PENDING: collections.Counter(), EXPECTED: collections.Counter()}

    def add(self, path: Iterable[Hashable], tier: int, sign: int = 1) -> None:
        """A request of ``tier`` with this ``path`` (its leaf last) starts (``sign=1``) or stops
        (``sign=-1``) counting."""
        counts = self.counts[tier]
        for key in path:
            counts[key] += sign
            if counts[key] <= 0:
                del counts[key]

    def tier(self, key: Hashable, cached: Callable[[Hashable], bool]) -> int:
        """How much the requests to come need cached node ``key`` (module docstring)."""
        for tier in (PENDING, EXPECTED):
            counts = self.counts[tier]
            if key in counts and any(c in counts and not cached(c) for c in self.readers(key)):
                return tier
        return 0
