"""ASHA: asynchronous successive halving, promotion-based (thesis Alg. 3 and §3.5).

Whenever a job completes, ``run`` asks for the next one, and ``get_job`` answers: scan each
bracket's rungs from the top down and promote the best config of rung ``k`` that is in its top
``floor(|rung k| / eta)`` and not promoted yet (``|rung k|`` counts the results in, promoted and
failed ones included, but not the jobs still running — ALGORITHMS.md §2 AMBIG (b)); when none
can be promoted, start a new config at the bottom rung. A promotion is right when it is made;
later arrivals may make it a mispromotion, never a double one. Given all bottom-rung results
before any call, ASHA promotes exactly what synchronous successive halving keeps.

Several brackets (early-stopping rates ``s``; bracket ``s`` starts at ``r * eta**s``) run at once,
as asynchronous Hyperband (thesis §3.4). Promotions go first, brackets in order; a new config
goes to the bracket whose bottom rung is least filled against its share of ``n_configs``. The
shares give each bracket the same total resource (§3.5.1): ``n_s`` proportional to
``1 / rbar_s`` with ``rbar_s = (#rungs of s) / eta**(s_max - s)`` — 70.6 / 22.1 / 7.4 % for the
default brackets 0, 1, 2 at ``eta = 4``, ``r = R/256``, split into whole configs by largest
remainder (the thesis prints 70.5 / 22.1 / 7.1, which do not follow from its own formula).
Defaults for users (§3.5.1): ``eta = 4``, ``min_resource = max_resource / 256``, brackets 0, 1, 2.

With priors in the space, ``sampler="prior"`` draws each new bottom-rung config from them with
probability ``prior_fraction`` (default 1), else uniformly; promotions are unchanged (ASHA with
priors, ALGORITHMS.md §7).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dagreuse.pipes import Pipeline
from dagreuse.pipes.resources import Resource

from ._base import BatchStrategy, Proposal
from ._proposals import check_sampler
from ._rungs import Entry, MultiFidelity, check_int, ranked, score_of

__all__ = ["ASHA", "shares"]


def shares(n: int, brackets: Sequence[int], s_max: int, eta: int) -> list[int]:
    """``n`` configs split among ``brackets`` so each gets the same total resource (module
    docstring), by largest remainder; ties to the more aggressive bracket."""
    weights = [eta ** (s_max - s) / (s_max - s + 1) for s in brackets]
    exact = [n * w / sum(weights) for w in weights]
    out = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in by_remainder[: n - sum(out)]:
        out[i] += 1
    return out


class _Bracket:
    """One asynchronous bracket: its rungs of results, what each has promoted, its cap."""

    def __init__(self, s: int, levels: list[Any], cap: int, eta: int):
        self.s, self.levels, self.cap, self.eta = s, levels, cap, eta
        self.rungs: list[list[Entry]] = [[] for _ in levels]
        self.promoted: list[set[int]] = [set() for _ in levels]
        self.started = 0  # configs started at the bottom rung

    def likely(self) -> list[Any]:
        """Jobs not promoted yet that rank within the top ``floor(|rung|/eta) + 1`` of their rung
        (one more than may be promoted now: the next result may open that place)."""
        out = []
        for k in range(len(self.levels) - 1):
            rung = self.rungs[k]
            out += [e.job for e in ranked(rung)[: len(rung) // self.eta + 1]
                    if math.isfinite(e.score) and e.member not in self.promoted[k]]
        return out

    def promotion(self) -> tuple[int, int] | None:
        """``(member, rung it leaves)`` of the next promotion, top rung first, or None."""
        for k in range(len(self.levels) - 2, -1, -1):
            rung = self.rungs[k]
            for entry in ranked(rung)[: len(rung) // self.eta]:
                if math.isfinite(entry.score) and entry.member not in self.promoted[k]:
                    return entry.member, k
        return None


class ASHA(MultiFidelity):
    """Asynchronous successive halving over ``n_configs`` configs of ``source`` (module
    docstring). ``brackets`` are early-stopping rates in ``0 .. s_max``."""

    asynchronous = True

    def __init__(self, source: Pipeline | BatchStrategy, resource: Resource, *,
                 min_resource: Any = None, max_resource: Any = None, eta: int = 4,
                 brackets: Sequence[int] | None = None, seed: int | None = None,
                 n_configs: int | None = None, sampler: str = "uniform",
                 prior_fraction: float | None = None):
        super().__init__(source, resource, min_resource, max_resource, eta, seed)
        owner = "ASHA"
        check_sampler(owner, self.pipeline, sampler, prior_fraction)
        if sampler != "uniform" and self.source is not None:
            raise ValueError("The 'sampler' parameter of ASHA draws configs from a pipeline; with "
                             f"a strategy as source, give it the sampler. Got {self.source!r}.")
        self.sampler, self.prior_fraction = sampler, prior_fraction
        if n_configs is not None:
            n_configs = check_int(owner, "n_configs", n_configs, 1)
        levels = self._levels(self._default_min(4) if min_resource is None else min_resource)
        s_max = len(levels) - 1
        if brackets is None:
            brackets = tuple(range(min(3, s_max + 1)))
        ok = isinstance(brackets, Sequence) and not isinstance(brackets, str) and brackets
        if not ok or len(set(brackets)) != len(brackets) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= s_max for s in brackets):
            raise ValueError(
                f"The 'brackets' parameter of {owner} must be distinct early-stopping rates in "
                f"0..s_max = 0..{s_max} (levels {levels}). Got {brackets!r} instead."
            )
        self._all = self._configs(n_configs, "the configs started at the bottom rungs")
        caps = shares(len(self._all), sorted(brackets), s_max, self.eta)
        self.levels, self.brackets = levels, tuple(sorted(brackets))
        self._brackets = [_Bracket(s, levels[s:], cap, self.eta)
                          for s, cap in zip(self.brackets, caps, strict=True)]
        self._next = 0  # next config to start
        self._jobs: dict[int, tuple[_Bracket, int, int]] = {}  # job -> (bracket, member, rung)
        self._handed = 0  # jobs handed out
        self._arrivals = 0  # results told

    def ask(self, n: int | None = None) -> list[Proposal]:
        out: list[Proposal] = []
        while n is None or len(out) < n:
            job = self._get_job()
            if job is None:
                break
            out.append(job)
        return out

    def _get_job(self) -> Proposal | None:
        for b in self._brackets:
            found = b.promotion()
            if found is not None:
                member, k = found
                b.promoted[k].add(member)
                return self._proposal(b, member, k + 1)
        open_ = [b for b in self._brackets if b.started < b.cap]
        if not open_:
            return None
        b = min(open_, key=lambda b: b.started / b.cap)
        b.started += 1
        return self._proposal(b, self._start_config(b), 0)

    def _start_config(self, bracket: _Bracket) -> int:
        """The next config to start at ``bracket``'s bottom rung (PriorBand draws it now)."""
        member, self._next = self._next, self._next + 1
        return member

    def _proposal(self, b: _Bracket, member: int, rung: int) -> Proposal:
        job, self._handed = self._handed, self._handed + 1
        self._jobs[job] = (b, member, rung)
        previous = b.levels[rung - 1] if rung else None
        return Proposal(self._all[member], b.levels[rung], previous, rung, b.s, job)

    def tell(self, trials: list[dict[str, Any]]) -> None:
        for trial in trials:
            b, member, rung = self._jobs.pop(trial["job"])
            b.rungs[rung].append(Entry(member, score_of(trial), self._arrivals, trial["job"]))
            self._arrivals += 1

    def likely(self) -> list[Any]:
        return [job for b in self._brackets for job in b.likely()]

    @property
    def finished(self) -> bool:
        return not self._jobs and all(
            b.started == b.cap and b.promotion() is None for b in self._brackets)

    def __repr__(self) -> str:
        return (f"ASHA(n_configs={len(self._all)}, brackets={list(self.brackets)}, "
                f"levels={self.levels}, eta={self.eta}, {self.resource!r})")
