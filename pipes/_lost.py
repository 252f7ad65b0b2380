"""Results lost with a worker, and the requests that are started again because of them.

When a worker dies, Dask computes what it held again from the task's lineage. Where it cannot
(a dependency is gone too: Dask cancels the future, "lost dependencies"), the requests that
needed it are not failed: their error is :class:`Lost`, and the session starts them again, up
to ``RETRIES`` times, after dropping every cached future that went with the worker, so that
they compute those nodes anew from the input data (which every worker holds).
"""

from __future__ import annotations

from typing import Any

from ._bundles import Part

__all__ = ["RETRIES", "Lost", "gone", "purge"]

#: How many times a request whose inputs were lost is started again before it fails.
RETRIES = 2


class Lost(str):
    """An error text that says the result was lost with a worker, not that an operator failed."""


def gone(held: Any) -> bool:
    """Whether a cached value (a future, or a :class:`Part` of a bundle's) is lost for good."""
    future = held.bundle.future if isinstance(held, Part) else held
    return getattr(future, "status", None) in ("cancelled", "lost")


def purge(cache: Any, held: dict[str, Any]) -> int:
    """Drop lost futures from ``cache`` and from ``held`` (nodes started ahead); how many."""
    keys = cache.keys()
    stale = [k for k in keys if gone(cache.peek(k))]
    for key in stale:
        cache.evict(key)
    for key in [k for k, v in held.items() if gone(v)]:
        del held[key]
    return len(stale)
