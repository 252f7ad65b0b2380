"""Every eviction policy passes this suite (DESIGN §7.8)."""

import math

import numpy as np
import pytest

from dagreuse.cache import LRU, Cache, GreedyDualSize, NoCache, Reciprocal, Unbounded, WReciprocal

BOUNDED = [
    lambda cap: LRU(cap),
    lambda cap: Reciprocal(cap, seed=1),
    lambda cap: WReciprocal(cap, seed=1),
    lambda cap: GreedyDualSize(cap),
]
IDS = ["lru", "reciprocal", "wreciprocal", "gds"]


def offers(seed=0, n=400, keys=60):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 50, keys)
    costs = rng.choice([0.001, 0.1, 1.0, 10.0], keys)
    for k in rng.integers(0, keys, n):
        yield int(k), float(sizes[k]), float(costs[k])


def replay(cache, stream):
    log = []
    for k, size, cost in stream:
        if cache.get(k) is None:
            cache.miss()
            log.append((k, cache.offer(k, object(), size, cost)))
        assert cache.used <= cache.capacity
        assert cache.peak <= cache.capacity
    return log


@pytest.mark.parametrize("make", BOUNDED, ids=IDS)
def test_never_over_capacity(make):
    cache = Cache(make(200))
    replay(cache, offers())
    assert cache.stats()["peak_bytes"] <= 200
    assert cache.evictions > 0 and cache.hits > 0


@pytest.mark.parametrize("make", BOUNDED, ids=IDS)
def test_entries_larger_than_capacity_are_never_admitted(make):
    cache = Cache(make(100))
    assert cache.offer("a", 1, 60, 1.0)
    assert not cache.offer("huge", 1, 101, 100.0)
    assert "a" in cache and "huge" not in cache and cache.evictions == 0


@pytest.mark.parametrize("make", BOUNDED, ids=IDS)
def test_seeded_runs_are_identical(make):
    a, b = Cache(make(150)), Cache(make(150))
    assert replay(a, offers(3)) == replay(b, offers(3))
    assert a.keys() == b.keys() and a.stats() == b.stats()


@pytest.mark.parametrize("make", BOUNDED, ids=IDS)
def test_policy_object_configures_many_runs(make):
    policy = make(150)
    first = replay(Cache(policy), offers(5))
    assert replay(Cache(policy), offers(5)) == first  # the store works on a reset copy


def test_lru_always_admits_the_new_entry_and_evicts_the_oldest():
    cache = Cache(LRU(30))
    for k in "abc":
        cache.offer(k, k, 10, 1.0)
    cache.get("a")
    assert cache.offer("d", "d", 10, 100.0)
    assert cache.keys() == ["a", "c", "d"]


def test_unbounded_keeps_everything_and_nocache_nothing():
    keep, none = Cache(Unbounded()), Cache(NoCache())
    for k, size, cost in offers(n=100):
        keep.offer(k, 1, size, cost)
        assert not none.offer(k, 1, size, cost)
    assert keep.evictions == 0 and len(none) == 0 and none.peak == 0
    assert math.isinf(keep.capacity)


def test_greedy_dual_size_evicts_min_cost_per_byte_and_inflates():
    cache = Cache(GreedyDualSize(100))
    cache.offer("cheap_big", 1, 50, 1.0)  # H = 0.02
    cache.offer("dear_small", 1, 10, 10.0)  # H = 1.0
    assert cache.offer("new", 1, 45, 5.0)  # H = 0.11: cheap_big goes, L = 0.02
    assert "cheap_big" not in cache and cache.policy._inflation == pytest.approx(0.02)
    # a candidate with the lowest H is refused
    assert not cache.offer("worthless", 1, 60, 1e-3)


@pytest.mark.parametrize(("policy", "weight"), [
    (WReciprocal, lambda s, c: s / c),
    (Reciprocal, lambda s, c: 1 / c),
])
def test_random_victims_follow_their_weights(policy, weight):
    """Eviction frequencies match size/cost (or 1/cost) within a 4-sigma binomial tolerance."""
    entries = {"a": (10, 1.0), "b": (30, 1.0), "c": (10, 4.0), "d": (20, 0.5)}
    new = ("n", (10, 2.0))
    p = policy(80, seed=42)
    wins = dict.fromkeys([*entries, "n"], 0)
    trials = 4000
    from dagreuse.cache import Entry

    es = {k: Entry(s, c) for k, (s, c) in entries.items()}
    for _ in range(trials):
        wins[p.victim(es, new[0], Entry(*new[1]))] += 1
    w = {k: weight(*v) for k, v in [*entries.items(), new]}
    total = sum(w.values())
    for k, n in wins.items():
        prob = w[k] / total
        sigma = math.sqrt(trials * prob * (1 - prob))
        assert abs(n - trials * prob) <= 4 * sigma + 1, (k, n, trials * prob)


SEEDED = [lambda cap, seed: LRU(cap), lambda cap, seed: Reciprocal(cap, seed=seed),
          lambda cap, seed: WReciprocal(cap, seed=seed), lambda cap, seed: GreedyDualSize(cap)]


@pytest.mark.parametrize("make", SEEDED, ids=IDS)
def test_entries_no_pending_request_needs_go_first(make):
    for seed in range(20):
        needed = {"a", "c"}
        cache = Cache(make(100, seed), needed=lambda k, needed=needed: k in needed)
        cache.offer("a", 1, 40, 0.001)  # cheap and big: the first victim of every policy alone
        cache.offer("b", 1, 40, 10.0)
        assert cache.offer("c", 1, 40, 1.0)
        assert set(cache.keys()) == {"a", "c"}  # b, which nothing needs, made room
        assert not cache.offer("d", 1, 40, 100.0)  # not needed itself, and everything else is
        assert set(cache.keys()) == {"a", "c"}
        needed.add("e")
        assert cache.offer("e", 1, 40, 50.0) in (True, False)  # all needed: the plain rule
        assert cache.used <= 100
