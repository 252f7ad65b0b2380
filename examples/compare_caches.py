"""With a small cache, how much do LRU, Reciprocal, WReciprocal and GreedyDual-Size differ?

Runs the same 27-candidate search under each policy at a quarter of the working set, live,
with requests one at a time (``max_in_flight=1``) so the order is the same for all of them.

    python examples/compare_caches.py
"""

from dagreuse.cache import LRU, GreedyDualSize, Reciprocal, Unbounded, WReciprocal
from dagreuse.pipes import Runner
from dagreuse.search import GriddedRandomSearch, run
from dagreuse.search._demo import demo_data, demo_pipeline

if __name__ == "__main__":
    X, y = demo_data()

    def search():
        return GriddedRandomSearch(demo_pipeline(), [3, 3, 3], seed=0)

    with Runner(Unbounded(), scheduler="sync") as runner:
        full = run(search(), X, y, cv=3, runner=runner)
    capacity = full.profile.working_set_bytes // 4
    print(f"working set {full.profile.working_set_bytes / 1e6:.0f} MB; cache {capacity / 1e6:.0f} MB")
    print(f"{'policy':<34}{'speedup':>8}{'ideal':>8}{'hits':>6}{'evictions':>10}")
    for policy in (LRU(capacity), Reciprocal(capacity, seed=0), WReciprocal(capacity, seed=0),
                   GreedyDualSize(capacity)):
        with Runner(policy, max_in_flight=1) as runner:
            p = run(search(), X, y, cv=3, runner=runner).profile
        c = p.cache_stats
        print(f"{policy!r:<34}{p.speedup:>8.2f}{p.ideal_speedup:>8.2f}{c['hits']:>6}{c['evictions']:>10}")
