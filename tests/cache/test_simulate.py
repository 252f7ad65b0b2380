"""The simulator, Belady and exact OPT (cross-checked by brute force), synthetic thesis trees."""

import functools
import itertools
import math
import time

import numpy as np
import pytest

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
    thesis_tree_a,
    thesis_tree_b,
    tree_trace,
)


def brute_force(trace, capacity):
    """Minimum compute seconds by dynamic programming over every feasible cache state."""
    paths = [e["path"] for e in trace.requests()]

    @functools.cache
    def best(t, state):
        if t == len(paths):
            return 0.0
        inner = paths[t][:-1]
        deepest = max((i for i, k in enumerate(inner) if k in state), default=-1)
        computed = paths[t][deepest + 1:]
        cost = sum(trace.seconds(k) for k in computed)
        avail = sorted(state | set(computed[:-1]))
        options = []
        for r in range(len(avail) + 1):
            for sub in itertools.combinations(avail, r):
                if sum(trace.nbytes(k) for k in sub) <= capacity:
                    options.append(best(t + 1, frozenset(sub)))
        return cost + min(options)

    return best(0, frozenset())


def random_tree(seed, k=2, depth=2, n_requests=6):
    rng = np.random.default_rng(seed)
    tr = tree_trace(k, depth, lambda lv, r: r.choice([10, 20, 30]),
                    lambda lv, r: r.choice([1, 5, 20]), order="random", seed=seed)
    # re-request some leaves so reuse decisions matter beyond one pass
    reqs = [e["path"] for e in tr.requests()]
    out = Trace()
    out.nodes = tr.nodes
    for i in rng.integers(0, len(reqs), n_requests):
        out.request(reqs[i], configs=[0], fold=0)
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("capacity", [0, 20, 40, 70])
def test_opt_matches_brute_force(seed, capacity):
    trace = random_tree(seed)
    opt = simulate(trace, OPT(capacity))
    assert opt.seconds == pytest.approx(brute_force(trace, capacity))
    assert opt.peak_bytes <= capacity
    for policy in (LRU(capacity), WReciprocal(capacity, seed=0), Belady(capacity), NoCache()):
        assert simulate(trace, policy).seconds >= opt.seconds - 1e-9


def paging_trace(seed, pages=6, n=40):
    """Classic paging: each request needs one cacheable page; unit sizes and costs."""
    rng = np.random.default_rng(seed)
    trace = Trace()
    for p in range(pages):
        trace.node(f"p{p}", stage="page", parents=[], leaf=False)
        trace.nodes[f"p{p}"].update(seconds=1.0, bytes=1)
    for t, p in enumerate(rng.integers(0, pages, n)):
        trace.node(f"leaf{t}", stage="leaf", parents=[f"p{p}"], leaf=True)
        trace.nodes[f"leaf{t}"].update(seconds=0.0, bytes=0)
        trace.request([f"p{p}", f"leaf{t}"], configs=[t], fold=0)
    return trace


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("capacity", [1, 2, 3, 5])
def test_belady_equals_opt_with_unit_sizes_and_costs(seed, capacity):
    trace = paging_trace(seed)
    assert simulate(trace, Belady(capacity)).seconds == simulate(trace, OPT(capacity)).seconds


def test_opt_solves_50_requests_over_60_nodes_within_a_minute():
    rng = np.random.default_rng(0)
    trace = Trace()
    parents = [None]
    for i in range(60):  # a random tree of 60 cacheable nodes
        key = f"n{i}"
        parent = parents[int(rng.integers(len(parents)))]  # None: a root
        trace.node(key, stage="s", parents=[parent] if parent else [], leaf=False)
        trace.nodes[key].update(seconds=float(rng.choice([1, 10, 100])),
                                bytes=int(rng.choice([10, 50])))
        parents.append(key)
    parents = parents[1:]
    for t in range(50):
        node = parents[int(rng.integers(len(parents)))]
        path = [node]
        while trace.parents(path[0]):
            path.insert(0, trace.parents(path[0])[0])
        trace.node(f"leaf{t}", stage="leaf", parents=[node], leaf=True)
        trace.nodes[f"leaf{t}"].update(seconds=1.0, bytes=0)
        trace.request([*path, f"leaf{t}"], configs=[t], fold=0)
    opt = OPT(200, time_limit=60)
    t0 = time.perf_counter()
    result = simulate(trace, opt)
    assert opt.exact, "the integer program was not solved to optimality within the limit"
    assert time.perf_counter() - t0 < 90
    for policy in (LRU(200), WReciprocal(200, seed=0), GreedyDualSize(200), Belady(200)):
        assert simulate(trace, policy).seconds >= result.seconds - 1e-6


def test_thesis_trees():
    a = thesis_tree_a()
    paths = [e["path"] for e in a.requests()]
    assert len(paths) == 27 and all(len(p) == 4 for p in paths)
    assert a.seconds("r") == 100 and all(a.nbytes(k) == 10 for k in a.nodes)
    assert paths == sorted(paths)  # depth-first, leaf by leaf
    r = thesis_tree_a(order="random", seed=1)
    assert sorted(e["path"] for e in r.requests()) == paths
    b = thesis_tree_b(seed=2)
    assert {a for k in b.nodes for a in [b.nbytes(k)]} <= {10, 50}
    assert {b.seconds(k) for k in b.nodes} <= {1, 100}
    with pytest.raises(ValueError, match=r"'order' parameter must be 'dfs' or 'random'"):
        tree_trace(2, 2, lambda lv, r: 1, lambda lv, r: 1, order="bfs")


def test_unbounded_and_nocache_bound_every_policy():
    trace = thesis_tree_b(seed=0)
    best, worst = simulate(trace, Unbounded()), simulate(trace, NoCache())
    assert worst.seconds == pytest.approx(trace.independent_seconds())
    assert worst.speedup == pytest.approx(1.0)
    for policy in (LRU(60), Reciprocal(60, seed=0), WReciprocal(60, seed=0), GreedyDualSize(60)):
        r = simulate(trace, policy)
        assert best.seconds <= r.seconds <= worst.seconds and r.peak_bytes <= 60


def test_simulate_checks_arguments():
    with pytest.raises(TypeError, match=r"'policy' parameter of simulate must be a dagreuse.cache"):
        simulate(thesis_tree_a(), "LRU")
    with pytest.raises(ValueError, match=r"'cost' parameter must be one of"):
        simulate(thesis_tree_a(), LRU(10), cost="total")
    assert math.isfinite(simulate(thesis_tree_a(), LRU(10), cost="recompute").seconds)
    from dagreuse.cache import make_policy

    with pytest.raises(ValueError, match=r"Unknown policy 'belady-plain'.*'-plain' appended"):
        make_policy("belady-plain", 10)  # offline policies see the whole future anyway
    assert repr(make_policy("wreciprocal-plain", 10, seed=1)) == repr(WReciprocal(10, seed=1))


def test_runner_refuses_offline_policies():
    from dagreuse.pipes import Runner

    with pytest.raises(TypeError, match=r"cannot be Belady: it needs the future"):
        Runner(Belady(100))
