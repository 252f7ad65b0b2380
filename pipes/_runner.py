"""The Runner: executes merged DAGs on Dask (or in-process, as the reference oracle).

A Runner owns what outlives one execution — the cluster it started (or the client it was given),
the cache, the input data already sent to the workers — and opens *sessions* on it
(:meth:`Runner.open`): an open execution that accepts DAGs while earlier requests run and
reports each request's result as it completes (``_session`` says more; ``_execution`` holds the
Dask executor's state). :meth:`Runner.execute` runs one DAG in a session of its own.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import sys
import uuid
import warnings
from typing import Any

import dask

from dagreuse.cache import COSTS, Cache, DiskCache, Policy, Trace, WReciprocal, require

from . import _gpus, _ops
from ._bundles import Bundle, Part
from ._dag import DAG
from ._granularity import Costs
from ._memory import retain_freed_memory
from ._session import Session, SyncSession

__all__ = ["Runner"]


def _bootstrapping() -> bool:
    """Whether this is a spawned process importing its parent's main script (the condition
    under which multiprocessing refuses to start processes)."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


_SCHEDULERS = ("distributed", "sync")
# Dask's scheduler lives in this process with a local cluster and keeps, per worker stream and
# per event topic, its last ``low-level-log-length`` messages, each with its tasks' payloads
# (1,000 by default: tens of MB on a long search of small tasks); the Runner's own cluster keeps
# the last 50, which is all a post-mortem needs
LOCAL_CLUSTER_CONFIG = {"distributed.admin.low-level-log-length": 50}


