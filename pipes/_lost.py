"""Results lost with a worker, and the requests that are started again because of them.

When a worker dies, Dask computes what it held again from the task's lineage. Where it cannot
(a dependency is gone too: Dask cancels the future, "lost dependencies"), the requests that
needed it are not failed: their error is :class:`Lost`, and the session starts them again, up
to ``RETRIES`` times, after dropping every cached future that went with the worker and every
one on their paths, so that they compute their nodes anew from the input data, scattered
anew.
"""

from __future__ import annotations

import collections
from typing import Any

from . import _ops
from ._bundles import Part

__all__ = ["RETRIES", "Lost", "Recovery", "fetch_summary", "gone", "purge"]

#: How many times a request whose inputs were lost is started again before it fails.
RETRIES = 2


class Lost(str):
    """An error text that says the result was lost with a worker, not that an operator failed."""


def gone(held: Any) -> bool:
    """Whether a cached value (a future, or a :class:`Part` of a bundle's) is lost for good."""
    future = held.bundle.future if isinstance(held, Part) else held
    return getattr(future, "status", None) in ("cancelled", "lost")


def purge(cache: Any, held: dict[str, Any]) -> None:
    """Drop lost futures from ``cache`` and from ``held`` (nodes started ahead)."""
    keys = cache.keys()
    for key in [k for k in keys if gone(cache.peek(k))]:
        cache.evict(key)
    for key in [k for k, v in held.items() if gone(v)]:
        del held[key]


def fetch_summary(client: Any, fut: Any) -> Any:
    """A finished task's summary, fetched when its report never came: its worker died with its
    data, and Dask computes it again — or cannot, and the error is :class:`Lost`."""
    from distributed.client import FutureCancelledError

    for _ in range(3):
        try:
            return client.submit(_ops.summary, fut, pure=False).result()
        except FutureCancelledError as exc:
            reason = exc
            client.gather([fut], errors="skip")
    return {"error": Lost(f"the worker holding {fut.key} died, and Dask could not compute it "
                          f"again (its inputs were lost with it): {reason}")}


class Recovery:
    """A session's requests whose inputs were lost: held back from their results, then started
    again, first, once the lost futures are dropped; their first tries count in no figure
    (``meta["abandoned"]`` of the trace)."""

    def __init__(self) -> None:
        self.lost: list[tuple[int, int]] = []  # (request, its trace request)
        self.retries: collections.Counter = collections.Counter()  # request -> new starts

    def hold(self, i: int, req: int, error: Any) -> bool:
        """Whether request ``i`` (trace request ``req``) starts again rather than fail."""
        if isinstance(error, Lost) and self.retries[i] < RETRIES:
            self.lost.append((i, req))
            return True
        return False

    def restart(self, session: Any) -> None:
        """Start the held requests again, first, on the input data scattered anew (Dask's active
        memory manager keeps one copy of it, which may have died with its worker), once the
        lost futures and every cached one on their paths are dropped: the client may not know
        yet which of them the scheduler forgot, and the request then starts from the data
        rather than fail again."""
        for root, problem in {p.root: p for p in session.problems}.items():
            session.data[root] = session.runner._scattered(problem, again=True)
        cache, held = session.cache, session.held
        purge(cache, held)
        for key in {k for i, _ in self.lost for k in session.requests[i].path}:
            if key in cache:
                cache.evict(key)
            held.pop(key, None)
        abandoned = session.trace.meta.setdefault("abandoned", [])
        for i, req in reversed(self.lost):
            self.retries[i] += 1
            abandoned.append(req)
            session.jobs.appendleft([i])
        self.lost.clear()
