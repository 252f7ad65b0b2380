"""The DAGs of weight-sharing searches: one trained model, many candidates scored on it.

A weight-sharing search (``dagreuse.search.RSWS``) trains one model — a supernet — and scores
candidate architectures on its weights. As a DAG: below each fold's split, the trainer's chain of
checkpoints (``Epochs`` levels, as for any torch leaf: a longer run resumes from a shorter one's
cached checkpoints), then one ``evaluate`` leaf per group of candidates, reading the last
checkpoint and the fold: its result is the model's ``evaluate(X_val, y_val, **params)``, one
score per candidate. Many candidates share a task that way, and the checkpoints are the shared
prefix of every evaluation, of later ones in the same session and, through the cache, of later
searches.

DEHB-WS's jobs (:func:`finetunes`) are *recipes*, plain data the search builds: a supernet is
:class:`Warmup` (a trainer's checkpoint chain) or :class:`Averaged` (the mean of copies of an
earlier supernet, one ``combine`` node whose parents are that supernet and the copies); a job is
:class:`Finetuned`, a copy of a supernet trained some epochs on one candidate (a ``finetune``
node), scored by a ``score`` leaf. A job's path therefore holds every warm-up checkpoint, every
average and every copy its supernet descends from: all of them cached and shared, keyed by
content like any node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._dag import DAG, Node, Step, _Graph
from ._evaluation import Problem
from ._keys import canonical, token
from ._ops import Task
from .resources import Epochs, Resource

__all__ = ["Averaged", "Finetuned", "Warmup", "evaluations", "finetunes"]


def evaluations(trainer: Any, ladder: Sequence[int], groups: Sequence[dict[str, Any]],
                problem: Problem, *, stage: str = "supernet",
                resource: Resource | None = None) -> DAG:
    """``trainer`` trained through the levels of ``ladder`` on every fold of ``problem``, then
    one ``evaluate`` leaf per entry of ``groups`` (the keyword arguments of the trained model's
    ``evaluate``). Request ``i`` of a fold serves ``dag.configs[i] = groups[i]``."""
    resource = Epochs() if resource is None else resource
    resource.check(trainer, f"the trainer of stage {stage!r}")
    ladder = tuple(resource.check_level(v, "ladder", "evaluations") for v in ladder)
    if not ladder or sorted(set(ladder)) != list(ladder):
        raise ValueError("The 'ladder' parameter of evaluations must be a non-empty, strictly "
                         f"increasing list of levels. Got {ladder!r} instead.")
    step = Step(stage, "estimator", type(trainer).__name__, trainer, None,
                canonical(trainer, f"The trainer of stage {stage!r}"))
    graph = _Graph(problem, resource)
    leaf_configs: dict[str, list[int]] = {}
    for f in range(len(problem.folds)):
        split = graph.split(f)
        last = graph.checkpoints(step, split, f, ladder)
        for i, params in enumerate(groups):
            key = token(last, stage, "evaluate", canonical(params, "An evaluation's parameters"))
            graph.add(Node(key, stage, [last, split], f, Task(
                "evaluate", stage, step.label, trainer, dict(params), resource=resource,
                level=ladder[-1])))
            leaf_configs.setdefault(key, []).append(i)
    return DAG(graph.nodes, graph.requests(leaf_configs), list(groups), problem, [stage])


@dataclass(frozen=True, eq=False)
class Warmup:
    """A supernet: ``trainer`` trained through the epochs of ``ladder`` (checkpoint nodes)."""

    trainer: Any
    ladder: tuple[int, ...]


@dataclass(frozen=True, eq=False)
class Finetuned:
    """A copy of supernet ``start`` trained ``epochs`` more by ``trainer`` (one candidate)."""

    start: Any  # Warmup | Averaged
    trainer: Any
    epochs: int


@dataclass(frozen=True, eq=False)
class Averaged:
    """The supernet of ``start`` and its trained ``copies`` averaged (``mode``: ``"masked"``
    or ``"plain"``, ``dagreuse.pipes.supernet.Average``)."""

    start: Any
    copies: tuple[Finetuned, ...]
    mode: str = "masked"


def finetunes(recipes: Sequence[Finetuned], problem: Problem, *, stage: str = "supernet",
         resource: Resource | None = None) -> DAG:
    """One ``score`` leaf per :class:`Finetuned` recipe on every fold of ``problem``, with the
    nodes it descends from (module docstring). Request ``i`` of a fold serves recipe ``i``."""
    graph = _Recipes(problem, Epochs() if resource is None else resource, stage)
    leaf_configs: dict[str, list[int]] = {}
    p = problem
    for f in range(len(p.folds)):
        split, graph.memo = graph.split(f), {}
        for i, job in enumerate(recipes):
            below = graph.node(job, split, f)
            key = token(below, stage, "score", p.score_key, p.return_train_score)
            graph.add(Node(key, stage, [below, split], f, Task(
                "score", stage, type(job.trainer).__name__, job.trainer, None, p.scorers,
                p.return_train_score, graph.resource, level=job.epochs,
                score_params=graph.score_params(f))))
            leaf_configs.setdefault(key, []).append(i)
    return DAG(graph.nodes, graph.requests(leaf_configs), list(recipes), problem, [stage])


class _Recipes(_Graph):
    """A graph that adds the nodes of recipes, each recipe keyed once per fold."""

    def __init__(self, problem: Problem, resource: Resource, stage: str):
        super().__init__(problem, resource)
        self.stage, self.memo = stage, {}

    def node(self, recipe: Any, split: str, f: int) -> str:
        if id(recipe) not in self.memo:
            self.memo[id(recipe)] = self._add(recipe, split, f)
        return self.memo[id(recipe)]

    def _add(self, recipe: Any, split: str, f: int) -> str:
        stage, resource = self.stage, self.resource
        if isinstance(recipe, Warmup):
            trainer = recipe.trainer
            step = Step(stage, "estimator", type(trainer).__name__, trainer, None,
                        canonical(trainer, f"The trainer of stage {stage!r}"))
            return self.checkpoints(step, split, f, tuple(recipe.ladder))
        start = self.node(recipe.start, split, f)
        if isinstance(recipe, Finetuned):
            t = recipe.trainer
            key = token(start, stage, canonical(t, f"The trainer of stage {stage!r}"),
                        ["finetune", resource.describe(), recipe.epochs])
            self.add(Node(key, stage, [start, split], f, Task(
                "finetune", stage, type(t).__name__, t, resource=resource, level=recipe.epochs,
                units=recipe.epochs)))
            return key
        from .supernet import Average  # torch: only where a search averages supernets

        copies = list(dict.fromkeys(self.node(c, split, f) for c in recipe.copies))
        cells = {self.node(c, split, f): str(c.trainer.cell) for c in recipe.copies}
        op = Average(tuple(cells[k] for k in copies), recipe.mode)
        key = token(start, stage, "average", canonical(op), copies)
        self.add(Node(key, stage, [start, *copies], f, Task("combine", stage, "Average", op)))
        return key
