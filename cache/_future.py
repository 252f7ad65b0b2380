"""The known future: which cached nodes the requests still to come will read.

A Runner session knows the requests submitted and not finished (*pending*), and a search may
say which finished ones it expects to build on (*expected*: the configs it may promote, whose
prefix and checkpoint a promotion resumes from). The store asks :meth:`KnownFuture.tier` of each
entry when it must evict: 2 — a pending request will read it, 1 — an expected one will, 0 —
neither. It evicts from the lowest tier present; within a tier, its policy chooses as always.

A node on a pending path is needed even when the path has a cached descendant below it that
spares it for now: demoting it would throw away the policy's weighing of its cost (the thesis
trees in random order lost up to 1.7x to OPT that way: bench/NOTES.md), while an entry on no
path to come is free to evict. Shared by the Runner's sessions and the simulator, so a replay
follows the live rule exactly.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterable

__all__ = ["EXPECTED", "PENDING", "KnownFuture"]

PENDING, EXPECTED = 2, 1


class KnownFuture:
    """Counts of the pending and expected requests' paths."""

    def __init__(self) -> None:
        self.counts = {PENDING: collections.Counter(), EXPECTED: collections.Counter()}

    def add(self, path: Iterable[Hashable], tier: int, sign: int = 1) -> None:
        """A request of ``tier`` with this ``path`` (its leaf last) starts (``sign=1``) or stops
        (``sign=-1``) counting."""
        counts = self.counts[tier]
        for key in path:
            counts[key] += sign
            if counts[key] <= 0:
                del counts[key]

    def tier(self, key: Hashable) -> int:
        """How much the requests to come need node ``key`` (module docstring)."""
        for tier in (PENDING, EXPECTED):
            if key in self.counts[tier]:
                return tier
        return 0
