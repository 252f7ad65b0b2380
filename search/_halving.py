"""Synchronous successive halving (thesis Alg. 2) and Hyperband (thesis Alg. 1).

Successive halving evaluates ``n`` configs at the lowest level, keeps the best ``floor(n/eta)``,
evaluates those at the next level, and so on to ``max_resource``: the leaves cost little where
there are many of them, so the shared prefix dominates and reuse pays (thesis §4.4.2). A rung is
proposed when the previous one is complete. A promotion names the level it resumes from, so with
``Iterations`` it trains only the missing units, from the cached checkpoint of its lower rung.

Hyperband runs one successive-halving bracket per early-stopping rate ``s = 0 .. s_max``, all at
once (their rungs merge into the same DAGs, sharing prefix nodes): bracket ``s`` starts at level
``r * eta**s`` with ``n = ceil((s_max + 1) * eta**k / (k + 1))`` configs, ``k = s_max - s`` — the
pseudocode of Alg. 1 with integer ``s_max``, not the "floor" variant of HpBandSter, DEHB or NePS.
Brackets are labelled by their early-stopping rate as in the thesis' SHA and ASHA (bracket 0 is
the most aggressive); DESIGN.md §5 counts them the other way round, which names the same
brackets.
"""

from __future__ import annotations

from typing import Any

from dagreuse.pipes import Config, Pipeline
from dagreuse.pipes.resources import Resource

from ._base import BatchStrategy, Proposal
from ._rungs import Entry, MultiFidelity, check_int, score_of, top

__all__ = ["Hyperband", "SuccessiveHalving"]


