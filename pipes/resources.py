"""Resource levels of the leaf stage: what multi-fidelity search gives a candidate more of.

A resource belongs to the last (leaf) stage; every stage before it is computed on the whole
training fold and shared by every level (thesis §4.4.2). One narrow interface, two kinds:

* :class:`Samples` — a level is a fraction ``f`` in (0, 1] of the training fold. The leaf fits on
  the rows given by the first ``ceil(f * n)`` indices of a fixed, seeded permutation of the fold,
  taken in their original order, and is scored on the whole validation fold. The permutation is
  stratified for classifiers (every prefix holds each class in proportion, to within a row), so
  the subsets are nested across levels and ``f = 1`` is exactly the fold a full evaluation sees.
* :class:`Iterations` — a level is an integer number of training units of the leaf. Each level
  is a **checkpoint node**: the model trained to that many units, whose parent is the checkpoint
  of the previous level of the same config. Computing it trains the missing units on a copy of
  the parent, so a promotion resumes instead of starting over. A unit is one ``partial_fit``
  pass over the leaf's rows for estimators that have ``partial_fit`` (SGD, Perceptron,
  PassiveAggressive, MLP, naive Bayes); otherwise the estimator must have ``warm_start`` and the
  unit is one step of the parameter (``n_estimators`` of forests and gradient boosting,
  ``max_iter`` of HistGradientBoosting): level ``r`` is a fit with the parameter at ``r``, from
  the parent's state with ``warm_start=True``.
* :class:`Epochs` — the same for torch stages (skorch nets, or any ``neural.Trainable``): a
  checkpoint holds the model's weights, its optimizer's state, its history and the random
  generators' states, all on CPU, and a promotion trains the missing epochs from it
  (``dagreuse.pipes.neural``). What the score leaf scores is the model restored from it.

"From scratch at level r" — what an independent evaluation does, and what :meth:`Resource.fit`
returns — is the same rule without a parent: ``r`` ``partial_fit`` passes on a fresh estimator
(not ``fit(max_iter=r)``, which differs), or a fresh fit with the parameter at ``r``. For the
deterministic estimators of scikit-learn the two give identical models.
"""

from __future__ import annotations

import collections
import copy
import hashlib
import math
import numbers
import threading
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import type_of_target

__all__ = ["Epochs", "Iterations", "Resource", "Samples", "fit_pipeline"]


class Resource:
    """How the leaf estimator is trained at a resource level (one narrow extension point)."""

    #: Levels chain through cached checkpoint nodes (Iterations) or are independent (Samples).
    checkpoints = False
    #: Levels are integers (Iterations) or fractions (Samples).
    integral = False

    def check(self, estimator: Any, where: str) -> None:
        """Raise, naming ``where``, when ``estimator`` cannot be trained at levels of this kind."""

    def check_level(self, value: Any, name: str, owner: str) -> Any:
        """``value`` as a level, or a clear error naming the parameter ``name`` of ``owner``."""
        raise NotImplementedError

    def default_max(self, estimator: Any) -> Any:
        """The largest level when the user names none."""
        raise NotImplementedError

    def describe(self) -> list:
        """Canonical identity of this resource (key material)."""
        raise NotImplementedError

    def units(self, level: Any, previous: Any, n_rows: int) -> float:
        """Units a node at ``level`` trains, after a parent at ``previous`` (None: none)."""
        raise NotImplementedError

    def fit(self, estimator: Any, X: Any, y: Any, level: Any, previous: Any = None,
            previous_level: Any = None) -> Any:
        """Train an unfitted ``estimator`` at ``level`` on ``(X, y)`` — or continue ``previous``,
        a model trained at ``previous_level`` — and return the fitted model (never in place)."""
        raise NotImplementedError

    def model(self, estimator: Any, value: Any) -> Any:
        """The fitted estimator that :meth:`fit` returned as ``value``, ready to score."""
        return value


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class Samples(Resource):
    """Training-set size of the leaf: a level is a fraction of the training fold (module docstring).

    ``seed`` fixes the permutation; ``stratify`` (default) keeps class proportions for classifiers.
    """

    def __init__(self, seed: int = 0, stratify: bool = True):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"The 'seed' parameter of Samples must be an int. Got {seed!r} instead.")
        self.seed = int(seed)
        self.stratify = bool(stratify)

    def check_level(self, value: Any, name: str, owner: str) -> float:
        if not _number(value) or not 0 < value <= 1:
            raise ValueError(
                f"The {name!r} parameter of {owner} must be a fraction of the training fold in "
                f"(0, 1] with Samples. Got {value!r} instead."
            )
        return float(value)

    def default_max(self, estimator: Any) -> float:
        return 1.0

    def describe(self) -> list:
        return ["samples", self.seed, self.stratify]

    def size(self, fraction: float, n: int) -> int:
        """Rows at ``fraction`` of ``n``: ``ceil(fraction * n)``, at least 1 (rounded to 9
        decimals first, so that 0.1 * 3 of 1000 rows is 300, not 301)."""
        return max(1, min(n, math.ceil(round(fraction * n, 9))))

    def rows(self, y: Any, fraction: float, classifier: bool = True) -> np.ndarray:
        """Indices of the rows the leaf fits on at ``fraction``, in their original order."""
        y = np.asarray(y)
        stratify = bool(self.stratify and classifier
                        and type_of_target(y) in ("binary", "multiclass"))
        digest = hashlib.sha256(y.tobytes() + str(y.dtype).encode()).hexdigest()
        order = _order(digest, self.seed, stratify, y)
        return np.sort(order[: self.size(fraction, len(y))])

    def units(self, level: float, previous: Any, n_rows: int) -> float:
        return self.size(level, n_rows)

    def fit(self, estimator, X, y, level, previous=None, previous_level=None):
        rows = self.rows(y, level, is_classifier(estimator))
        model = clone(estimator)
        if len(rows) == len(y):
            return model.fit(X, y)
        return model.fit(_safe_indexing(X, rows), _safe_indexing(y, rows))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Samples) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(tuple(self.describe()))

    def __repr__(self) -> str:
        return f"Samples(seed={self.seed}, stratify={self.stratify})"


