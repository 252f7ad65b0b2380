"""The byte-bounded store: entries, their bytes, statistics and the admission loop.

The store never decides *who* leaves — it asks its policy (``_policy.py``). It holds whatever
value the caller gives it: a result in sync mode, a Dask future in cluster mode (holding the
future keeps the data alive on its worker; dropping it lets Dask free the data).

The known future (DESIGN §4). The owner may say how much requests still to come need each key
(``needed``: 0, 1 or more, set while a Runner session is open; ``_future.KnownFuture``). Then an
entry no pending request needs goes first: the policy draws its victim among the entries of the
lowest need present (and the candidate, when its need is that low) before it may touch a more
needed one. Without it, a small cache that recomputes a node for one request could evict the
node the next request of the same batch needs, and thrash.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from ._policy import Entry, Policy, WReciprocal

__all__ = ["COSTS", "Cache", "CacheStats"]

#: What a result's eviction weight counts as its cost (DESIGN §5): its own compute seconds, or
#: those plus the seconds of its uncached ancestors — what a miss would really cost.
COSTS = ("own", "recompute")


class CacheStats(dict):
    """``{"hits", "misses", "evictions", "rejections", "peak_bytes", "capacity"}`` as a dict."""


class Cache:
    """A byte-bounded store driven by an eviction policy.

    Parameters
    ----------
    policy:
        A :class:`Policy` (its capacity bounds the store); a private, reset copy is used.
    on_evict:
        Called with the key and the value of each evicted entry (the Runner records it in the
        trace).
    """

    def __init__(
        self,
        policy: Policy | None = None,
        on_evict: Callable[[Hashable, Any], None] | None = None,
        cost: str = "own",
        needed: Callable[[Hashable], int] | None = None,
    ):
        if cost not in COSTS:
            raise ValueError(f"The 'cost' parameter must be one of {COSTS}. Got {cost!r} instead.")
        self.cost = cost
        if policy is None:
            policy = WReciprocal("1GB")
        if not isinstance(policy, Policy):
            raise TypeError(
                "The 'cache' parameter must be a dagreuse.cache policy such as "
                f"WReciprocal('512MB'). Got {policy!r} instead."
            )
        self.policy = policy.fresh()
        self.capacity = self.policy.capacity
        self._entries: dict[Hashable, Entry] = {}
        self._on_evict = on_evict
        self.needed = needed  # how much requests still to come need a key (module docstring)
        self.used = 0.0
        self.hits = self.misses = self.evictions = self.rejections = 0
        self.peak = 0.0
        # one offer at a time: the budget check and the admission must see the same bytes
        self._lock = threading.RLock()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[Hashable]:
        return list(self._entries)

    def peek(self, key: Hashable) -> Any:
        """The value for ``key`` without counting a hit (``KeyError`` if absent)."""
        return self._entries[key].value

    def get(self, key: Hashable) -> Any:
        """The cached value (a hit), or ``None`` when absent (a miss is counted by the caller)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self.hits += 1
        self.policy.on_hit(key, entry)
        return entry.value

    def miss(self, n: int = 1) -> None:
        """Record ``n`` results that were needed but not cached."""
        self.misses += n

    def offer(self, key: Hashable, value: Any, size: float, cost: float) -> bool:
        """Offer a finished result; return whether it was admitted (DESIGN §5). Safe from
        several threads."""
        with self._lock:
            return self._offer(key, value, size, cost)

    def _offer(self, key: Hashable, value: Any, size: float, cost: float) -> bool:
        if key in self._entries:
            return True
        new = Entry(float(size), float(cost), value)
        if not self.policy.admits(new.size):
            self.rejections += 1
            return False
        while self.used + new.size > self.capacity:
            victim = self._victim(key, new)
            if victim == key:
                self.rejections += 1
                return False
            self.evict(victim)
        self._entries[key] = new
        self.used += new.size
        self.peak = max(self.peak, self.used)
        self.policy.on_insert(key, new)
        return True

    def _victim(self, key: Hashable, new: Entry) -> Hashable:
        """The policy's choice among the least needed entries (and the candidate, if it is as
        little needed: alone, it is refused)."""
        if self.needed is None:
            return self.policy.victim(self._entries, key, new)
        need = {k: self.needed(k) for k in self._entries}
        mine = self.needed(key)
        low = min(mine, *need.values()) if need else mine
        pool = {k: e for k, e in self._entries.items() if need[k] == low}
        return self.policy.victim(pool, key if mine == low else None, new)

    def offer_computed(
        self, key: Hashable, value: Any, size: float, seconds: float,
        parents: Callable[[Hashable], Iterable[Hashable]] = lambda k: (),
        seconds_of: Callable[[Hashable], float] = lambda k: 0.0,
    ) -> bool:
        """Offer a result that just took ``seconds``. With ``cost="recompute"`` its cost also
        counts every ancestor a miss would recompute: those reachable through ``parents``
        without passing a cached node, each once."""
        cost = seconds
        if self.cost == "recompute":
            seen: set[Hashable] = set()
            stack = list(parents(key))
            while stack:
                k = stack.pop()
                if k in seen or k in self._entries:
                    continue
                seen.add(k)
                cost += seconds_of(k)
                stack.extend(parents(k))
        return self.offer(key, value, size, cost)

    def rebind(self, key: Hashable, value: Any) -> None:
        """Replace the value held for ``key`` (the same result, held another way)."""
        self._entries[key].value = value

    def evict(self, key: Hashable) -> None:
        with self._lock:
            entry = self._entries.pop(key)
            self.used -= entry.size
            self.evictions += 1
            self.policy.on_remove(key)
        if self._on_evict is not None:
            self._on_evict(key, entry.value)

    def clear(self) -> None:
        """Drop every entry without counting evictions (used when a Runner closes)."""
        for key in list(self._entries):
            self.policy.on_remove(key)
        self._entries.clear()
        self.used = 0.0

    def stats(self) -> CacheStats:
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            evictions=self.evictions,
            rejections=self.rejections,
            peak_bytes=int(self.peak),
            capacity=self.capacity,
        )

    def __repr__(self) -> str:
        return f"Cache({self.policy!r}, entries={len(self)}, used={int(self.used)})"
