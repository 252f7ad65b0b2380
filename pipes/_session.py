"""An open execution on a Runner: it accepts DAGs while earlier requests run and reports each
request's result as it completes.

A search that hands out jobs one at a time (ASHA) or a rung at a time (successive halving)
submits a small DAG per job or rung. Keys are content keys, so every submitted DAG merges into
the nodes the session already knows: a node that is live (being computed) is shared, a cached one
is a hit, and no node is computed twice while it is live or cached. The bound on live work and
the cache capacity hold across the whole session, not per batch. The session also tells the
cache which nodes the requests submitted and not finished yet need (``future``), and those of
finished requests that a search expects to build on (``expect``: the configs it may promote):
those are evicted last (``dagreuse.cache.Cache``). The trace records each submission and
expectation, so that the simulator replays the same rule.

:class:`Session` holds what both executors share — the merged nodes of the requests not reported
yet (a node is forgotten once none needs it), the requests, the trace —
and :class:`SyncSession` is the reference oracle: one request at a time, in submission order, in
this process. ``_execution.DaskSession`` runs the same requests on a Dask cluster.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from typing import Any

from dagreuse.cache import KnownFuture, Trace, resolve
from dagreuse.cache._future import EXPECTED, PENDING

from . import _gpus, _ops
from ._dag import DAG, Node, Request

__all__ = ["Session", "SyncSession"]


class Session:
    """Base of the executors' sessions: ``submit`` DAGs, ``wait`` for results, ``close``.

    Request ids are positions in submission order over the whole session. A result is
    ``{"test": {...}, "train": {...} | None, "fit_time", "score_time"}`` or ``{"error": text}``.
    """

    def __init__(self, runner: Any, trace: Trace):
        self.runner = runner
        self.cache = runner._cache
        self.disk = runner.disk  # the persistent tier, or None
        self.trace = trace
        self.nodes: dict[str, Node] = {}
        # by first parent, in merge order (a dict as an ordered set: forgetting one is O(1))
        self.children: dict[str, dict[str, None]] = collections.defaultdict(dict)
        self.readers: dict[str, set[str]] = collections.defaultdict(set)  # by any parent
        self.requests: list[Request] = []
        self.problems: list[Any] = []  # each request's DAG problem (its data)
        # what the requests submitted and not reported yet, and the expected ones, will read
        self.future = KnownFuture()
        if runner.known_future:
            self.cache.needed = self.future.tier
        self.traced: dict[int, int] = {}  # request id -> its request number in the trace
        self.reported = 0
        self.closed = False
        self._t0 = time.perf_counter()
        meta = trace.meta
        meta.setdefault("policy", repr(self.cache.policy))
        meta.setdefault("capacity", self.cache.capacity)
        meta.setdefault("cost", runner.cost)
        meta.setdefault("seed", getattr(self.cache.policy, "seed", None))
        meta.setdefault("scheduler", runner.scheduler)
        meta.setdefault("known_future", runner.known_future)

    # -- the public interface -----------------------------------------------------------------
    def submit(self, dag: DAG) -> list[int]:
        """Add ``dag``'s requests; return their ids, in ``dag.requests`` order. On Dask the work
        starts now; the oracle computes in :meth:`wait`."""
        if self.closed:
            raise RuntimeError("This session is closed; open another with Runner.open().")
        self.trace.meta.setdefault("stages", ["split", *dag.stages])
        for key, node in dag.nodes.items():
            if key in self.nodes:
                continue
            self.nodes[key] = node
            if node.parents:
                self.children[node.parents[0]][key] = None
            for p in node.parents:
                self.readers[p].add(key)
            task = node.task
            info = {} if task.level is None else {"resource": task.level, "units": task.units,
                                                  "checkpoint": task.kind in _ops.CHECKPOINTS}
            self.trace.node(key, stage=node.stage, parents=node.parents, leaf=node.leaf, **info)
        first = len(self.requests)
        self.requests.extend(dag.requests)
        self.problems.extend([dag.problem] * len(dag.requests))
        for request in dag.requests:
            self.future.add(request.path, PENDING)
        self.trace.submitted(len(dag.requests))
        ids = list(range(first, len(self.requests)))
        self._submitted(ids, dag)
        return ids

    def wait(self) -> list[tuple[int, dict[str, Any]]]:
        """Block until at least one request has finished; return ``(id, result)`` pairs of those
        finished since the last call, ``[]`` when none is pending."""
        raise NotImplementedError

    @property
    def pending(self) -> int:
        """Requests submitted and not reported yet."""
        return len(self.requests) - self.reported

    def expect(self, ids: list[int], expected: bool = True) -> None:
        """Requests ``ids`` (finished ones) are likely to be followed by requests that reuse
        their nodes — a promotion resumes from a config's prefix and checkpoint: the cache keeps
        those nodes over the rest, after those pending requests need (``expected=False`` takes
        that back)."""
        for i in ids:
            self.future.add(self.requests[i].path, EXPECTED, 1 if expected else -1)
        self.trace.expect([self.traced[i] for i in ids if i in self.traced], expected)

    def results(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(id, result)`` of every pending request, as they finish."""
        while self.pending:
            yield from self.wait()

    def close(self) -> None:
        """Stop: cancel what runs, record the wall seconds and the cache statistics."""
        if self.closed:
            return
        self.closed = True
        try:
            self._stop()
        finally:
            meta = self.trace.meta
            meta["wall_seconds"] = meta.get("wall_seconds", 0.0) + time.perf_counter() - self._t0
            meta["cache_stats"] = self.cache.stats()
            self.cache.needed = None
            self.runner._session = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- for the executors --------------------------------------------------------------------
    def _submitted(self, ids: list[int], dag: DAG) -> None:
        """Hook: requests ``ids`` were added."""

    def _stop(self) -> None:
        """Hook: release what the executor holds."""

    def _reported(self, i: int) -> None:
        """Request ``i``'s result is out: the nodes it needed are needed one request less, and
        those no unreported request needs are forgotten (:meth:`_forget`)."""
        self.reported += 1
        path = self.requests[i].path
        self.future.add(path, PENDING, -1)
        for key in reversed(path):  # leaf first: a node goes after the nodes that read it
            # the known future counts each node's unreported requests
            if self.future.tier(key) != PENDING and self._forgettable(key):
                self._forget(key)

    def _forgettable(self, key: str) -> bool:
        """Hook: whether the executor is done with node ``key`` too."""
        return True

    def _forget(self, key: str) -> None:
        """Drop node ``key`` from the session: a long search holds only the nodes of its
        unreported requests, beyond the trace. A later DAG with the node merges it in again,
        and finds its result in the cache (content keys) or computes it."""
        node = self.nodes.pop(key)
        if node.parents and node.parents[0] in self.children:
            self.children[node.parents[0]].pop(key, None)
        for p in node.parents:
            readers = self.readers.get(p)
            if readers is not None:
                readers.discard(key)
        for index in (self.children, self.readers):
            if not index.get(key, True):
                del index[key]

    def _begin(self, i: int) -> int:
        request = self.requests[i]
        leaf = self.nodes[request.leaf].task
        info = {} if leaf.level is None else {"resource": leaf.level}
        self.traced[i] = self.trace.request(request.path, configs=request.configs,
                                            fold=request.fold, **info)
        return self.traced[i]

    def _resolve(self, req: int | None, key: str, compute: Any, root: Any, live: Any = None) -> Any:
        """Make node ``key`` available for trace request ``req`` (``None``: a node started ahead
        of its requests), with ``cache.resolve``: share, hit or compute."""
        load = None if self.disk is None else (lambda k: self._load(k, req))
        return resolve(key, parents=lambda k: self.nodes[k].parents,
                       leaf=lambda k: self.nodes[k].leaf, cache=self.cache, compute=compute,
                       mark=lambda ev, k: self.trace.mark(ev, k, req), root=root, live=live,
                       load=load)

    def _finish(self, key: str, seconds: float, nbytes: int, held: Any,
                info: dict | None = None) -> bool:
        """A node finished: record its cost (and ``info``: where a torch node ran) and offer
        ``held`` (value or future) to the cache; whether it was admitted."""
        self.trace.computed(key, seconds, nbytes, **(info or {}))
        if self.nodes[key].leaf:
            return False
        if self.disk is not None and seconds >= self.disk.min_seconds:
            self._write(key, held, seconds)
        return self.cache.offer_computed(key, held, nbytes, seconds, self.trace.parents,
                                         self.trace.seconds)

    def _load(self, key: str, req: int | None) -> Any:
        """Node ``key`` from the persistent tier (a value or a future), or None."""
        raise NotImplementedError

    def _write(self, key: str, held: Any, seconds: float) -> None:
        """Write node ``key`` (held as ``held``) to the persistent tier."""
        raise NotImplementedError

    def _loaded(self, key: str, req: int | None, held: Any, header: dict, seconds: Any) -> Any:
        """Node ``key`` was found on disk: trace it, and keep it in memory as if computed."""
        self.trace.mark("disk", key, req, bytes=header["size"], seconds=seconds)
        self.cache.offer(key, held, header.get("nbytes") or header["size"], header["seconds"])
        return held


