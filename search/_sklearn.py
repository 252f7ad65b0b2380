"""Drop-in replacements for scikit-learn's searchers that evaluate candidates as one DAG.

``GridSearchCV``, ``RandomizedSearchCV`` and ``GriddedRandomSearchCV`` subclass scikit-learn's
searchers and run their ``fit``: parameters, routing, ``cv_results_``, best-candidate selection,
refit and the ``predict``/``score``/... delegation are scikit-learn's. Only the evaluation
differs (``_sklearn_eval``): instead of fitting every (candidate, fold) pipeline from scratch,
each batch of candidates is merged into one shared-prefix DAG and run by a
:class:`dagreuse.pipes.Runner` with a bounded cache, one Runner per ``fit``.

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
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV as _SkGridSearchCV
from sklearn.model_selection import ParameterSampler
from sklearn.model_selection import RandomizedSearchCV as _SkRandomizedSearchCV
from sklearn.pipeline import Pipeline as SkPipeline
from sklearn.utils import check_random_state

from dagreuse.cache import Policy, WReciprocal
from dagreuse.pipes import Profile, Runner

from ._sklearn_eval import evaluating

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

    def fit(self, X: Any, y: Any = None, **params: Any):
        """scikit-learn's ``fit``, each batch of candidates evaluated as one merged DAG
        (``_sklearn_eval``); ``profile_`` says what the reuse saved."""
        with evaluating(self) as evaluator:
            super().fit(X, y, **params)
        self.profile_ = Profile(evaluator.trace)
        return self


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

    def _run_search(self, evaluate_candidates: Any, *, callback_ctx: Any = None) -> None:
        candidates = self._candidate_params()
        ctx = callback_ctx.subcontext(  # as scikit-learn's GridSearchCV reports its one batch
            task_name="search", max_subtasks=len(candidates) * self.n_splits_,
            sequential_subtasks=False).call_on_fit_task_begin(estimator=self)
        evaluate_candidates(candidates, callback_ctx=ctx)
        ctx.call_on_fit_task_end(estimator=self)

    def _candidate_params(self) -> list[dict[str, Any]]:
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
