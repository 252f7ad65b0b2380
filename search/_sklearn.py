"""Drop-in replacements for scikit-learn's searchers that evaluate all candidates as one DAG.

``GridSearchCV``, ``RandomizedSearchCV`` and ``GriddedRandomSearchCV`` subclass scikit-learn's
``BaseSearchCV``: the parameters, ``cv_results_`` (built by scikit-learn's own formatter, so keys,
shapes and dtypes match), best-candidate selection, refit and the ``predict``/``score``/...
delegation are scikit-learn's. Only the evaluation differs: instead of fitting every
(candidate, fold) pipeline from scratch, the candidates are merged into one shared-prefix DAG
and run by a :class:`dagreuse.pipes.Runner` with a bounded cache.

Timing columns: a node shared by several candidates runs once, so its time belongs to all of
them. ``mean_fit_time`` is what fitting the candidate *alone* costs — the measured seconds of
every node on its path (each transformer's fit and its transforms of both folds) plus the final
estimator's fit — and ``mean_score_time`` the final estimator's scoring. Summed over candidates,
fit times are TP(P), the cost of independent evaluation; what the search actually spent is in
``profile_``.
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV as _SkGridSearchCV
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.model_selection import RandomizedSearchCV as _SkRandomizedSearchCV
from sklearn.model_selection._validation import _warn_or_raise_about_fit_failures
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import indexable

from dagreuse.cache import Policy, Trace, WReciprocal
from dagreuse.pipes import Profile, Runner, merge_estimators
from dagreuse.pipes._ops import NodeFailed

__all__ = ["GridSearchCV", "GriddedRandomSearchCV", "RandomizedSearchCV"]


class _ReuseSearch:
    """The evaluation shared by the three searchers (a mixin over ``BaseSearchCV``)."""

    def _runner(self) -> Runner:
        cache = self.cache
        if cache is not None and not isinstance(cache, Policy):
            cache = WReciprocal(cache)
        if self.client is not None:
            return Runner(cache, client=self.client)
        n_jobs = self.n_jobs
        if n_jobs in (None, 1):
            return Runner(cache, scheduler="sync")
        if not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
            raise ValueError(f"The 'n_jobs' parameter must be a non-zero int or None. Got {n_jobs!r}.")
        threads = os.cpu_count() or 1
        # threads of this process, not the Runner's default worker processes: those import the
        # caller's main script, and scikit-learn scripts are seldom guarded (loky needs no guard)
        return Runner(cache, threads_per_worker=threads if n_jobs < 0 else int(n_jobs),
                      processes=False)

    def fit(self, X: Any, y: Any = None, *, groups: Any = None, **params: Any):
        """Evaluate every candidate as one merged DAG, then select and refit like scikit-learn."""
        if params:
            raise TypeError(
                f"dagreuse searchers do not route fit parameters yet. Got {sorted(params)}."
            )
        self._validate_params()
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = cv.get_n_splits(X, y, groups)
        candidates = list(self._candidate_params())
        scoring = self.scoring if not callable(self.scoring) else {"score": self.scoring}
        dag = merge_estimators(self.estimator, candidates, X, y, cv=cv, scoring=scoring,
                               groups=groups, return_train_score=self.return_train_score)
        trace = Trace()
        with self._runner() as runner:
            results = runner.execute(dag, trace)
        self.profile_ = Profile(trace)
        multimetric = not (self.scoring is None or isinstance(self.scoring, str)
                           or callable(self.scoring))
        out = self._out(dag, trace, results, len(candidates), multimetric)
        _warn_or_raise_about_fit_failures(out, self.error_score)
        self.multimetric_ = multimetric
        self.cv_results_ = self._format_results(candidates, self.n_splits_, out)
        self._select_and_refit(X, y, refit_metric)
        self.scorer_ = getattr(scorers, "_scorers", scorers)
        return self

    def _out(self, dag, trace, results, n_candidates, multimetric) -> list[dict[str, Any]]:
        """One scikit-learn ``_fit_and_score``-style dict per (candidate, split), in its order."""
        out: list[dict[str, Any] | None] = [None] * (n_candidates * self.n_splits_)
        for request, res in zip(dag.requests, results, strict=True):
            path_seconds = sum(trace.seconds(k) for k in request.path[:-1])
            n_test = len(dag.folds[request.fold][1])
            for c in request.configs:
                entry: dict[str, Any] = {"n_test_samples": n_test, "fit_error": None}
                if "error" in res:
                    if self.error_score == "raise":
                        raise NodeFailed(res["error"])
                    fill = {m: self.error_score for m in dag.nodes[request.leaf].task.scorers}
                    entry.update(fit_error=res["error"], fit_time=0.0, score_time=0.0,
                                 test_scores=fill, train_scores=dict(fill))
                else:
                    entry.update(fit_time=path_seconds + res["fit_time"],
                                 score_time=res["score_time"], test_scores=res["test"],
                                 train_scores=res["train"])
                if not multimetric:
                    entry["test_scores"] = entry["test_scores"]["score"]
                    if entry["train_scores"] is not None:
                        entry["train_scores"] = entry["train_scores"]["score"]
                if not self.return_train_score:
                    entry.pop("train_scores")
                out[c * self.n_splits_ + request.fold] = entry
        return out

    def _select_and_refit(self, X: Any, y: Any, refit_metric: str) -> None:
        results = self.cv_results_
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(self.estimator).set_params(
                **clone(self.best_params_, safe=False))
            t0 = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y)
            else:
                self.best_estimator_.fit(X)
            self.refit_time_ = time.time() - t0
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_


_REUSE_PARAMS = {"cache": [None, str, numbers.Integral, Policy], "client": "no_validation"}


class GridSearchCV(_ReuseSearch, _SkGridSearchCV):
    """scikit-learn's ``GridSearchCV`` with shared-prefix reuse.

    Extra parameters: ``cache`` — a capacity (``"1GB"``) for WReciprocal or a
    ``dagreuse.cache`` policy (default: WReciprocal, a quarter of memory); ``client`` — a
    ``distributed.Client`` to run on (default: in-process when ``n_jobs`` is None or 1, else a
    local Dask cluster with ``n_jobs`` threads).
    """

    _parameter_constraints = {**_SkGridSearchCV._parameter_constraints, **_REUSE_PARAMS}

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None,
                 verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan,
                 return_train_score=False, cache=None, client=None):
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score)
        self.cache = cache
        self.client = client

    def _candidate_params(self):
        return ParameterGrid(self.param_grid)


class RandomizedSearchCV(_ReuseSearch, _SkRandomizedSearchCV):
    """scikit-learn's ``RandomizedSearchCV`` with shared-prefix reuse: the same candidates as
    scikit-learn's ``ParameterSampler`` for the same ``random_state``. ``cache`` and ``client``
    as in :class:`GridSearchCV`."""

    _parameter_constraints = {**_SkRandomizedSearchCV._parameter_constraints, **_REUSE_PARAMS}

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None,
                 error_score=np.nan, return_train_score=False, cache=None, client=None):
        super().__init__(estimator, param_distributions, n_iter=n_iter, scoring=scoring,
                         n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
                         pre_dispatch=pre_dispatch, random_state=random_state,
                         error_score=error_score, return_train_score=return_train_score)
        self.cache = cache
        self.client = client

    def _candidate_params(self):
        return ParameterSampler(self.param_distributions, self.n_iter,
                                random_state=self.random_state)


class GriddedRandomSearchCV(_ReuseSearch, _SkRandomizedSearchCV):
    """Gridded random search (thesis §4.4.1) with scikit-learn's interface.

    ``branching`` gives, for each pipeline step that has parameters in ``param_distributions``
    (in pipeline order), how many distinct values to draw for it *per parent*: the step's
    parameters are drawn with ``ParameterSampler`` (lists uniformly without replacement,
    distributions by ``rvs``), independently under each value of the previous steps. So the
    search evaluates ``prod(branching)`` candidates that share prefixes.
    """

    _parameter_constraints = {**_SkRandomizedSearchCV._parameter_constraints, **_REUSE_PARAMS,
                              "branching": ["array-like"]}
    _parameter_constraints.pop("n_iter")

    def __init__(self, estimator, param_distributions, *, branching, scoring=None, n_jobs=None,
                 refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None,
                 error_score=np.nan, return_train_score=False, cache=None, client=None):
        super().__init__(estimator, param_distributions, n_iter=0, scoring=scoring,
                         n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
                         pre_dispatch=pre_dispatch, random_state=random_state,
                         error_score=error_score, return_train_score=return_train_score)
        del self.n_iter
        self.branching = branching
        self.cache = cache
        self.client = client

    def _stages(self) -> list[tuple[str, dict[str, Any]]]:
        dists = self.param_distributions
        if not isinstance(dists, Mapping):
            raise TypeError("The 'param_distributions' parameter of GriddedRandomSearchCV must be "
                            f"one dict. Got {type(dists).__name__} instead.")
        order = ([name for name, _ in self.estimator.steps]
                 if isinstance(self.estimator, SkPipeline) else [])
        groups: dict[str, dict[str, Any]] = {}
        for param, dist in dists.items():
            step = param.split("__", 1)[0] if order else ""
            groups.setdefault(step, {})[param] = dist
        return sorted(groups.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else -1)

    def _candidate_params(self):
        stages = self._stages()
        b = self.branching
        if (not isinstance(b, Sequence) or len(b) != len(stages)
                or not all(isinstance(v, numbers.Integral) and v >= 1 for v in b)):
            names = ", ".join(s or "estimator" for s, _ in stages)
            raise ValueError(
                f"The 'branching' parameter of GriddedRandomSearchCV must be a list of "
                f"{len(stages)} ints >= 1, one per step with parameters ({names}). Got {b!r}."
            )
        rng = check_random_state(self.random_state)
        out: list[dict[str, Any]] = []

        def grow(i: int, prefix: dict[str, Any]) -> None:
            if i == len(stages):
                out.append(prefix)
                return
            for value in ParameterSampler(stages[i][1], int(b[i]), random_state=rng):
                grow(i + 1, {**prefix, **value})

        grow(0, {})
        return out
