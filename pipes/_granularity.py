"""Task granularity: how much of the merged DAG one Dask task computes. One rule, here.

Dask costs a few ms of scheduler and client time per task, taken from the same cores as the
work. So when the work is that fine, a task holds about ``TASK_SECONDS`` of estimated work: a
node's task also computes, by the oracle's code (``_ops.run_tree``), descendants of it that are
still waiting in the pool —

* its leaf children, several to a task (a group of consecutive requests whose leaves share their
  parents, at most ``MAX_LEAVES_PER_TASK``), and all of them inside the node's own task when
  they are all in one group that fits: they then read their parent's data where it was made;
* its inner children whose whole subtree (the child, its leaves, its own absorbed children)
  fits in what is left of the budget and that nothing outside the task reads, recursively.

A node's cost is estimated by the running mean of the nodes of its stage and resource level
measured so far on the Runner (:class:`Costs`); a node of a stage not measured yet is never absorbed, and
before a stage and level has a measured leaf its leaves spread over ``limit`` tasks, as many as
may run at once. With ``limit=1`` every node and leaf is its own task. Sizes are decided when a
task is sent (:meth:`Shaper.reshape`), not when its requests start: requests start well ahead of
their parents, mostly before anything of theirs has been measured; and as a node's task is sent
the next requests below it are started while their estimate fits (:meth:`Shaper.pull`), so that
its subtree is in the pool to be taken along. Large subtrees still spread over the workers.

A task is for a GPU worker or for a CPU one (``_dispatch``): it takes along only nodes that
want the same kind. Each node in a task is still timed, traced, cached and failing on its own:
its result is a part of the task's result (``_bundles``), and a leaf's failure or an inner
child's is its own.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _ops
from ._dag import Node, Request
from ._dispatch import Pooled

__all__ = ["MAX_LEAVES_PER_TASK", "TASK_SECONDS", "Absorbed", "Costs", "Shaper", "Tree",
           "first_part", "jobs"]

#: Estimated seconds of work per task when the work is finer (module docstring).
TASK_SECONDS = 1.0
MAX_LEAVES_PER_TASK = 64


class Costs:
    """Running mean of the measured seconds of nodes, by (stage, resource level)."""

    def __init__(self) -> None:
        self._sums: collections.defaultdict = collections.defaultdict(lambda: [0, 0.0])

    def add(self, task: _ops.Task, seconds: float) -> None:
        entry = self._sums[task.stage, task.level]
        entry[0] += 1
        entry[1] += seconds

    def mean(self, task: _ops.Task) -> float:
        """The mean seconds of ``task``'s stage and level; inf before any was measured."""
        n, total = self._sums.get((task.stage, task.level), (0, 0.0))
        return total / n if n else math.inf


@dataclass
class Absorbed:
    """An inner node computed in another node's task: its trace request number, its leaves'
    ``(request id, trace request)`` pairs and its own absorbed children."""

    key: str
    req: int | None
    leaves: list | None
    inner: list[Absorbed]


@dataclass
class Tree:
    """A plan of what one task computes: the ``run_tree`` spec, the leaves' requests, the
    absorbed inner nodes, the estimated seconds of what it takes along, the pooled tasks it
    takes out of the pool."""

    spec: tuple
    cost: float
    leaves: list | None = None
    inner: list[Absorbed] = field(default_factory=list)
    used: list[Pooled] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # nodes whose leaf group it takes
    absorbed: int = 0  # inner nodes in it, at every depth

    def inside(self) -> set[str]:
        return {a.key for a in self.inner}


class Shaper:
    """Sizes the tasks of a ``DaskSession`` as they are sent (module docstring)."""

    def __init__(self, session: Any, costs: Costs):
        self.s = session
        self.costs = costs

    def estimate(self, key: str) -> float:
        return self.costs.mean(self.s.nodes[key].task)

    def most(self, leaf: _ops.Task, siblings: int) -> int:
        """Leaves like ``leaf`` per task: about TASK_SECONDS of them at the mean cost of those
        of its stage and level; before any is measured, the siblings spread over ``limit``."""
        limit = self.s.limit
        if limit == 1:
            return 1
        mean = self.costs.mean(leaf)
        k = round(TASK_SECONDS / max(mean, 1e-9)) if mean < math.inf else -(-siblings // limit)
        return max(1, min(MAX_LEAVES_PER_TASK, k))

    def reshape(self, task: Pooled) -> None:
        """The pool's ``prepare``: a group of leaves sends ``most`` of them and leaves the rest
        in the pool; a node's task takes along what :meth:`tree` plans."""
        s = self.s
        if task.node is None:
            n = len(task.payload)
            k = first_part(n, self.most(task.payload[0], len(s.children[task.parents[0]])))
            if k < n:
                rest = s.pool.add(s._name(s.requests[task.info[k][0]].leaf), _ops.run_leaves,
                                  task.payload[k:], task.args, task.parents, 0, info=task.info[k:])
                rest.seq, rest.gpu = task.seq, task.gpu  # the siblings stay next in line
                task.payload, task.info = task.payload[:k], task.info[:k]
            return
        self.pull(task.node)
        plan = self.tree(task, TASK_SECONDS, root=True)
        s.whole.pop(task.node, None)  # sent: its leaf group, if not taken along, goes alone
        if plan is None or not plan.used:
            return
        for used in plan.used:
            s.pool.remove(used)
        for k in plan.groups:
            s.whole.pop(k, None)
        s.absorbed += plan.absorbed
        task.fn, task.payload = _ops.run_tree, plan.spec
        task.leaves, task.inner = plan.leaves, plan.inner

    def tree(self, task: Pooled, budget: float, root: bool = False) -> Tree | None:
        """What ``task``'s node computes in its task: its leaf group when it holds all its leaf
        children and fits, then inner children still in the pool whose subtree fits in what is
        left of ``budget``. A node below the one sent comes along only whole: None when its
        estimate does not fit or something outside the plan reads it."""
        s, key = self.s, task.node
        plan = Tree((task.payload, [], [], []), 0.0 if root else self.estimate(key))
        if plan.cost > budget:
            return None
        group = s.whole.get(key)
        if group is not None and group in s.pool.tasks and group.gpu == task.gpu and (
                self.most(group.payload[0], len(group.payload)) >= len(group.payload)):
            cost = self.costs.mean(group.payload[0]) * len(group.payload)
            if root or plan.cost + cost <= budget:
                plan.cost += cost
                plan.spec[1].extend(group.payload)
                plan.spec[2].extend(_picks(group.parents, key, task.parents))
                plan.leaves, plan.used, plan.groups = group.info, [group], [key]
        frame = {key, *task.parents}
        for child in s.children[key] if s.limit > 1 else ():
            sub = s.node_tasks.get(child)
            if (sub is None or sub not in s.pool.tasks or child in s.ahead or sub.gpu != task.gpu
                    or not frame.issuperset(sub.parents)):
                continue
            inner = self.tree(sub, budget - plan.cost)
            if inner is None:
                continue
            plan.cost += inner.cost
            plan.spec[3].append((inner.spec, _picks(sub.parents, key, task.parents)))
            plan.inner.append(Absorbed(child, sub.info, inner.leaves, inner.inner))
            plan.absorbed += 1 + inner.absorbed
            plan.used += [sub, *inner.used]
            plan.groups += inner.groups
        inside = plan.inside() | {s.requests[i].leaf for i, _ in plan.leaves or ()}
        if not root and not inside.issuperset(s.readers[key]):
            return None
        return plan

    def pull(self, key: str) -> None:
        """Start the next jobs while they lie below ``key``, whose task is being sent, and their
        estimate fits in TASK_SECONDS: they may then come along in its task."""
        s = self.s
        budget = TASK_SECONDS
        while s.jobs and s.limit > 1:
            path = s.requests[s.jobs[0][0]].path
            if key not in path[:-1]:
                return
            leaf = path[-1]
            parent = s.nodes[leaf].parents[0]
            cost = len(s.jobs[0]) * self.estimate(leaf)
            if parent != key and parent not in s.shared and parent not in s.cache:
                cost += self.estimate(parent)
            if cost > budget:
                return
            budget -= cost
            s._start_next()


def _picks(parents: list[str], key: str, frame: list[str]) -> list[int | None]:
    """Arguments in ``key``'s frame: None for its output, ``i`` for its ``i``-th parent."""
    return [None if p == key else frame.index(p) for p in parents]


def jobs(nodes: Mapping[str, Node], requests: Sequence[Request], most: int) -> Iterator[list[int]]:
    """Positions in ``requests``, one list per group started together: consecutive requests
    whose leaves share their parents, split evenly into groups of at most ``most``."""
    i, n = 0, len(requests)
    while i < n:
        parents = nodes[requests[i].leaf].parents
        end = i + 1
        while end < n and nodes[requests[end].leaf].parents == parents:
            end += 1
        while i < end:
            k = first_part(end - i, most)
            yield list(range(i, i + k))
            i += k


def first_part(n: int, most: int) -> int:
    """The size of the first part when ``n`` items are split evenly into parts of at most
    ``most``: ceil(n / ceil(n / most))."""
    return -(-n // -(-n // most))