class Bracket:
    """One synchronous bracket: the members of its current rung, the results in so far."""

    def __init__(self, members: list[int], levels: list[Any], eta: int, label: int):
        self.members, self.levels, self.eta, self.label = members, levels, eta, label
        self.order = {m: i for i, m in enumerate(members)}
        self.queue = members  # the order they are proposed in
        self.rung = 0
        self.handed = 0  # members of this rung proposed so far
        self.entries: list[Entry] = []
        self.done = not members

    def proposals(self, n: int | None) -> list[tuple[int, int, Any, Any]]:
        """``(member, rung, level, promoted_from)`` of up to ``n`` members not proposed yet."""
        if self.done:
            return []
        end = len(self.members) if n is None else min(len(self.members), self.handed + n)
        take, self.handed = self.queue[self.handed:end], end
        previous = self.levels[self.rung - 1] if self.rung else None
        return [(m, self.rung, self.levels[self.rung], previous) for m in take]

    def tell(self, member: int, score: float, job: Any) -> None:
        # a synchronous rung is complete before it is ranked: its ties go to the member proposed
        # first, whatever order the cluster finished them in
        self.entries.append(Entry(member, score, self.order[member], job))
        if len(self.entries) < len(self.members):
            return
        if self.rung == len(self.levels) - 1:
            self.done = True
            return
        # ranked best first, as ASHA promotes them, so that later ties break alike; proposed
        # best *last*: the nodes of the configs most likely kept again (their prefix, their
        # checkpoint) are then the last computed, so the cache still holds them when this rung
        # ends and the next is proposed (with half the working set cached, it halved the prefix
        # recomputations of bench/halving.py's R/256 panel)
        self.members = [e.member for e in top(self.entries, len(self.members) // self.eta)]
        self.order = {m: i for i, m in enumerate(self.members)}
        self.queue = self.members[::-1]
        self.rung, self.handed, self.entries = self.rung + 1, 0, []
        self.done = not self.members

    def likely(self) -> list[Any]:
        """Jobs of the results so far that would be kept if the rung ended now."""
        if self.done or self.rung == len(self.levels) - 1:
            return []
        return [e.job for e in top(self.entries, len(self.members) // self.eta)]


class Halving(MultiFidelity):
    """Synchronous brackets over a list of configs; ``ask`` takes rungs bracket by bracket."""

    def _start(self, configs: list[Config], brackets: list[Bracket]) -> None:
        self._all = configs
        self._brackets = brackets
        self._jobs: dict[int, tuple[Bracket, int]] = {}  # handed out, not told yet
        self._handed = 0

    def ask(self, n: int | None = None) -> list[Proposal]:
        out: list[Proposal] = []
        for bracket in self._brackets:
            room = None if n is None else n - len(out)
            if room == 0:
                break
            for member, rung, level, previous in bracket.proposals(room):
                job, self._handed = self._handed, self._handed + 1
                self._jobs[job] = (bracket, member)
                out.append(Proposal(self._all[member], level, previous, rung, bracket.label, job))
        return out

    def tell(self, trials: list[dict[str, Any]]) -> None:
        for trial in trials:
            bracket, member = self._jobs.pop(trial["job"])
            bracket.tell(member, score_of(trial), trial["job"])

    @property
    def finished(self) -> bool:
        return all(b.done for b in self._brackets)

    def likely(self) -> list[Any]:
        return [job for b in self._brackets for job in b.likely()]


class SuccessiveHalving(Halving):
    """Successive halving of the configs of ``source`` (a pipeline, drawn at random, or a
    proposal strategy such as ``GriddedRandomSearch``, whose branching creates the reuse).

    ``min_resource`` defaults to ``max_resource / eta**k`` with ``k`` the largest such that
    ``eta**k <= n`` (one config reaches ``max_resource``); ``max_resource`` to 1.0 for
    ``Samples`` and the leaf's own value of the parameter for ``Iterations``. With
    ``early_stopping_rate=s`` the first ``s`` levels are skipped. ``n`` must be at least
    ``eta**(s_max - s)``, so that one config reaches the top level.
    """

    def __init__(self, source: Pipeline | BatchStrategy, resource: Resource, *,
                 min_resource: Any = None, max_resource: Any = None, eta: int = 3,
                 early_stopping_rate: int = 0, seed: int | None = None,
                 n_configs: int | None = None):
        super().__init__(source, resource, min_resource, max_resource, eta, seed)
        owner = "SuccessiveHalving"
        s = check_int(owner, "early_stopping_rate", early_stopping_rate, 0)
        if n_configs is not None:
            n_configs = check_int(owner, "n_configs", n_configs, 1)
        configs = self._configs(n_configs, "the configs of the bottom rung")
        n = len(configs)
        if min_resource is None:
            k = 0
            while self.eta ** (k + 1) <= n:
                k += 1
            min_resource = self._default_min(k + s)
        levels = self._levels(min_resource)
        if s > len(levels) - 1:
            raise ValueError(
                f"The 'early_stopping_rate' parameter of {owner} must be at most s_max = "
                f"{len(levels) - 1} (levels {levels}). Got {s} instead."
            )
        self.early_stopping_rate, self.levels = s, levels[s:]
        needed = self.eta ** (len(self.levels) - 1)
        if n < needed:
            raise ValueError(
                f"{owner} needs at least eta**{len(self.levels) - 1} = {needed} configs for one "
                f"to reach max_resource (levels {self.levels}). Got {n}: raise n_configs or "
                "min_resource."
            )
        self._start(configs, [Bracket(list(range(n)), self.levels, self.eta, s)])

    def __repr__(self) -> str:
        return (f"SuccessiveHalving(n={len(self._all)}, levels={self.levels}, eta={self.eta}, "
                f"{self.resource!r})")


class Hyperband(Halving):
    """Hyperband (module docstring): one successive-halving bracket per early-stopping rate.

    ``min_resource`` defaults to 1 for ``Iterations`` (the thesis' unit) and to
    ``max_resource / eta**4`` for ``Samples`` (five brackets); :meth:`brackets` gives the plan.
    """

    def __init__(self, source: Pipeline | BatchStrategy, resource: Resource, *,
                 min_resource: Any = None, max_resource: Any = None, eta: int = 3,
                 seed: int | None = None):
        super().__init__(source, resource, min_resource, max_resource, eta, seed)
        if min_resource is None:
            min_resource = 1 if resource.integral else self._default_min(4)
        levels = self._levels(min_resource)
        s_max = len(levels) - 1
        self._plan = []
        for s in range(s_max + 1):
            k = s_max - s
            self._plan.append((-(-(s_max + 1) * self.eta**k // (k + 1)), levels[s]))
        configs = self._configs(sum(n for n, _ in self._plan), f"{len(self._plan)} brackets")
        brackets, first = [], 0
        for s, (n, _) in enumerate(self._plan):
            brackets.append(Bracket(list(range(first, first + n)), levels[s:], self.eta, s))
            first += n
        self.levels = levels
        self._start(configs, brackets)

    def brackets(self) -> list[tuple[int, Any]]:
        """The planned ``(n, r)`` of each bracket, from the most aggressive (bracket 0)."""
        return list(self._plan)

    def __repr__(self) -> str:
        return f"Hyperband(brackets={self._plan}, eta={self.eta}, {self.resource!r})"