class SyncSession(Session):
    """The reference oracle: requests one at a time, in submission order, in this process."""

    def __init__(self, runner: Any, trace: Trace):
        super().__init__(runner, trace)
        self._queue: collections.deque[int] = collections.deque()
        self._warned = False  # about a GPU stage on a process without CUDA

    def _submitted(self, ids: list[int], dag: DAG) -> None:
        self._queue.extend(ids)
        gpu = next((n.stage for n in dag.nodes.values() if n.task.gpu), None)
        if gpu is not None and not self._warned:
            from . import neural

            if neural.device_of("cuda") == "cpu":
                self._warned = True
                _gpus.warn_no_gpu(gpu, "this process has no CUDA device")

    def _load(self, key: str, req: int | None) -> Any:
        found = self.disk.load(key)
        if found is None:
            return None
        out, header = found
        return self._loaded(key, req, out, header, header["read_seconds"])

    def _write(self, key: str, held: Any, seconds: float) -> None:
        admitted, spent, nbytes = _ops.disk_write(self.disk, key, seconds, held)
        if admitted:
            self.trace.mark("disk_write", key, seconds=spent, bytes=nbytes)

    def wait(self) -> list[tuple[int, dict[str, Any]]]:
        if not self._queue:
            return []
        i = self._queue.popleft()
        req = self._begin(i)
        problem = self.problems[i]

        def compute(key: str, args: list) -> Any:
            try:
                out = _ops.run(self.nodes[key].task, *args)
            except _ops.NodeFailed as exc:
                self.trace.mark("fail", key, req, error=str(exc))
                raise
            self._finish(key, out.seconds, out.nbytes, out, out.info)
            return out

        try:
            result = self._resolve(req, self.requests[i].leaf, compute, (problem.X, problem.y)).value
        except _ops.NodeFailed as exc:
            result = {"error": str(exc)}
        self._reported(i)
        return [(i, result)]
