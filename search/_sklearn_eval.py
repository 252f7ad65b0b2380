"""The seam between scikit-learn's search ``fit`` and dagreuse's evaluation.

The scikit-learn compatible searchers run scikit-learn's own ``BaseSearchCV.fit``: parameter
validation, metadata routing, ``cv`` checks, callbacks, ``verbose``, ``_run_search`` (so its
subclasses, the halving searchers and a user's own, work unchanged), the fit-failure warnings
and errors, ``cv_results_``, best-candidate selection and refit. That ``fit`` evaluates each
batch of candidates with ``Parallel(...)(delayed(_fit_and_score)(...) for each (candidate,
split))``. While a dagreuse searcher fits, ``sklearn.model_selection._search.Parallel`` is
:class:`_Evaluations`: a ``Parallel`` that hands the batch of *this* searcher to
:class:`Evaluator` — the candidates merged into one shared-prefix DAG, executed by the searcher's
Runner (one per ``fit``, so later batches reuse the cache) — and returns exactly the dicts
``_fit_and_score`` would have. Any other caller (another search, in another thread too) gets
joblib's ``Parallel`` unchanged.

Per (candidate, split), as ``_fit_and_score``: its fit parameters and the scorers' sliced per
fold, the scorer called through scikit-learn's ``_score`` (multimetric dicts, error handling),
``error_score``, the verbose lines, the callback context's begin and end hooks. With
``error_score="raise"`` a failed evaluation is run again here by scikit-learn's own
``_fit_and_score``, so the estimator's own exception is what the caller sees.

A halving search whose resource is the final estimator's ``n_estimators`` (gradient boosting,
random forests, extra trees: :data:`RESUMABLE`, where training on with ``warm_start`` gives the
model a fresh fit at the larger value gives) evaluates each promoted candidate from the model its
previous iteration trained: the levels a candidate has reached are its checkpoint chain
(``resources.Iterations``). Any other resource parameter is fitted from scratch, as
scikit-learn does. A callback
context reaches the estimators' own fits when they run in this process (``n_jobs=None``, the
sync Runner); on Dask workers they run without it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import sklearn.model_selection._search as _search
from joblib import logger
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._search_successive_halving import BaseSuccessiveHalving
from sklearn.model_selection._validation import _fit_and_score, _score
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _num_samples

from dagreuse.cache import Trace
from dagreuse.pipes import Runner, canonical, merge_estimators
from dagreuse.pipes._ops import NodeFailed
from dagreuse.pipes.resources import Iterations

__all__ = ["RESUMABLE", "Evaluator", "evaluating"]

#: scikit-learn's final estimators (and their subclasses) that may resume from a checkpoint, by
#: class name, and the parameter they resume along (names: no sklearn.ensemble import here).
RESUMABLE = {name: "n_estimators" for name in (
    "GradientBoostingClassifier", "GradientBoostingRegressor", "RandomForestClassifier",
    "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor")}

_SkParallel = _search.Parallel
_lock = threading.Lock()
_installed = 0
_local = threading.local()  # the Evaluator of the dagreuse fit running on this thread


class _Scorer:
    """A scikit-learn scorer called as ``_fit_and_score`` calls it (``_score``): a number, or
    a dict of them for a multimetric or dict-returning scorer."""

    def __init__(self, scorer: Any, error_score: Any):
        self.scorer, self.error_score = scorer, error_score

    def __call__(self, estimator: Any, X: Any, y: Any, **params: Any) -> Any:
        return _score(estimator, X, y, self.scorer, params, self.error_score)


class Evaluator:
    """Evaluates a dagreuse searcher's batches on one Runner, started at the first batch."""

    def __init__(self, search: Any):
        self.search = search
        self.trace = Trace()
        self.runner: Runner | None = None
        self.ladders: dict[str, tuple] = {}  # candidate without its resource -> levels reached

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()

    def evaluate(self, calls: list[tuple]) -> list[dict[str, Any]]:
        """The ``_fit_and_score`` dicts of ``calls`` — ``(function, args, kwargs)`` in
        (candidate, split) order — computed as one merged DAG."""
        if not calls:
            return []
        estimator, X, y = calls[0][1]
        kw = calls[0][2]
        n_splits = kw["split_progress"][1]
        candidates = [c[2]["parameters"] for c in calls[::n_splits]]
        splits = [(c[2]["train"], c[2]["test"]) for c in calls[:n_splits]]
        resource, levels = None, None
        resumed = _resumed(self.search, estimator, candidates)
        if resumed is not None:
            candidates, levels = self._ladders(candidates, resumed)
            resource = Iterations(resumed[1])
        dag = merge_estimators(
            estimator, candidates, X, y, cv=splits, scoring=_Scorer(kw["scorer"], kw["error_score"]),
            return_train_score=kw["return_train_score"], fit_params=kw["fit_params"] or None,
            score_params=kw["score_params"] or None, resource=resource, levels=levels)
        if self.runner is None:
            self.runner = self.search._runner()
        if self.runner.scheduler == "sync":  # in this process: the estimators' fits report
            for request in dag.requests:    # to the callbacks, as scikit-learn's do
                i = request.configs[0] * n_splits + request.fold
                dag.nodes[request.leaf].task.callbacks = calls[i][2].get("callback_ctx")
        results = self.runner.execute(dag, self.trace)
        found: list[Any] = [None] * len(calls)
        for request, res in zip(dag.requests, results, strict=True):
            path = sum(self.trace.seconds(k) for k in request.path[:-1])
            if dag.nodes[request.leaf].task.kind == "score" and "error" not in res:
                path -= res["fit_time"]  # its checkpoint, on the path already
            for c in request.configs:
                found[c * n_splits + request.fold] = (res, path)
        # in scikit-learn's order, for the hooks and lines each evaluation reports
        return [self._one(call, *f) for call, f in zip(calls, found, strict=True)]

    def _ladders(self, candidates: list[dict], resumed: tuple[str, str]) -> tuple[list, list]:
        """The candidates without their resource parameter, and the levels each has reached
        (its checkpoint chain), this batch's last."""
        full = resumed[0]
        out, levels = [], []
        for params in candidates:
            rest = {k: v for k, v in params.items() if k != full}
            key = json.dumps(canonical(rest), sort_keys=True)
            ladder, level = self.ladders.get(key, ()), int(params[full])
            self.ladders[key] = (*ladder, level) if ladder and ladder[-1] < level else (level,)
            out.append(rest)
            levels.append(self.ladders[key])
        return out, levels

    def _one(self, call: tuple, res: dict[str, Any], path_seconds: float) -> dict[str, Any]:
        """One evaluation's dict, with ``_fit_and_score``'s hooks and messages around it."""
        _, (estimator, X, y), kw = call
        ctx = kw.get("callback_ctx")
        if ctx is not None and not getattr(ctx, "_callbacks", True):
            ctx = None  # no callbacks to call: spare slicing the fold for them
        if ctx is not None:
            X_train, y_train = _safe_split(estimator, X, y, kw["train"])
            weights = (_check_method_params(X, kw["fit_params"] or {}, kw["train"])
                       .get("sample_weight"))
            metadata = None if weights is None else {"sample_weight": weights}
            ctx.call_on_fit_task_begin(estimator=kw["caller"], X=X_train, y=y_train,
                                       metadata=metadata)
        try:
            out = self._result(call, res, path_seconds)
        finally:
            if ctx is not None:
                ctx.call_on_fit_task_end(estimator=kw["caller"], X=X_train, y=y_train,
                                         metadata=metadata)
        _verbose(kw, out)
        return out

    def _result(self, call: tuple, res: dict[str, Any], path_seconds: float) -> dict[str, Any]:
        fn, args, kw = call
        error = kw["error_score"]
        out: dict[str, Any] = {}
        if "error" in res:
            if error == "raise":
                fn.function(*args, **{**kw, "callback_ctx": None})  # raises the estimator's own
                raise NodeFailed(res["error"])  # it did not fail here: say what failed there
            scorer = kw["scorer"]
            test: Any = ({name: error for name in scorer._scorers}
                         if isinstance(scorer, _MultimetricScorer) else error)
            train = dict(test) if isinstance(test, dict) else test
            out.update(fit_error=res["error"], fit_time=0.0, score_time=0.0)
        else:
            test, train = res["test"]["score"], (res["train"] or {}).get("score")
            out.update(fit_error=None, fit_time=path_seconds + res["fit_time"],
                       score_time=res["score_time"])
        out["test_scores"] = test
        if kw["return_train_score"]:
            out["train_scores"] = train
        if kw.get("return_n_test_samples"):
            out["n_test_samples"] = _num_samples(kw["test"])
        if kw.get("return_parameters"):
            out["parameters"] = kw["parameters"]
        return out


