"""Instruments for tests and benchmarks: count the real work a search does.

:class:`Counted` wraps a real scikit-learn transformer and appends one line per ``fit`` and per
``transform`` to a log file. Appends of one short line are atomic on POSIX, so the count is
right across threads and worker processes alike — which is how the tests check "every unique
node computed exactly once" on a multi-process cluster.

:class:`CountedSGDClassifier`, :class:`CountedGradientBoostingClassifier` and
:class:`CountedLogisticRegression` are the real estimators, logging each training call with the
units it trained (one per ``partial_fit`` pass; the trees a ``fit`` added; one per logistic
``fit``) to the file named by the ``DAGREUSE_COUNT_LOG`` environment variable:
they are the leaves of a multi-fidelity search, which scikit-learn clones and re-parameterises,
so the log cannot be a parameter. Their lines also name the config (a hash of the parameters
other than the resource ones) and the data, so the units of one (config, fold) can be summed.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import joblib
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier

__all__ = ["COUNT_LOG", "Counted", "CountedGradientBoostingClassifier",
           "CountedLogisticRegression", "CountedSGDClassifier", "read_counts", "read_units"]

#: The environment variable that names the log of the counted estimators.
COUNT_LOG = "DAGREUSE_COUNT_LOG"
_RESOURCE_PARAMS = ("max_iter", "n_estimators", "warm_start")


def _append(log: str | None, line: str) -> None:
    if log is None:
        return
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _log_units(est: Any, event: str, X: Any, units: int) -> None:
    params = {k: v for k, v in est.get_params(deep=False).items() if k not in _RESOURCE_PARAMS}
    _append(os.environ.get(COUNT_LOG), f"{event} {type(est).__name__} {joblib.hash(params)[:12]} "
                                       f"{joblib.hash(X)[:12]} {units}\n")


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
        _append(self.log, f"{event} {self.tag or '-'} {params} {joblib.hash(X)[:12]}\n")

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


class CountedSGDClassifier(SGDClassifier):
    """``SGDClassifier`` logging each ``partial_fit`` pass (one unit) to ``$DAGREUSE_COUNT_LOG``."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        _log_units(self, "partial_fit", X, 1)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


class CountedGradientBoostingClassifier(GradientBoostingClassifier):
    """``GradientBoostingClassifier`` logging each ``fit`` with the trees it added (its units)."""

    def fit(self, X, y, sample_weight=None, monitor=None):
        before = len(getattr(self, "estimators_", ())) if self.warm_start else 0
        super().fit(X, y, sample_weight=sample_weight, monitor=monitor)
        _log_units(self, "fit", X, self.n_estimators_ - before)
        return self


class CountedLogisticRegression(LogisticRegression):
    """``LogisticRegression`` logging each ``fit`` (one unit: a leaf evaluated once) to
    ``$DAGREUSE_COUNT_LOG``."""

    def fit(self, X, y, sample_weight=None):
        _log_units(self, "fit", X, 1)
        return super().fit(X, y, sample_weight=sample_weight)


def read_units(log: str | os.PathLike) -> Counter:
    """``Counter`` of training units by ``(config hash, data hash)`` from the counted estimators."""
    units: Counter = Counter()
    for line, times in read_counts(log).items():
        if len(line) == 5:  # an estimator's line; a Counted transformer's has four fields
            _, _, config, data, n = line
            units[config, data] += int(n) * times
    return units
