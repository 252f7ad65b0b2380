"""One cost model for every offline figure, as properties over generated traces: exact OPT is
never beaten by a replay, and an infinite cache's replay gives the profile's ideal speedup."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dagreuse.cache import (
    LRU,
    OPT,
    Belady,
    GreedyDualSize,
    NoCache,
    Reciprocal,
    Trace,
    Unbounded,
    WReciprocal,
    simulate,
)
from dagreuse.pipes import Profile

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def traces(draw, duplicates=True):
    """A live-like trace: a random DAG of inner nodes (some with two parents, as a checkpoint
    has), requests whose leaves hang below them (a leaf now and then requested twice, or failed),
    several live computations per node with different seconds, and submissions in batches."""
    trace = Trace()
    n_inner = draw(st.integers(2, 10))
    ancestors: dict[str, set[str]] = {}
    for i in range(n_inner):
        key = f"n{i}"
        parents = sorted(set(draw(st.lists(st.sampled_from(list(ancestors)), max_size=2)))
                         if ancestors and draw(st.booleans()) else [])
        trace.node(key, stage=f"s{len(parents)}", parents=parents, leaf=False)
        ancestors[key] = set(parents).union(*(ancestors[p] for p in parents))
    leaves: list[str] = []
    requests = []
    for t in range(draw(st.integers(1, 10))):
        if leaves and draw(st.integers(0, 5)) == 0:
            leaf = draw(st.sampled_from(leaves))
        else:
            leaf = f"leaf{t}"
            parent = draw(st.sampled_from([f"n{i}" for i in range(n_inner)]))
            trace.node(leaf, stage="leaf", parents=[parent], leaf=True)
            ancestors[leaf] = {parent, *ancestors[parent]}
            leaves.append(leaf)
        path = [*sorted(ancestors[leaf], key=lambda k: int(k[1:])), leaf]
        configs = [t, t + 100] if duplicates and draw(st.integers(0, 7)) == 0 else [t]
        requests.append((path, configs))
    for key in trace.nodes:
        if trace.nodes[key]["leaf"] and draw(st.integers(0, 9)) == 0:
            continue  # failed live: never measured
        for s in draw(st.lists(st.sampled_from([0.001, 0.3, 1.0, 2.5, 7.0]), min_size=1, max_size=3)):
            trace.computed(key, s, 0 if trace.nodes[key]["leaf"] else draw(st.integers(1, 50)))
    t = 0
    while t < len(requests):
        n = draw(st.integers(1, len(requests) - t))
        trace.submitted(n)
        for path, configs in requests[t:t + n]:
            trace.request(path, configs=configs, fold=0)
        t += n
    return trace


def policies(capacity):
    """Every policy bounded by ``capacity``."""
    return [LRU(capacity), Reciprocal(capacity, seed=1), WReciprocal(capacity, seed=1),
            GreedyDualSize(capacity), Belady(capacity), NoCache()]


@PROPERTY
@given(trace=traces(), share=st.sampled_from([0.0, 0.1, 0.3, 0.6, 1.0]))
def test_exact_opt_is_never_beaten(trace, share):
    capacity = share * trace.working_set_bytes()
    opt = OPT(capacity, time_limit=30)
    best = simulate(trace, opt).seconds
    assert opt.exact
    for policy in policies(capacity):
        for cost in ("own", "recompute"):
            for known in (True, False):
                seconds = simulate(trace, policy, cost=cost, known_future=known).seconds
                assert seconds >= best * (1 - 1e-9) - 1e-12, (policy, cost, known)


@PROPERTY
@given(trace=traces())
def test_an_infinite_cache_replays_to_the_ideal_speedup(trace):
    profile = Profile(trace)
    unbounded = simulate(trace, Unbounded())
    assert unbounded.seconds == profile.merged_seconds
    assert unbounded.speedup == profile.ideal_speedup or not math.isfinite(profile.ideal_speedup)


@PROPERTY
@given(trace=traces(duplicates=False))
def test_nocache_over_unbounded_is_the_ideal_speedup(trace):
    """Without duplicate configs (which independent evaluation fits once per config), replaying
    without a cache costs exactly the independent evaluation."""
    profile = Profile(trace)
    nocache, unbounded = simulate(trace, NoCache()), simulate(trace, Unbounded())
    assert nocache.seconds == profile.independent_seconds
    if unbounded.seconds > 0:
        assert nocache.seconds / unbounded.seconds == profile.ideal_speedup
