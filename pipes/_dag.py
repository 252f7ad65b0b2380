"""The merged DAG of a set of configs (DESIGN §4-5).

The graph is plain data. ``DAG.nodes`` maps a key to a :class:`Node`; the implicit root is the
input data (``DAG.root``, keyed by its content), its children are one split node per fold, and
below each split every stage adds one node per distinct (parent, operator, parameters). Identity
stages (``None``/``"passthrough"``) add no node. A feature union adds one node per branch step
and a union node whose parents are the branches' last nodes. Leaves fit and score the final
estimator.

With a resource (``dagreuse.pipes.resources``) every config comes with its *levels*: the resource
levels it has climbed, lowest first, the last being the one to evaluate. A ``Samples`` leaf is
one leaf node at the last level (the prefix above it is shared by every level). With
``Iterations`` the final estimator is a chain of *checkpoint* nodes, one per level, each the
child of the previous one (the first, of the prefix) and reading the prefix's data too, then one
*score* leaf at the last level whose parents are its checkpoint and the prefix. Checkpoints are
inner nodes: cached, shared and evicted like any other, so a promotion resumes from its lower
rung's model, or from the nearest cached ancestor when that was evicted.

``DAG.requests`` lists the work: one request per (leaf, fold) in depth-first order of the DAG,
each with its ``path`` — every node the leaf depends on, parents first, the leaf last — and the
configs it serves.

Merge rule: two nodes are one iff same parent key, same stage, same operator class and
canonical parameters (hence same fold), same resource level.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._evaluation import Problem, fold_params
from ._keys import canonical, token
from ._ops import LEAVES, Task
from ._pipeline import Config, Pipeline
from .resources import Resource

__all__ = ["DAG", "Node", "Request", "Step", "assemble", "merge"]


@dataclass
class Node:
    key: str
    stage: str  # "split" for the fold splits
    parents: list[str]  # [] for a split (its input is the data root); several for a union
    fold: int
    task: Task
    children: list[str] = field(default_factory=list)  # nodes whose *first* parent this is

    @property
    def leaf(self) -> bool:
        """Scores a request (never cached, always computed)."""
        return self.task.kind in LEAVES


@dataclass
class Request:
    """Evaluate one leaf on one fold; serves every config in ``configs`` (duplicates merge)."""

    fold: int
    path: list[str]
    configs: list[int]

    @property
    def leaf(self) -> str:
        return self.path[-1]


@dataclass
class DAG:
    nodes: dict[str, Node]
    requests: list[Request]
    configs: list[Config]
    problem: Problem = field(repr=False)
    stages: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        return self.problem.root

    @property
    def folds(self) -> list[tuple]:
        return self.problem.folds

    @property
    def X(self) -> Any:
        return self.problem.X

    @property
    def y(self) -> Any:
        return self.problem.y

    def __len__(self) -> int:
        return len(self.nodes)

    def independent_cost(self, cost: Callable[[Node], float] | Mapping[str, float]) -> float:
        """TP(P): every config evaluated on its own, each node of its path paid again."""
        c = _costs(self, cost)
        return math.fsum(len(r.configs) * sum(c[k] for k in r.path) for r in self.requests)

    def merged_cost(self, cost: Callable[[Node], float] | Mapping[str, float]) -> float:
        """TP(P_merged): every unique node paid once."""
        c = _costs(self, cost)
        return math.fsum(c.values())

    def ideal_speedup(self, cost: Callable[[Node], float] | Mapping[str, float] = lambda n: 1.0) -> float:
        return self.independent_cost(cost) / self.merged_cost(cost)

    def count(self, stage: str) -> int:
        """Number of unique nodes of ``stage``."""
        return sum(1 for n in self.nodes.values() if n.stage == stage)


def _costs(dag: DAG, cost: Any) -> dict[str, float]:
    if isinstance(cost, Mapping):
        return {k: float(cost[k]) for k in dag.nodes}
    return {k: float(cost(n)) for k, n in dag.nodes.items()}


@dataclass
class Step:
    """One stage of one candidate, ready to key and run: the common form into which native
    configs (:func:`merge`) and scikit-learn estimators (:func:`merge_estimators`) are turned."""

    stage: str
    kind: str  # "transformer" | "function" | "estimator" | "passthrough" | "union"
    label: str
    operator: Any  # configured (unfitted) estimator, the function, or a union's branch weights
    params: dict | None  # keyword arguments of a function operator
    desc: Any  # canonical identity + parameters (the key material)
    branches: list[list[Step]] | None = None  # a union's branches (each a chain of steps)
    fit_params: dict | None = None  # keyword arguments of its fit, full length (in ``desc``)


def merge(
    pipeline: Pipeline,
    configs: Sequence[Config],
    X: Any = None,
    y: Any = None,
    cv: Any = 5,
    scoring: Any = None,
    *,
    groups: Any = None,
    return_train_score: bool = False,
    problem: Problem | None = None,
    resource: Resource | None = None,
    levels: Sequence[Sequence[Any]] | None = None,
) -> DAG:
    """Merge ``configs`` of ``pipeline`` into one DAG over the folds of ``cv`` on ``(X, y)``.

    ``problem`` (a :class:`Problem`) replaces ``X, y, cv, scoring, groups, return_train_score``
    when a search merges many batches on the same data. With a ``resource``, ``levels[i]`` lists
    the levels config ``i`` has climbed, lowest first; it is evaluated at the last (module
    docstring). All validation happens here, before any work: configs against the pipeline, X/y
    lengths, ``cv`` and ``scoring``, that every operator and parameter can be keyed, and that the
    leaf can be trained at the resource's levels.
    """
    if not isinstance(pipeline, Pipeline):
        raise TypeError(f"The 'pipeline' parameter must be a dagreuse Pipeline. Got {pipeline!r}.")
    configs = list(configs)
    if not configs:
        raise ValueError("The 'configs' parameter must hold at least one config. Got none.")
    # Candidates of a search share most of their stages: build and key each distinct one once
    # (cloning and keying estimators is most of merge's time, and workers wait on it).
    built: dict[str, Step] = {}

    def step(stage: str, alt: Any, params: dict) -> Step:
        desc = {n: canonical(v, f"Parameter {n!r} of stage {stage!r}") for n, v in params.items()}
        memo = token(stage, alt.label, desc)
        if memo not in built:
            built[memo] = _step(stage, alt, params, desc)
        return built[memo]

    candidates = [[step(stage.name, alt, params) for stage, alt, params in pipeline.resolve(c)]
                  for c in configs]
    if problem is None:
        final = next(iter(pipeline.stages[-1].alternatives.values())).operator
        problem = Problem.of(X, y, cv, scoring, final, groups=groups,
                             return_train_score=return_train_score)
    return assemble(candidates, configs, problem, pipeline.names, resource=resource,
                    levels=levels)


def assemble(
    candidates: Sequence[Sequence[Step]],
    configs: Sequence[Any],
    problem: Problem,
    stages: list[str],
    *,
    resource: Resource | None = None,
    levels: Sequence[Sequence[Any]] | None = None,
) -> DAG:
    """Build the merged DAG of candidates given as step lists (the merge rule, DESIGN §5) on
    ``problem``; with a ``resource``, candidate ``i`` is evaluated at the last of ``levels[i]``."""
    ladders = _ladders(candidates, resource, levels)
    graph = _Graph(problem, resource)
    leaf_configs: dict[str, list[int]] = {}
    for f in range(len(problem.folds)):
        split = graph.split(f)
        for i, steps in enumerate(candidates):
            leaf_configs.setdefault(graph.chain(steps, split, f, True, ladders[i]), []).append(i)
    return DAG(graph.nodes, graph.requests(leaf_configs), list(configs), problem, stages)


class _Graph:
    """The nodes of a DAG being assembled, each keyed once per (parent, step)."""

    def __init__(self, problem: Problem, resource: Resource | None):
        self.problem, self.resource = problem, resource
        self.nodes: dict[str, Node] = {}
        # (parent key, id of a Step, is leaf, levels) -> node key: candidates share their
        # prefixes, so each (parent, step) is keyed once, not once per candidate path
        self.keyed: dict[tuple, str] = {}

    def split(self, f: int) -> str:
        """The split node of fold ``f`` (a child of the data root); its key."""
        p = self.problem
        train, test = p.folds[f]
        key = token(p.root, "split", f, canonical(train), canonical(test),
                    *(["pairwise"] if p.pairwise else []))
        self.add(Node(key, "split", [], f, Task("split", "split", "split", (train, test),
                                                {"pairwise": p.pairwise})))
        return key

    def add(self, node: Node) -> None:
        if node.key not in self.nodes:
            self.nodes[node.key] = node
            if node.parents:
                self.nodes[node.parents[0]].children.append(node.key)

    def chain(self, steps: Sequence[Step], parent: str, f: int, leaf: bool,
              ladder: tuple = ()) -> str:
        """Add the nodes of ``steps`` below ``parent``; return the key of the last one."""
        for j, step in enumerate(steps):
            last = leaf and j == len(steps) - 1
            if step.kind == "passthrough" and not last:
                continue
            if last and self.resource is not None:
                memo = (parent, id(step), True, ladder)
                if memo not in self.keyed:
                    self.keyed[memo] = self.leaf_at(step, parent, f, ladder)
                return self.keyed[memo]
            if step.kind == "union":
                parent = self.union(step, parent, f)
                continue
            memo = (parent, id(step), last)
            p = self.problem
            key = self.keyed.get(memo) or self.keyed.setdefault(memo, token(
                parent, step.stage, step.desc, p.score_key if last else None,
                p.return_train_score if last else None))
            if key not in self.nodes:
                train = p.folds[f][0]
                self.add(Node(key, step.stage, [parent], f, Task(
                    "leaf" if last else step.kind, step.stage, step.label, step.operator,
                    step.params, p.scorers if last else None, p.return_train_score and last,
                    fit_params=fold_params(p.X, step.fit_params, train),
                    score_params=self.score_params(f) if last else None)))
            parent = key
        return parent

    def score_params(self, f: int) -> tuple | None:
        """The scorers' keyword arguments on fold ``f``: (training rows, validation rows)."""
        p = self.problem
        if not p.score_params:
            return None
        train, test = p.folds[f]
        return fold_params(p.X, p.score_params, train), fold_params(p.X, p.score_params, test)

    def union(self, step: Step, parent: str, f: int) -> str:
        """A feature union: its branches' nodes, then the node joining their last ones."""
        ends = [self.chain(branch, parent, f, False) for branch in step.branches]
        parents = list(dict.fromkeys(ends))
        key = token(ends, step.stage, step.desc)
        order = [parents.index(e) for e in ends]
        self.add(Node(key, step.stage, parents, f, Task(
            "union", step.stage, step.label, (order, step.operator))))
        return key

    def leaf_at(self, step: Step, parent: str, f: int, ladder: tuple) -> str:
        """The leaf of ``step`` below ``parent`` at the last of ``ladder`` (module docstring)."""
        p, resource = self.problem, self.resource
        rows = len(p.folds[f][0])
        if not resource.checkpoints:
            key = token(parent, step.stage, step.desc, p.score_key, p.return_train_score,
                        [resource.describe(), ladder[-1]])
            self.add(Node(key, step.stage, [parent], f, Task(
                "leaf", step.stage, step.label, step.operator, None, p.scorers,
                p.return_train_score, resource, ladder[-1], None,
                resource.units(ladder[-1], None, rows), score_params=self.score_params(f))))
            return key
        below = self.checkpoints(step, parent, f, ladder)
        key = token(below, step.stage, "score", p.score_key, p.return_train_score)
        self.add(Node(key, step.stage, [below, parent], f, Task(
            "score", step.stage, step.label, step.operator, None, p.scorers, p.return_train_score,
            resource, level=ladder[-1], score_params=self.score_params(f))))
        return key

    def checkpoints(self, step: Step, parent: str, f: int, ladder: tuple) -> str:
        """The chain of checkpoints of ``step`` below ``parent``, one per level of ``ladder``
        (each the child of the previous one, reading ``parent``'s data too); its last key."""
        resource, rows = self.resource, len(self.problem.folds[f][0])
        below, previous = parent, None
        for level in ladder:
            key = token(below, step.stage, step.desc, [resource.describe(), level])
            self.add(Node(key, step.stage, [parent] if previous is None else [below, parent], f,
                          Task("checkpoint", step.stage, step.label, step.operator,
                               resource=resource, level=level, previous=previous,
                               units=resource.units(level, previous, rows))))
            below, previous = key, level
        return below

    def requests(self, leaf_configs: dict[str, list[int]]) -> list[Request]:
        """One request per leaf, in depth-first order of the DAG, each with its ``path``."""
        requests: list[Request] = []

        def visit(key: str) -> None:
            node = self.nodes[key]
            if node.leaf:
                requests.append(Request(node.fold, self.closure(key), leaf_configs[key]))
            for child in node.children:
                visit(child)

        for key, node in self.nodes.items():
            if not node.parents:
                visit(key)
        return requests

    def closure(self, key: str) -> list[str]:
        """Every node ``key`` depends on, parents before children, ``key`` last."""
        out: dict[str, None] = {}

        def walk(k: str) -> None:
            for p in self.nodes[k].parents:
                if p not in out:
                    walk(p)
            out[k] = None

        walk(key)
        return list(out)


