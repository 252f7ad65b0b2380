"""Every online policy: replaying a live trace (max_in_flight=1) reproduces the live run exactly."""

import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import SGDClassifier

from dagreuse.cache import LRU, GreedyDualSize, NoCache, Reciprocal, Unbounded, WReciprocal, simulate
from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.pipes.testing import Counted
from dagreuse.search import ASHA, GriddedRandomSearch, run
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


@pytest.mark.parametrize("make", [POLICIES["wreciprocal"], POLICIES["lru"]], ids=["wreciprocal", "lru"])
def test_replay_follows_the_known_future_of_several_submissions(make, data, client, log):
    """ASHA submits a small DAG per job, several in flight: the replay sees the same requests
    submitted and not done at every eviction, so it evicts as the live run did."""
    X, y = data
    pipe = Pipeline([("reduce", Counted(PCA(random_state=0), log, "reduce"),
                      {"estimator__n_components": space.randint(2, 12)}),
                     ("clf", SGDClassifier(random_state=0, tol=None),
                      {"alpha": space.loguniform(1e-5, 1e-1)})])
    policy = make("30kB")
    asha = ASHA(GriddedRandomSearch(pipe, [3, 6], seed=0), resources.Iterations("max_iter"),
                min_resource=1, max_resource=9, eta=3)
    with Runner(policy, client=client, max_in_flight=1) as runner:
        result = run(asha, X, y, cv=3, runner=runner, max_in_flight=3)
    trace = result.profile.trace
    assert trace.count("submit") > 3
    live = result.profile.cache_stats
    replay = simulate(trace, policy)
    assert (replay.hits, replay.misses, replay.evictions) == (
        live["hits"], live["misses"], live["evictions"])
    assert live["evictions"] > 0


def test_replay_of_a_run_without_the_known_future(data, client, log):
    """``Runner(known_future=False)`` is the plain policy: its trace says so and the replay
    follows it by default; ``-plain`` names replay any trace that way in a sweep."""
    from dagreuse.cache import sweep

    X, y = data
    policy = WReciprocal("60kB", seed=3)
    with Runner(policy, client=client, max_in_flight=1, known_future=False) as runner:
        result = run(GriddedRandomSearch(counted_pipeline(log), [3, 3, 2], seed=0), X, y, cv=3,
                     runner=runner)
    trace, live = result.profile.trace, result.profile.cache_stats
    assert trace.meta["known_future"] is False and trace.count("submit") > 0
    replay = simulate(trace, policy)
    assert (replay.hits, replay.misses, replay.evictions) == (
        live["hits"], live["misses"], live["evictions"])
    [plain, aware] = sweep(trace, ["wreciprocal-plain", "wreciprocal"], [policy.capacity], seed=3)
    assert plain["seconds"] == replay.seconds
    assert aware["seconds"] == simulate(trace, policy, known_future=True).seconds
