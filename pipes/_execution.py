"""The Dask executor: the state of one open execution (a session) on a Dask cluster.

State, in prose (as dask/local.py does it):

* ``requests`` — (leaf, fold) paths, in submission order; ``jobs`` — those not started yet, as
  groups started together. A new job is started while fewer than ``2 * limit`` tasks are
  *runnable* (their parents are finished: sent to a worker, or ready in the pool) and fewer than
  ``4 * limit`` inner nodes are live (``limit`` is the Runner's ``max_in_flight``). Requests that
  wait behind shared live work cost no compute and hold no intermediate data, so they do not
  hold back the next ones: otherwise every active request of a depth-first order would queue
  behind the same expensive prefix node and the cluster would compute the costliest nodes one
  at a time. The bound on live inner nodes keeps intermediate results near the cache capacity
  instead of growing with the number of candidates. With ``limit=1`` requests run strictly one
  after another.
* ``live`` — inner nodes started and not finished yet, by key. A request that needs one of them
  *shares* it instead of starting it again — also a request submitted later in the session.
* ``pool`` — tasks held until their parents are finished and a worker has room
  (``_dispatch``): each is bound to a worker only then, at most ``limit`` in all, highest
  priority first (the node that unlocks the most requests; leaves last), near its parents'
  data where it can.
* ``ahead`` — each fold's first-stage nodes (the children of the splits) are started ahead of
  the requests, ``limit // 2`` unclaimed at a time: in depth-first order the last fold's first
  stage came late, and with front-loaded pipelines that costly node then ran alone at the end. A
  node started ahead is held until a request claims it, even when the cache does not admit it.
* ``cache`` — finished nodes the policy admitted, as futures: holding one keeps its data on a
  worker. When a node finishes and is neither admitted nor awaited by a task in the pool, its
  future is dropped, and Dask frees the data once the tasks already sent that read it are done.

Starting a request resolves its leaf (``dagreuse.cache.resolve``, shared with the simulator): a
live node is shared, a cached one is a hit, any other is added to the pool after its parents,
with their futures (or :class:`Wait` placeholders) as arguments, so data moves from worker to
worker, never through the client. Each finished node is timed and sized on the worker, which
sends that summary (and a leaf's scores) to the client as a worker event ahead of the task's
completion: the client needs neither the node's data nor a second round trip. A node whose
operator raises fails every request below it; they get the error text, the others go on. Such a
task returns the failure instead of raising (``_ops.Failed``), so a search with many failing
candidates does not fill the log with Dask's per-task error reports; an internal error still
raises. A result lost with a worker where Dask cannot compute it again does not fail its
requests: they start again (``_lost``).

How much one task computes — a node with leaves and cheap inner children below it, several
leaves to a task — is one rule, stated in ``_granularity``; the nodes a task computes besides
its own are cached as parts of its result (``_bundles``). The input data is scattered to every
worker, so fold splits start wherever there is room.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Any

from . import _gpus, _granularity, _ops
from ._bundles import Bundle, Part
from ._dag import DAG
from ._dispatch import Pool, Pooled, Wait
from ._granularity import TASK_SECONDS, Absorbed, Shaper, jobs
from ._lost import Lost, Recovery, fetch_summary
from ._session import Session

__all__ = ["DaskSession"]
#: How often a session re-reads the cluster's workers (joined or gone) to send tasks to.
WORKERS_SECONDS = 1.0


class DaskSession(Session):
    """A session on the Runner's Dask client (module docstring)."""

    def __init__(self, runner: Any, trace: Any):
        from distributed import as_completed

        super().__init__(runner, trace)
        self.client = runner.client
        self.limit = runner.max_in_flight or 2 * runner.n_threads
        self.shaper = Shaper(self, runner._costs)
        self.pool = Pool(self.limit, prepare=self.shaper.reshape)
        self.live: dict[str, Wait] = {}  # inner node not finished (in the pool or on a worker)
        self.node_tasks: dict[str, Pooled] = {}  # live inner node -> its task
        self.absorbed = 0  # live inner nodes computed in another node's task
        self.ahead = self.pool.pinned  # nodes started ahead that no request has claimed yet
        self.held: dict[str, Any] = {}  # those of them finished -> future
        self.shared = collections.ChainMap(self.live, self.held)  # what a starting request shares
        self.claimed: set[str] = set()  # nodes a started request needs
        self.watch: dict[Any, Pooled] = {}  # future -> its task
        self.jobs: collections.deque[list[int]] = collections.deque()
        self.whole: dict[str, Pooled] = {}  # node -> the leaf group that holds its leaf children
        self.below: collections.Counter = collections.Counter()  # node -> requests it unlocks
        self.heads: collections.deque[tuple[str, str]] = collections.deque()  # (first-stage
        # node, its data key), in the order requests first need them
        self.headed: set[str] = set()
        self.data: dict[str, Any] = {}  # data key -> its scattered future
        self.ready: list[tuple[int, dict[str, Any]]] = []
        self.recovery = Recovery()  # requests whose inputs were lost, to start again (_lost)
        self.writes: dict[Any, str] = {}  # writes to the persistent tier in flight -> node key
        self.warned_gpu = False
        self.workers_read: list[Any] = [-math.inf, {}]  # when; worker -> threads
        # one worker-event topic per Runner: the scheduler keeps every topic it has seen
        self.topic = runner._topic
        # the handler holds this dict, not the session: distributed's unsubscribe_topic keeps
        # the handler, which would keep every closed session's nodes alive with it
        reports: dict[str, Any] = {}
        self.reports = reports
        self.client.subscribe_topic(
            self.topic, lambda ev: reports.__setitem__(ev[1]["name"], ev[1]["summary"]))
        self.ac = as_completed(loop=self.client.loop, raise_errors=False)

    # -- the session interface ----------------------------------------------------------------
    def _submitted(self, ids: list[int], dag: DAG) -> None:
        self.data[dag.root] = self.runner._scattered(dag)
        new = [self.requests[i] for i in ids]
        self.below.update(k for r in new for k in r.path[:-1])
        for r in new:
            for k in r.path:
                node = self.nodes[k]
                if k not in self.headed and not node.leaf and node.parents and all(
                        not self.nodes[p].parents for p in node.parents):
                    self.headed.add(k)
                    self.heads.append((k, dag.root))
        most = 1 if self.limit == 1 else _granularity.MAX_LEAVES_PER_TASK
        self.jobs.extend([ids[0] + j for j in job] for job in jobs(self.nodes, new, most))
        self._step()

    def wait(self) -> list[tuple[int, dict[str, Any]]]:
        self._step()  # the caller is back: start what its last results let start
        while not self.ready:
            if not self.watch:
                self._step()
                if not self.watch:
                    if self.pending:
                        raise RuntimeError(f"{self.pending} requests pending but no task runs.")
                    return []
            for fut in self.ac.next_batch(block=True):
                self._handle(fut)
            if self.ready:
                # back to the caller before new requests start, as the oracle does: what it
                # submits on hearing these results is known before they start (the known future)
                self._dispatch()
            else:
                self._step()
        out, self.ready = self.ready, []
        for i, _ in out:
            self._reported(i)
        if self.writes:
            self._written()
        return out

    # -- the persistent tier ------------------------------------------------------------------
    def _load(self, key: str, req: int | None) -> Any:
        """Verified here (a damaged entry is a miss), then read by a worker, as a cache hit."""
        found = self.disk.verified(key)
        if found is None:
            return None
        fut = self.client.submit(_ops.disk_read, self.disk, key, pure=False, priority=1,
                                 key=self.runner._task_name("disk", key))
        return self._loaded(key, req, fut, found[0], None)

    def _write(self, key: str, held: Any, seconds: float) -> None:
        """Written by the worker that holds the data, after the search's own tasks."""
        args = (held.bundle.future, held.path) if isinstance(held, Part) else (held, ())
        fut = self.client.submit(_ops.disk_write, self.disk, key, seconds, *args, pure=False,
                                 priority=-1, key=self.runner._task_name("write", key))
        self.writes[fut] = key

    def _written(self) -> None:
        """Trace the writes that are done."""
        for fut in [f for f in self.writes if f.done()]:
            key = self.writes.pop(fut)
            if fut.status == "finished":
                admitted, spent, nbytes = fut.result()
                if admitted:
                    self.trace.mark("disk_write", key, seconds=spent, bytes=nbytes)

    def _forgettable(self, key: str) -> bool:
        return key not in self.live and key not in self.ahead and key not in self.held

    def _forget(self, key: str) -> None:
        super()._forget(key)
        for index in (self.below, self.whole, self.pool.where):
            index.pop(key, None)
        self.claimed.discard(key)
        self.headed.discard(key)

    def _stop(self) -> None:
        if self.writes:  # a later run is to find them on disk
            self.client.gather(list(self.writes), errors="skip")
            self._written()
        self.client.unsubscribe_topic(self.topic)
        self.reports.clear()
        for fut in list(self.watch):
            fut.cancel()
        self.live.clear()
        self.pool.clear()

    # -- starting requests --------------------------------------------------------------------
    def _step(self) -> None:
        if self.recovery.lost:
            self.recovery.restart(self)
        while self._want_more() and self._start_next():
            pass
        self._look_ahead()
        self._dispatch()

    def _want_more(self) -> bool:
        # ready tasks wait in the pool at no cost to the cluster: up to ``limit`` of them beside
        # those in flight, so that the pool has a choice (never with limit 1)
        limit = self.limit
        live = len(self.live) - self.absorbed  # absorbed nodes' data stays in their bundle
        return live < 4 * limit and self.pool.runnable() < (
            limit if limit == 1 else 2 * limit)

    def _start_next(self) -> bool:
        """Start the next job: resolve its requests, pool what they miss, pool their leaves."""
        if not self.jobs:
            return False
        job = self.jobs.popleft()
        started, args = [], None
        for i in job:
            request = self.requests[i]
            req = self._begin(i)

            def compute(key: str, a: list, req: int = req) -> Any:
                nonlocal args
                if not self.nodes[key].leaf:
                    return self._pool_node(key, a, req)
                args = a  # the same for every request of the job: they share the parents
                return None

            self._resolve(req, request.leaf, compute, self.data[self.problems[i].root], self.shared)
            started.append((i, req))
            self._claim(request.path)
        first = self.requests[job[0]].leaf
        tasks = [self.nodes[self.requests[i].leaf].task for i in job]
        parents = self.nodes[first].parents
        group = self.pool.add(self._name(first), _ops.run_leaves, tasks, args, parents, 0,
                              info=started)
        group.gpu = tasks[0].gpu
        head = self.nodes[parents[0]]
        leaves = [c for c in self.children[parents[0]] if self.nodes[c].leaf]
        if len(job) == len(leaves) and all(p in head.parents for p in parents[1:]):
            self.whole[parents[0]] = group
        return True

    def _pool_node(self, key: str, args: list, req: int | None) -> Wait:
        node = self.nodes[key]
        self.node_tasks[key] = self.pool.add(self._name(key), _ops.run, node.task, args,
                                             node.parents, self.below[key], key, req)
        self.node_tasks[key].gpu = node.task.gpu
        self.live[key] = Wait(key)
        if req is None:
            self.ahead.add(key)
        return self.live[key]

    def _claim(self, keys: list[str]) -> None:
        self.claimed.update(keys)
        for k in keys:
            if k in self.ahead:
                self.ahead.discard(k)
                self.held.pop(k, None)
                self.pool.release(k)

    def _look_ahead(self) -> None:
        """Pool the next first-stage nodes no request has reached, up to ``limit // 2`` unclaimed
        at a time (module docstring)."""
        while len(self.ahead) < self.limit // 2 and self.heads:
            key, root = self.heads.popleft()
            if key in self.claimed or key in self.live or key in self.cache or (
                    self.shaper.estimate(key) < TASK_SECONDS):  # cheap: its requests start it
                continue
            self._resolve(None, key, lambda k, a: self._pool_node(k, a, None), self.data[root],
                          self.shared)

    def _name(self, key: str) -> str:
        return self.runner._task_name(self.nodes[key].stage, key)

    # -- sending tasks ------------------------------------------------------------------------
    def _workers(self) -> dict[str, int]:
        """The cluster's workers, re-read at most every WORKERS_SECONDS: each read is a round
        trip to the scheduler (``Client.scheduler_info``)."""
        if time.monotonic() - self.workers_read[0] > WORKERS_SECONDS or not self.workers_read[1]:
            info = self.client.scheduler_info()["workers"]
            joined = set(info) - set(self.workers_read[1])
            self.workers_read[:] = [time.monotonic(), {w: i["nthreads"] for w, i in info.items()}]
            self.pool.gpus = _gpus.gpu_workers(info)
            if joined and self.data:  # a worker joined (or restarted): it gets the input data
                # too, for its first tasks (Dask's memory manager may drop the copy later; data
                # lost with a worker is scattered anew, _lost.Recovery)
                self.client.replicate([f for f in self.data.values() if f.status == "finished"])
        return self.workers_read[1]

    def _stage_of(self, task: Pooled) -> str:
        return self.nodes[task.node].stage if task.node is not None else task.payload[0].stage

    def _dispatch(self) -> None:
        if not self._workers() and not self.watch:
            self.client.wait_for_workers(1)
        for task, worker, args in self.pool.take(self._workers()):
            paths = tuple(a.path if isinstance(a, Part) else None for a in args)
            args = [a.bundle.future if isinstance(a, Part) else a for a in args]
            resources = None
            if task.gpu and self.pool.gpus:  # never a resource no worker has (_gpus)
                resources = {"GPU": 1}
            elif task.gpu and not self.warned_gpu:
                self.warned_gpu = True
                _gpus.warn_no_gpu(self._stage_of(task), "no worker of the cluster has a GPU resource")
            fut = self.client.submit(_ops.reported, self.topic, task.name, task.fn, task.payload,
                                     paths, *args, key=task.name, pure=False,
                                     priority=task.priority, workers=[worker],
                                     allow_other_workers=True, resources=resources)
            self.watch[fut] = task
            self.ac.add(fut)

    # -- finished tasks -----------------------------------------------------------------------
    def _summary(self, fut: Any) -> Any:
        """A finished task's summary: its worker's report arrives before the task's completion
        (one stream, in order), so the fetch is a fallback only."""
        found = self.reports.pop(fut.key, None)
        if found is not None:
            return found
        return fetch_summary(self.client, fut)

    def _handle(self, fut: Any) -> None:
        task = self.watch.pop(fut)
        failed = fut.status == "error"
        error = self._error(task, fut.exception()) if failed else None
        value = None if failed else self._summary(fut)
        if isinstance(value, dict):  # its operator, or an ancestor's, raised (_ops.Failed)
            failed, error, value = True, value["error"], None
        if task.node is None:
            self.pool.finished(task, fut)
            self._leaves_done(task.info, error, value)
            return
        key, req = task.node, task.info
        del self.live[key]
        del self.node_tasks[key]
        bundle = None
        if failed:
            if not isinstance(error, Lost):
                self.trace.mark("fail", key, req, error=error)
        else:
            held: Any = fut
            if task.inner:
                bundle = Bundle(fut, task.worker, self.runner._extract)
                held = Part(bundle, ())
            admitted = self._finish(key, value[0], value[1], held, value[4])
            if bundle is not None:
                bundle.offered(key, (), admitted)
        if key in self.ahead:
            if key in self.cache:  # its requests will find it there
                self.ahead.discard(key)
            else:
                self.held[key] = fut
        self.pool.finished(task, fut)
        if task.leaves is not None:
            self._leaves_done(task.leaves, error, None if failed else value[2])
        if task.inner:
            self._inner_done(task.inner, fut, bundle, (), error, None if failed else value[3])

    def _error(self, task: Pooled, exc: BaseException) -> str:
        """A task's error text; a worker that died running it (Dask's ``KilledWorker``: over its
        memory limit, or killed) says so, naming the stage."""
        if type(exc).__name__ == "KilledWorker":
            return (f"stage '{self._stage_of(task)}' failed: the worker computing it died (over "
                    f"Dask's memory limit, or killed): {exc}")
        return str(exc)

    def _finish(self, key: str, seconds: float, nbytes: int, held: Any,
                info: dict | None = None) -> bool:
        self.shaper.costs.add(self.nodes[key].task, seconds)  # what sizes the tasks to come
        return super()._finish(key, seconds, nbytes, held, info)

    def _inner_done(self, absorbed: list[Absorbed], fut: Any, bundle: Bundle | None,
                    path: tuple[int, ...], error: str | None, values: Any) -> None:
        """Inner nodes computed in another node's task (``fut``): each timed, traced and offered
        to the cache as a part of it; ``values`` is None when an ancestor failed."""
        for j, a in enumerate(absorbed):
            out = error if values is None else values[j]
            here = (*path, j)
            del self.live[a.key]
            del self.node_tasks[a.key]
            self.absorbed -= 1
            # a later reader is sent the bundle and picks this part (or its error) on its worker
            self.pool.resolved(a.key, fut if bundle is None else Part(bundle, here),
                               self.pool.where.get(self.nodes[a.key].parents[0]))
            if isinstance(out, str):
                if values is not None and not isinstance(out, Lost):
                    self.trace.mark("fail", a.key, a.req, error=out)
                self._leaves_done(a.leaves or [], out, None)
                self._inner_done(a.inner, fut, bundle, here, out, None)
                continue
            assert bundle is not None
            admitted = self._finish(a.key, out[0], out[1], Part(bundle, here), out[4])
            bundle.offered(a.key, here, admitted)
            self._leaves_done(a.leaves or [], None, out[2])
            self._inner_done(a.inner, fut, bundle, here, None, out[3])

    def _leaves_done(self, started: list, error: str | None, value: Any) -> None:
        """Leaves' results; ``value`` is None when their whole task failed, which is always an
        ancestor's failure (``run_leaves`` catches each leaf's own), recorded by that task."""
        for j, (i, r) in enumerate(started):
            out = error if value is None else value[j]
            if self.recovery.hold(i, r, out):
                continue
            if isinstance(out, str):
                self.ready.append((i, {"error": str(out)}))
                if value is not None:
                    self.trace.mark("fail", self.requests[i].leaf, r, error=out)
            else:
                seconds, result, info = out
                self.ready.append((i, result))
                self._finish(self.requests[i].leaf, seconds, 0, None, info)
