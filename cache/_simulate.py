"""Replay a trace under any policy and capacity: "what if I had used another cache?"

Semantics are the Runner's with ``max_in_flight=1`` — the same :func:`resolve`: each request
reuses the deepest cached node of its path (a hit), computes everything below it (misses; the
leaf is always computed) and offers each computed inner node to the cache; and the same known
future: from the trace's ``submit`` events the replay knows which requests were submitted and
not done yet (and from ``expect`` events, which finished ones a search expected to build on),
and the cache evicts the nodes none of them needs first (for online policies:
Belady and OPT see the whole future anyway). A trace without ``submit`` events (an
older or a synthetic one) is replayed without that rule; ``known_future=False`` replays a trace
that has them without it too (the plain policy, for comparison).

One cost model. Every offline figure charges a computation of a node the same
cost: the node's mean measured seconds (``Trace.seconds``). The replay charges it, :class:`OPT`
minimises it, and the profile's independent and merged seconds sum it — so OPT is never beaten
by a replay, and an :class:`Unbounded` replay's speedup is ``Profile.ideal_speedup`` exactly.
What a policy *weighs* when it decides is what the live Runner saw then: the k-th computation
of a node offers the cache the seconds its k-th live computation took (the running mean once
the live ones run out). So replaying a live trace with the live policy, capacity and seed makes
the live decisions — the same hits, misses and evictions — and, computing each node as often as
the live run did, charges the seconds it spent.

Two tiers (``disk=``: a policy with the persistent tier's capacity, as ``DiskCache`` uses one):
every inner node computed for at least ``disk_min_seconds`` is offered to the disk tier too, and
a memory miss that the disk tier holds costs reading it back — the trace's measured read
seconds per byte (``disk`` events), or ``DISK_SECONDS_PER_BYTE`` for a trace that has none —
instead of recomputing it and its missing ancestors.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Hashable
from dataclasses import dataclass, field

from ._future import EXPECTED, PENDING, KnownFuture
from ._policy import Policy
from ._resolve import resolve
from ._store import Cache
from ._trace import Trace, running_mean

__all__ = ["DISK_SECONDS_PER_BYTE", "SimResult", "simulate"]

#: what reading a result back from disk costs per byte when the trace measured none (1 GB/s)
DISK_SECONDS_PER_BYTE = 1e-9


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
    disk_hits: int = 0

    @property
    def speedup(self) -> float:
        """Independent evaluation's compute seconds / this replay's."""
        return self.independent_seconds / self.seconds if self.seconds > 0 else math.inf


def simulate(trace: Trace, policy: Policy, cost: str = "own", *,
             known_future: bool | None = None, disk: Policy | None = None,
             disk_min_seconds: float = 0.0) -> SimResult:
    """Replay ``trace`` with ``policy`` (which carries its capacity and seed). With
    ``known_future=False`` the policy decides as if no request were known ahead; default: as
    the traced run did (``Runner(known_future=...)``). ``disk``: the policy and capacity of a
    persistent second tier (module docstring)."""
    if not isinstance(trace, Trace):
        raise TypeError(f"The 'trace' parameter of simulate must be a Trace. Got {trace!r} instead.")
    if not isinstance(policy, Policy):
        raise TypeError(
            "The 'policy' parameter of simulate must be a dagreuse.cache policy such as "
            f"WReciprocal('64MB', seed=0). Got {policy!r} instead."
        )
    paths = [e["path"] for e in trace.requests(abandoned=True)]  # indexed by request number
    gone = set(trace.meta.get("abandoned", ()))
    live = [p for t, p in enumerate(paths) if t not in gone]
    if disk is not None and not isinstance(disk, Policy):
        raise TypeError("The 'disk' parameter of simulate must be a dagreuse.cache policy such "
                        f"as WReciprocal('20GB'), or None. Got {disk!r} instead.")
    if getattr(policy, "solve", None) is not None:  # exact OPT: an optimisation, not a replay
        return policy.solve(trace, live)
    # the known future (nodes of the requests submitted and not done), for online policies of
    # traces that record their submissions; offline ones see the whole future anyway
    future = KnownFuture()
    if known_future is None:
        known_future = trace.meta.get("known_future", True)
    replay_needs = (known_future and not getattr(policy, "offline", False)
                    and trace.count("submit") > 0)
    store = Cache(policy, cost=cost)
    if replay_needs:
        store.needed = future.tier
    if hasattr(store.policy, "prepare"):  # offline policies see the future
        store.policy.prepare(trace, live)
    measured = trace.computations()
    done: dict[Hashable, int] = {}
    means: dict[Hashable, float] = {}  # running means, as the live trace had them at the time
    charges: list[float] = []  # the mean of each node computed, once per computation
    second = None if disk is None else Cache(disk)
    read = _read_seconds_per_byte(trace)
    disk_hits = 0

    def load(key: Hashable) -> bool | None:
        nonlocal disk_hits
        if second is None or key not in second:
            return None
        disk_hits += 1
        charges.append(read * trace.nbytes(key))
        store.offer_computed(key, True, trace.nbytes(key), trace.seconds(key), trace.parents,
                             seconds_of)
        return True

    def seconds_of(key: Hashable) -> float:
        return means.get(key, trace.seconds(key))

    def compute(key: Hashable, args: list) -> bool:
        if trace.nodes[key]["seconds"] is None:  # never completed live: it failed there
            raise _Failed(key)
        runs, n = measured.get(key, ()), done.get(key, 0)
        s = runs[n] if n < len(runs) else trace.seconds(key)
        done[key] = n + 1
        means[key] = running_mean(means.get(key), n, s)
        charges.append(trace.seconds(key))
        if not trace.nodes[key]["leaf"]:
            store.offer_computed(key, True, trace.nbytes(key), s, trace.parents, seconds_of)
            if second is not None and s >= disk_min_seconds:
                second.offer(key, True, trace.nbytes(key), s)
        return True

    known, t, lt = 0, 0, 0  # requests submitted so far; the next request; the next live one
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
        if t in gone:  # a resumed search submitted its job again
            future.add(path, PENDING, -1)
            t += 1
            continue
        if hasattr(store.policy, "advance"):
            store.policy.advance(lt)
        with contextlib.suppress(_Failed):
            resolve(path[-1], parents=trace.parents, leaf=lambda k: trace.nodes[k]["leaf"],
                    cache=store, compute=compute, mark=lambda ev, k: None,
                    load=None if second is None else load)
        future.add(path, PENDING, -1)
        t, lt = t + 1, lt + 1
    seconds = math.fsum(charges)
    stats = store.stats()
    return SimResult(repr(policy), store.capacity, cost, seconds, stats["hits"], stats["misses"],
                     stats["evictions"], stats["peak_bytes"], trace.independent_seconds(), done,
                     disk_hits)


def _read_seconds_per_byte(trace: Trace) -> float:
    """Measured disk read seconds per byte of the trace's ``disk`` events, where timed."""
    timed = [e for e in trace.events if e["ev"] == "disk" and e.get("seconds") is not None]
    total = sum(e["bytes"] for e in timed)
    return sum(e["seconds"] for e in timed) / total if total else DISK_SECONDS_PER_BYTE
