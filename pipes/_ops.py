"""The work a node does, as plain functions that run on Dask workers (or in-process).

Every transforming node returns a :class:`Fold` — the training and validation data after this
node — so validation transforms are computed once per node and shared, like training transforms.
A leaf fits the final estimator (on the rows of its ``Samples`` level, if any) and scores it. With
``Iterations`` the final estimator is trained by *checkpoint* nodes instead — each returns the
model trained to its level, from its parent checkpoint's model — and a *score* leaf scores the
checkpoint of its level. :func:`run` wraps each in timing and sizing, so the worker measures what
the cache and the profile need.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from dask.sizeof import sizeof as dask_sizeof
from scipy import sparse
from sklearn.base import clone
from sklearn.utils import _safe_indexing

from dagreuse.cache import sizeof

__all__ = ["LEAVES", "Fold", "NodeFailed", "Output", "Task", "reported", "run",
           "run_fused", "run_leaves", "summary"]

#: Task kinds that score (the requests' targets): never cached, always computed.
LEAVES = ("leaf", "score")


class Fold(NamedTuple):
    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any


class NodeFailed(Exception):
    """An operator raised; the message names the stage and operator."""


@dataclass
class Task:
    """What a worker needs to compute one node (shipped with the task, kept small)."""

    kind: str  # "split" | "transformer" | "function" | "union" | "leaf" | "checkpoint" | "score"
    stage: str
    label: str
    operator: Any = None  # configured estimator, function, or (train, test) for a split
    params: dict | None = None  # keyword arguments of a function operator
    scorers: dict | None = None  # leaf and score only
    train_score: bool = False  # leaf and score only
    resource: Any = None  # a dagreuse.pipes.resources.Resource, for a leaf or a checkpoint
    level: Any = None  # its resource level
    previous: Any = None  # a checkpoint's parent checkpoint's level (None: trained from scratch)
    units: float = 0  # training units this node computes (rows for Samples)


@dataclass
class Output:
    """A node's result with its measured cost; sized as its value alone."""

    value: Any
    seconds: float
    nbytes: int
    leaves: list | None = None  # what run_fused's leaves returned


@dask_sizeof.register(Output)
def _sizeof_output(out: Output) -> int:
    return out.nbytes


def _rows(a: Any, idx: Any) -> Any:
    """Rows ``idx`` of X or y (arrays, sparse, DataFrames, lists); y may be None."""
    return None if a is None else _safe_indexing(a, idx)


def _transform(task: Task, fold: Fold) -> Fold:
    op = task.operator
    if task.kind == "function":
        params = task.params or {}
        return Fold(op(fold.X_train, **params), fold.y_train, op(fold.X_val, **params), fold.y_val)
    op = clone(op)  # the DAG's operator stays unfitted: threads and the oracle share it
    Xt = op.fit_transform(fold.X_train, fold.y_train)
    return Fold(Xt, fold.y_train, op.transform(fold.X_val), fold.y_val)


def _leaf(task: Task, fold: Fold) -> dict[str, Any]:
    t0 = time.perf_counter()
    if task.resource is None:
        est = clone(task.operator).fit(fold.X_train, fold.y_train)
    else:
        est = task.resource.fit(task.operator, fold.X_train, fold.y_train, task.level)
    return _scores(task, est, fold, time.perf_counter() - t0)


