"""The one extension point of search: a strategy proposes configs and is told their results.

Strategies never hold the Runner (DESIGN §7.7): ``search.run`` drives ask -> merge -> execute ->
tell. ``ask(n)`` returns at most ``n`` proposals (any number when ``n`` is None); an empty list
means "nothing to propose until results arrive" while ``finished`` is False, and "done" once it
is True. A multi-fidelity strategy proposes resource levels too, and says for a promotion which
level the config resumes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagreuse.pipes import Config, Pipeline

__all__ = ["BatchStrategy", "Proposal", "Strategy"]


@dataclass(frozen=True)
class Proposal:
    """A config to evaluate.

    ``resource`` is its level (None: the full evaluation); ``promoted_from`` the level it was
    evaluated at before, for a promotion (its checkpoint is where training resumes); ``rung`` and
    ``bracket`` place it in a halving schedule; ``job`` is the strategy's own handle, given back
    in the trial."""

    config: Config
    resource: Any = None
    promoted_from: Any = None
    rung: int | None = None
    bracket: int | None = None
    job: Any = None


class Strategy:
    """Base class: ``ask(n) -> list[Proposal]``, ``tell(trials)``, ``finished``.

    ``resource`` is the leaf's resource (``dagreuse.pipes.resources``) of a multi-fidelity
    strategy; ``asynchronous`` strategies are asked for a job whenever one completes, so ``run``
    bounds the jobs they have in flight (batch strategies are asked for everything at once).
    A trial is scored greater-is-better (scikit-learn's scorers negate losses).
    """

    pipeline: Pipeline
    resource: Any = None
    asynchronous = False

    def ask(self, n: int | None = None) -> list[Proposal]:
        raise NotImplementedError

    def tell(self, trials: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        raise NotImplementedError

    def likely(self) -> list[Any]:
        """The ``job`` handles of told trials whose configs this strategy may still promote.
        ``run`` keeps their nodes (prefix, checkpoint) in the cache over others, so that a
        promotion finds them there. Optional: by default, none."""
        return []


class BatchStrategy(Strategy):
    """A strategy that proposes one batch of configs (grid, random, gridded random)."""

    def __init__(self, pipeline: Pipeline):
        if not isinstance(pipeline, Pipeline):
            raise TypeError(
                f"The 'pipeline' parameter of {type(self).__name__} must be a "
                f"dagreuse.pipes.Pipeline. Got {pipeline!r} instead."
            )
        self.pipeline = pipeline
        self._batch: list[Config] | None = None
        self._asked = 0
        self.trials_: list[dict[str, Any]] = []

    def configs(self) -> list[Config]:
        """The configs this strategy evaluates (deterministic for a given seed)."""
        raise NotImplementedError

    def ask(self, n: int | None = None) -> list[Proposal]:
        if self._batch is None:
            self._batch = self.configs()
        end = len(self._batch) if n is None else min(len(self._batch), self._asked + n)
        out = [Proposal(c) for c in self._batch[self._asked:end]]
        self._asked = end
        return out

    def tell(self, trials: list[dict[str, Any]]) -> None:
        self.trials_.extend(trials)

    @property
    def finished(self) -> bool:
        return self._batch is not None and self._asked == len(self._batch)
