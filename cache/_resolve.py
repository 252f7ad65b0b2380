"""How a request gets the nodes it needs — shared by the Runner (sync and Dask) and the simulator,
so a replay follows exactly the live semantics.

To make a node available: an inner node in flight is *shared*, a cached one is a *hit*; otherwise
it is a *miss*: its parents are made available first (recursively, left to right), then it is
computed. A leaf is always computed. For a chain this is "reuse the deepest cached node of the
path, compute everything below it". A node one request reaches twice (a union's branches from
one parent; a checkpoint and its score leaf, which both read the prefix's data) is made available
once for it: the second time is the same value, with no cache event.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from ._store import Cache

__all__ = ["resolve"]


def resolve(
    key: Hashable,
    *,
    parents: Callable[[Hashable], list[Hashable]],
    leaf: Callable[[Hashable], bool],
    cache: Cache,
    compute: Callable[[Hashable, list[Any]], Any],
    mark: Callable[[str, Hashable], None],
    root: Any = None,
    live: Mapping[Hashable, Any] | None = None,
    load: Callable[[Hashable], Any] | None = None,
    _seen: dict | None = None,
) -> Any:
    """Return ``key``'s value (or future), computing what is missing with ``compute(key, args)``;
    ``args`` are the parents' values, or ``[root]`` for a node without parents. ``load(key)``
    returns the value from the persistent tier, or None."""
    seen = {} if _seen is None else _seen
    if key in seen:
        return seen[key]
    if not leaf(key):
        if live is not None and key in live:
            mark("share", key)
            seen[key] = live[key]
            return seen[key]
        value = cache.get(key)
        if value is not None:
            mark("hit", key)
            seen[key] = value
            return value
        mark("miss", key)
        cache.miss()
        value = None if load is None else load(key)
        if value is not None:
            seen[key] = value
            return value
    args = [resolve(p, parents=parents, leaf=leaf, cache=cache, compute=compute, mark=mark,
                    root=root, live=live, load=load, _seen=seen) for p in parents(key)]
    seen[key] = compute(key, args or [root])
    return seen[key]