def _check(cache: Any, scheduler: Any, client: Any, n_workers: Any, threads_per_worker: Any,
           max_in_flight: Any, cost: Any, dashboard: Any, gpus: Any, disk: Any) -> None:
    """Runner's arguments, each refused with what is allowed before anything starts."""
    if not isinstance(scheduler, str) or scheduler not in _SCHEDULERS:
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
    if not isinstance(cost, str) or cost not in COSTS:
        raise ValueError(
            f"The 'cost' parameter of Runner must be one of {COSTS}. Got {cost!r} instead."
        )
    if scheduler == "sync" and client is not None:
        raise ValueError("The 'client' parameter of Runner cannot be used with scheduler='sync'.")
    if not isinstance(dashboard, bool) or (dashboard and scheduler == "sync"):
        raise ValueError(
            "The 'dashboard' parameter of Runner must be True or False, and False with "
            f"scheduler='sync' (no cluster). Got {dashboard!r} instead."
        )
    if disk is not None and not isinstance(disk, DiskCache):
        raise TypeError("The 'disk' parameter of Runner must be a dagreuse.cache.DiskCache "
                        f"such as DiskCache('~/.cache/dagreuse', '20GB'). Got {disk!r}.")
    _gpus.check_gpus(gpus)
    if gpus not in ("auto", 0) and (client is not None or scheduler == "sync"):
        raise ValueError(
            "The 'gpus' parameter of Runner starts GPU workers in the Runner's own local "
            f"cluster, so it must be 'auto' or 0 with a client or scheduler='sync'. Got {gpus!r}.")
    if dashboard and client is None:
        require("bokeh", "The Dask dashboard")  # before any cluster starts


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
        For the local cluster the Runner starts when no client is given. Default: a
        single-thread worker process per core, as Dask's own default. Threads of one process
        (``processes=False``: one worker, a thread per core) start ~4 s sooner and move no
        data between processes, but most scikit-learn operators hold the GIL for much of
        their work, and threads that compete for it ran a fine-grained search 2x slower than
        processes, and slower than the one-thread sync oracle (bench/finegrained.py,
        bench/NOTES.md). A script must guard its search with ``if __name__ == "__main__":``
        (the processes import it); unguarded, the Runner warns and uses threads. While the
        Runner is open, the processes it computes in (its own cluster's, or this one with
        ``scheduler="sync"``) keep the memory nodes free for the next nodes
        (:func:`retain_freed_memory`); a given client's cluster is left as it is.
    cost:
        What the policy weighs as a result's cost: ``"own"`` compute seconds, or
        ``"recompute"`` — own plus those of its uncached ancestors (DESIGN §5).
    max_in_flight:
        Tasks on the workers at once (``pipes/_execution.py`` says how requests are admitted);
        default: twice the cluster's threads. ``1`` runs requests strictly one after another.
    known_future:
        Let the cache see the requests submitted and not finished (and those a search expects
        to build on): it evicts what none of them needs first (``dagreuse.cache.Cache``).
        ``False`` gives the plain policy, for comparison.
    dashboard:
        Start the Dask dashboard with the local cluster (on a free port; it needs ``bokeh``)
        and print its link; with a given ``client``, print that cluster's link.
    gpus:
        GPU workers to start beside the local cluster's CPU workers: ``"auto"`` (default) one
        single-threaded worker per visible CUDA device (none on a machine without), an int
        for that many, ``0`` for none. With a given ``client`` the cluster's own GPU workers
        (those with a ``GPU`` resource) are used. Torch stages whose ``device`` is ``"cuda"``
        run on them; where there are none they run on CPU, with one warning (``_gpus``).
    disk:
        A :class:`dagreuse.cache.DiskCache`: the persistent tier behind ``cache``. Every inner
        result that cost at least its ``min_seconds`` is written there as well (by the worker
        that holds it, off the critical path), and a node missing in memory is read from there
        before it is recomputed — so a later run, in this process or another, reuses it. Its
        directory must be one every worker can read (a local cluster's, or a shared one).
    """

    def __init__(
        self,
        cache: Policy | None = None,
        *,
        scheduler: str = "distributed",
        client: Any = None,
        n_workers: int | None = None,
        threads_per_worker: int | None = None,
        processes: bool | None = None,
        max_in_flight: int | None = None,
        cost: str = "own",
        known_future: bool = True,
        dashboard: bool = False,
        gpus: int | str = "auto",
        disk: DiskCache | None = None,
    ):
        _check(cache, scheduler, client, n_workers, threads_per_worker, max_in_flight, cost,
               dashboard, gpus, disk)
        self.scheduler = scheduler
        self.policy = cache
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.processes = processes
        self.processes_used: bool | None = None  # what the local cluster it started runs
        self.max_in_flight = max_in_flight
        self.cost = cost
        self.known_future = bool(known_future)
        self.dashboard = dashboard
        self.gpus = gpus
        self.disk = disk
        self.client = client
        self._own_cluster = None
        self._devices: list[str] = []  # the CUDA devices of the GPU workers it started
        self._held: contextlib.ExitStack | None = None  # BLAS limits, retained memory
        self._costs = Costs()  # measured node seconds by stage and level, across sessions
        self._cache: Cache | None = None
        self._trace: Trace | None = None
        self._data: tuple[str, Any] | None = None  # (data key, its scattered future)
        self._session: Session | None = None
        self._ids = itertools.count()  # task names (``_task_name``)
        self._token = uuid.uuid4().hex[:8]
        self._topic = f"dagreuse-{self._token}"  # where workers report finished tasks

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
            from distributed import Client

            self._held = contextlib.ExitStack()
            self._held.enter_context(dask.config.set(LOCAL_CLUSTER_CONFIG))
            self._devices = _gpus.devices_for(self.gpus)
            self._own_cluster = self._local_cluster()
            self.client = Client(self._own_cluster, set_as_default=False)
            if self._devices:
                _gpus.add_gpu_workers(self._own_cluster, self.client, self._devices)
            # the processes are the Runner's: they keep freed memory for the next nodes
            self._held.enter_context(retain_freed_memory(self.client))
            if self.dashboard:
                print(f"Dask dashboard: {self.client.dashboard_link}", file=sys.stderr)
        elif self.dashboard and self._cache is None:
            print(f"Dask dashboard: {self.client.dashboard_link}", file=sys.stderr)
        if self._cache is None:
            policy = self.policy or WReciprocal(self._default_capacity())
            self._cache = Cache(policy, on_evict=self._on_evict, cost=self.cost)
        return self

    def close(self) -> None:
        """Drop cached results and close the cluster this Runner started (not a given client)."""
        if self._session is not None:
            self._session.close()
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

    def _local_cluster(self) -> Any:
        """The local cluster (``processes`` in the class docstring). Worker processes are
        spawned: they import the caller's ``__main__``, so an unguarded script would start a
        Runner again in each of them. There, that Runner refuses at once; the parent, which
        did not ask for processes, warns and computes in threads instead."""
        processes = True if self.processes is None else self.processes
        if processes and _bootstrapping():
            raise RuntimeError(
                "A Runner was started while a Dask worker process was importing the main "
                "script: guard the script's search with `if __name__ == '__main__':`.")
        try:
            return self._start_local(processes)
        except RuntimeError as exc:  # distributed: "Nanny failed to start."
            if self.processes is not None or not processes:
                raise
            warnings.warn(
                f"Runner: worker processes did not start ({exc}); computing in threads of this "
                "process instead. A script that starts a Runner must guard its search with "
                "`if __name__ == '__main__':` (worker processes import it), or pass "
                "processes=False.", RuntimeWarning, stacklevel=4)
            return self._start_local(False)

    def _start_local(self, processes: bool) -> Any:
        import dask
        from distributed import LocalCluster

        cores = os.cpu_count() or 1
        # a thread per core in all: one worker process per core, or one in-process worker
        per_process = max(1, cores // (self.threads_per_worker or 1))
        n = self.n_workers or (per_process if processes else 1)
        threads = self.threads_per_worker or max(1, cores // n)
        if not processes and threads > 1:
            # One BLAS thread per Dask thread, as Dask's worker processes get by default:
            # otherwise every thread's numpy calls compete for the same cores.
            from threadpoolctl import threadpool_limits

            self._held.enter_context(threadpool_limits(1))
        self.processes_used = processes
        # no statistical profiler in the workers (it feeds the dashboard, which this cluster
        # does not start): it samples every task thread's stack every 10 ms, which slowed
        # scikit-learn's small Python-heavy nodes by 10-20% (bench/NOTES.md)
        # nor work stealing beside GPU workers: it moved CPU nodes onto them (_gpus)
        with dask.config.set({"distributed.worker.profile.enabled": False,
                              "distributed.scheduler.work-stealing": not self._devices}):
            return LocalCluster(n_workers=n, threads_per_worker=threads, processes=processes,
                                dashboard_address=":0" if self.dashboard else None,
                                silence_logs=logging.ERROR)

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

    def _scattered(self, dag: Any, again: bool = False) -> Any:
        """The input data (of a DAG or its problem) on every worker, sent once per Runner and
        dataset: a search that executes several batches (rungs, ask/tell rounds) on the same
        data ships it once. ``again``: send it anew (its only copy may have died, _lost)."""
        key, fut = self._data or (None, None)
        if again or key != dag.root or fut.status != "finished":  # another dataset, or lost
            [fut] = self.client.scatter([(dag.X, dag.y)], hash=False, broadcast=True)
            self._data = (dag.root, fut)
        return fut

    def _on_evict(self, key: str, value: Any) -> None:
        if self._trace is not None:
            self._trace.mark("evict", key)
        if isinstance(value, Part):
            value.bundle.left(key)

    def _extract(self, bundle: Bundle, key: str, path: tuple[int, ...]) -> None:
        """Give cached node ``key``, a part of ``bundle``, a future of its own (``_bundles``)."""
        workers = None if bundle.worker is None else [bundle.worker]
        fut = self.client.submit(_ops.part, bundle.future, path, key=self._task_name("part", key),
                                 workers=workers, allow_other_workers=True, pure=False)
        self._cache.rebind(key, fut)

    # -- execution ----------------------------------------------------------------------------
    def open(self, trace: Trace | None = None) -> Session:
        """Open a session: submit DAGs to it while earlier requests run, ``wait`` for results as
        they complete, close it (a context manager). Its events go to ``trace`` (a new one when
        omitted). One session at a time per Runner; the cache is shared by all of them."""
        self.start()
        if self._session is not None:
            raise RuntimeError("This Runner already has an open session; close it first.")
        self._trace = trace if trace is not None else Trace()
        if self.scheduler == "sync":
            self._session = SyncSession(self, self._trace)
        else:
            from ._execution import DaskSession

            self._session = DaskSession(self, self._trace)
        return self._session

    def execute(self, dag: DAG, trace: Trace | None = None) -> list[dict[str, Any]]:
        """Run every request of ``dag``; return one result dict per request, in order.

        A result is ``{"test": {...}, "train": {...} | None, "fit_time", "score_time"}`` or
        ``{"error": text}``. Events are appended to ``trace`` (a new one when omitted).
        """
        results: list[dict[str, Any] | None] = [None] * len(dag.requests)
        with self.open(trace) as session:
            first = session.submit(dag)[0]
            for i, result in session.results():
                results[i - first] = result
        return results

    def _task_name(self, stage: str, key: str) -> str:
        """A Dask key for a node's task: Dask keys are global to a scheduler, so this Runner's
        token keeps its tasks apart from another Runner's (or client's) tasks for the same nodes,
        which Dask would otherwise take for the same task and answer with that one's result."""
        return f"{stage}-{key[:10]}-{self._token}-{next(self._ids)}"

    def __repr__(self) -> str:
        where = "sync" if self.scheduler == "sync" else (self.client or "local cluster (not started)")
        return f"Runner(cache={self.policy!r}, {where})"

