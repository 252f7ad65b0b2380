"""Input checks and the resolution of ``cv`` and ``scoring``, done before any work starts, and the
:class:`Problem` that holds their outcome."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring, get_scorer
from sklearn.model_selection import (
    BaseCrossValidator,
    BaseShuffleSplit,
    ShuffleSplit,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.utils._tags import get_tags
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_method_params, _num_samples

from ._keys import KeyingError, canonical, data_token

__all__ = ["Problem", "check_data", "fold_params", "resolve_cv", "resolve_scoring", "scoring_key"]


@dataclass
class Problem:
    """What candidates are evaluated on: the data, its folds and the scorers, checked, split and
    keyed once. A search that merges many batches on the same data (ASHA merges one job at a
    time) builds one Problem, so it neither re-splits nor re-hashes X per batch."""

    X: Any = field(repr=False)
    y: Any = field(repr=False)
    folds: list[tuple]
    scorers: dict[str, Callable]
    score_key: Any
    root: str  # the data's content key: the DAG's root
    return_train_score: bool = False
    score_params: dict | None = None  # keyword arguments of the scorers, full length
    pairwise: bool = False  # X is a precomputed kernel: a fold's columns are its training rows

    @classmethod
    def of(cls, X: Any, y: Any, cv: Any, scoring: Any, estimator: Any, *, groups: Any = None,
           return_train_score: bool = False, score_params: dict | None = None) -> Problem:
        """Check ``X``/``y``, split by ``cv`` and resolve ``scoring`` for the final ``estimator``
        (for a pipeline, the pipeline: it says whether X is a precomputed kernel)."""
        check_data(X, y)
        if y is None and is_classifier(estimator):
            raise ValueError(f"The 'y' parameter is needed: the final estimator "
                             f"{type(estimator).__name__} is a classifier. Got y=None.")
        folds = resolve_cv(cv, X, y, classifier=is_classifier(estimator), groups=groups)
        scorers = resolve_scoring(scoring, estimator)
        key = scoring_key(scoring)
        if score_params:
            key = [key, canonical(score_params, "The scorer's parameters")]
        pairwise = estimator is not None and get_tags(estimator).input_tags.pairwise
        return cls(X, y, folds, scorers, key, data_token(X, y), bool(return_train_score),
                   score_params or None, pairwise)


def fold_params(X: Any, params: dict | None, indices: Any) -> dict | None:
    """``params`` for the rows ``indices`` of ``X``, as scikit-learn slices fit parameters:
    array-likes as long as X are indexed, anything else passed as it is."""
    if not params:
        return None
    return _check_method_params(X, params=params, indices=indices)


def check_data(X: Any, y: Any) -> int:
    """Number of samples; X and y must agree."""
    try:
        n = _num_samples(X)
    except TypeError as exc:
        raise TypeError(f"The 'X' parameter must be array-like with a length. {exc}") from None
    if y is not None and _num_samples(y) != n:
        raise ValueError(
            f"The 'X' and 'y' parameters must have the same number of samples. "
            f"Got X with {n} and y with {_num_samples(y)} instead."
        )
    return n


def resolve_cv(cv: Any, X: Any, y: Any, classifier: bool, groups: Any = None) -> list[tuple]:
    """Folds as ``(train_indices, test_indices)`` pairs.

    ``cv`` is an int >= 2 (stratified for classifiers, as in scikit-learn), a scikit-learn
    splitter or iterable of index pairs, or a float in (0, 1): a single holdout of that fraction.
    """
    allowed = ("an int >= 2, a float in (0, 1) for a holdout fraction, a scikit-learn "
               "splitter or a list of (train, test) index pairs")
    if isinstance(cv, bool):
        raise TypeError(f"The 'cv' parameter must be {allowed}. Got {cv!r} instead.")
    if isinstance(cv, numbers.Integral):
        if cv < 2:
            raise ValueError(f"The 'cv' parameter must be {allowed}. Got {cv!r} instead.")
    elif isinstance(cv, numbers.Real):
        if not 0 < cv < 1:
            raise ValueError(f"The 'cv' parameter must be {allowed}. Got {cv!r} instead.")
        stratify = classifier and y is not None and type_of_target(y) in ("binary", "multiclass")
        splitter = StratifiedShuffleSplit if stratify else ShuffleSplit
        cv = splitter(n_splits=1, test_size=float(cv), random_state=0)
    elif isinstance(cv, str) or not (
        isinstance(cv, BaseCrossValidator | BaseShuffleSplit) or hasattr(cv, "split")
        or isinstance(cv, Sequence)
    ):
        raise TypeError(f"The 'cv' parameter must be {allowed}. Got {cv!r} instead.")
    try:
        splitter = check_cv(cv, y, classifier=classifier)
        folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(X, y, groups)]
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"The 'cv' parameter {cv!r} cannot split this data: {exc}") from None
    if not folds:
        raise ValueError(f"The 'cv' parameter {cv!r} produced no folds.")
    n = _num_samples(X)
    # boolean masks of the rows, as scikit-learn accepts them, become row indices
    folds = [tuple(np.flatnonzero(p) if p.dtype == bool and p.shape == (n,) else p for p in fold)
             for fold in folds]
    for part in (p for fold in folds for p in fold):
        if part.dtype.kind not in "iu" or part.ndim != 1 or (part.size and not (
                part.min() >= 0 and part.max() < n)):
            raise ValueError(f"The 'cv' parameter {cv!r} must give (train, test) pairs of row "
                             f"indices in 0..{n - 1}. Got a fold part {part!r} instead.")
    return folds


def resolve_scoring(scoring: Any, estimator: Any = None) -> dict[str, Callable]:
    """Scorers by name. ``None`` uses the final estimator's ``score``; a str is a scikit-learn
    scorer name; a callable ``scorer(estimator, X, y)``; a list or dict gives several."""
    if scoring is None and not hasattr(estimator, "fit") and hasattr(estimator, "score"):
        return {"score": _estimator_score}  # a neural.Trainable, which needs no fit
    if scoring is None:
        scorer = check_scoring(estimator)  # raises when the estimator has no score
        # scikit-learn's passthrough scorer holds the estimator, which every leaf task would
        # then carry to its worker (a whole pipeline, or a CUDA net that warns on arrival)
        return {"score": _estimator_score if type(scorer).__name__ == "_PassthroughScorer" else scorer}
    if isinstance(scoring, str):
        return {"score": _get(scoring)}
    if callable(scoring):
        return {"score": scoring}
    if isinstance(scoring, Mapping) and scoring:
        return {str(k): _get(v) if isinstance(v, str) else v for k, v in scoring.items()}
    if isinstance(scoring, list | tuple | set) and scoring:
        return {str(k): _get(k) for k in scoring}
    raise TypeError(
        "The 'scoring' parameter must be None, a scikit-learn scorer name, a callable "
        f"scorer(estimator, X, y), or a non-empty list or dict of them. Got {scoring!r} instead."
    )


def _estimator_score(estimator: Any, X: Any, y: Any = None, **kwargs: Any) -> float:
    """The estimator's own ``score``: what ``scoring=None`` means."""
    return estimator.score(X, y, **kwargs)


