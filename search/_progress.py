"""One live line per search: evaluations done (of how many, when the strategy has said), the
highest rung reached, the best score so far, failures, elapsed and remaining time, and the
speedup reuse has given so far.

On a terminal the line is a ``tqdm`` bar redrawn in place; elsewhere (a log file, a notebook's
captured stream) it is a plain line printed at most every ``PLAIN_SECONDS``, and once at the end.
The speedup so far is the independent seconds of the evaluations done (each path's nodes paid
again) over the seconds the run has computed, both from the trace, so it costs nothing extra to
measure.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

__all__ = ["FIELDS_SECONDS", "PLAIN_SECONDS", "Progress", "is_terminal"]

#: Seconds between two plain progress lines (not on a terminal).
PLAIN_SECONDS = 5.0
#: Seconds between two updates of the bar's fields (the speedup reads every node of the trace).
FIELDS_SECONDS = 0.5


class Progress:
    """The progress of one search, told each finished evaluation (:meth:`trial`)."""

    def __init__(self, trace: Any, stream: TextIO | None = None, total: int | None = None):
        self.trace = trace
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.done = self.failed = 0
        self.best = -math.inf
        self.rung: int | None = None
        self.independent = 0.0  # seconds of the finished requests' paths, each paid again
        self.t0 = time.perf_counter()
        self._printed = self._fielded = -math.inf
        self.bar = None
        if is_terminal(self.stream):
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=self.stream, unit="eval", dynamic_ncols=True,
                            desc="search")

    def grow(self, n: int) -> None:
        """``n`` more evaluations were proposed (the total stays open until ``close``)."""
        if self.total is not None:
            self.total += n
            if self.bar is not None:
                self.bar.total = self.total
                self.bar.refresh()

    def request(self, path: list[str]) -> None:
        """A request finished: its path counts toward the independent seconds."""
        self.independent += math.fsum(self.trace.seconds(k) for k in path)

    def trial(self, trial: dict[str, Any]) -> None:
        self.done += 1
        if trial["status"] != "ok":
            self.failed += 1
        elif math.isfinite(trial["mean_score"]):
            self.best = max(self.best, trial["mean_score"])
        if trial.get("rung") is not None:
            self.rung = max(self.rung or 0, trial["rung"])
        if self.bar is not None:
            if time.perf_counter() - self._fielded >= FIELDS_SECONDS:
                self._fielded = time.perf_counter()
                self.bar.set_postfix_str(self._fields(), refresh=False)
            self.bar.update(1)
        elif time.perf_counter() - self._printed >= PLAIN_SECONDS:
            self._line()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(self._fields(), refresh=False)
            self.bar.close()
        else:
            self._line()

    def speedup(self) -> float:
        spent = math.fsum((n["seconds"] or 0.0) * n["computed"] for n in self.trace.nodes.values())
        return self.independent / spent if spent > 0 else math.nan

    def _fields(self) -> str:
        parts = [] if self.rung is None else [f"rung {self.rung}"]
        if self.best > -math.inf:
            parts.append(f"best {self.best:.4g}")
        if self.failed:
            parts.append(f"failed {self.failed}")
        speedup = self.speedup()
        if math.isfinite(speedup):
            parts.append(f"speedup {speedup:.2f}x")
        return ", ".join(parts)

    def _line(self) -> None:
        self._printed = time.perf_counter()
        elapsed = self._printed - self.t0
        of = f"/{self.total}" if self.total is not None else ""
        left = ""
        if self.total and 0 < self.done < self.total:
            left = f", about {elapsed * (self.total - self.done) / self.done:.0f} s left"
        fields = self._fields()
        print(f"search: {self.done}{of} evaluations, {elapsed:.0f} s{left}"
              f"{', ' + fields if fields else ''}", file=self.stream, flush=True)


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False
