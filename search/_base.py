"""The one extension point of search: a strategy proposes configs and is told their results.

Strategies never hold the Runner (DESIGN §7.7): ``search.run`` drives ask -> merge -> execute ->
tell. ``ask()`` returning an empty list means the strategy is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagreuse.pipes import Config, Pipeline

__all__ = ["BatchStrategy", "Proposal", "Strategy"]


@dataclass(frozen=True)
class Proposal:
    """A config to evaluate, with a resource level for multi-fidelity strategies (else None)."""

    config: Config
    resource: Any = None


class Strategy:
    """Base class: ``ask() -> list[Proposal]``, ``tell(trials)``."""

    pipeline: Pipeline

    def ask(self) -> list[Proposal]:
        raise NotImplementedError

    def tell(self, trials: list[dict[str, Any]]) -> None:
        raise NotImplementedError


class BatchStrategy(Strategy):
    """A strategy that proposes one batch of configs (grid, random, gridded random)."""

    def __init__(self, pipeline: Pipeline):
        if not isinstance(pipeline, Pipeline):
            raise TypeError(
                f"The 'pipeline' parameter of {type(self).__name__} must be a "
                f"dagreuse.pipes.Pipeline. Got {pipeline!r} instead."
            )
        self.pipeline = pipeline
        self._asked = False
        self.trials_: list[dict[str, Any]] = []

    def configs(self) -> list[Config]:
        """The configs this strategy evaluates (deterministic for a given seed)."""
        raise NotImplementedError

    def ask(self) -> list[Proposal]:
        if self._asked:
            return []
        self._asked = True
        return [Proposal(c) for c in self.configs()]

    def tell(self, trials: list[dict[str, Any]]) -> None:
        self.trials_.extend(trials)
