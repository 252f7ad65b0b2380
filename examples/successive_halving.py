"""How do I run successive halving, Hyperband or ASHA on my cluster, so that promotions resume
from their checkpoints and every rung shares the prefix?

    python examples/successive_halving.py
"""

import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.search import ASHA, GriddedRandomSearch, Hyperband, SuccessiveHalving, run

if __name__ == "__main__":
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("features", RBFSampler(random_state=0), {"gamma": space.loguniform(1e-3, 1e-1),
                                                  "n_components": space.choice([500, 1000])}),
        ("clf", SGDClassifier(max_iter=20, tol=None, random_state=0),  # Samples: 20 epochs
         {"alpha": space.loguniform(1e-6, 1e-2)}),
    ])
    searches = {
        # the leaf's training-set size: the prefix is computed on the whole fold once, every rung
        "SHA on samples": SuccessiveHalving(GriddedRandomSearch(pipe, branching=[1, 8, 32], seed=0),
                                            resources.Samples(), min_resource=1 / 64, eta=4),
        # epochs (partial_fit passes): a promotion trains only the missing ones, from its checkpoint
        "Hyperband on epochs": Hyperband(pipe, resources.Iterations("max_iter"), max_resource=27,
                                         eta=3, seed=0),
        "ASHA on epochs": ASHA(GriddedRandomSearch(pipe, branching=[1, 4, 25], seed=0),
                               resources.Iterations("max_iter"), max_resource=64, eta=4),
    }
    with Runner() as runner:  # a local Dask cluster; Runner(client=Client(...)) for any other
        for name, search in searches.items():
            result = run(search, X, y, cv=3, runner=runner)
            p = result.profile
            print(f"\n== {name}: {len(result.trials)} evaluations; best {result.best_score:.4f} at "
                  f"{result.best_trial['resource']} ({result.best_config})")
            print(f"units trained {p.units_trained:g} (from scratch: {p.independent_units:g}), "
                  f"checkpoint hits {p.checkpoint_hits}, speedup {p.speedup:.2f}x")
            print(p)