def _get(name: str) -> Callable:
    try:
        return get_scorer(name)
    except ValueError:
        raise ValueError(
            f"The 'scoring' parameter must be a valid scikit-learn scorer name (see "
            f"sklearn.metrics.get_scorer_names()). Got {name!r} instead."
        ) from None


def scoring_key(scoring: Any) -> Any:
    """Key the user's scoring spec: names stay names; scikit-learn scorer objects carry their
    metric and keyword arguments; other callables are keyed like operators."""
    if scoring is None or isinstance(scoring, str):
        return scoring
    if isinstance(scoring, Mapping):
        return {"dict": sorted([str(k), scoring_key(v)] for k, v in scoring.items())}
    if isinstance(scoring, list | tuple | set):
        return sorted(scoring_key(s) for s in scoring)
    fn = getattr(scoring, "_score_func", None)
    if fn is not None:
        return [type(scoring).__name__, canonical(fn, "scoring"), getattr(scoring, "_sign", 1),
                canonical(getattr(scoring, "_kwargs", {}), "scoring"),
                canonical(getattr(scoring, "_response_method", None), "scoring")]
    try:
        return canonical(scoring, "The 'scoring' parameter")
    except KeyingError:
        # Leaves are never cached beyond their DAG, whose leaves all share one scoring: a name
        # is enough to key them, so a lambda scorer is fine here (unlike a lambda operator).
        return {"scorer": getattr(scoring, "__qualname__", type(scoring).__qualname__)}
