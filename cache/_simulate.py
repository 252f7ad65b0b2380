"""Replay a trace under any policy and capacity: "what if I had used another cache?"

Semantics are the Runner's with ``max_in_flight=1`` — the same :func:`resolve`: each request
reuses the deepest cached node of its path (a hit), computes everything below it (misses; the
leaf is always computed) and offers each computed inner node to the cache; and the same known
future: from the trace's ``submit`` events the replay knows which requests were submitted and
not done yet (and from ``expect`` events, which finished ones a search expected to build on),
and the cache evicts the nodes none of them needs first (for online policies:
Belady and OPT see the whole future anyway). Costs are the trace's
measurements: the k-th computation of a node costs what its k-th live computation took (the mean
once the live ones run out), so replaying a live trace with the live policy, capacity and seed
reproduces the live hits, misses and evictions exactly. A trace without ``submit`` events (an
older or a synthetic one) is replayed without that rule.
"""

from __future__ import annotations

import collections
import contextlib
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

from ._future import EXPECTED, PENDING, KnownFuture
from ._policy import Policy
from ._resolve import resolve
from ._store import Cache
from ._trace import Trace, running_mean

__all__ = ["SimResult", "simulate"]


class _Failed(Exception):
    """A node that failed live fails its request in the replay too."""


@dataclass
class SimResult:
    """Outcome of one replay: compute seconds spent and cache statistics."""

    policy: str
    capacity: float
    cost: str
    seconds: float
    hits: int
    misses: int
    evictions: int
    peak_bytes: int
    independent_seconds: float = 0.0
    computed: dict = field(default_factory=dict, repr=False)  # key -> times computed

    @property
    def speedup(self) -> float:
        """Independent evaluation's compute seconds / this replay's."""
        return self.independent_seconds / self.seconds if self.seconds > 0 else math.inf


def simulate(trace: Trace, policy: Policy, cost: str = "own") -> SimResult:
    """Replay ``trace`` with ``policy`` (which carries its capacity and seed)."""
    if not isinstance(trace, Trace):
        raise TypeError(f"The 'trace' parameter of simulate must be a Trace. Got {trace!r} instead.")
    if not isinstance(policy, Policy):
        raise TypeError(
            "The 'policy' parameter of simulate must be a dagreuse.cache policy such as "
            f"WReciprocal('64MB', seed=0). Got {policy!r} instead."
        )
    paths = [e["path"] for e in trace.requests()]
    if getattr(policy, "solve", None) is not None:  # exact OPT: an optimisation, not a replay
        return policy.solve(trace, paths)
    # the known future (nodes of the requests submitted and not done), for online policies of
    # traces that record their submissions; offline ones see the whole future anyway
    readers: dict[Hashable, list[Hashable]] = collections.defaultdict(list)
    for key, node in trace.nodes.items():
        for p in node["parents"]:
            readers[p].append(key)
    future = KnownFuture(lambda key: readers[key])
    replay_needs = not getattr(policy, "offline", False) and trace.count("submit") > 0
    store = Cache(policy, cost=cost)
    if replay_needs:
        store.needed = lambda key: future.tier(key, store.__contains__)
    if hasattr(store.policy, "prepare"):  # offline policies see the future
        store.policy.prepare(trace, paths)
    measured = trace.computations()
    done: dict[Hashable, int] = {}
    means: dict[Hashable, float] = {}  # running means, as the live trace had them at the time
    spent = [0.0]

    def seconds_of(key: Hashable) -> float:
        return means.get(key, trace.seconds(key))

    def compute(key: Hashable, args: list) -> bool:
        if trace.nodes[key]["seconds"] is None:  # never completed live: it failed there
            raise _Failed(key)
        runs, n = measured.get(key, ()), done.get(key, 0)
        s = runs[n] if n < len(runs) else trace.seconds(key)
        done[key] = n + 1
        means[key] = running_mean(means.get(key), n, s)
        spent[0] += s
        if not trace.nodes[key]["leaf"]:
            store.offer_computed(key, True, trace.nbytes(key), s, trace.parents, seconds_of)
        return True

    known, t = 0, 0  # requests submitted so far; the next request
    for e in trace.events:
        if e["ev"] == "submit":
            for p in paths[known:known + e["n"]]:
                future.add(p, PENDING)
            known += e["n"]
            continue
        if e["ev"] in ("expect", "unexpect"):
            for r in e["reqs"]:
                future.add(paths[r], EXPECTED, 1 if e["ev"] == "expect" else -1)
            continue
        if e["ev"] != "request":
            continue
        path = paths[t]
        if hasattr(store.policy, "advance"):
            store.policy.advance(t)
        with contextlib.suppress(_Failed):
            resolve(path[-1], parents=trace.parents, leaf=lambda k: trace.nodes[k]["leaf"],
                    cache=store, compute=compute, mark=lambda ev, k: None)
        future.add(path, PENDING, -1)
        t += 1
    seconds = spent[0]
    stats = store.stats()
    return SimResult(repr(policy), store.capacity, cost, seconds, stats["hits"], stats["misses"],
                     stats["evictions"], stats["peak_bytes"], trace.independent_seconds(), done)
