"""Nodes computed inside another node's task, cached and read on their own.

A task that computes a subtree (``_ops.run_tree``, the granularity rule) returns one result,
the *bundle*: its node's output with the outputs of the inner nodes it took along as *parts*.
Those nodes have no Dask key of their own, so the cache holds each as a :class:`Part` — the
bundle's future and the node's place in it — and a task that reads one is sent the bundle and
picks the part on its worker (``_ops.reported``): no extra task, and no data through the client.

Holding any part holds the whole bundle on its worker, so the cache's byte count is right only
while *every* node of the bundle is cached. The moment one is refused or evicted
(:meth:`Bundle.offered`, :meth:`Bundle.left`), each node of it still cached is extracted into a
future of its own — a small task on the bundle's worker (``_ops.part``) — and Dask frees the
bundle once those have run and no sent task reads it. With a cache that keeps everything
nothing is ever extracted; with one that keeps nothing, nothing is either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Bundle", "Part"]


class Bundle:
    """One ``run_tree`` task's result: which of its nodes the cache holds as parts of it."""

    def __init__(self, future: Any, worker: str | None,
                 extract: Callable[[Bundle, str, tuple[int, ...]], None]):
        self.future = future
        self.worker = worker
        self._extract_one = extract  # (bundle, key, path): give the cached key its own future
        self.members: dict[str, tuple[int, ...]] = {}  # key -> path, held by the cache as a Part
        self.whole = True  # every node of the bundle is cached

    def offered(self, key: str, path: tuple[int, ...], admitted: bool) -> None:
        """Node ``key`` (at ``path``) was offered to the cache as a part."""
        if admitted:
            self.members[key] = path
            if not self.whole:
                self._extract()
        else:
            self.left(key)

    def left(self, key: str) -> None:
        """Node ``key`` is not (or no longer) cached: the others stop holding the bundle."""
        self.members.pop(key, None)
        self.whole = False
        self._extract()

    def _extract(self) -> None:
        for key, path in self.members.items():
            self._extract_one(self, key, path)
        self.members.clear()


class Part:
    """A cached node that is a part of a bundle (``path``: its place in it; ``()`` is the
    bundle's own node). Holding it holds the bundle's future."""

    __slots__ = ("bundle", "path")

    def __init__(self, bundle: Bundle, path: tuple[int, ...]):
        self.bundle = bundle
        self.path = path

    def __repr__(self) -> str:
        return f"Part({self.bundle.future!r}, {self.path})"
