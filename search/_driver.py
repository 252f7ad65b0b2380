"""``run``: drive a strategy (ask -> merge -> submit -> tell) on one open Runner session.

The loop (:class:`Search`) keeps at most ``max_in_flight`` jobs — (config, resource) evaluations
on every fold — in flight: an asynchronous strategy (ASHA) is asked for the next job as soon as
one completes; a batch strategy is asked for everything it has, which one DAG then merges. Each
``ask`` becomes one merged DAG, submitted to the same session, so later batches reuse the nodes
earlier ones left live or cached. A job is told to the strategy as soon as its last fold is in.

For a promotion the loop gives merge the levels the config has climbed (its checkpoint chain):
those of the level it is promoted from, plus the new one. After each tell it asks the strategy
which jobs it may still promote (``Strategy.likely``) and has the session keep their nodes —
the prefix and, with ``Iterations``, the checkpoint a promotion resumes from — over others.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from dagreuse.cache import Trace
from dagreuse.pipes import Problem, Profile, Runner, merge

from ._base import BatchStrategy, Proposal, Strategy
from ._journal import JOURNALED, Journal, JournalError, config_key, describe, fingerprint
from ._progress import Progress, is_terminal
from ._result import Result
from ._weight_sharing import SharedResult, SharedSearch, WeightSharing

__all__ = ["Result", "Search", "run"]

_log = logging.getLogger("dagreuse.search")


class Search:
    """The state of one ``run``: jobs in flight, the requests they wait for, the trials done.
    Trials are told to the strategy as they complete and returned in the order proposed."""

    def __init__(self, strategy: Strategy, problem: Problem, session: Any, error_score: float,
                 max_in_flight: int | None, progress: Progress | None = None,
                 journal: Journal | None = None):
        self.strategy, self.problem, self.session = strategy, problem, session
        self.progress = progress
        self.error_score = error_score
        if max_in_flight is None and strategy.asynchronous:
            max_in_flight = default_in_flight(session.runner, len(problem.folds))
        self.limit = max_in_flight
        self.metrics = list(problem.scorers)
        self.jobs: dict[int, dict[str, Any]] = {}  # in flight: job number -> its trial so far
        self.waiting: dict[int, list[int]] = {}  # request id -> the jobs it serves
        self.ladders: dict[tuple[str, Any], tuple] = {}  # (config key, level) -> levels climbed
        self.config_ids: dict[str, int] = {}
        self.done: dict[int, dict[str, Any]] = {}  # job number -> its trial
        self.requests_of: dict[Any, list[int]] = {}  # the strategy's job handle -> request ids
        self.expected: set[Any] = set()  # handles of the jobs the strategy may build on
        self.proposed: dict[int, tuple[Proposal, Any]] = {}  # in flight: (proposal, ladder)
        self.journal = journal
        self._replaying = False
        self._position = (0, 0)  # of the trace, at the last journal record
        self._numbers = 0
        self._t0 = time.perf_counter()

    def run_to_end(self) -> list[dict[str, Any]]:
        """Replay the journal where there is one, then run; the progress line closed either way."""
        try:
            if self.journal is not None and self.journal.records:
                self.replay()
            return self.run()
        finally:
            if self.progress is not None:
                self.progress.close()

    def run(self) -> list[dict[str, Any]]:
        while True:
            self._ask()
            if not self.jobs:
                if self.strategy.finished:
                    return [self.done[job] for job in sorted(self.done)]  # in proposal order
                raise RuntimeError(
                    f"{self.strategy!r} proposes nothing, is not finished, and waits for no "
                    "result: it can never finish."
                )
            for request, result in self.session.wait():
                self._record(request, result)

    def _ask(self) -> None:
        while not self.strategy.finished:
            room = None if self.limit is None else self.limit - len(self.jobs)
            if room is not None and room <= 0:
                return
            proposals = self.strategy.ask(room)
            if self.journal is not None:
                self.journal.ask(room, describe(proposals))
            if not proposals:
                return
            self._submit(proposals)

    def _submit(self, proposals: list[Proposal]) -> None:
        self._send(self._register(proposals))

    def _register(self, proposals: list[Proposal]) -> list[int]:
        """Number the proposals' jobs and start their trials; return the job numbers."""
        numbers = list(range(self._numbers, self._numbers + len(proposals)))
        self._numbers += len(proposals)
        if self.progress is not None:
            self.progress.grow(len(proposals))
        n_folds = len(self.problem.folds)
        for job, p in zip(numbers, proposals, strict=True):
            key = config_key(p.config)
            level = None if self.strategy.resource is None else self._ladder(p, key)
            self.proposed[job] = (p, level)
            self.jobs[job] = {
                "config": p.config, "config_id": self.config_ids.setdefault(key, len(self.config_ids)),
                "resource": p.resource, "rung": p.rung, "bracket": p.bracket,
                "promoted_from": p.promoted_from, "job": p.job,
                "test_scores": {m: [self.error_score] * n_folds for m in self.metrics},
                "train_scores": {m: [self.error_score] * n_folds for m in self.metrics},
                "fit_time": [0.0] * n_folds, "score_time": [0.0] * n_folds, "error": None,
                "_folds": n_folds, "requests": [],
            }
        return numbers

    def _send(self, numbers: list[int]) -> None:
        """Merge the jobs ``numbers`` into one DAG and submit it to the session."""
        proposals = [self.proposed[job][0] for job in numbers]
        levels = None if self.strategy.resource is None else [self.proposed[j][1] for j in numbers]
        dag = merge(self.strategy.pipeline, [p.config for p in proposals], problem=self.problem,
                    resource=self.strategy.resource, levels=levels)
        for request_id, request in zip(self.session.submit(dag), dag.requests, strict=True):
            self.waiting[request_id] = [numbers[i] for i in request.configs]
            for i in request.configs:
                if proposals[i].job is not None:
                    self.requests_of.setdefault(proposals[i].job, []).append(request_id)

    def _ladder(self, p: Proposal, key: str) -> tuple:
        """The levels ``p``'s config (keyed ``key``) has climbed, ending at ``p.resource``."""
        if p.promoted_from is None or not self.strategy.resource.checkpoints:
            ladder: tuple = (p.resource,)
        else:
            ladder = (*self.ladders.get((key, p.promoted_from), (p.promoted_from,)), p.resource)
        self.ladders[key, p.resource] = ladder
        return ladder

    def _record(self, request_id: int, result: dict[str, Any]) -> None:
        f = self.session.requests[request_id].fold
        if self.progress is not None:
            self.progress.request(self.session.requests[request_id].path)
        for job in self.waiting.pop(request_id):
            t = self.jobs[job]
            t["requests"].append(self.session.traced.get(request_id))
            if "error" in result:
                t["error"] = t["error"] or result["error"]
            else:
                for m in self.metrics:
                    t["test_scores"][m][f] = result["test"][m]
                    if result["train"] is not None:
                        t["train_scores"][m][f] = result["train"][m]
                t["fit_time"][f], t["score_time"][f] = result["fit_time"], result["score_time"]
            t["_folds"] -= 1
            if t["_folds"] == 0:
                t["elapsed"] = time.perf_counter() - self._t0
                self._finish(job)

    def _finish(self, job: int) -> None:
        """Job ``job``'s last fold is in: its trial is done; tell the strategy (and the
        journal)."""
        t = self.jobs.pop(job)
        del t["_folds"]
        self.proposed.pop(job)
        t["scores"] = t["test_scores"][self.metrics[0]]
        t["mean_score"] = float(np.mean(t["scores"]))
        t["status"] = "error" if t["error"] else "ok"
        self.done[job] = t
        if self.progress is not None:
            self.progress.trial(t)
        if self.journal is not None and not self._replaying:
            part, self._position = self.session.trace.since(self._position)
            self.journal.tell(job, {k: t[k] for k in JOURNALED}, part)
        self.strategy.tell([t])
        self._expect()

    # -- resuming from a journal --------------------------------------------------------------
    def replay(self) -> None:
        """Bring the strategy to where the journal's search stopped: every ``ask`` again with its
        room (it must propose the same jobs), every result told in its place; then submit the
        jobs asked and never told (module docstring of ``_journal``)."""
        trace = self.session.trace
        self._replaying = True
        try:
            for n, record in enumerate(self.journal.records, 1):
                if "ask" in record:
                    proposals = self.strategy.ask(record["ask"])
                    if describe(proposals) != [list(j) for j in record["jobs"]]:
                        raise JournalError(
                            f"The journal {self.journal.path!r} does not match this search: "
                            f"record {n} proposed {len(record['jobs'])} job(s) that "
                            f"{self.strategy!r} does not propose now (another seed or space?)."
                        )
                    self._register(proposals)
                else:
                    self.jobs[record["tell"]].update(record["result"])
                    trace.extend(record["trace"])
                    self._finish(record["tell"])
        finally:
            self._replaying = False
        told = {r for t in self.done.values() for r in t["requests"]}
        trace.meta["abandoned"] = sorted({e["req"] for e in trace.requests(abandoned=True)} - told)
        self._position = (len(trace.nodes), len(trace.events))
        elapsed = max((t["elapsed"] for t in self.done.values()), default=0.0)
        self._t0 = time.perf_counter() - elapsed  # the resumed trials' elapsed goes on from there
        if self.jobs:
            self._send(sorted(self.jobs))

    def _expect(self) -> None:
        """Keep the nodes of the jobs the strategy may promote (``Strategy.likely``) cached over
        others, and let go of those it no longer may."""
        likely = set(self.strategy.likely())
        for jobs, expected in ((likely - self.expected, True), (self.expected - likely, False)):
            ids = [i for job in jobs for i in self.requests_of.get(job, ())]
            if ids:
                self.session.expect(ids, expected)
        self.expected = likely