def _resumed(search: Any, estimator: Any, candidates: list[dict]) -> tuple[str, str] | None:
    """``(resource, the final estimator's parameter)`` when ``search`` halves along a parameter
    its final estimator can resume along (module docstring) and no candidate replaces that
    estimator, else None."""
    resource = getattr(search, "resource", "n_samples")
    if not isinstance(search, BaseSuccessiveHalving) or resource == "n_samples":
        return None
    final, prefix = estimator, ""
    while isinstance(final, SkPipeline):
        name, final = final.steps[-1]
        prefix += name + "__"
    along = next((RESUMABLE[c.__name__] for c in type(final).__mro__
                  if c.__module__.startswith("sklearn.ensemble") and c.__name__ in RESUMABLE), None)
    if (along != resource.removeprefix(prefix) or not resource.startswith(prefix)
            or any(prefix.removesuffix("__") in c for c in candidates)):
        return None
    return resource, resource.removeprefix(prefix)


def _verbose(kw: dict[str, Any], out: dict[str, Any]) -> None:
    """The line ``_fit_and_score`` prints at the end of a fit with ``verbose > 1``."""
    verbose = kw.get("verbose", 0)
    if verbose <= 1:
        return
    progress = ""
    if verbose > 2:
        split = kw.get("split_progress")
        if split is not None:
            progress = f" {split[0] + 1}/{split[1]}"
        candidate = kw.get("candidate_progress")
        if candidate and verbose > 9:
            progress += f"; {candidate[0] + 1}/{candidate[1]}"
    params = kw.get("parameters")
    msg = "" if params is None else ", ".join(f"{k}={params[k]}" for k in sorted(params))
    msg += ";" if msg else ""
    if verbose > 2:
        test, train = out["test_scores"], out.get("train_scores")
        if isinstance(test, dict):
            for name in sorted(test):
                msg += f" {name}: ("
                if kw["return_train_score"]:
                    msg += f"train={train[name]:.3f}, "
                msg += f"test={test[name]:.3f})"
        else:
            msg += ", score="
            msg += (f"(train={train:.3f}, test={test:.3f})" if kw["return_train_score"]
                    else f"{test:.3f}")
    msg += f" total time={logger.short_format_time(out['fit_time'] + out['score_time'])}"
    end = f"[CV{progress}] END "
    print(end + "." * (80 - len(end) - len(msg)) + msg)


