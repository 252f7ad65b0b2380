"""Execution traces: what every run records, and what the simulator replays.

A trace is plain, JSON-serialisable data::

    {"version": 1,
     "meta":   {...free-form: policy, capacity, max_in_flight, wall seconds...},
     "nodes":  {key: {"stage": str, "parents": [key, ...], "seconds": float, "bytes": int,
                      "leaf": bool[, "resource": level, "units": float, "checkpoint": bool]
                      [, "device": "cpu" | "cuda..."]}},
     "events": [{"ev": "submit", "n": int}, {"ev": "expect" | "unexpect", "reqs": [int, ...]},
                {"ev": "request", "req": int, "path": [key, ...], "config": int, "fold": int},
                {"ev": "hit" | "miss" | "share" | "evict", "key": key, "req": int | None},
                {"ev": "compute", "key": key, "seconds": float, "bytes": int[, "device": str]},
                {"ev": "fail", "key": key, "req": int, "error": str},
                {"ev": "disk", "key": key, "req": int | None, "bytes": int, "seconds": float | None},
                {"ev": "disk_write", "key": key, "seconds": float, "bytes": int}, ...]}

A ``submit`` event says that the next ``n`` requests (in the order of their ``request`` events,
which is the order they were submitted in) became known to the Runner then: until each is done,
the cache keeps the nodes it needs over others (the simulator replays that); ``expect`` says the
same of finished requests whose nodes later ones are likely to reuse (a search's promotion
candidates), until ``unexpect``. A request's
``path`` lists every node its leaf depends on, parents before children, the leaf
last (for a chain: from the fold split down to the leaf). A split has no parents (its input is
the data). Node
``seconds`` and ``bytes`` are measured on the worker; when a node was computed more than once,
``nodes`` keeps the mean seconds, and each ``compute`` event keeps its own measurement. A node of
the leaf stage evaluated at a resource level (multi-fidelity search) also records its
``resource`` level, the training ``units`` one computation of it costs, and whether it is a
``checkpoint`` (a cached model that a higher level resumes from); a request then records the
``resource`` level it evaluates. A torch node (``dagreuse.pipes.neural``) records the
``device`` it ran on, on its node and on each ``compute`` event.

A search resumed from its journal (``dagreuse.search.run(..., resume=True)``) starts from the
trace its journal kept; the requests of jobs the killed run never finished are listed in
``meta["abandoned"]`` (their jobs were submitted again): they count in no figure, and a replay
skips them, though the computations they made are still spent seconds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Hashable, Iterator
from typing import Any

__all__ = ["Trace", "running_mean"]


def running_mean(mean: float | None, n: int, value: float) -> float:
    """Mean of n + 1 values from the mean of n; the Runner and the simulator share it so a
    replay sees bit-identical costs."""
    return value if n == 0 else (mean * n + value) / (n + 1)


class Trace:
    """An append-only record of one or more executions (DESIGN §4)."""

    def __init__(self, meta: dict[str, Any] | None = None):
        self.meta: dict[str, Any] = dict(meta or {})
        self.nodes: dict[Hashable, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._n_requests = 0

    # -- recording ----------------------------------------------------------------------------
    def node(self, key: Hashable, *, stage: str, parents: list[Hashable], leaf: bool,
             **info: Any) -> None:
        """Declare a node of the DAG (idempotent); ``info``: its resource level and units."""
        if key not in self.nodes:
            self.nodes[key] = {"stage": stage, "parents": list(parents), "seconds": None,
                               "bytes": None, "leaf": leaf, "computed": 0, **info}

    def parents(self, key: Hashable) -> list[Hashable]:
        return self.nodes[key]["parents"]

    def request(self, path: list[Hashable], **info: Any) -> int:
        req = self._n_requests
        self._n_requests += 1
        self.events.append({"ev": "request", "req": req, "path": list(path), **info})
        return req

    def submitted(self, n: int) -> None:
        """``n`` more requests are known to the Runner (they start later, in this order)."""
        self.events.append({"ev": "submit", "n": n})

    def expect(self, reqs: list[int], expected: bool = True) -> None:
        """Requests ``reqs`` (trace numbers) are (or, with False, no longer are) expected to be
        built on: the cache keeps their nodes over others, after those pending requests need."""
        if reqs:
            self.events.append({"ev": "expect" if expected else "unexpect", "reqs": list(reqs)})

    def computed(self, key: Hashable, seconds: float, nbytes: int, **info: Any) -> None:
        """A computation of ``key``; ``info``: where it ran (``device``), kept on the node (the
        last one) and the event."""
        node = self.nodes[key]
        n = node["computed"]
        node["seconds"] = running_mean(node["seconds"], n, seconds)
        node["bytes"] = int(nbytes)
        node["computed"] = n + 1
        node.update(info)
        self.events.append({"ev": "compute", "key": key, "seconds": seconds, "bytes": int(nbytes),
                            **info})

    def mark(self, ev: str, key: Hashable, req: int | None = None, **info: Any) -> None:
        """Record a ``hit``, ``miss``, ``share``, ``evict`` or ``fail`` event."""
        self.events.append({"ev": ev, "key": key, "req": req, **info})

    # -- reading ------------------------------------------------------------------------------
    def requests(self, abandoned: bool = False) -> Iterator[dict[str, Any]]:
        """The ``request`` events, without those of ``meta["abandoned"]`` unless asked."""
        gone = () if abandoned else set(self.meta.get("abandoned", ()))
        return (e for e in self.events if e["ev"] == "request" and e["req"] not in gone)

    def count(self, ev: str) -> int:
        return sum(1 for e in self.events if e["ev"] == ev)

    def seconds(self, key: Hashable) -> float:
        """Mean measured compute seconds of ``key`` (0 when it never completed)."""
        return self.nodes[key]["seconds"] or 0.0

    def nbytes(self, key: Hashable) -> int:
        return self.nodes[key]["bytes"] or 0

    def computations(self) -> dict[Hashable, list[float]]:
        """Measured seconds of every computation of every node, in the order they happened."""
        out: dict[Hashable, list[float]] = {}
        for e in self.events:
            if e["ev"] == "compute":
                out.setdefault(e["key"], []).append(e["seconds"])
        return out

    def independent_seconds(self) -> float:
        """TP(P): every config of every request paying for its whole path."""
        return math.fsum(self.seconds(k) for e in self.requests()
                         for _ in e.get("configs") or [0] for k in e["path"])

    def working_set_bytes(self) -> int:
        """Bytes of every unique cacheable node the requests need (an infinite cache's peak)."""
        keys = {k for e in self.requests() for k in e["path"][:-1]}
        return sum(self.nbytes(k) for k in keys)

    # -- increments (a search's journal) -------------------------------------------------------
    def since(self, position: tuple[int, int] = (0, 0)) -> tuple[dict[str, Any], tuple[int, int]]:
        """What was recorded after ``position`` (nodes declared, events recorded): the new
        events, and every node declared or computed since, as it stands now, so that
        :meth:`extend` rebuilds this trace; and the position after them."""
        n_nodes, n_events = position
        events = self.events[n_events:]
        new = list(self.nodes)[n_nodes:]
        keys = dict.fromkeys(new)
        keys.update(dict.fromkeys(e["key"] for e in events if e["ev"] == "compute"))
        part = {"nodes": {k: self.nodes[k] for k in keys}, "events": events}
        return part, (n_nodes + len(new), n_events + len(events))

    def extend(self, part: dict[str, Any]) -> None:
        """Append what :meth:`since` returned (a journal's increments, in order)."""
        self.nodes.update(part["nodes"])
        self.events.extend(part["events"])
        self._n_requests += sum(1 for e in part["events"] if e["ev"] == "request")

    # -- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "meta": self.meta, "nodes": self.nodes, "events": self.events}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        if data.get("version") != 1 or not {"nodes", "events"} <= set(data):
            raise ValueError("Not a dagreuse trace: expected version 1 with 'nodes' and 'events'.")
        trace = cls(data.get("meta"))
        trace.nodes = dict(data["nodes"])
        trace.events = list(data["events"])
        trace._n_requests = sum(1 for e in trace.events if e["ev"] == "request")
        return trace

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "w") as f:
            json.dump(self.to_dict(), f)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def __repr__(self) -> str:
        return f"Trace(nodes={len(self.nodes)}, requests={self._n_requests}, events={len(self.events)})"
