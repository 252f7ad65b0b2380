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

from . import neural

__all__ = ["CHECKPOINTS", "LEAVES", "Failed", "Fold", "NodeFailed", "Output", "Task", "part",
           "reported", "run", "run_leaves", "run_tree", "summary"]

#: Task kinds that score (the requests' targets): never cached, always computed.
LEAVES = ("leaf", "score", "evaluate")
#: Task kinds whose result is a trained model that later nodes resume from.
CHECKPOINTS = ("checkpoint", "finetune")


class Fold(NamedTuple):
    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any


class NodeFailed(Exception):
    """An operator raised; the message names the stage and operator."""


class Failed:
    """A task's result when its node's operator raised (:class:`NodeFailed`), or an ancestor's
    did: an expected outcome, so the task returns it instead of raising — Dask logs a raising
    task as an error with its traceback, once per task. Its readers return it too."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


@dataclass
class Task:
    """What a worker needs to compute one node (shipped with the task, kept small)."""

    kind: str  # "split" | "transformer" | "function" | "union" | "leaf" | "checkpoint" | "score"
    #            | "evaluate" | "finetune" | "combine"
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
    fit_params: dict | None = None  # keyword arguments of its fit, for this fold's rows
    score_params: tuple | None = None  # a leaf's scorers' keyword arguments: (train, validation)
    callbacks: Any = None  # in-process only: a scikit-learn callback context for the leaf's fit
    net: bool = False  # its operator is a torch stage (``neural``): set from the operator
    gpu: bool = False  # ... that asks for a GPU

    def __post_init__(self) -> None:
        self.net = neural.is_net(self.operator)
        self.gpu = self.net and neural.wants_gpu(self.operator)

    def __getstate__(self) -> dict:
        # an unfitted net travels as its class and parameters, as ``clone`` rebuilds it: a
        # pickled skorch net warns and moves itself to CPU wherever CUDA is missing, and spools
        # its (empty) CUDA state through a temporary file
        state = self.__dict__.copy()
        if self.net:
            state["operator"] = ("__unfitted__", type(self.operator),
                                 self.operator.get_params(deep=False))
        return state

    def __setstate__(self, state: dict) -> None:
        op = state["operator"]
        if isinstance(op, tuple) and len(op) == 3 and op[0] == "__unfitted__":
            state["operator"] = op[1](**op[2])
        self.__dict__.update(state)


@dataclass
class Output:
    """A node's result with its measured cost; sized as its value and its parts'."""

    value: Any
    seconds: float
    nbytes: int
    info: dict | None = None  # where a torch node ran: {"device": ...}
    leaves: list | None = None  # what run_tree's leaves returned
    parts: list | None = None  # run_tree's inner children: each an Output or its error text


@dask_sizeof.register(Output)
def _sizeof_output(out: Output) -> int:
    return out.nbytes + sum(_sizeof_output(p) for p in out.parts or () if isinstance(p, Output))


def _rows(a: Any, idx: Any) -> Any:
    """Rows ``idx`` of X or y (arrays, sparse, DataFrames, lists); y may be None."""
    return None if a is None else _safe_indexing(a, idx)


def _split(task: Task, X: Any, y: Any) -> Fold:
    """A fold's data; for a precomputed kernel (``params["pairwise"]``), the columns of both
    sides are the training rows, as scikit-learn's ``_safe_split`` takes them."""
    train, test = task.operator
    X_train, X_val = _rows(X, train), _rows(X, test)
    if (task.params or {}).get("pairwise"):
        X_train, X_val = _safe_indexing(X_train, train, axis=1), _safe_indexing(X_val, train, axis=1)
    return Fold(X_train, _rows(y, train), X_val, _rows(y, test))


def _transform(task: Task, fold: Fold) -> Fold:
    op = task.operator
    if task.kind == "function":
        params = task.params or {}
        return Fold(op(fold.X_train, **params), fold.y_train, op(fold.X_val, **params), fold.y_val)
    if task.net:
        op = neural.fit(op, fold.X_train, fold.y_train, **(task.fit_params or {}))
        return Fold(op.transform(fold.X_train), fold.y_train, op.transform(fold.X_val), fold.y_val)
    op = clone(op)  # the DAG's operator stays unfitted: threads and the oracle share it
    Xt = op.fit_transform(fold.X_train, fold.y_train, **(task.fit_params or {}))
    return Fold(Xt, fold.y_train, op.transform(fold.X_val), fold.y_val)


