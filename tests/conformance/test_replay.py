"""Every online policy: replaying a live trace (max_in_flight=1) reproduces the live run exactly."""

import pytest

from dagreuse.cache import LRU, GreedyDualSize, NoCache, Reciprocal, Unbounded, WReciprocal, simulate
from dagreuse.pipes import Runner
from dagreuse.search import GriddedRandomSearch, run
from tests.conftest import counted_pipeline

POLICIES = {
    "lru": lambda cap: LRU(cap),
    "reciprocal": lambda cap: Reciprocal(cap, seed=3),
    "wreciprocal": lambda cap: WReciprocal(cap, seed=3),
    "gds": lambda cap: GreedyDualSize(cap),
    "unbounded": lambda cap: Unbounded(),
    "nocache": lambda cap: NoCache(),
}


@pytest.mark.parametrize("cost", ["own", "recompute"])
@pytest.mark.parametrize("make", POLICIES.values(), ids=POLICIES.keys())
def test_replay_reproduces_live_hits_and_misses(make, cost, data, client, log):
    X, y = data
    policy = make("60kB")
    with Runner(policy, client=client, max_in_flight=1, cost=cost) as runner:
        result = run(GriddedRandomSearch(counted_pipeline(log), [3, 3, 2], seed=0), X, y, cv=3,
                     runner=runner)
    live = result.profile.cache_stats
    replay = simulate(result.profile.trace, policy, cost=cost)
    assert (replay.hits, replay.misses, replay.evictions) == (
        live["hits"], live["misses"], live["evictions"])
    assert replay.peak_bytes == live["peak_bytes"]
    assert replay.seconds == pytest.approx(result.profile.spent_seconds)
    if policy.capacity not in (0, float("inf")):
        assert live["evictions"] > 0  # the capacity really bounds this run
