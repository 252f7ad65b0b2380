"""NAS-Bench-201's supernet in torch (documented in :mod:`dagreuse.pipes.supernet`)."""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .space import NB201_OPS, Arch

__all__ = ["ACTIVATIONS", "Supernet", "active_edges", "touched_names"]

#: The activations a supernet can run with, by name.
ACTIVATIONS = {"relu": F.relu, "hardswish": F.hardswish, "mish": F.mish}


def active_edges(arch: Arch) -> list[tuple[int, int, str]]:
    """The edges ``(i, j, op)`` of ``arch`` on some path from node 0 to the last node through
    no ``none`` edge: the only ones whose operation changes the cell's output."""
    edges = [(i, j, op) for i, j, op in arch.edges() if op != "none"]
    last = arch.nodes - 1
    reached = {0}
    for i, j, _ in edges:  # edges are ordered by target, so sources are settled first
        if i in reached:
            reached.add(j)
    leads = {last}
    for i, j, _ in reversed(edges):
        if j in leads:
            leads.add(i)
    return [(i, j, op) for i, j, op in edges if i in reached and j in leads]


class _ActConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, affine: bool, track: bool):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track)

    def forward(self, x: torch.Tensor, act: Any) -> torch.Tensor:
        return self.bn(self.conv(act(x)))


def _operation(op: str, c: int, affine: bool, track: bool) -> nn.Module | None:
    """The module of one operation on one edge (None: it has no weights)."""
    if op in ("none", "skip_connect", "avg_pool_3x3"):
        return None
    if op in ("conv_1x1", "conv_3x3"):
        return _ActConvBN(c, c, int(op[-1]), 1, affine, track)
    raise ValueError(f"Unknown cell operation {op!r}; the supernet knows {list(NB201_OPS)}.")


def _apply(edge: nn.ModuleDict, op: str, x: torch.Tensor, act: Any) -> torch.Tensor:
    if op == "skip_connect":
        return x
    if op == "avg_pool_3x3":
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    return edge[op](x, act)


class _Cell(nn.Module):
    """One cell: a module per (edge, weighted operation), named ``"{i}_{j}"`` then the op."""

    def __init__(self, c: int, nodes: int, ops: tuple[str, ...], affine: bool, track: bool):
        super().__init__()
        self.nodes = nodes
        self.edges = nn.ModuleDict()
        for j in range(1, nodes):
            for i in range(j):
                here = nn.ModuleDict({op: m for op in ops
                                      if (m := _operation(op, c, affine, track)) is not None})
                self.edges[f"{i}_{j}"] = here

    def forward(self, x: torch.Tensor, arch: Arch, act: Any) -> torch.Tensor:
        states: dict[int, torch.Tensor] = {0: x}
        for i, j, op in active_edges(arch):
            out = _apply(self.edges[f"{i}_{j}"], op, states[i], act)
            states[j] = out if j not in states else states[j] + out
        return states.get(self.nodes - 1, torch.zeros_like(x))


class _ResBlock(nn.Module):
    """NB201's ResNet basic block between stages: stride 2, channels doubled."""

    def __init__(self, c_in: int, c_out: int, track: bool):
        super().__init__()
        self.a = _ActConvBN(c_in, c_out, 3, 2, True, track)
        self.b = _ActConvBN(c_out, c_out, 3, 1, True, track)
        self.down = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor, act: Any) -> torch.Tensor:
        return self.b(self.a(x, act), act) + self.down(F.avg_pool2d(x, 2, 2, ceil_mode=True))


class Supernet(nn.Module):
    """NB201's network with every operation on every edge (module docstring); ``arch`` fixes
    one architecture (a stand-alone network: only its active edges get modules)."""

    def __init__(self, in_channels: int, n_classes: int, channels: int = 16,
                 cells_per_stage: int = 1, ops: tuple[str, ...] = NB201_OPS, nodes: int = 4,
                 activation: str = "relu", search: bool = True, arch: Arch | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"The 'activation' parameter of Supernet must be one of "
                             f"{sorted(ACTIVATIONS)}. Got {activation!r} instead.")
        self.activation, self.arch, self.nodes, self.ops = activation, arch, nodes, tuple(ops)
        track = not search
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(channels, track_running_stats=track))
        self.cells = nn.ModuleList()
        self.reductions = nn.ModuleList()
        c = channels
        for stage in range(3):
            if stage:
                self.reductions.append(_ResBlock(c, 2 * c, track))
                c *= 2
            for _ in range(cells_per_stage):
                self.cells.append(_Cell(c, nodes, self.ops, affine=not search, track=track))
        self.cells_per_stage = cells_per_stage
        self.last = nn.BatchNorm2d(c, track_running_stats=track)
        self.head = nn.Linear(c, n_classes)
        if arch is not None:
            self._prune(arch)

    def forward(self, x: torch.Tensor, arch: Arch | None = None,
                activation: str | None = None) -> torch.Tensor:
        arch = self.arch if arch is None else arch
        if arch is None:
            raise ValueError("Supernet.forward needs an 'arch': this network fixes none.")
        act = ACTIVATIONS[activation or self.activation]
        x = self.stem(x)
        for k, cell in enumerate(self.cells):
            if k and k % self.cells_per_stage == 0:
                x = self.reductions[k // self.cells_per_stage - 1](x, act)
            x = cell(x, arch, act)
        x = act(self.last(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def touched(self, arch: Arch) -> set[str]:
        """Names of the parameters ``forward(x, arch)`` uses."""
        return touched_names([name for name, _ in self.named_parameters()], arch)

    def extract(self, arch: Arch) -> Supernet:
        """A stand-alone copy for ``arch``: ``forward(x)`` equals this ``forward(x, arch)``."""
        out = copy.deepcopy(self)
        out._prune(arch)
        return out

    def _prune(self, arch: Arch) -> None:
        if len(arch) != self.nodes * (self.nodes - 1) // 2 or not set(arch) <= set(self.ops):
            raise ValueError(f"{arch!r} is not an architecture of this supernet: "
                             f"{self.nodes} nodes, operations {list(self.ops)}.")
        keep = {(f"{i}_{j}", op) for i, j, op in active_edges(arch)}
        for cell in self.cells:
            for edge, ops in cell.edges.items():
                for op in list(ops):
                    if (edge, op) not in keep:
                        del ops[op]
        self.arch = arch


def touched_names(names: list[str], arch: Arch) -> set[str]:
    """Which of a supernet's parameter ``names`` ``arch`` uses (:meth:`Supernet.touched`)."""
    active = {f"{i}_{j}.{op}." for i, j, op in active_edges(arch)}
    if not active:  # every cell outputs zeros: only what follows the last one is used
        return {n for n in names if n.startswith(("last.", "head."))}
    return {n for n in names if not n.startswith("cells.") or _edge_op(n) in active}


def _edge_op(name: str) -> str:
    """``"{i}_{j}.{op}."`` of a cell parameter's name ``cells.K.edges.I_J.OP....``."""
    edge, op = name.split(".edges.", 1)[1].split(".", 2)[:2]
    return f"{edge}.{op}."