def _leaf(task: Task, fold: Fold) -> dict[str, Any]:
    t0 = time.perf_counter()
    if task.resource is None and task.net:
        est = neural.fit(task.operator, fold.X_train, fold.y_train, **(task.fit_params or {}))
    elif task.resource is None:
        est = clone(task.operator)
        params = task.fit_params or {}
        with (task.callbacks.propagate_callback_context(est) if task.callbacks is not None
              else contextlib.nullcontext()):
            if fold.y_train is None:
                est.fit(fold.X_train, **params)
            else:
                est.fit(fold.X_train, fold.y_train, **params)
    else:
        est = task.resource.model(task.operator, task.resource.fit(
            task.operator, fold.X_train, fold.y_train, task.level))
    return _scores(task, est, fold, time.perf_counter() - t0)


def _scores(task: Task, est: Any, fold: Fold, fit_time: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    on_train, on_val = task.score_params or ({}, {})
    test = {name: _number(s(est, fold.X_val, fold.y_val, **on_val))
            for name, s in task.scorers.items()}
    train = None
    if task.train_score:
        train = {name: _number(s(est, fold.X_train, fold.y_train, **on_train))
                 for name, s in task.scorers.items()}
    return {"test": test, "train": train, "fit_time": fit_time,
            "score_time": time.perf_counter() - t0}


def _evaluate(task: Task, checkpoint: Any, fold: Fold) -> dict[str, Any]:
    """A weight-sharing evaluation: the checkpoint's model evaluates what ``task.params`` ask
    (``model.evaluate(X_val, y_val, **params)``: a list of plain data, a score per candidate)."""
    t0 = time.perf_counter()
    model = task.resource.model(task.operator, checkpoint)
    values = list(model.evaluate(fold.X_val, fold.y_val, **task.params))
    return {"values": values, "score_time": time.perf_counter() - t0}


def _finetune(task: Task, start: Any, fold: Fold) -> Any:
    """A copy of the supernet of checkpoint ``start`` trained ``task.level`` epochs by the
    operator (from ``start``'s weights and generators; its epochs count from zero)."""
    begin = neural.NetCheckpoint(start.state, 0, start.rng)
    return neural.train(task.operator, fold.X_train, fold.y_train, task.level,
                        task.resource.seed, begin)


def _number(score: Any) -> Any:
    """A scorer's result as plain data: a float, or a dict of them (a multimetric callable)."""
    if isinstance(score, dict):
        return {k: _number(v) for k, v in score.items()}
    return float(score)


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
    # a torch node computes alone in its process (timed once it may): torch's generators are
    # global, and torch ops of two threads at once share its thread pool, which changed results
    # in the last bits
    with neural.LOCK if task.net else contextlib.nullcontext():
        t0 = time.perf_counter()
        value = _compute(task, parents)
        seconds = time.perf_counter() - t0
    info = {"device": neural.device(task.operator)} if task.net else None
    return Output(value, seconds, sizeof(value) if task.kind not in LEAVES else 0, info)


def _compute(task: Task, parents: tuple[Any, ...]) -> Any:
    parent = parents[0]
    try:
        if task.kind == "union":
            value: Any = _union(task, parents)
        elif task.kind == "split":
            value = _split(task, *parent)
        elif task.kind == "leaf":
            value = _leaf(task, parent.value)
        elif task.kind == "checkpoint":
            value = _checkpoint(task, parents)
        elif task.kind == "score":  # parents: [the checkpoint of this level, the data]
            model = task.resource.model(task.operator, parent.value)
            value = _scores(task, model, parents[1].value, parent.seconds)
        elif task.kind == "evaluate":  # the same parents; the model scores many candidates
            value = _evaluate(task, parent.value, parents[1].value)
        elif task.kind == "finetune":  # parents: [a supernet's checkpoint, the data]
            value = _finetune(task, parent.value, parents[1].value)
        elif task.kind == "combine":  # parents: checkpoints, merged by the operator
            value = task.operator(*(p.value for p in parents))
        else:
            value = _transform(task, parent.value)
    except Exception as exc:
        raise NodeFailed(
            f"stage {task.stage!r} ({task.label}) failed: {type(exc).__name__}: {exc}"
        ) from exc
    return value


def run_leaves(tasks: list[Task], *parents: Any) -> list[Output | NodeFailed]:
    """Several leaves of the same parents as one task: one failing leaf does not fail the others."""
    outs: list[Output | NodeFailed] = []
    for task in tasks:
        try:
            outs.append(run(task, *parents))
        except NodeFailed as exc:
            outs.append(exc)
    return outs


def run_tree(spec: tuple, *parents: Any) -> Output:
    """A node and descendants of it as one task, by the oracle's code (:func:`run`). ``spec``
    is ``(task, leaves, picks, inner)``: the node, leaves that read it, and inner children, each
    ``(spec, picks)`` and computed the same way. ``picks`` give arguments in the node's frame:
    None for its output, ``i`` for its ``i``-th parent (a score leaf also reads the data its
    checkpoint was trained on). The node's :class:`Output` carries its leaves' outputs and its
    inner children's Outputs (``parts``, each readable on its own with :func:`part`); each of
    them fails on its own: an inner child that raises is its error text."""
    node, leaves, picks, inner = spec
    out = run(node, *parents)

    def frame(ps: list[int | None]) -> list[Any]:
        return [out if i is None else parents[i] for i in ps]

    out.leaves = run_leaves(leaves, *frame(picks))
    if inner:
        out.parts = []
        for child, child_picks in inner:
            try:
                out.parts.append(run_tree(child, *frame(child_picks)))
            except NodeFailed as exc:
                out.parts.append(str(exc))
    return out


def part(out: Output, path: tuple[int, ...]) -> Output:
    """The node at ``path`` in a :func:`run_tree` result (``()``: the node itself), as its own
    Output without its leaves and parts: what a reader of that node gets. A node that failed,
    or lies below one that did, raises that node's error."""
    for i in path:
        out = out.parts[i]
        if isinstance(out, str):
            raise NodeFailed(out)
    return Output(out.value, out.seconds, out.nbytes, out.info)


def disk_write(disk: Any, key: str, seconds: float, out: Output,
               path: tuple[int, ...] = ()) -> tuple[bool, float, int]:
    """Write node ``key``'s result (``part(out, path)``) to the persistent tier ``disk`` (a
    ``DiskCache``), where it lies (a Dask worker, or the sync oracle's process): whether it was
    admitted, the seconds the write took and its bytes."""
    t0 = time.perf_counter()
    value = part(out, path)
    admitted = disk.store(key, value, seconds, nbytes=value.nbytes)
    return admitted, time.perf_counter() - t0, value.nbytes


def disk_read(disk: Any, key: str) -> Output:
    """Node ``key``'s result read back from ``disk``; a missing or damaged entry fails it."""
    found = disk.load(key)
    if found is None:
        raise NodeFailed(f"the persistent cache lost node {key[:12]} between check and read")
    return found[0]


def summary(result: Output | list[Output | NodeFailed] | Failed) -> Any:
    """The small part of a task's result the client needs, as plain data: ``[seconds, nbytes,
    leaves, parts, info]`` of a node (from :func:`run_tree` its leaves' summary and each
    part's or its error text, else None and []); for a group of leaves, ``[seconds, value,
    info]`` or the error text of each; for a :class:`Failed` task, ``{"error": text}``."""
    if isinstance(result, Failed):
        return {"error": result.text}
    if isinstance(result, Output):
        leaves = None if result.leaves is None else summary(result.leaves)
        parts = [p if isinstance(p, str) else summary(p) for p in result.parts or ()]
        return [result.seconds, result.nbytes, leaves, parts, result.info]
    return [str(r) if isinstance(r, NodeFailed) else [r.seconds, r.value, r.info] for r in result]


def reported(topic: str, name: str, fn: Any, payload: Any, paths: tuple, *args: Any) -> Any:
    """Run ``fn(payload, *args)`` on a Dask worker and send its :func:`summary` to the client as
    a worker event under ``topic``: the client learns a node's cost without fetching its data,
    and a leaf's scores without a round trip, both with no extra task. ``paths[i]``, when not
    None, says that ``args[i]`` is a :func:`run_tree` result whose :func:`part` is the argument.
    An operator's error is returned as :class:`Failed`; any other error raises, loudly."""
    from distributed import get_worker

    result = next((a for a in args if isinstance(a, Failed)), None)  # an ancestor failed
    if result is None:
        try:
            args = tuple(a if p is None else part(a, p) for a, p in zip(args, paths, strict=True))
            result = fn(payload, *args)
        except NodeFailed as exc:  # expected: the candidate fails, quietly (see Failed)
            result = Failed(str(exc))
    # a summary msgpack cannot carry is not an error: the client fetches it instead
    with contextlib.suppress(Exception):
        get_worker().log_event(topic, {"name": name, "summary": summary(result)})
    return result
