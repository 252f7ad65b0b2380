"""scikit-learn's successive-halving searchers with shared-prefix reuse.

``HalvingGridSearchCV`` and ``HalvingRandomSearchCV`` are scikit-learn's, with every iteration's
candidates evaluated as one merged DAG on the one Runner of the ``fit`` (``_sklearn_eval``): the
same parameters and defaults, the same candidates and resources at every iteration, the same
``cv_results_`` and ``n_candidates_``/``n_resources_``/... attributes.

What is reused depends on the resource, as scikit-learn defines it:

* ``resource="n_samples"`` — each iteration fits every pipeline, prefix included, on a fresh
  subsample of each training fold (and scores on a subsample of the validation fold), so reuse
  is across candidates within an iteration;
* ``resource=<a parameter of the estimator>`` (``"clf__n_estimators"``) — the folds are the same
  at every iteration, so the prefix a promoted candidate needs is a cache hit; its final step
  resumes from the model its previous iteration trained where that is provably the same as a
  fresh fit (``_sklearn_eval.RESUMABLE``), and is fitted again at the larger value otherwise, as
  scikit-learn does.

dagreuse's own :class:`dagreuse.search.SuccessiveHalving` differs by design: with
``resources.Samples()`` only the *leaf* trains on a subsample, the prefix is computed once on
the full fold and shared by every rung, and every rung is scored on the whole validation fold;
with ``resources.Iterations`` a promotion resumes from the model its lower rung trained.
"""

from __future__ import annotations

import numpy as np
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (scikit-learn's flag)
from sklearn.model_selection import HalvingGridSearchCV as _SkHalvingGridSearchCV
from sklearn.model_selection import HalvingRandomSearchCV as _SkHalvingRandomSearchCV

from ._sklearn import _REUSE_PARAMS, _ReuseSearch

__all__ = ["HalvingGridSearchCV", "HalvingRandomSearchCV"]


class HalvingGridSearchCV(_ReuseSearch, _SkHalvingGridSearchCV):
    """scikit-learn's ``HalvingGridSearchCV`` with shared-prefix reuse (module docstring);
    ``cache`` and ``client`` as in :class:`dagreuse.search.GridSearchCV`."""

    _parameter_constraints = {**_SkHalvingGridSearchCV._parameter_constraints, **_REUSE_PARAMS}

    def __init__(self, estimator, param_grid, *, factor=3, resource="n_samples",
                 max_resources="auto", min_resources="exhaust", aggressive_elimination=False,
                 cv=5, scoring=None, refit=True, error_score=np.nan, return_train_score=True,
                 random_state=None, n_jobs=None, verbose=0, cache=None, client=None):
        super().__init__(estimator, param_grid, factor=factor, resource=resource,
                         max_resources=max_resources, min_resources=min_resources,
                         aggressive_elimination=aggressive_elimination, cv=cv, scoring=scoring,
                         refit=refit, error_score=error_score,
                         return_train_score=return_train_score, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose)
        self.cache = cache
        self.client = client


class HalvingRandomSearchCV(_ReuseSearch, _SkHalvingRandomSearchCV):
    """scikit-learn's ``HalvingRandomSearchCV`` with shared-prefix reuse (module docstring):
    the same candidates as scikit-learn's for the same ``random_state``; ``cache`` and
    ``client`` as in :class:`dagreuse.search.GridSearchCV`."""

    _parameter_constraints = {**_SkHalvingRandomSearchCV._parameter_constraints, **_REUSE_PARAMS}

    def __init__(self, estimator, param_distributions, *, n_candidates="exhaust", factor=3,
                 resource="n_samples", max_resources="auto", min_resources="smallest",
                 aggressive_elimination=False, cv=5, scoring=None, refit=True,
                 error_score=np.nan, return_train_score=True, random_state=None, n_jobs=None,
                 verbose=0, cache=None, client=None):
        super().__init__(estimator, param_distributions, n_candidates=n_candidates,
                         factor=factor, resource=resource, max_resources=max_resources,
                         min_resources=min_resources,
                         aggressive_elimination=aggressive_elimination, cv=cv, scoring=scoring,
                         refit=refit, error_score=error_score,
                         return_train_score=return_train_score, random_state=random_state,
                         n_jobs=n_jobs, verbose=verbose)
        self.cache = cache
        self.client = client