class Iterations(Resource):
    """Training units of the leaf, named by one of its parameters: ``Iterations("max_iter")``
    for SGD or MLP, ``Iterations("n_estimators")`` for forests and gradient boosting."""

    checkpoints = True
    integral = True

    def __init__(self, param: str):
        if not isinstance(param, str) or not param:
            raise TypeError(
                f"The 'param' parameter of Iterations must be the name of an estimator parameter "
                f"such as 'max_iter' or 'n_estimators'. Got {param!r} instead."
            )
        self.param = param

    @property
    def _warm_start(self) -> str:
        """The ``warm_start`` parameter beside ``param`` (``step__warm_start`` for a nested one)."""
        prefix, _, _ = self.param.rpartition("__")
        return f"{prefix}__warm_start" if prefix else "warm_start"

    def mode(self, estimator: Any) -> str | None:
        """``"partial_fit"``, ``"warm_start"``, or None when ``estimator`` cannot continue."""
        if hasattr(estimator, "partial_fit"):
            return "partial_fit"
        if self._warm_start in estimator.get_params(deep=True):
            return "warm_start"
        return None

    def check(self, estimator: Any, where: str) -> None:
        params = estimator.get_params(deep=True)
        name = type(estimator).__name__
        if self.param not in params:
            raise ValueError(
                f"Iterations({self.param!r}) names a parameter that {where} ({name}) does not "
                f"have. Its parameters: {', '.join(sorted(params))}."
            )
        if self.mode(estimator) is None:
            raise TypeError(
                f"{where} ({name}) cannot continue training, so Iterations({self.param!r}) cannot "
                "resume it from a checkpoint. Supported: estimators with partial_fit (SGD, "
                "Perceptron, PassiveAggressive, MLP, naive Bayes) or with a warm_start parameter "
                "(forests, gradient boosting, HistGradientBoosting); or use Samples()."
            )

    def check_level(self, value: Any, name: str, owner: str) -> int:
        return _units(value, name, owner, f"units of {self.param!r}) with Iterations")

    def default_max(self, estimator: Any) -> int:
        return self.check_level(estimator.get_params(deep=True)[self.param], "max_resource",
                                f"Iterations({self.param!r}) (the leaf's own value)")

    def describe(self) -> list:
        return ["iterations", self.param]

    def units(self, level: int, previous: int | None, n_rows: int) -> int:
        return level - (previous or 0)

    def fit(self, estimator, X, y, level, previous=None, previous_level=None):
        if previous is None:
            model, done = clone(estimator), 0
        else:
            model, done = copy.deepcopy(previous), previous_level
        if self.mode(model) == "partial_fit":
            model.set_params(**{self.param: level})
            kw = {"classes": np.unique(y)} if is_classifier(model) else {}
            for _ in range(level - done):
                model.partial_fit(X, y, **kw)
            return model
        model.set_params(**{self.param: level})
        if previous is not None:
            model.set_params(**{self._warm_start: True})
        return model.fit(X, y)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Iterations) and other.param == self.param

    def __hash__(self) -> int:
        return hash(("iterations", self.param))

    def __repr__(self) -> str:
        return f"Iterations({self.param!r})"


