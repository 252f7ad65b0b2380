"""Late binding of tasks to workers: the Runner holds each task until it can run and a worker
has room, then chooses where it goes.

Why not hand every task to Dask as soon as it is known? Dask places a task that has dependencies
on a worker that holds one of them, and queues groups of tasks with few dependencies ("root-ish")
on the scheduler behind those already on the workers. On a merged DAG that pinned a fold's whole
subtree to one worker while the other idled, and held back the costly first-stage nodes behind
cheap leaves (bench/timeline.py traces: idle gaps of 0.3-2 s per run on 2 workers). The Runner
knows the DAG, so it keeps tasks in a :class:`Pool` and binds each to a worker only when that
worker has room: each worker holds at most two tasks per thread (one running, one queued, so it
never waits for the client), ``limit`` in all. The ready task with the highest priority goes to
the least busy worker; among equal priorities, the one with most of its parents on that worker,
then the oldest. The binding is a *loose* Dask restriction: a restricted task is never queued,
and Dask may still move it (a lost worker, work stealing).

Plain data and no Dask here, so the choice is unit-tested on its own (tests/pipes).
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Pool", "Pooled", "Wait"]


class Wait:
    """An argument that is a node not finished yet; its future replaces it at dispatch."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key

    def __repr__(self) -> str:
        return f"Wait({self.key!r})"


@dataclass(eq=False)
class Pooled:
    """A task held by the pool: ``fn(payload, *args)`` once every :class:`Wait` in ``args`` is
    done. ``node`` is an inner node's key (None for a group of leaves); ``info`` is the Runner's."""

    name: str
    fn: Callable
    payload: Any
    args: list
    parents: list[str]
    priority: int
    seq: int
    node: str | None = None
    info: Any = None
    leaves: Any = None  # the Runner's, for leaves computed in an inner node's task
    inner: Any = None  # the Runner's, for inner nodes computed in another node's task
    worker: str | None = None
    gpu: bool = False  # it trains a net that asks for a GPU
    waits: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.waits = [a.key for a in self.args if isinstance(a, Wait)]


class Pool:
    """Tasks waiting for their parents or for room on a worker (see the module docstring).

    ``prepare(task)`` is called with each task chosen, before it is sent: the owner may still
    reshape it from what it has learnt since adding it — send part of it and :meth:`add` the
    rest, or fold tasks still here into it (:meth:`remove` them)."""

    def __init__(self, limit: int, prepare: Callable[[Pooled], None] | None = None):
        self.limit = limit
        self.prepare = prepare
        self.tasks: list[Pooled] = []  # in the order they were added
        self.done: dict[str, Any] = {}  # finished node -> its future, while a task here needs it
        self.pinned: set[str] = set()  # finished nodes kept in ``done`` even when none needs them
        self.where: dict[str, str] = {}  # node -> the worker it was sent to
        self.gpus: set[str] = set()  # workers with a GPU resource: GPU tasks go there only
        self.busy: collections.Counter = collections.Counter()  # worker -> tasks sent, not finished
        self._needs: collections.Counter = collections.Counter()  # node -> tasks here waiting for it
        self._seq = itertools.count()

    @property
    def in_flight(self) -> int:
        return sum(self.busy.values())

    def add(self, name: str, fn: Callable, payload: Any, args: list, parents: list[str],
            priority: int, node: str | None = None, info: Any = None) -> Pooled:
        task = Pooled(name, fn, payload, list(args), list(parents), priority, next(self._seq),
                      node, info)
        self._needs.update(task.waits)
        self.tasks.append(task)
        if node is not None:  # computed again (its result was lost): readers wait for this one
            self.done.pop(node, None)
        return task

    def remove(self, task: Pooled) -> None:
        """Take ``task`` out unsent (folded into another task, which now does its work)."""
        self.tasks.remove(task)
        for k in task.waits:
            self._needs[k] -= 1
            self.release(k)

    def is_ready(self, task: Pooled) -> bool:
        return all(k in self.done for k in task.waits)

    def runnable(self) -> int:
        """Tasks sent to workers plus those here whose parents are done."""
        return self.in_flight + sum(self.is_ready(t) for t in self.tasks)

    def take(self, threads: Mapping[str, int]) -> Iterator[tuple[Pooled, str, list]]:
        """``(task, worker, args)`` to send now, as long as the limit and the workers' room
        allow; ``args`` has the parents' futures in place of their :class:`Wait`."""
        while self.in_flight < self.limit:
            room = sorted((w for w, n in threads.items() if self.busy[w] < 2 * n),
                          key=lambda w: self.busy[w] / threads[w])
            ready = [t for t in self.tasks if self.is_ready(t)]
            cpus = len(self.gpus) < len(threads)  # some worker without a GPU
            for worker in room:
                fits = [t for t in ready if self.fits(t, worker in self.gpus, cpus)]
                if fits:
                    break
            else:
                return
            task = max(fits, key=lambda t: (
                t.priority, sum(self.where.get(p) == worker for p in t.parents), -t.seq))
            if self.prepare is not None:
                self.prepare(task)
            self.tasks.remove(task)
            args = [self.done[a.key] if isinstance(a, Wait) else a for a in task.args]
            task.worker = worker
            self.busy[worker] += 1
            if task.node is not None:
                self.where[task.node] = worker
            for k in task.waits:
                self._needs[k] -= 1
                self.release(k)
            yield task, worker, args

    def fits(self, task: Pooled, on_gpu: bool, cpus: bool) -> bool:
        """Whether ``task`` may go to a worker with (``on_gpu``) or without a GPU: GPU tasks to
        GPU workers while there are any, other tasks to the others while there are any."""
        if task.gpu and self.gpus:
            return on_gpu
        return not on_gpu or not cpus

    def finished(self, task: Pooled, future: Any) -> None:
        """``task`` is over (done or failed); a node's future stays while tasks here need it."""
        self.busy[task.worker] -= 1
        if task.node is not None:
            self.resolved(task.node, future)

    def resolved(self, key: str, value: Any, worker: str | None = None) -> None:
        """Node ``key`` is finished: ``value`` (its future, or what stands for it) replaces its
        :class:`Wait` in the tasks here; ``worker`` holds its data when it was computed in
        another node's task."""
        if worker is not None:
            self.where[key] = worker
        self.done[key] = value
        self.release(key)

    def release(self, key: str) -> None:
        """Forget a finished node's future once no task here needs it and it is not pinned:
        the cache, or the tasks already sent, hold what is still wanted."""
        if self._needs[key] <= 0 and key not in self.pinned:
            self._needs.pop(key, None)
            self.done.pop(key, None)

    def clear(self) -> None:
        self.tasks.clear()
        self.done.clear()
        self.pinned.clear()