def _shared(strategy: WeightSharing, problem: Problem, runner: Runner | None,
            error_score: float) -> SharedResult:
    """``run`` of a weight-sharing search (``_weight_sharing``)."""
    trace = Trace()
    with _session(runner, trace) as session:
        search = SharedSearch(strategy, problem, session, error_score)
        trials = search.run()
    result = SharedResult(trials, Profile(trace), search.metrics, strategy.ranking(),
                          strategy.policy, strategy.retrained)
    _report_errors(result)
    return result


@contextlib.contextmanager
def _session(runner: Runner | None, trace: Trace) -> Iterator[Any]:
    """A session of ``runner`` recording ``trace``; without one, of a default Runner started
    and closed here."""
    own = runner is None
    runner = runner or Runner()
    try:
        with runner.open(trace) as session:
            yield session
    finally:
        if own:
            runner.close()


def _progress_bar(strategy: Strategy, trace: Trace, progress: bool | None) -> Progress | None:
    """The live progress line: by default, when stderr is a terminal."""
    if not (is_terminal(sys.stderr) if progress is None else bool(progress)):
        return None
    return Progress(trace, total=0 if isinstance(strategy, BatchStrategy) else None)


def _report_errors(result: Result) -> None:
    """One line per distinct error at the end of a search: failing candidates are an expected
    outcome (``error_score``), so they are summed up, not logged per task."""
    for e in result.errors():
        first = e["error"].splitlines()[0]
        _log.warning("%d evaluation(s) failed with: %s (e.g. config %s)", e["count"], first,
                     repr(e["config"])[:200])


