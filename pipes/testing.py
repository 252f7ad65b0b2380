"""Instruments for tests and benchmarks: count the real work a search does.

:class:`Counted` wraps a real scikit-learn transformer and appends one line per ``fit`` and per
``transform`` to a log file. Appends of one short line are atomic on POSIX, so the count is
right across threads and worker processes alike — which is how the tests check "every unique
node computed exactly once" on a multi-process cluster.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import joblib
from sklearn.base import BaseEstimator, TransformerMixin, clone

__all__ = ["Counted", "read_counts"]


class Counted(TransformerMixin, BaseEstimator):
    """A transformer that logs each fit and transform of the wrapped ``estimator`` to ``log``.

    Each line is ``"<event> <tag> <params hash> <data hash>"``, so distinct nodes (other
    parameters or another fold) are told apart.
    """

    def __init__(self, estimator: Any = None, log: str | None = None, tag: str = ""):
        self.estimator = estimator
        self.log = log
        self.tag = tag

    def _record(self, event: str, X: Any) -> None:
        if self.log is None:
            return
        params = joblib.hash(self.estimator.get_params(deep=True))[:12]
        line = f"{event} {self.tag or '-'} {params} {joblib.hash(X)[:12]}\n"
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def fit(self, X: Any, y: Any = None) -> Counted:
        self._record("fit", X)
        self.estimator_ = clone(self.estimator).fit(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        self._record("fit", X)
        self.estimator_ = clone(self.estimator)
        return self.estimator_.fit_transform(X, y)

    def transform(self, X: Any) -> Any:
        self._record("transform", X)
        return self.estimator_.transform(X)


def read_counts(log: str | os.PathLike) -> Counter:
    """``Counter`` of ``(event, tag, params, data)`` lines; empty when nothing was logged."""
    if not os.path.exists(log):
        return Counter()
    with open(log) as f:
        return Counter(tuple(line.split()) for line in f if line.strip())