class _Evaluations(_SkParallel):
    """``Parallel`` in scikit-learn's search module while a dagreuse searcher fits (module
    docstring): its batches go to its :class:`Evaluator`, any other to joblib."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._evaluator = getattr(_local, "evaluator", None)

    def __enter__(self) -> Any:
        return self if self._evaluator is not None else super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._evaluator is None:
            super().__exit__(*exc)

    def __call__(self, iterable: Any) -> Any:
        calls = list(iterable)
        ev = self._evaluator
        if ev is not None and all(getattr(c[0], "function", None) is _fit_and_score
                                  and c[2].get("caller") is ev.search for c in calls):
            return ev.evaluate(calls)
        return super().__call__(calls)


@contextlib.contextmanager
def evaluating(search: Any) -> Iterator[Evaluator]:
    """While inside, scikit-learn's search ``fit`` on this thread evaluates ``search``'s
    batches with an :class:`Evaluator` (module docstring)."""
    global _installed
    evaluator = Evaluator(search)
    previous = getattr(_local, "evaluator", None)
    with _lock:
        if _installed == 0:
            _search.Parallel = _Evaluations
        _installed += 1
    _local.evaluator = evaluator
    try:
        yield evaluator
    finally:
        _local.evaluator = previous
        with _lock:
            _installed -= 1
            if _installed == 0:
                _search.Parallel = _SkParallel
        evaluator.close()