def default_in_flight(runner: Runner, n_folds: int) -> int:
    """Jobs an asynchronous strategy keeps in flight by default: enough that every thread of the
    cluster has a task running and one queued (a job is a task per fold), so that none idles
    while the driver hears of a result and hands out the next job; one in-process."""
    if runner.scheduler == "sync":
        return 1
    return max(1, -(-2 * runner.n_threads // n_folds))


def _check_run(strategy: Any, error_score: Any, runner: Any, max_in_flight: Any, journal: Any,
               resume: Any) -> float:
    """``run``'s arguments, checked before any work starts; the error score as a float."""
    if not isinstance(strategy, Strategy):
        raise TypeError(
            f"The 'strategy' parameter of run must be a dagreuse.search strategy such as "
            f"GriddedRandomSearch(pipeline, branching=[...]). Got {strategy!r} instead."
        )
    if runner is not None and not isinstance(runner, Runner):
        raise TypeError(f"The 'runner' parameter of run must be a dagreuse Runner. Got {runner!r}.")
    if max_in_flight is not None and (isinstance(max_in_flight, bool) or not isinstance(
            max_in_flight, numbers.Integral) or max_in_flight < 1):
        raise ValueError(
            f"The 'max_in_flight' parameter of run must be an int >= 1 or None. Got {max_in_flight!r} "
            "instead."
        )
    if not isinstance(resume, bool):
        raise TypeError(f"The 'resume' parameter of run must be True or False. Got {resume!r}.")
    if resume and journal is None:
        raise ValueError("The 'resume' parameter of run needs a 'journal' file to resume from. "
                         "Got resume=True and journal=None.")
    if isinstance(strategy, WeightSharing) and journal is not None:
        raise ValueError("The 'journal' parameter of run is not supported for weight-sharing "
                         f"searches ({type(strategy).__name__}) yet. Got {journal!r}.")
    return _check_error_score(error_score)


def _check_error_score(error_score: Any) -> float:
    if isinstance(error_score, bool) or not isinstance(error_score, numbers.Real):
        raise TypeError(
            f"The 'error_score' parameter must be a number (nan by default). Got {error_score!r} instead."
        )
    return float(error_score)


def run(
    strategy: Strategy,
    X: Any,
    y: Any = None,
    *,
    cv: Any = 5,
    scoring: Any = None,
    runner: Runner | None = None,
    error_score: float = np.nan,
    groups: Any = None,
    return_train_score: bool = False,
    max_in_flight: int | None = None,
    progress: bool | None = None,
    journal: str | os.PathLike | None = None,
    resume: bool = False,
) -> Result:
    """Evaluate the configs ``strategy`` proposes on one open session of ``runner``.

    Without a ``runner`` a default :class:`Runner` (local Dask cluster) is started and closed.
    ``max_in_flight`` bounds the jobs (config x resource, every fold) in flight; default for
    asynchronous strategies (ASHA): a task running and one queued per thread of the cluster
    (``ceil(2 * threads / folds)`` jobs; 1 in-process); no bound for batch ones. A failing
    candidate gets ``error_score`` and its error text; the others are unaffected, and each
    distinct error is logged once at the end (``Result.errors``). ``progress`` shows one live
    line (``_progress``); by default, when stderr is a terminal.

    ``journal`` names a file to which every proposal and result is appended as it happens;
    with ``resume=True`` an existing journal of the same search is replayed first, so a search
    whose driver died goes on where it stopped and evaluates only what the journal lacks
    (``_journal``). A journal of another search is refused (``JournalError``).
    """
    error_score = _check_run(strategy, error_score, runner, max_in_flight, journal, resume)
    final = next(iter(strategy.pipeline.stages[-1].alternatives.values())).operator
    problem = Problem.of(X, y, cv, scoring, final, groups=groups,
                         return_train_score=return_train_score)
    if isinstance(strategy, WeightSharing):
        return _shared(strategy, problem, runner, error_score)
    book = None if journal is None else Journal(journal, *fingerprint(strategy, problem),
                                                resume=resume)
    trace = Trace()
    try:
        with _session(runner, trace) as session:
            search = Search(strategy, problem, session, error_score, max_in_flight,
                            _progress_bar(strategy, trace, progress), book)
            trials = search.run_to_end()
    finally:
        if book is not None:
            book.close()
    # what a report of the saved trace shows beside the profile (``dagreuse report``)
    trace.meta["trials"] = [{"config_id": t["config_id"], "config": repr(t["config"]),
                             "resource": t["resource"], "rung": t["rung"],
                             "mean_score": t["mean_score"], "status": t["status"]}
                            for t in trials]
    result = Result(trials, Profile(trace), search.metrics)
    _report_errors(result)
    return result