class Epochs(Resource):
    """Training epochs of a torch leaf — a skorch net or a ``neural.Trainable`` (module
    docstring). ``seed`` seeds torch before a fresh model is made."""

    checkpoints = True
    integral = True

    def __init__(self, seed: int = 0):
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"The 'seed' parameter of Epochs must be an int. Got {seed!r} instead.")
        self.seed = int(seed)

    def check(self, estimator: Any, where: str) -> None:
        from . import neural

        if not neural.is_net(estimator):
            raise TypeError(
                f"Epochs() trains torch stages, and {where} ({type(estimator).__name__}) is not "
                "one. Supported: skorch's NeuralNet, NeuralNetClassifier and NeuralNetRegressor, "
                f"or an estimator with the methods {', '.join(neural.METHODS)} "
                "(dagreuse.pipes.neural.Trainable); for scikit-learn estimators use "
                "Iterations(param) or Samples()."
            )

    def check_level(self, value: Any, name: str, owner: str) -> int:
        return _units(value, name, owner, "epochs) with Epochs")

    def default_max(self, estimator: Any) -> int:
        return self.check_level(getattr(estimator, "max_epochs", None), "max_resource",
                                "Epochs (the leaf's own max_epochs)")

    def describe(self) -> list:
        return ["epochs", self.seed]

    def units(self, level: int, previous: int | None, n_rows: int) -> int:
        return level - (previous or 0)

    def fit(self, estimator, X, y, level, previous=None, previous_level=None):
        from . import neural

        return neural.train(estimator, X, y, level, self.seed, previous)

    def model(self, estimator: Any, value: Any) -> Any:
        from . import neural

        return neural.restore(estimator, value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Epochs) and other.seed == self.seed

    def __hash__(self) -> int:
        return hash(("epochs", self.seed))

    def __repr__(self) -> str:
        return f"Epochs(seed={self.seed})"


def _units(value: Any, name: str, owner: str, what: str) -> int:
    if not _number(value) or value != int(value) or value < 1:
        raise ValueError(f"The {name!r} parameter of {owner} must be an int >= 1 ({what}. "
                         f"Got {value!r} instead.")
    return int(value)


_ORDERS: collections.OrderedDict = collections.OrderedDict()  # (digest, seed, stratify) -> order
_ORDERS_LOCK = threading.Lock()


def _order(digest: str, seed: int, stratify: bool, y: np.ndarray) -> np.ndarray:
    """The fixed permutation of a fold's rows, computed once per process and fold (every leaf of
    the fold at every level reads it), keyed by the ``digest`` of ``y``; the last 64 are kept."""
    key = (digest, seed, stratify)
    with _ORDERS_LOCK:
        if key in _ORDERS:
            _ORDERS.move_to_end(key)
            return _ORDERS[key]
    order = _permutation(seed, stratify, y)
    with _ORDERS_LOCK:
        _ORDERS[key] = order
        while len(_ORDERS) > 64:
            _ORDERS.popitem(last=False)
    return order


def _permutation(seed: int, stratify: bool, y: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if not stratify:
        return rng.permutation(len(y))
    # each class in its own random order; position j of n_c ranks at (j + u) / n_c, so every
    # prefix of the merged order holds each class in proportion to within one row
    rank = np.empty(len(y))
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        rank[idx] = (np.arange(len(idx)) + rng.random(len(idx))) / len(idx)
    return np.argsort(rank, kind="stable")


def fit_pipeline(pipeline: SkPipeline, X: Any, y: Any, resource: Resource | None = None,
                 level: Any = None) -> SkPipeline:
    """A scikit-learn pipeline fitted from scratch at ``level``: its prefix on all of ``(X, y)``,
    its last step by ``resource`` (all of it when ``resource`` is None) — what an independent
    evaluation of one (config, resource) does, as a fitted Pipeline ready to predict or score."""
    if resource is None:
        return clone(pipeline).fit(X, y)
    prefix = SkPipeline(clone(pipeline).steps[:-1]) if len(pipeline.steps) > 1 else None
    Xt = prefix.fit_transform(X, y) if prefix is not None else X
    name, last = pipeline.steps[-1]
    leaf = resource.model(last, resource.fit(last, Xt, y, level))
    return SkPipeline([*(prefix.steps if prefix is not None else []), (name, leaf)])
