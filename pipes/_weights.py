"""The DAG of a weight-sharing evaluation: one trained model, many candidates scored on it.

A weight-sharing search (``dagreuse.search.RSWS``) trains one model — a supernet — and scores
candidate architectures on its weights. As a DAG: below each fold's split, the trainer's chain of
checkpoints (``Epochs`` levels, as for any torch leaf: a longer run resumes from a shorter one's
cached checkpoints), then one ``evaluate`` leaf per group of candidates, reading the last
checkpoint and the fold: its result is the model's ``evaluate(X_val, y_val, **params)``, one
score per candidate. Many candidates share a task that way, and the checkpoints are the shared
prefix of every evaluation, of later ones in the same session and, through the cache, of later
searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._dag import DAG, Node, Step, _Graph
from ._evaluation import Problem
from ._keys import canonical, token
from ._ops import Task
from .resources import Epochs, Resource

__all__ = ["evaluations"]


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