def _scores(task: Task, est: Any, fold: Fold, fit_time: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    test = {name: float(s(est, fold.X_val, fold.y_val)) for name, s in task.scorers.items()}
    train = None
    if task.train_score:
        train = {name: float(s(est, fold.X_train, fold.y_train)) for name, s in task.scorers.items()}
    return {"test": test, "train": train, "fit_time": fit_time,
            "score_time": time.perf_counter() - t0}


def _checkpoint(task: Task, parents: tuple[Output, ...]) -> Any:
    """The model trained to ``task.level``: from the parent checkpoint's model when there is one
    (parents ``[checkpoint, data]``), else from scratch (parents ``[data]``)."""
    fold = parents[-1].value
    previous = parents[0].value if len(parents) == 2 else None
    return task.resource.fit(task.operator, fold.X_train, fold.y_train, task.level,
                             previous=previous, previous_level=task.previous)


def _union(task: Task, parents: tuple[Output, ...]) -> Fold:
    """Concatenate branch outputs column-wise, as scikit-learn's FeatureUnion does."""
    order, weights = task.operator
    folds = [parents[i].value for i in order]

    def stack(blocks: list[Any]) -> Any:
        blocks = [b if w is None else b * w for b, w in zip(blocks, weights, strict=True)]
        if any(sparse.issparse(b) for b in blocks):
            return sparse.hstack(blocks).tocsr()
        return np.hstack(blocks)

    first = folds[0]
    return Fold(stack([f.X_train for f in folds]), first.y_train,
                stack([f.X_val for f in folds]), first.y_val)


def run(task: Task, *parents: Any) -> Output:
    r"""Compute one node from its parents' :class:`Output`\ s (the raw ``(X, y)`` for a split)."""
    parent = parents[0]
    t0 = time.perf_counter()
    try:
        if task.kind == "union":
            value: Any = _union(task, parents)
        elif task.kind == "split":
            X, y = parent
            train, test = task.operator
            value = Fold(_rows(X, train), _rows(y, train), _rows(X, test), _rows(y, test))
        elif task.kind == "leaf":
            value = _leaf(task, parent.value)
        elif task.kind == "checkpoint":
            value = _checkpoint(task, parents)
        elif task.kind == "score":  # parents: [the checkpoint of this level, the data]
            value = _scores(task, parent.value, parents[1].value, parent.seconds)
        else:
            value = _transform(task, parent.value)
    except Exception as exc:
        raise NodeFailed(
            f"stage {task.stage!r} ({task.label}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    seconds = time.perf_counter() - t0
    return Output(value, seconds, sizeof(value) if task.kind not in LEAVES else 0)


def run_leaves(tasks: list[Task], *parents: Any) -> list[Output | NodeFailed]:
    """Several leaves of the same parents as one task: one failing leaf does not fail the others."""
    outs: list[Output | NodeFailed] = []
    for task in tasks:
        try:
            outs.append(run(task, *parents))
        except NodeFailed as exc:
            outs.append(exc)
    return outs


def run_fused(tasks: tuple[Task, list[Task], list[int | None]], *parents: Any) -> Output:
    """A node, then leaves whose first parent it is, as one task: the node's :class:`Output`
    (what other tasks read) carries the leaves' outputs, each leaf failing on its own. ``picks``
    gives the leaves' arguments: None for the node's output, ``i`` for the node's ``i``-th
    parent (a score leaf also reads the data its checkpoint was trained on)."""
    node, leaves, picks = tasks
    out = run(node, *parents)
    out.leaves = run_leaves(leaves, *[out if i is None else parents[i] for i in picks])
    return out


def summary(result: Output | list[Output | NodeFailed]) -> Any:
    """The small part of a task's result the client needs, as plain data: ``[seconds, nbytes]``
    of a node (and its fused leaves' summary); for a group of leaves, ``[seconds, value]`` or
    the error text of each."""
    if isinstance(result, Output):
        if result.leaves is not None:
            return [result.seconds, result.nbytes, summary(result.leaves)]
        return [result.seconds, result.nbytes]
    return [str(r) if isinstance(r, NodeFailed) else [r.seconds, r.value] for r in result]


def reported(topic: str, name: str, fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` on a Dask worker and send its :func:`summary` to the client as a worker
    event under ``topic``: the client learns a node's cost without fetching its data, and a
    leaf's scores without a round trip, both with no extra task."""
    from distributed import get_worker

    result = fn(*args)
    # a summary msgpack cannot carry is not an error: the client fetches it instead
    with contextlib.suppress(Exception):
        get_worker().log_event(topic, {"name": name, "summary": summary(result)})
    return result
