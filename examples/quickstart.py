"""Which PCA + logistic-regression pipeline is best on digits, and what did reuse save?

    python examples/quickstart.py
"""

import warnings

from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dagreuse.cache import WReciprocal
from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import GriddedRandomSearch, run

if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # unscaled digits, few iterations
    X, y = load_digits(return_X_y=True)
    pipe = Pipeline([
        ("scale", space.choice({"std": StandardScaler(), "minmax": MinMaxScaler(), "none": None})),
        ("reduce", PCA(), {"n_components": space.randint(2, 40)}),
        ("clf", LogisticRegression(max_iter=300), {"C": space.loguniform(1e-3, 1e2)}),
    ])
    search = GriddedRandomSearch(pipe, branching=[3, 5, 5], seed=0)  # 75 candidates
    with Runner(cache=WReciprocal("512MB")) as runner:
        result = run(search, X, y, cv=3, scoring="accuracy", runner=runner)
    print("best", result.best_score, result.best_config)
    print(result.profile)
    best = pipe.build(result.best_config).fit(X, y)  # a plain scikit-learn Pipeline
    print("refit on all data:", best)
