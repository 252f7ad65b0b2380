"""The Runner: executes merged DAGs on Dask (or in-process, as the reference oracle).

State of one execution, in prose (as dask/local.py does it):

* ``requests`` — (leaf, fold) paths, started in depth-first order of the DAG. A new request is
  started while fewer than ``2 * max_in_flight`` tasks are *runnable* (their parents are
  finished: sent to a worker, or ready in the pool) and fewer than ``4 * max_in_flight`` inner
  nodes are live. Requests that wait behind shared live work cost no compute and hold no
  intermediate data, so they do not hold back the next ones: otherwise all active requests of a
  depth-first order would queue behind the same expensive prefix node and the cluster would
  compute the costliest nodes one at a time. The bound on live inner nodes keeps intermediate
  results near the cache capacity instead of growing with the number of candidates. With
  ``max_in_flight=1`` requests run strictly one after another.
* ``live`` — inner nodes started and not finished yet, by key. A request that needs one of them
  *shares* it instead of starting it again.
* ``pool`` — tasks the Runner holds until their parents are finished and a worker has room
  (``_dispatch``): it binds each task to a worker only then, at most ``max_in_flight`` in all,
  highest priority first (the node that unlocks the most requests; leaves last), near its
  parents' data where it can. Handing Dask every task at once pinned a fold's subtree to one
  worker and queued costly first-stage nodes behind leaves (``_dispatch`` says more).
* ``ahead`` — each fold's first-stage nodes (the children of the splits) are started ahead of the
  depth-first order, ``max_in_flight // 2`` unclaimed at a time (one per thread by default): the
  depth-first order reached the last fold's first stage late, and with front-loaded pipelines
  that costly node then ran alone at the end. A node started ahead is held until a request
  claims it, even when the cache does not admit it: that many results beyond the cache.
* ``cache`` — finished nodes the policy admitted: values (sync) or futures (Dask). Holding a
  future keeps its data on a worker; when a node finishes and is neither admitted nor awaited
  by a task in the pool, the Runner drops its future, and Dask frees the data once the tasks
  already sent that read it are done.

Starting a request resolves its leaf (``dagreuse.cache.resolve``, shared with the simulator):
a node that is live is shared, a cached one is a hit, any other is added to the pool after its
parents, with their futures (or placeholders, for parents not finished) as arguments, so data
moves from worker to worker, never through the client. For a chain that is: reuse the deepest
live or cached node of the path, compute the rest. Each finished node is timed and sized on the
worker and offered to the cache; the worker sends that summary (and a leaf's scores) to the
client as a Dask worker event ahead of the task's completion, so the client needs neither the
node's data nor a second task or round trip. A node that raises fails every request below it;
they get the error text, the others go on.

Consecutive requests whose leaves share their parents start together and their leaves run as one
Dask task (each leaf still timed, traced and failing on its own), sized to about
``LEAF_TASK_SECONDS`` of the leaf work measured so far; until a leaf has been measured, the
siblings are spread over ``max_in_flight`` tasks, and with ``max_in_flight=1`` every leaf is its
own task. When such a group holds every child of a node, it is *fused* into that node's task
(``_ops.run_fused``): one Dask task less per such node, and the leaves read their parent's data
where it was made (interleaved runs of the bench workloads, fused against not: text walls 6%
lower, median of 28 pairs, 22 of them lower; demo 3.5% lower, 5 pairs of 5). Both are decided
when a task is sent (``reshape``), not when its requests start: requests start well ahead of
their leaves' parents, mostly before any leaf has been measured, and deciding then made 42 of
the text workload's 81 tasks leaf groups too small to fuse. Decided at sending: 52-53 tasks,
and the runner overhead of bench/reuse.py 1.8 against 2.5 ms per node (medians of 10 runs a
side, processes alternated; 0.9 against 1.4 ms beyond the nodes' compute).
The input data is scattered to every worker, so the fold splits start wherever there is room;
it stays there until the Runner closes, so later executions on the same data do not resend it.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import math
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from dagreuse.cache import COSTS, Cache, Policy, Trace, WReciprocal, resolve

from . import _ops
from ._dag import DAG, Request
from ._dispatch import Pool, Pooled, Wait
from ._memory import retain_freed_memory

__all__ = ["Runner"]

#: Leaves sharing their parents run several to a Dask task, about this many measured seconds of
#: work each: Dask costs a few ms per task (bench/reuse.py, runner overhead), which on ~30 ms leaves
#: kept the scheduler busy enough to starve the workers.
LEAF_TASK_SECONDS = 0.4
MAX_LEAVES_PER_TASK = 16
#: How often an execution re-reads the cluster's workers (joined or gone) to send tasks to.
WORKERS_SECONDS = 1.0

_SCHEDULERS = ("distributed", "sync")


class Runner:
    """Execute merged DAGs with a bounded cache of intermediate results.

    Parameters
    ----------
    cache:
        A dagreuse.cache policy carrying its capacity, e.g. ``WReciprocal("512MB")``. Default:
        WReciprocal with a quarter of the cluster's worker memory.
    scheduler:
        ``"distributed"`` (default) or ``"sync"``, the in-process sequential reference oracle.
    client:
        An existing ``distributed.Client`` to run on any Dask cluster; the Runner does not
        close it.
    n_workers, threads_per_worker, processes:
        For the local cluster the Runner starts when no client is given. Default: one
        in-process worker with a thread per core. While the Runner is open, the processes it
        computes in (its own cluster's, or this one with ``scheduler="sync"``) keep the memory
        nodes free for the next nodes (:func:`retain_freed_memory`); a given client's cluster
        is left as it is.
    cost:
        What the policy weighs as a result's cost: ``"own"`` compute seconds, or
        ``"recompute"`` — own plus those of its uncached ancestors (DESIGN §5).
    max_in_flight:
        Tasks on the workers at once (see the module docstring); default: twice the cluster's
        threads. ``1`` runs requests strictly one after another.
    """

    def __init__(
        self,
        cache: Policy | None = None,
        *,
        scheduler: str = "distributed",
        client: Any = None,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool = False,
        max_in_flight: int | None = None,
        cost: str = "own",
    ):
        if scheduler not in _SCHEDULERS:
            raise ValueError(
                f"The 'scheduler' parameter of Runner must be one of {_SCHEDULERS}. "
                f"Got {scheduler!r} instead."
            )
        if cache is not None and not isinstance(cache, Policy):
            raise TypeError(
                "The 'cache' parameter of Runner must be a dagreuse.cache policy such as "
                f"WReciprocal('512MB'), Unbounded() or NoCache(). Got {cache!r} instead."
            )
        for name, v in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker),
                        ("max_in_flight", max_in_flight)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(
                    f"The {name!r} parameter of Runner must be an int >= 1 or None. Got {v!r} instead."
                )
        if getattr(cache, "offline", False):
            raise TypeError(
                f"The 'cache' parameter of Runner cannot be {type(cache).__name__}: it needs the "
                "future and exists only in simulation (dagreuse.cache.simulate)."
            )
        if cost not in COSTS:
            raise ValueError(
                f"The 'cost' parameter of Runner must be one of {COSTS}. Got {cost!r} instead."
            )
        if scheduler == "sync" and client is not None:
            raise ValueError("The 'client' parameter of Runner cannot be used with scheduler='sync'.")
        self.scheduler = scheduler
        self.policy = cache
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.processes = processes
        self.max_in_flight = max_in_flight
        self.cost = cost
        self.client = client
        self._own_cluster = None
        self._held: contextlib.ExitStack | None = None  # BLAS limits, retained memory
        self._cache: Cache | None = None
        self._trace: Trace | None = None
        self._data: tuple[str, Any] | None = None  # (data key, its scattered future)
        # Dask keys are global to a scheduler: a token of this Runner's keeps its task names
        # apart from another Runner's (or client's) tasks for the same nodes, which Dask would
        # otherwise take for the same task and answer with that one's result
        self._ids = itertools.count()
        self._token = uuid.uuid4().hex[:8]

    # -- life cycle ---------------------------------------------------------------------------
    def __enter__(self) -> Runner:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def start(self) -> Runner:
        """Start the local cluster (when needed) and the cache; idempotent."""
        if self.scheduler == "sync" and self._held is None:
            self._held = contextlib.ExitStack()
            self._held.enter_context(retain_freed_memory())
        if self.scheduler == "distributed" and self.client is None:
            from distributed import Client, LocalCluster

            self._held = contextlib.ExitStack()
            cores = os.cpu_count() or 1
            n = self.n_workers or (1 if not self.processes else min(cores, 2))
            threads = self.threads_per_worker or max(1, cores // n)
            if not self.processes and threads > 1:
                # One BLAS thread per Dask thread, as Dask's worker processes get by default:
                # otherwise every thread's numpy calls compete for the same cores.
                from threadpoolctl import threadpool_limits

                self._held.enter_context(threadpool_limits(1))
            self._own_cluster = LocalCluster(
                n_workers=n, threads_per_worker=threads, processes=self.processes,
                dashboard_address=None, silence_logs=logging.ERROR,
            )
            self.client = Client(self._own_cluster, set_as_default=False)
            # the processes are the Runner's: they keep freed memory for the next nodes
            self._held.enter_context(retain_freed_memory(self.client))
        if self._cache is None:
            policy = self.policy or WReciprocal(self._default_capacity())
            self._cache = Cache(policy, on_evict=self._on_evict, cost=self.cost)
        return self

    def close(self) -> None:
        """Drop cached results and close the cluster this Runner started (not a given client)."""
        if self._cache is not None:
            self._cache.clear()
        self._data = None
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._own_cluster is not None:
            self.client.close()
            self._own_cluster.close()
            self._own_cluster = None
            self.client = None

    @property
    def cache(self) -> Cache:
        """The store shared by every execution of this Runner (reuse across runs)."""
        self.start()
        return self._cache

    @property
    def n_threads(self) -> int:
        if self.client is None:
            return 1
        return sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values()) or 1

    def _default_capacity(self) -> int:
        if self.client is not None:
            limits = [w.get("memory_limit") or 0
                      for w in self.client.scheduler_info()["workers"].values()]
            if sum(limits):
                return int(sum(limits) / 4)
        import psutil

        return int(psutil.virtual_memory().total / 4)

    def _scattered(self, dag: DAG) -> Any:
        """The input data on every worker, sent once per Runner and dataset: a search that
        executes several batches (rungs, ask/tell rounds) on the same data ships it once."""
        key, fut = self._data or (None, None)
        if key != dag.root or fut.status != "finished":  # another dataset, or its workers died
            [fut] = self.client.scatter([(dag.X, dag.y)], hash=False, broadcast=True)
            self._data = (dag.root, fut)
        return fut

    def _on_evict(self, key: str) -> None:
        if self._trace is not None:
            self._trace.mark("evict", key)

    # -- execution ----------------------------------------------------------------------------
    def execute(self, dag: DAG, trace: Trace | None = None) -> list[dict[str, Any]]:
        """Run every request of ``dag``; return one result dict per request, in order.

        A result is ``{"test": {...}, "train": {...} | None, "fit_time", "score_time"}`` or
        ``{"error": text}``. Events are appended to ``trace`` (a new one when omitted).
        """
        self.start()
        self._trace = trace if trace is not None else Trace()
        self._trace.meta.setdefault("policy", repr(self._cache.policy))
        self._trace.meta.setdefault("capacity", self._cache.capacity)
        self._trace.meta.setdefault("cost", self.cost)
        self._trace.meta.setdefault("seed", getattr(self._cache.policy, "seed", None))
        self._trace.meta.setdefault("scheduler", self.scheduler)
        self._trace.meta.setdefault("stages", ["split", *dag.stages])
        for key, node in dag.nodes.items():
            self._trace.node(key, stage=node.stage, parents=node.parents, leaf=node.leaf)
        t0 = time.perf_counter()
        try:
            run = self._execute_sync if self.scheduler == "sync" else self._execute_dask
            results = run(dag)
        finally:
            self._trace.meta["wall_seconds"] = (
                self._trace.meta.get("wall_seconds", 0.0) + time.perf_counter() - t0
            )
            self._trace.meta["cache_stats"] = self._cache.stats()
        return results

    def _begin(self, request: Request) -> int:
        return self._trace.request(request.path, configs=request.configs, fold=request.fold)

    def _resolve(self, dag: DAG, req: int | None, key: str, compute, root, live=None) -> Any:
        """Make node ``key`` available for request ``req`` (``None``: a node started ahead of
        its requests), with ``cache.resolve``: share, hit or compute."""
        return resolve(key, parents=lambda k: dag.nodes[k].parents,
                       leaf=lambda k: dag.nodes[k].leaf, cache=self._cache, compute=compute,
                       mark=lambda ev, k: self._trace.mark(ev, k, req), root=root, live=live)

    def _finish(self, key: str, out: Any, held: Any) -> None:
        """A node finished: record its cost and offer ``held`` (value or future) to the cache."""
        self._trace.computed(key, out[0], out[1])
        if not self._trace.nodes[key]["leaf"]:
            self._cache.offer_computed(key, held, out[1], out[0], self._trace.parents,
                                       self._trace.seconds)

    def _execute_sync(self, dag: DAG) -> list[dict[str, Any]]:
        results = []
        for request in dag.requests:
            req = self._begin(request)

            def compute(key: str, args: list, req: int = req) -> Any:
                try:
                    out = _ops.run(dag.nodes[key].task, *args)
                except _ops.NodeFailed as exc:
                    self._trace.mark("fail", key, req, error=str(exc))
                    raise
                self._finish(key, (out.seconds, out.nbytes), out)
                return out

            try:
                results.append(self._resolve(dag, req, request.leaf, compute, (dag.X, dag.y)).value)
            except _ops.NodeFailed as exc:
                results.append({"error": str(exc)})
        return results

    def _execute_dask(self, dag: DAG) -> list[dict[str, Any]]:
        from distributed import as_completed

        client = self.client
        limit = self.max_in_flight or 2 * self.n_threads
        data = self._scattered(dag)
        results: list[dict[str, Any] | None] = [None] * len(dag.requests)
        pool = Pool(limit, prepare=lambda task: reshape(task))
        live: dict[str, Wait] = {}  # inner node not finished (in the pool or on a worker)
        ahead = pool.pinned  # nodes started ahead that no request has claimed yet
        held: dict[str, Any] = {}  # those of them finished -> future
        shared = collections.ChainMap(live, held)  # what a starting request shares
        claimed: set[str] = set()  # nodes a started request needs
        watch: dict[Any, Pooled] = {}  # future -> its task
        leaf_seconds = [0, 0.0]  # leaves finished, their total seconds

        def most(siblings: int) -> int:
            """Leaves per task: about LEAF_TASK_SECONDS of the leaf work measured so far; before
            any is, the siblings spread over ``limit`` tasks (as many as may run at once)."""
            if limit == 1:
                return 1
            n, total = leaf_seconds
            k = round(LEAF_TASK_SECONDS * n / max(total, 1e-9)) if n else -(-siblings // limit)
            return max(1, min(MAX_LEAVES_PER_TASK, k))

        jobs = _jobs(dag, 1 if limit == 1 else MAX_LEAVES_PER_TASK)
        whole: dict[str, Pooled] = {}  # node -> the leaf group here that holds all its children
        # What each task's worker reports (``_ops.reported``): a node's cost, a leaf's scores. One
        # topic per Runner: the scheduler keeps every topic it has seen until it closes
        topic = f"dagreuse-{self._token}"
        reports: dict[str, Any] = {}
        client.subscribe_topic(topic, lambda ev: reports.__setitem__(ev[1]["name"], ev[1]["summary"]))
        # priority: the node that unlocks the most requests first, leaves last (module docstring)
        below = collections.Counter(k for r in dag.requests for k in r.path[:-1])
        # each fold's first-stage nodes, in the order requests first need them (look-ahead)
        heads = iter([k for k in dict.fromkeys(k for r in dag.requests for k in r.path)
                      if not dag.nodes[k].leaf and dag.nodes[k].parents
                      and all(not dag.nodes[p].parents for p in dag.nodes[k].parents)])
        ac = as_completed(loop=client.loop, raise_errors=False)

        def task_name(key: str) -> str:
            return f"{dag.nodes[key].stage}-{key[:10]}-{self._token}-{next(self._ids)}"

        def pool_node(key: str, args: list, req: int | None) -> Wait:
            node = dag.nodes[key]
            pool.add(task_name(key), _ops.run, node.task, args, node.parents, below[key], key, req)
            live[key] = Wait(key)
            if req is None:
                ahead.add(key)
            return live[key]

        def claim(keys: list[str]) -> None:
            claimed.update(keys)
            for k in keys:
                if k in ahead:
                    ahead.discard(k)
                    held.pop(k, None)
                    pool.release(k)

        def want_more() -> bool:
            # ready tasks wait in the pool at no cost to the cluster: up to ``limit`` of them
            # beside those in flight, so that the pool has a choice (never with limit 1)
            return len(live) < 4 * limit and pool.runnable() < (limit if limit == 1 else 2 * limit)

        def start_next() -> bool:
            job = next(jobs, None)
            if job is None:
                return False
            started, args = [], None
            for i in job:
                request = dag.requests[i]
                req = self._begin(request)

                def compute(key: str, a: list, req: int = req) -> Any:
                    nonlocal args
                    if not dag.nodes[key].leaf:
                        return pool_node(key, a, req)
                    args = a  # the same for every request of the job: they share the parents
                    return None

                self._resolve(dag, req, request.leaf, compute, data, shared)
                started.append((i, req))
                claim(request.path)
            first = dag.requests[job[0]].leaf
            tasks = [dag.nodes[dag.requests[i].leaf].task for i in job]
            parents = dag.nodes[first].parents
            group = pool.add(task_name(first), _ops.run_leaves, tasks, args, parents, 0,
                             info=started)
            if len(parents) == 1 and len(job) == len(dag.nodes[parents[0]].children):
                whole[parents[0]] = group
            return True

        def reshape(task: Pooled) -> None:
            """Size a task as it is sent, from the leaves measured by then: a group of leaves
            sends ``most`` of them and leaves the rest in the pool; a node whose children are
            all in one group that fits in a task takes them into its own (module docstring)."""
            if task.node is None:
                n = len(task.payload)
                k = _first_part(n, most(len(dag.nodes[task.parents[0]].children)))
                if k < n:
                    rest = pool.add(task_name(dag.requests[task.info[k][0]].leaf),
                                    _ops.run_leaves, task.payload[k:], task.args, task.parents, 0,
                                    info=task.info[k:])
                    rest.seq = task.seq  # the siblings stay next in line
                    task.payload, task.info = task.payload[:k], task.info[:k]
                return
            group = whole.pop(task.node, None)
            if group is not None and group in pool.tasks and most(len(group.payload)) >= len(
                    group.payload):
                pool.remove(group)
                task.fn, task.payload = _ops.run_fused, (task.payload, group.payload)
                task.leaves = group.info

        def look_ahead() -> None:
            """Put the next first-stage nodes no request has reached into the pool, up to
            ``limit // 2`` unclaimed at a time: the depth-first order reaches the last fold's
            first stage late, and that costly node then ran while the other workers idled."""
            while len(ahead) < limit // 2:
                key = next(heads, None)
                if key is None:
                    return
                if key in claimed or key in live or key in self._cache:
                    continue
                self._resolve(dag, None, key, lambda k, a: pool_node(k, a, None), data, shared)

        seen: list[Any] = [-math.inf, {}]  # when the workers were read; worker -> threads

        def workers() -> dict[str, int]:
            """The cluster's workers, re-read at most every WORKERS_SECONDS: each read is a round
            trip to the scheduler (``Client.scheduler_info``)."""
            if time.monotonic() - seen[0] > WORKERS_SECONDS or not seen[1]:
                info = client.scheduler_info()["workers"]
                seen[:] = [time.monotonic(), {w: i["nthreads"] for w, i in info.items()}]
            return seen[1]

        def dispatch() -> None:
            if not workers() and not watch:
                client.wait_for_workers(1)
            for task, worker, args in pool.take(workers()):
                fut = client.submit(_ops.reported, topic, task.name, task.fn, task.payload, *args,
                                    key=task.name, pure=False, priority=task.priority,
                                    workers=[worker], allow_other_workers=True)
                watch[fut] = task
                ac.add(fut)

        def summary(fut: Any) -> Any:
            """A finished task's summary: its worker's report arrives before the task's completion
            (one stream, in order), so the fetch is a fallback only."""
            found = reports.pop(fut.key, None)
            return found if found is not None else client.submit(_ops.summary, fut).result()

        def handle(fut: Any) -> None:
            task = watch.pop(fut)
            failed = fut.status == "error"
            error = str(fut.exception()) if failed else None
            value = None if failed else summary(fut)
            if task.node is None:
                pool.finished(task, fut)
                leaves_done(task.info, error, value)
                return
            key, req = task.node, task.info
            del live[key]
            if failed:
                self._trace.mark("fail", key, req, error=error)
            else:
                self._finish(key, value[:2], fut)
            if key in ahead:
                if key in self._cache:  # its requests will find it there
                    ahead.discard(key)
                else:
                    held[key] = fut
            pool.finished(task, fut)
            if task.leaves is not None:
                leaves_done(task.leaves, error, None if failed else value[2])

        def leaves_done(started: list, error: str | None, value: Any) -> None:
            for j, (i, r) in enumerate(started):
                leaf = dag.requests[i].leaf
                out = error if value is None else value[j]
                if isinstance(out, str):
                    results[i] = {"error": out}
                    if _ops.failed_at(out, dag.nodes[leaf].stage):
                        # an ancestor's failure is recorded when its own task fails
                        self._trace.mark("fail", leaf, r, error=out)
                else:
                    seconds, results[i] = out
                    leaf_seconds[0] += 1
                    leaf_seconds[1] += seconds
                    self._finish(leaf, (seconds, 0), None)

        def step() -> None:
            while want_more() and start_next():
                pass
            look_ahead()
            dispatch()

        try:
            step()
            for batch in ac.batches():
                for fut in batch:
                    handle(fut)
                step()
        finally:
            client.unsubscribe_topic(topic)
            for fut in list(watch):
                fut.cancel()
            live.clear()
            pool.clear()
        return results

    def __repr__(self) -> str:
        where = "sync" if self.scheduler == "sync" else (self.client or "local cluster (not started)")
        return f"Runner(cache={self.policy!r}, {where})"


def _jobs(dag: DAG, most: int) -> Iterator[list[int]]:
    """Request indices in order, one list per group started together: consecutive requests
    whose leaves share their parents, split evenly into groups of at most ``most``."""
    i, n = 0, len(dag.requests)
    while i < n:
        parents = dag.nodes[dag.requests[i].leaf].parents
        end = i + 1
        while end < n and dag.nodes[dag.requests[end].leaf].parents == parents:
            end += 1
        while i < end:
            k = _first_part(end - i, most)
            yield list(range(i, i + k))
            i += k


def _first_part(n: int, most: int) -> int:
    """The size of the first part when ``n`` items are split evenly into parts of at most
    ``most``: ceil(n / ceil(n / most))."""
    return -(-n // -(-n // most))
