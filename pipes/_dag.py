"""The merged DAG of a set of configs (DESIGN §4-5).

The graph is plain data. ``DAG.nodes`` maps a key to a :class:`Node`; the implicit root is the
input data (``DAG.root``, keyed by its content), its children are one split node per fold, and
below each split every stage adds one node per distinct (parent, operator, parameters). Identity
stages (``None``/``"passthrough"``) add no node. A feature union adds one node per branch step
and a union node whose parents are the branches' last nodes. Leaves fit and score the final
estimator.

``DAG.requests`` lists the work: one request per (leaf, fold) in depth-first order of the DAG,
each with its ``path`` — every node the leaf depends on, parents first, the leaf last — and the
configs it serves.

Merge rule: two nodes are one iff same parent key, same stage, same operator class and
canonical parameters (hence same fold).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import is_classifier

from ._evaluation import check_data, resolve_cv, resolve_scoring
from ._keys import KeyingError, canonical, data_token, token
from ._ops import Task
from ._pipeline import Config, Pipeline

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
        return self.task.kind == "leaf"


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
    root: str
    nodes: dict[str, Node]
    requests: list[Request]
    configs: list[Config]
    folds: list[tuple]
    stages: list[str] = field(default_factory=list)
    X: Any = field(repr=False, default=None)
    y: Any = field(repr=False, default=None)

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


def merge(
    pipeline: Pipeline,
    configs: Sequence[Config],
    X: Any,
    y: Any,
    cv: Any = 5,
    scoring: Any = None,
    *,
    groups: Any = None,
    return_train_score: bool = False,
) -> DAG:
    """Merge ``configs`` of ``pipeline`` into one DAG over the folds of ``cv`` on ``(X, y)``.

    All validation happens here, before any work: configs against the pipeline, X/y lengths,
    ``cv`` and ``scoring``, and that every operator and parameter can be keyed.
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
            built[memo] = _step(stage, alt, params)
        return built[memo]

    candidates = [[step(stage.name, alt, params) for stage, alt, params in pipeline.resolve(c)]
                  for c in configs]
    final = next(iter(pipeline.stages[-1].alternatives.values())).operator
    return assemble(candidates, configs, X, y, cv, scoring, final, pipeline.names,
                    groups=groups, return_train_score=return_train_score)


def assemble(
    candidates: Sequence[Sequence[Step]],
    configs: Sequence[Any],
    X: Any,
    y: Any,
    cv: Any,
    scoring: Any,
    final: Any,
    stages: list[str],
    *,
    groups: Any = None,
    return_train_score: bool = False,
) -> DAG:
    """Build the merged DAG of candidates given as step lists (the merge rule, DESIGN §5).

    Validates the data, ``cv`` and ``scoring`` for every front end, before any work."""
    check_data(X, y)
    folds = resolve_cv(cv, X, y, classifier=is_classifier(final), groups=groups)
    scorers = resolve_scoring(scoring, final)
    score_key = _scoring_key(scoring)
    root = data_token(X, y)
    nodes: dict[str, Node] = {}
    leaf_configs: dict[str, list[int]] = {}
    keyed: dict[tuple, str] = {}  # (parent key, id of a Step, is leaf) -> node key

    def add(key: str, node: Node) -> None:
        if key not in nodes:
            nodes[key] = node
            if node.parents:
                nodes[node.parents[0]].children.append(key)

    def chain(steps: Sequence[Step], parent: str, f: int, leaf: bool) -> str:
        """Add the nodes of ``steps`` below ``parent``; return the key of the last one."""
        for j, step in enumerate(steps):
            last = leaf and j == len(steps) - 1
            if step.kind == "passthrough" and not last:
                continue
            if step.kind == "union":
                ends = [chain(branch, parent, f, False) for branch in step.branches]
                parents = list(dict.fromkeys(ends))
                key = token(ends, step.stage, step.desc)
                order = [parents.index(e) for e in ends]
                add(key, Node(key, step.stage, parents, f, Task(
                    "union", step.stage, step.label, (order, step.operator))))
            else:
                # candidates share their prefixes: key each (parent, step) once, not per path
                memo = (parent, id(step), last)
                key = keyed.get(memo) or keyed.setdefault(memo, token(
                    parent, step.stage, step.desc, score_key if last else None,
                    return_train_score if last else None))
                if key not in nodes:
                    task = Task("leaf" if last else step.kind, step.stage, step.label,
                                step.operator, step.params, scorers if last else None,
                                return_train_score and last)
                    add(key, Node(key, step.stage, [parent], f, task))
            parent = key
        return parent

    for f, (train, test) in enumerate(folds):
        split = token(root, "split", f, canonical(train), canonical(test))
        add(split, Node(split, "split", [], f, Task("split", "split", "split", (train, test))))
        for i, steps in enumerate(candidates):
            leaf_configs.setdefault(chain(steps, split, f, True), []).append(i)

    def closure(key: str) -> list[str]:
        """Every node ``key`` depends on, parents before children, ``key`` last."""
        out: dict[str, None] = {}

        def walk(k: str) -> None:
            for p in nodes[k].parents:
                if p not in out:
                    walk(p)
            out[k] = None

        walk(key)
        return list(out)

    requests: list[Request] = []

    def visit(key: str) -> None:
        node = nodes[key]
        if node.leaf:
            requests.append(Request(node.fold, closure(key), leaf_configs[key]))
        for child in node.children:
            visit(child)

    for key, node in nodes.items():
        if not node.parents:
            visit(key)
    return DAG(root, nodes, requests, list(configs), folds, stages, X, y)


def _step(stage: str, alt: Any, params: dict) -> Step:
    """A native stage as a Step (its parameters already checked to be keyable)."""
    op = alt.build(params)
    if alt.kind == "function":
        desc = [canonical(op, f"The operator of stage {stage!r}"), canonical(params)]
    elif alt.kind == "passthrough":
        desc = "passthrough"
    else:
        desc = canonical(op, f"The operator of stage {stage!r}")
    return Step(stage, alt.kind, alt.label, op, params if alt.kind == "function" else None, desc)


def _scoring_key(scoring: Any) -> Any:
    """Key the user's scoring spec: names stay names; scikit-learn scorer objects carry their
    metric and keyword arguments; other callables are keyed like operators."""
    if scoring is None or isinstance(scoring, str):
        return scoring
    if isinstance(scoring, Mapping):
        return {"dict": sorted([str(k), _scoring_key(v)] for k, v in scoring.items())}
    if isinstance(scoring, list | tuple | set):
        return sorted(_scoring_key(s) for s in scoring)
    fn = getattr(scoring, "_score_func", None)
    if fn is not None:
        return [type(scoring).__name__, canonical(fn, "scoring"), getattr(scoring, "_sign", 1),
                canonical(getattr(scoring, "_kwargs", {}), "scoring"),
                canonical(getattr(scoring, "_response_method", None), "scoring")]
    try:
        return canonical(scoring, "The 'scoring' parameter")
    except KeyingError:
        # Leaves are never cached beyond their DAG, whose leaves all share one scoring: a name
        # is enough to key them, so a lambda scorer is fine here (unlike a lambda operator).
        return {"scorer": getattr(scoring, "__qualname__", type(scoring).__qualname__)}
