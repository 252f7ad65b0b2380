"""Pictures of a run, from its trace: the merged DAG, and the best score over time.

:func:`draw_dag` lays the merged DAG out as a tree, one column per stage (the fold splits
first). Leaves are placed top to bottom in depth-first order and each inner node sits at the
mean height of its children, so a shared prefix is visibly one node that fans out. A node's
area is its compute seconds (all its computations), its colour what happened to it: computed
once, also hit in the cache, shared while live, evicted (and perhaps recomputed), or failed.
When a stage has more than ``MAX_MARKS`` leaves, the leaves of each parent are drawn as one
mark with their count. With a resource (successive halving), the leaf stage is split into
shaded columns, one per resource level — the rungs of the thesis' Fig. 4.4.

:func:`plot_search` draws the best score so far against wall time, and against compute seconds
with reuse (each node paid when a finished request first needed it) and without (every request
pays its whole path): the gap is what reuse saved, as the search went.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from dagreuse.cache import Trace, require

__all__ = ["MAX_MARKS", "draw_dag", "plot_search"]

#: Leaves per stage above which each parent's leaves are drawn as one mark.
MAX_MARKS = 200
COLOURS = {"computed": "#9e9e9e", "shared": "#4c72b0", "hit": "#55a868", "evicted": "#dd8452",
           "failed": "#c44e52"}


def _status(trace: Trace) -> dict[str, str]:
    """What happened to each node, the most telling event first."""
    seen: dict[str, set[str]] = defaultdict(set)
    for e in trace.events:
        if e["ev"] in ("hit", "share", "evict", "fail"):
            seen[e["key"]].add(e["ev"])
    order = [("fail", "failed"), ("evict", "evicted"), ("hit", "hit"), ("share", "shared")]
    return {k: next((name for ev, name in order if ev in evs), "computed") for k, evs in seen.items()}


def _layout(trace: Trace) -> tuple[dict[str, float], dict[str, int], list[str]]:
    """Each node's height and column, and the column names."""
    nodes = trace.nodes
    stages = list(trace.meta.get("stages") or dict.fromkeys(n["stage"] for n in nodes.values()))
    column = {k: stages.index(n["stage"]) if n["stage"] in stages else len(stages)
              for k, n in nodes.items()}
    children: dict[str, list[str]] = defaultdict(list)
    for k, n in nodes.items():
        if n["parents"]:
            children[n["parents"][0]].append(k)
    y: dict[str, float] = {}
    row = [0]

    def place(key: str) -> float:
        kids = children.get(key, [])
        if not kids:
            y[key] = row[0]
            row[0] += 1
        else:
            y[key] = sum(place(c) for c in kids) / len(kids)
        return y[key]

    for k, n in nodes.items():  # every other node hangs below its first parent
        if not n["parents"]:
            place(k)
    return y, column, stages


def draw_dag(trace: Trace, path: Any = None, ax: Any = None) -> Any:
    """The merged DAG of ``trace`` (module docstring); writes ``path`` (PNG) when given and
    returns the matplotlib Axes."""
    plt = _pyplot(path, ax)
    nodes = trace.nodes
    y, column, stages = _layout(trace)
    status = _status(trace)
    leaves = [k for k, n in nodes.items() if n["leaf"]]
    grouped = len(leaves) > MAX_MARKS
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(stages)), 7))
    seconds = {k: (n["seconds"] or 0.0) * max(n["computed"], 1) for k, n in nodes.items()}
    top = max(seconds.values(), default=1.0) or 1.0
    levels = sorted({n["resource"] for n in nodes.values() if n.get("resource") is not None},
                    key=float)
    _rungs(ax, nodes, y, column, levels)
    drawn = [k for k in nodes if not (grouped and nodes[k]["leaf"])]
    for k in drawn:
        for p in nodes[k]["parents"]:
            ax.plot([column[p], column[k]], [y[p], y[k]], color="#cccccc", lw=0.5, zorder=1)
    ax.scatter([column[k] for k in drawn], [y[k] for k in drawn],
               s=[20 + 600 * seconds[k] / top for k in drawn],
               c=[COLOURS[status.get(k, "computed")] for k in drawn], zorder=2, edgecolors="none")
    if grouped:
        _grouped_leaves(ax, nodes, leaves, y, column, status)
    for name, colour in COLOURS.items():
        ax.scatter([], [], c=colour, label=name)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    ax.set_xticks(range(len(stages)), stages)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_title(f"merged DAG: {len(nodes)} nodes, area = compute seconds", fontsize=10)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if path is not None:
        (fig or ax.figure).savefig(path, dpi=120, bbox_inches="tight")
        if fig is not None:
            plt.close(fig)
    return ax


