"""Synthetic traces shaped like the thesis' cache experiments (Li 2020, §4.4.3).

A k-ary tree of depth d is what gridded random search with branching k makes of a d-stage
pipeline: level 0 is the root (the data's first transform), level d holds the leaves (the
trained models), and every request is one root-to-leaf path, "traversed leaf by leaf" either
depth-first or in random order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._trace import Trace

__all__ = ["thesis_tree_a", "thesis_tree_b", "tree_trace"]


def tree_trace(
    k: int,
    depth: int,
    size: Callable[[int, np.random.Generator], float],
    cost: Callable[[int, np.random.Generator], float],
    order: str = "dfs",
    seed: int = 0,
) -> Trace:
    """A trace over a k-ary tree of ``depth``; ``size(level, rng)`` and ``cost(level, rng)``
    give each node's bytes and seconds; ``order`` is ``"dfs"`` or ``"random"``."""
    if order not in ("dfs", "random"):
        raise ValueError(f"The 'order' parameter must be 'dfs' or 'random'. Got {order!r} instead.")
    if k < 1 or depth < 1:
        raise ValueError(f"A tree needs k >= 1 and depth >= 1. Got k={k}, depth={depth}.")
    rng = np.random.default_rng(seed)
    trace = Trace({"generator": f"{k}-ary tree, depth {depth}, {order} order", "seed": seed})
    paths: list[list[str]] = []

    def grow(key: str, parent: str | None, level: int, path: list[str]) -> None:
        leaf = level == depth
        trace.node(key, stage=f"level{level}", parents=[parent] if parent else [], leaf=leaf)
        trace.nodes[key].update(seconds=float(cost(level, rng)), bytes=int(size(level, rng)))
        path = [*path, key]
        if leaf:
            paths.append(path)
            return
        for i in range(k):
            grow(f"{key}.{i}", key, level + 1, path)

    grow("r", None, 0, [])
    if order == "random":
        paths = [paths[i] for i in rng.permutation(len(paths))]
    for path in paths:
        trace.request(path, configs=[len(trace.events)], fold=0)
    return trace


def thesis_tree_a(k: int = 3, depth: int = 3, order: str = "dfs", seed: int = 0) -> Trace:
    """Figure 4.5a: every node of size 10; the root costs 100, every other node 1."""
    return tree_trace(k, depth, lambda level, rng: 10, lambda level, rng: 100 if level == 0 else 1,
                      order, seed)


def thesis_tree_b(k: int = 3, depth: int = 3, order: str = "dfs", seed: int = 0) -> Trace:
    """Figure 4.5b: each node's size is 10 or 50 and its cost 1 or 100, drawn independently
    with equal probability."""
    return tree_trace(k, depth, lambda level, rng: rng.choice([10, 50]),
                      lambda level, rng: rng.choice([1, 100]), order, seed)
