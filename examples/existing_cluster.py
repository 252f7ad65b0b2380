"""How do I run a search on a Dask cluster I already have?

Pass its client to the Runner; the Runner uses it and leaves it open. Here the "existing"
cluster is a local two-process one standing in for ``Client("tcp://scheduler:8786")``.

    python examples/existing_cluster.py
"""

from distributed import Client, LocalCluster
from sklearn.datasets import load_digits

from dagreuse.cache import WReciprocal
from dagreuse.pipes import Runner
from dagreuse.search import GriddedRandomSearch, run
from dagreuse.search._demo import demo_pipeline

if __name__ == "__main__":
    X, y = load_digits(return_X_y=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with Runner(cache=WReciprocal("200MB", seed=0), client=client) as runner:
            result = run(GriddedRandomSearch(demo_pipeline(), [3, 3, 3], seed=0), X, y, cv=3,
                         runner=runner)
        print(result.profile)
        print("client still open:", client.status)