def _rungs(ax: Any, nodes: dict, y: dict, column: dict, levels: list) -> None:
    """Move the nodes of each resource level into a shaded column of their own (the rungs)."""
    if not levels:
        return
    from ._profile import level_text

    step = 0.8 / len(levels)
    for i, level in enumerate(levels):
        keys = [k for k, n in nodes.items() if n.get("resource") == level]
        base = min(column[k] for k in keys)
        x = base - 0.4 + step * (i + 0.5)
        for k in keys:
            column[k] = x
        ys = [y[k] for k in keys]
        ax.add_patch(_rectangle((x - step / 2, min(ys) - 0.5), step, max(ys) - min(ys) + 1,
                                alpha=0.06 + 0.08 * (i % 2)))
        ax.annotate(f"r={level_text(level)}", (x, min(ys) - 1), fontsize=7, ha="center")


def _rectangle(*args: Any, **kwargs: Any) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(*args, color="#4c72b0", lw=0, zorder=0, **kwargs)


def _grouped_leaves(ax: Any, nodes: dict, leaves: list, y: dict, column: dict,
                    status: dict) -> None:
    """One mark per parent for its leaves, labelled with their count (failures in red)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for k in leaves:
        groups[nodes[k]["parents"][0]].append(k)
    for parent, group in groups.items():
        gy = sum(y[k] for k in group) / len(group)
        gx = sum(column[k] for k in group) / len(group)
        failed = sum(status.get(k) == "failed" for k in group)
        ax.plot([column[parent], gx], [y[parent], gy], color="#cccccc", lw=0.5, zorder=1)
        ax.scatter([gx], [gy], s=20 + 4 * len(group), marker="s", zorder=2,
                   c=COLOURS["failed" if failed else "computed"], edgecolors="none")
        ax.annotate(str(len(group)), (gx + 0.08, gy), fontsize=6, va="center")


def plot_search(trials: list[dict[str, Any]], trace: Trace, path: Any = None) -> Any:
    """Best score so far against wall time and against compute seconds with and without reuse
    (module docstring); writes ``path`` (PNG) when given and returns the two Axes."""
    plt = _pyplot(path, None)
    order = sorted(trials, key=lambda t: t["elapsed"])
    paths = {e["req"]: e["path"] for e in trace.requests()}
    best, wall, with_reuse, without = [], [], [], []
    seen: set[str] = set()
    spent = independent = 0.0
    b = -math.inf
    for t in order:
        for p in (paths[r] for r in t.get("requests") or () if r in paths):
            independent += math.fsum(trace.seconds(k) for k in p)
            new = [k for k in p if k not in seen or trace.nodes[k]["leaf"]]
            spent += math.fsum(trace.seconds(k) for k in new)
            seen.update(new)
        if math.isfinite(t["mean_score"]):
            b = max(b, t["mean_score"])
        best.append(b)
        wall.append(t["elapsed"])
        with_reuse.append(spent)
        without.append(independent)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    left.step(wall, best, where="post")
    left.set_xlabel("wall seconds")
    left.set_ylabel("best score so far")
    right.step(with_reuse, best, where="post", label="with reuse (each node once)")
    right.step(without, best, where="post", label="without (every path paid)")
    right.set_xlabel("compute seconds")
    right.legend(frameon=False, fontsize=8)
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
        plt.close(fig)
    return left, right


def _pyplot(path: Any, ax: Any) -> Any:
    matplotlib = require("matplotlib", "Drawing")
    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt
