"""I use scikit-learn's HalvingRandomSearchCV: what changes if I import dagreuse's instead?

The same candidates, resources, ``cv_results_`` and attributes; the prefix a promoted candidate
needs is computed once when the resource is an estimator parameter, and gradient boosting resumes
from the trees its previous iteration grew. Draws the merged DAG of the search.

    python examples/sklearn_halving.py
"""

import numpy as np
from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingRandomSearchCV as SkHalvingRandomSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from dagreuse.search import HalvingRandomSearchCV

if __name__ == "__main__":
    X, y = load_digits(return_X_y=True)
    pipe = Pipeline([("scale", StandardScaler()), ("pca", PCA(random_state=0)),
                     ("clf", GradientBoostingClassifier(random_state=0))])
    space = {"pca__n_components": [8, 16, 32], "clf__learning_rate": loguniform(0.03, 0.3),
             "clf__max_depth": [2, 3]}
    kw = dict(n_candidates=12, resource="clf__n_estimators", min_resources=3, max_resources=27,
              factor=3, cv=3, random_state=0)
    ours = HalvingRandomSearchCV(pipe, space, **kw).fit(X, y)
    theirs = SkHalvingRandomSearchCV(pipe, space, **kw).fit(X, y)
    assert np.allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"])
    print(f"best {ours.best_score_:.4f} with {ours.best_params_}")
    print(f"iterations {ours.n_iterations_}, candidates {ours.n_candidates_}, "
          f"resources {ours.n_resources_}: the same as scikit-learn's")
    print(ours.profile_)
    ours.profile_.draw("sklearn_halving_dag.png")
    print("the merged DAG: sklearn_halving_dag.png")