def _ladders(candidates: Sequence[Sequence[Step]], resource: Resource | None,
             levels: Sequence[Sequence[Any]] | None) -> list[tuple]:
    """Each candidate's levels as a tuple (``()`` without a resource), checked before any work:
    one non-empty, strictly increasing ladder per candidate, and a leaf the resource can train."""
    if resource is None:
        if levels is not None:
            raise ValueError("The 'levels' parameter of merge needs a 'resource'. Got no resource.")
        return [()] * len(candidates)
    if not isinstance(resource, Resource):
        raise TypeError(
            "The 'resource' parameter of merge must be a dagreuse.pipes.resources resource such "
            f"as Samples() or Iterations('max_iter'). Got {resource!r} instead."
        )
    if levels is None or len(levels) != len(candidates):
        raise ValueError(
            f"The 'levels' parameter of merge must give one list of resource levels per config "
            f"({len(candidates)}). Got {levels!r} instead."
        )
    checked: set[int] = set()
    out = []
    for steps, ladder in zip(candidates, levels, strict=True):
        ladder = tuple(resource.check_level(v, "levels", "merge") for v in ladder)
        if not ladder or any(a >= b for a, b in itertools.pairwise(ladder)):
            raise ValueError(
                "The 'levels' parameter of merge must give each config a non-empty, strictly "
                f"increasing list of resource levels. Got {ladder!r} instead."
            )
        leaf = steps[-1]
        if id(leaf) not in checked:
            checked.add(id(leaf))
            resource.check(leaf.operator, f"the leaf stage {leaf.stage!r}")
        out.append(ladder)
    return out


def _step(stage: str, alt: Any, params: dict, desc: dict) -> Step:
    """A native stage as a Step (``desc``: its parameters' canonical form)."""
    if alt.kind == "function":
        op = alt.operator
        key = [canonical(op, f"The operator of stage {stage!r}"), canonical(params)]
    elif alt.kind == "passthrough":
        op, key = alt.operator, "passthrough"
    else:
        op, key = alt.task_operator(params, desc)
    return Step(stage, alt.kind, alt.label, op, params if alt.kind == "function" else None, key)

