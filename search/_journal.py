"""The journal of a search: what it asked and what it was told, appended as it happens, so that
a search whose driver was killed resumes where it stopped (``run(..., journal=path,
resume=True)``).

A journal is JSON lines. The first is a header naming the search (a fingerprint of the
strategy, the pipeline and its space, the data, the folds and the scoring); then one record per
call of ``strategy.ask`` — the room it was given and the proposals it returned, as config keys
and levels — and one per evaluation told to the strategy: its fold scores, errors, timings,
trace request numbers, and the part of the trace recorded since the previous record (node
costs and events, so that the resumed search's profile covers the whole search).

Resuming replays the records in order into a fresh strategy: each ``ask`` is called again with
the same room and must return the same proposals (seeded strategies do), each result is told
in its place, so the strategy reaches the state it had when the driver died — ASHA's
promotions included — and only the jobs asked and not told are evaluated again.

Durability: every record is written to the file at once, with one ``os.write`` (a killed driver
loses nothing it wrote); ``fsync`` runs at most every ``SYNC_SECONDS`` and at the end, so a power
cut loses at most that much. A torn last line (a power cut mid-write) is dropped with a warning
and cut off the file before new records are appended.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from typing import Any

import numpy as np

from dagreuse.pipes import canonical

__all__ = ["JOURNALED", "SYNC_SECONDS", "Journal", "JournalError", "config_key", "describe",
           "fingerprint"]

#: group commit: the longest a written record waits for ``fsync``
SYNC_SECONDS = 0.1
_FORMAT = 1


class JournalError(ValueError):
    """A journal that cannot be used for this search (another search's, or not a journal)."""


class Journal:
    """An append-only journal file of one search; ``records`` are those found on opening."""

    def __init__(self, path: str | os.PathLike, search: str, about: dict[str, Any],
                 resume: bool):
        self.path = os.fspath(path)
        self.records: list[dict[str, Any]] = []
        exists = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        if exists and not resume:
            raise JournalError(
                f"The 'journal' file {self.path!r} exists already. Pass resume=True to continue "
                "the search it records, or name a new file."
            )
        self._synced = 0.0  # when fsync last ran (monotonic seconds)
        good = self._read(search) if exists else 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.ftruncate(self._fd, good)  # a torn last record goes before anything is appended
        os.lseek(self._fd, good, os.SEEK_SET)
        if good == 0:
            self._write({"dagreuse_journal": _FORMAT, "search": search, "about": about})

    def _read(self, search: str) -> int:
        """Load the records; return the byte length of the whole, well-formed lines."""
        with open(self.path, "rb") as f:
            data = f.read()
        lines, good = data.split(b"\n"), 0
        complete = lines[:-1]  # the part after the last newline is a torn record, or nothing
        if lines[-1]:
            warnings.warn(f"The journal {self.path!r} ends in a torn record ({len(lines[-1])} "
                          "bytes, a write cut short); it is ignored.", stacklevel=4)
        for i, line in enumerate(complete):
            try:
                record = json.loads(line)
            except ValueError:
                if i + 1 < len(complete):
                    raise JournalError(f"The journal {self.path!r} is damaged at line {i + 1}: "
                                       "not a JSON record.") from None
                warnings.warn(f"The journal {self.path!r} ends in a torn record; it is ignored.",
                              stacklevel=4)
                break
            if i == 0:
                self._check_header(record, search)
            else:
                self.records.append(record)
            good += len(line) + 1
        return good

    def _check_header(self, header: Any, search: str) -> None:
        if not isinstance(header, dict) or header.get("dagreuse_journal") != _FORMAT:
            raise JournalError(f"The file {self.path!r} is not a dagreuse journal (format "
                               f"{_FORMAT}).")
        if header.get("search") != search:
            about = header.get("about", {})
            raise JournalError(
                f"The journal {self.path!r} was written for another search ({about.get('strategy')}"
                f" on data {about.get('data')}); this search differs in its strategy, pipeline, "
                "space, data, folds or scoring. Name a new journal file for it."
            )

    # -- writing ------------------------------------------------------------------------------
    def ask(self, room: int | None, proposals: list[tuple[str, str]]) -> None:
        """A call of ``ask(room)`` returned ``proposals`` (config key, level) pairs."""
        self._write({"ask": room, "jobs": proposals})

    def tell(self, job: int, result: dict[str, Any], trace: dict[str, Any]) -> None:
        """Job number ``job`` was told with ``result``; ``trace``: what the trace recorded since
        the previous record."""
        self._write({"tell": job, "result": result, "trace": trace})

    def _write(self, record: dict[str, Any]) -> None:
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        now = time.monotonic()
        if now - self._synced >= SYNC_SECONDS:
            os.fsync(self._fd)
            self._synced = now

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: what the journal keeps of a trial; the rest comes from its proposal when it is replayed
JOURNALED = ("test_scores", "train_scores", "fit_time", "score_time", "error", "requests",
             "elapsed")


def describe(proposals: list[Any]) -> list[list[str]]:
    """Proposals as the journal keeps them: a digest of the config, and the levels."""
    return [[hashlib.sha256(config_key(p.config).encode()).hexdigest()[:20],
             repr(p.resource), repr(p.promoted_from)] for p in proposals]


def fingerprint(strategy: Any, problem: Any) -> tuple[str, dict[str, str]]:
    """What a journal is written for: the strategy, the pipeline with its operators and space,
    the data, the folds and the scoring of ``run``'s problem (a token), and the same in words for
    error messages."""
    operators = []
    for stage in strategy.pipeline.stages:
        for alt in stage.alternatives.values():
            try:
                operators.append(canonical(alt.operator))
            except (TypeError, ValueError):  # not keyable: its text stands for it
                operators.append(repr(alt.operator))
    folds = [[hashlib.sha256(np.asarray(part).tobytes()).hexdigest() for part in fold]
             for fold in problem.folds]
    parts = [type(strategy).__qualname__, repr(strategy), repr(strategy.pipeline), operators,
             repr(strategy.resource), problem.root, folds, problem.score_key,
             problem.return_train_score]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()
    return digest[:32], {"strategy": repr(strategy), "data": problem.root}


def config_key(config: Any) -> str:
    """A config as canonical text: equal configs, equal keys."""
    return json.dumps(canonical(config), sort_keys=True)
