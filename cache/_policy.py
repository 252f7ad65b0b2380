"""Eviction policies: *who* leaves the cache. The store (``_store.py``) owns the bytes.

A policy object is also the user's way to name a cache: ``WReciprocal("512MB", seed=0)`` carries
its capacity and seed. Stores and the simulator work on a private copy (``fresh()``), so one
policy object can configure many runs and each starts from the same seeded state.

The one decision a policy makes is :meth:`Policy.victim`: given the current entries *and* the
candidate being offered, pick the one to drop. Returning the candidate means "do not admit it".
This is DESIGN §5 verbatim; the admission loop itself lives in the store. The store may ask a
policy to choose among some entries only (the least needed by requests to come), and without the
candidate (``new_key=None``) when the candidate is needed more: the rule is the same over fewer
keys.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._size import format_bytes, parse_capacity

__all__ = [
    "EPSILON",
    "LRU",
    "Entry",
    "GreedyDualSize",
    "NoCache",
    "Policy",
    "Reciprocal",
    "Unbounded",
    "WReciprocal",
]

#: Floor for costs in seconds: a result that took "no time" still has a finite eviction weight.
EPSILON = 1e-6


@dataclass
class Entry:
    """What the store knows of one cached result: its bytes and its cost in seconds."""

    size: float
    cost: float
    value: Any = None


class Policy:
    """Base class of all eviction policies (one narrow extension point).

    Subclasses implement :meth:`victim`; the bookkeeping hooks default to no-ops.
    """

    randomized = False

    def __init__(self, capacity: Any = math.inf, *, seed: int | None = None):
        self.capacity = parse_capacity(capacity, owner=type(self).__name__)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
            raise TypeError(
                f"The 'seed' parameter of {type(self).__name__} must be an int or None. "
                f"Got {seed!r} instead."
            )
        self.seed = seed
        self.reset()

    # -- life cycle ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all state (order, inflation, random stream) and restart from ``seed``."""
        self._rng = np.random.default_rng(self.seed)

    def fresh(self) -> Policy:
        """A reset private copy, so runs never share mutable policy state."""
        clone = copy.copy(self)
        clone.reset()
        return clone

    # -- decisions ----------------------------------------------------------------------------
    def admits(self, size: float) -> bool:
        """Whether an entry of ``size`` bytes may be considered at all (it must fit)."""
        return size <= self.capacity

    def victim(self, entries: Mapping[Hashable, Entry], new_key: Hashable | None,
               new: Entry) -> Hashable:
        """Key of the entry to evict among ``entries`` and the candidate ``new_key`` (``None``:
        among ``entries`` only, which is then not empty)."""
        raise NotImplementedError

    # -- bookkeeping hooks --------------------------------------------------------------------
    def on_insert(self, key: Hashable, entry: Entry) -> None:
        """Called after ``key`` was admitted."""

    def on_hit(self, key: Hashable, entry: Entry) -> None:
        """Called when a cached ``key`` is reused."""

    def on_remove(self, key: Hashable) -> None:
        """Called after ``key`` left the store."""

    def __repr__(self) -> str:
        seed = f", seed={self.seed}" if self.randomized else ""
        return f"{type(self).__name__}({format_bytes(self.capacity)!r}{seed})"

    # -- helpers ------------------------------------------------------------------------------
    def _draw(self, keys: list[Hashable], weights: np.ndarray) -> Hashable:
        total = weights.sum()
        if not total > 0:
            return keys[0]
        return keys[int(self._rng.choice(len(keys), p=weights / total))]


class LRU(Policy):
    """Evict the least recently used entry; the candidate is the most recent, so it always enters."""

    def reset(self) -> None:
        super().reset()
        self._clock = 0
        self._last: dict[Hashable, int] = {}

    def _tick(self, key: Hashable) -> None:
        self._clock += 1
        self._last[key] = self._clock

    def victim(self, entries, new_key, new):
        if not entries:
            return new_key
        return min(entries, key=lambda k: self._last.get(k, 0))  # the candidate is the newest

    def on_insert(self, key, entry):
        self._tick(key)

    def on_hit(self, key, entry):
        self._tick(key)

    def on_remove(self, key):
        self._last.pop(key, None)


class Reciprocal(Policy):
    """Evict at random with probability proportional to 1/cost (cheap results leave first)."""

    randomized = True

    def _weight(self, entry: Entry) -> float:
        return 1.0 / max(entry.cost, EPSILON)

    def victim(self, entries, new_key, new):
        keys, weights = list(entries), [self._weight(e) for e in entries.values()]
        if new_key is not None:
            keys.append(new_key)
            weights.append(self._weight(new))
        return self._draw(keys, np.array(weights))


class WReciprocal(Reciprocal):
    """Evict at random with probability proportional to size/cost: big, cheap results leave first.

    The default policy (thesis §4.4.3): unlike LRU it keeps the expensive early stages of a
    front-loaded pipeline, and unlike Reciprocal it does not hoard large results that are cheap
    to recompute.
    """

    def _weight(self, entry: Entry) -> float:
        return entry.size / max(entry.cost, EPSILON)


class GreedyDualSize(Policy):
    """GreedyDual-Size: evict the smallest H = L + cost/size; L inflates to the victim's H."""

    def reset(self) -> None:
        super().reset()
        self._inflation = 0.0
        self._h: dict[Hashable, float] = {}

    def _value(self, entry: Entry) -> float:
        return self._inflation + max(entry.cost, EPSILON) / max(entry.size, 1.0)

    def victim(self, entries, new_key, new):
        candidates = [(self._h.get(k, 0.0), i, k) for i, k in enumerate(entries)]
        if new_key is not None:
            candidates.append((self._value(new), len(candidates), new_key))
        h, _, key = min(candidates, key=lambda t: (t[0], t[1]))
        self._inflation = h
        return key

    def on_insert(self, key, entry):
        self._h[key] = self._value(entry)

    def on_hit(self, key, entry):
        self._h[key] = self._value(entry)

    def on_remove(self, key):
        self._h.pop(key, None)


class Unbounded(Policy):
    """Keep everything: the reference for "how much reuse is there at all"."""

    def __init__(self):
        super().__init__(math.inf)

    def victim(self, entries, new_key, new):  # pragma: no cover - never over capacity
        return new_key

    def __repr__(self) -> str:
        return "Unbounded()"


class NoCache(Policy):
    """Keep nothing (a null policy with the same interface, so callers never branch on None).

    Work that is *in flight* is still shared; only finished results are not kept.
    """

    def __init__(self):
        super().__init__(0)

    def admits(self, size: float) -> bool:
        return False

    def victim(self, entries, new_key, new):  # pragma: no cover - nothing is ever admitted
        return new_key

    def __repr__(self) -> str:
        return "NoCache()"
