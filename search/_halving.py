"""Synchronous successive halving (thesis Alg. 2) and Hyperband (thesis Alg. 1).

Successive halving evaluates ``n`` configs at the lowest level, keeps the best ``floor(n/eta)``,
evaluates those at the next level, and so on to ``max_resource``: the leaves cost little where
there are many of them, so the shared prefix dominates and reuse pays (thesis §4.4.2). A result
certain to be kept is promoted before its rung is complete (``Bracket``): the same configs reach
the same levels, with less of the cluster idle at each rung boundary. A promotion names the level
it resumes from, so with ``Iterations`` it trains only the missing units, from the cached
checkpoint of its lower rung.

Hyperband runs one successive-halving bracket per early-stopping rate ``s = 0 .. s_max``, all at
once (their rungs merge into the same DAGs, sharing prefix nodes): bracket ``s`` starts at level
``r * eta**s`` with ``n = ceil((s_max + 1) * eta**k / (k + 1))`` configs, ``k = s_max - s`` — the
pseudocode of Alg. 1 with integer ``s_max``, not the "floor" variant of HpBandSter, DEHB or NePS.
Brackets are labelled by their early-stopping rate as in the thesis' SHA and ASHA (bracket 0 is
the most aggressive); DESIGN.md §5 counts them the other way round, which names the same
brackets.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

from dagreuse.pipes import Config, Pipeline
from dagreuse.pipes.resources import Resource

from ._base import BatchStrategy, Proposal
from ._rungs import Entry, MultiFidelity, check_int, ranked, score_of, top

__all__ = ["Hyperband", "SuccessiveHalving"]


class _Rung:
    """One rung of a bracket: its members (ranked best first once the rung below is complete;
    until then, those already certain to be kept), who of them is still to be proposed, and the
    results in so far."""

    def __init__(self, level: Any):
        self.level = level
        self.members: list[int] = []
        self.final = False  # the rung below is complete: ``members`` is the whole rung
        self.queue: list[int] = []  # members not proposed yet, in the order they will be
        self.results: dict[int, Entry] = {}

    @property
    def complete(self) -> bool:
        return self.final and len(self.results) == len(self.members)

    def ranked(self) -> list[Entry]:
        """The results best first; ties to the member ranked higher in the rung below (listed first
        in the bottom rung), whatever order the cluster finished them in."""
        order = {m: i for i, m in enumerate(self.members)}
        for e in self.results.values():
            e.arrival = order[e.member]
        return ranked(list(self.results.values()))


class Bracket:
    """One synchronous bracket: successive halving over ``members`` through ``levels``.

    A rung keeps its best ``floor(n / eta)``, as Alg. 2 does when the rung is complete; but a
    result that is in that top whatever the results still out turn out to be (fewer results can
    rank at or above it than places are left: ties counted against it) is promoted at once, so
    the next rung starts while the last of this one run, instead of the cluster idling at every
    rung boundary. Which configs reach which level is exactly Alg. 2's. The rest of a rung is
    proposed worst first when the rung below completes: the nodes of the configs most likely kept
    again (their prefix, their checkpoint) are then the last computed, so a bounded cache still
    holds them when this rung ends (it halved the prefix recomputations of bench/halving.py's
    R/256 panel).
    """

    def __init__(self, members: list[int], levels: list[Any], eta: int, label: int):
        self.levels, self.eta, self.label = levels, eta, label
        self.rungs = [_Rung(level) for level in levels]
        first = self.rungs[0]
        first.members, first.queue, first.final = list(members), list(members), True
        self._at: dict[int, int] = {}  # member in flight -> its rung
        self.done = not members

    def proposals(self, n: int | None) -> list[tuple[int, int, Any, Any]]:
        """``(member, rung, level, promoted_from)`` of up to ``n`` members not proposed yet,
        promotions first: they lead to the longest jobs."""
        out: list[tuple[int, int, Any, Any]] = []
        for r in reversed(range(len(self.rungs))):
            rung = self.rungs[r]
            room = len(rung.queue) if n is None else min(len(rung.queue), n - len(out))
            take, rung.queue = rung.queue[:room], rung.queue[room:]
            previous = self.levels[r - 1] if r else None
            for m in take:
                self._at[m] = r
                out.append((m, r, rung.level, previous))
        return out

    def tell(self, results: list[tuple[int, float, Any]]) -> None:
        """``(member, score, job)`` of results in; promotions are decided once all are in."""
        touched = set()
        for member, score, job in results:
            r = self._at.pop(member)
            self.rungs[r].results[member] = Entry(member, score, 0, job)
            touched.add(r)
        for r in sorted(touched):
            self._promote(r)

    def _promote(self, r: int) -> None:
        rung = self.rungs[r]
        if r == len(self.rungs) - 1 or not rung.final:
            self.done = self.done or rung.complete
            return
        k, above = len(rung.members) // self.eta, self.rungs[r + 1]
        if rung.complete:
            kept = [e.member for e in top(rung.ranked(), k)]
            early = set(above.members)
            above.queue += [m for m in reversed(kept) if m not in early]
            above.members, above.final = kept, True
            self.done = not kept
            self._promote(r + 1)
            return
        places = k - (len(rung.members) - len(rung.results))  # left whatever is still out
        if places <= 0:
            return
        scores = sorted(e.score for e in rung.results.values())
        certain = [e for e in rung.ranked()[:places] if math.isfinite(e.score)
                   and len(scores) - bisect_left(scores, e.score) - 1 < places  # others >= it
                   and e.member not in above.members]
        for e in reversed(certain):
            above.members.append(e.member)
            above.queue.append(e.member)

    def likely(self) -> list[Any]:
        """Jobs of the results so far that would be kept if their rung ended now."""
        return [e.job for rung in self.rungs[:-1] if rung.final and not rung.complete
                for e in top(rung.ranked(), len(rung.members) // self.eta)]


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
        told: dict[Bracket, list] = {}
        for trial in trials:
            bracket, member = self._jobs.pop(trial["job"])
            told.setdefault(bracket, []).append((member, score_of(trial), trial["job"]))
        for bracket, results in told.items():
            bracket.tell(results)

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
