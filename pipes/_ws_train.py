"""The training loops of weight sharing, as ``dagreuse.pipes.neural.Trainable`` estimators.

:class:`SupernetTrainer` trains a :class:`~dagreuse.pipes.supernet.Supernet` as random search
with weight sharing does (thesis §5.4): every minibatch draws one architecture uniformly — an
operation per edge, and an activation among ``activations`` — from torch's generator, which
dagreuse seeds and checkpoints, so training in chunks of epochs gives what one go gives; then one
SGD step on that path only. The other parameters get no gradient, and torch's SGD leaves a
parameter without one alone (no momentum, no weight decay). The learning rate is constant: a
schedule over the total epochs would make a longer run's first epochs differ from a shorter
one's, and a second search with more epochs could not resume from the first one's checkpoints.
:meth:`SupernetTrainer.evaluate` scores many candidates on the shared weights in one call: what
a weight-sharing search's evaluation leaves run, many candidates per task.

:class:`CellNet` is one architecture as a stand-alone network trained from scratch (the retrained
winner of a search, the reference of a benchmark): the same loop on a fixed path, with affine
batch norm and running statistics. Both train and score on one torch thread (:func:`one_thread`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn
from torch.backends import cudnn

from ._nb201 import ACTIVATIONS, Supernet, touched_names
from .neural import NetCheckpoint, _cpu
from .space import NB201_OPS, Arch

__all__ = ["Average", "CellNet", "FinetuneTrainer", "SupernetTrainer", "one_thread"]


class _Loop(ClassifierMixin, BaseEstimator):
    """What both trainers share: the network, its SGD, the epochs, the state."""

    def begin(self, X: Any, y: Any, *, device: str) -> None:
        self._build(int(X.shape[1]), np.unique(np.asarray(y.cpu() if hasattr(y, "cpu") else y)),
                    device)

    def _build(self, in_channels: int, classes: np.ndarray, device: str) -> None:
        self.classes_, self.device_, self.in_channels_ = classes, device, in_channels
        self.net_ = self._network(in_channels, len(classes)).to(device)
        self.opt_ = torch.optim.SGD(self.net_.parameters(), lr=self.lr, momentum=self.momentum,
                                    weight_decay=self.weight_decay)

    def _epochs(self, X: Any, y: Any, epochs: int) -> None:
        net, opt = self.net_, self.opt_
        net.train()
        target = torch.searchsorted(torch.as_tensor(self.classes_, device=y.device), y)
        for _ in range(epochs):
            for idx in torch.randperm(len(X), device=X.device).split(self.batch_size):
                if len(idx) < 2:  # batch norm needs two rows
                    continue
                arch, activation = self._pick()
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(X[idx], arch, activation), target[idx]).backward()
                if self.grad_clip:
                    nn.utils.clip_grad_norm_([p for p in net.parameters() if p.grad is not None],
                                             self.grad_clip)
                opt.step()

    def train(self, X: Any, y: Any, epochs: int) -> None:
        with one_thread():
            self._epochs(X, y, epochs)

    def state(self) -> dict:
        return _cpu({"net": self.net_.state_dict(), "opt": self.opt_.state_dict(),
                     "in_channels": self.in_channels_, "classes": self.classes_})

    def restore(self, state: dict, *, device: str) -> None:
        self._build(state["in_channels"], state["classes"], device)
        self.net_.load_state_dict(state["net"])
        self.opt_.load_state_dict(state["opt"])

    def predict(self, X: Any) -> np.ndarray:
        """Classes of ``X`` on the trainer's own path (``_pick``)."""
        self.net_.eval()
        arch, activation = self._pick()
        return self.classes_[self._logits(X, arch, activation).argmax(1).cpu().numpy()]

    def _logits(self, X: Any, arch: Arch | None = None, activation: str | None = None,
                rows: int = 256) -> torch.Tensor:
        X = torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device_)
        with torch.no_grad(), one_thread():
            return torch.cat([self.net_(X[i:i + rows], arch, activation)
                              for i in range(0, len(X), rows)])


class SupernetTrainer(_Loop):
    """A supernet of ``nodes``-node cells with ``ops``, trained one uniformly drawn
    architecture (and activation) per minibatch (module docstring)."""

    def __init__(self, ops: tuple[str, ...] = NB201_OPS, nodes: int = 4,
                 activations: tuple[str, ...] = ("relu",), channels: int = 16,
                 cells_per_stage: int = 1, lr: float = 0.05, weight_decay: float = 3e-4,
                 momentum: float = 0.9, batch_size: int = 64, grad_clip: float = 5.0,
                 max_epochs: int = 50, device: str = "cpu", module: Any = None):
        self.ops, self.nodes, self.activations, self.module = ops, nodes, activations, module
        self.channels, self.cells_per_stage = channels, cells_per_stage
        self.lr, self.weight_decay, self.momentum = lr, weight_decay, momentum
        self.batch_size, self.grad_clip, self.max_epochs, self.device = (batch_size, grad_clip,
                                                                        max_epochs, device)

    def _network(self, in_channels: int, n_classes: int) -> Supernet:
        bad = [a for a in self.activations if a not in ACTIVATIONS]
        if bad or not self.activations:
            raise ValueError(f"The 'activations' parameter of SupernetTrainer must list some of "
                             f"{sorted(ACTIVATIONS)}. Got {self.activations!r} instead.")
        return (self.module or Supernet)(in_channels, n_classes, self.channels,
                                         self.cells_per_stage, tuple(self.ops), self.nodes,
                                         self.activations[0], search=True)

    def _pick(self) -> tuple[Arch, str]:
        edges = self.nodes * (self.nodes - 1) // 2
        ops = torch.randint(len(self.ops), (edges,)).tolist()
        act = int(torch.randint(len(self.activations), ())) if len(self.activations) > 1 else 0
        return Arch(self.ops[i] for i in ops), self.activations[act]

    def predict(self, X: Any) -> np.ndarray:
        raise TypeError("A supernet predicts only for an architecture: use evaluate(X, y, "
                        "candidates), or extract one (Supernet.extract).")

    def evaluate(self, X: Any, y: Any, candidates: list[dict], batches: int | None = None,
                 seed: int = 0) -> list[float]:
        """The accuracy of each candidate (``{"cell": Arch, "activation": name}``) on the shared
        weights: on the first ``batches`` minibatches of a seeded shuffle of ``(X, y)`` (every
        row when None), the same minibatches for every candidate — batch norm normalises with
        its batch's statistics, so the batches are part of the measurement."""
        order = np.random.RandomState(seed).permutation(len(X))
        if batches is not None:
            order = order[:batches * self.batch_size]
        rows = np.sort(order) if batches is None else order
        Xe, ye = np.asarray(X)[rows], np.asarray(y)[rows]
        self.net_.eval()
        out = []
        for c in candidates:
            logits = self._logits(Xe, _arch(c["cell"]), c.get("activation"), self.batch_size)
            predicted = self.classes_[logits.argmax(1).cpu().numpy()]
            out.append(float(np.mean(predicted == ye)))
        return out


class FinetuneTrainer(SupernetTrainer):
    """A copy of a supernet trained on one candidate (``cell``, ``activation``) with its own
    ``lr`` and ``weight_decay`` (a DEHB-WS job): it starts from a supernet's state, with a fresh
    optimizer, and trains and predicts on that one path."""

    def __init__(self, cell: Any = None, activation: str = "relu", ops: tuple[str, ...] = NB201_OPS,
                 nodes: int = 4, activations: tuple[str, ...] = ("relu",), channels: int = 16,
                 cells_per_stage: int = 1, lr: float = 0.05, weight_decay: float = 3e-4,
                 momentum: float = 0.9, batch_size: int = 64, grad_clip: float = 5.0,
                 max_epochs: int | None = None, device: str = "cpu", module: Any = None):
        super().__init__(ops, nodes, activations, channels, cells_per_stage, lr, weight_decay,
                         momentum, batch_size, grad_clip, max_epochs, device, module)
        self.cell, self.activation = cell, activation

    def _pick(self) -> tuple[Arch, str]:
        return _arch(self.cell), self.activation

    predict = _Loop.predict  # on its one path (a supernet's own refuses to predict)

    def state(self) -> dict:
        return {**super().state(), "arch": str(_arch(self.cell))}

    def restore(self, state: dict, *, device: str) -> None:
        self._build(state["in_channels"], state["classes"], device)
        self.net_.load_state_dict(state["net"])
        if state.get("arch") == str(_arch(self.cell)):  # its own checkpoint, not a supernet's
            self.opt_.load_state_dict(state["opt"])



class Average(BaseEstimator):
    """A supernet's checkpoint and copies of it trained on candidates (``archs``, in order) in,
    the supernet of their mean weights out (DEHB-WS, seed 000 §2.3): ``"masked"`` averages each
    parameter over the copies whose architecture touches it and keeps the supernet's value where
    none does; ``"plain"`` averages every float tensor over every copy (the paper's code)."""

    def __init__(self, archs: tuple = (), mode: str = "masked"):
        self.archs, self.mode = archs, mode

    def __call__(self, supernet: NetCheckpoint, *copies: NetCheckpoint) -> NetCheckpoint:
        base = supernet.state["net"]
        archs = [_arch(a) for a in self.archs]
        touched = [touched_names(list(base), a) for a in archs]
        out = {}
        for key, value in base.items():
            if not torch.is_floating_point(value) or key.endswith("num_batches_tracked"):
                out[key] = value
                continue
            use = [c for c, t in zip(copies, touched, strict=True)
                   if self.mode == "plain" or key in t]
            out[key] = (torch.stack([c.state["net"][key] for c in use]).mean(0) if use
                        else value)
        return NetCheckpoint({**supernet.state, "net": out}, 0, supernet.rng)


class CellNet(_Loop):
    """The network of one architecture (``cell``: an Arch or its NB201 string), trained from
    scratch; a scikit-learn classifier once trained (``predict``, ``score``)."""

    def __init__(self, cell: Any = None, activation: str = "relu", channels: int = 16,
                 cells_per_stage: int = 1, lr: float = 0.05, weight_decay: float = 3e-4,
                 momentum: float = 0.9, batch_size: int = 64, grad_clip: float = 5.0,
                 max_epochs: int = 30, device: str = "cpu", module: Any = None):
        self.cell, self.activation, self.module = cell, activation, module
        self.channels, self.cells_per_stage = channels, cells_per_stage
        self.lr, self.weight_decay, self.momentum = lr, weight_decay, momentum
        self.batch_size, self.grad_clip, self.max_epochs, self.device = (batch_size, grad_clip,
                                                                        max_epochs, device)

    def _network(self, in_channels: int, n_classes: int) -> Supernet:
        arch = _arch(self.cell)
        return (self.module or Supernet)(in_channels, n_classes, self.channels,
                                         self.cells_per_stage, tuple(dict.fromkeys(arch)),
                                         arch.nodes, self.activation, search=False, arch=arch)

    def _pick(self) -> tuple[None, None]:
        return None, None  # the network's own architecture and activation


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one CPU thread meanwhile: its kernels sum in an order that depends on their
    thread count, so that a network trains to the same weights on the sync oracle and on any
    worker (a cluster runs such tasks side by side instead; for these small networks one
    thread was also the faster: 0.45 s an epoch of digits against 0.6 s on two). On CUDA,
    cuDNN meanwhile picks deterministic algorithms and no benchmarking (ALGORITHMS.md §4)."""
    before = torch.get_num_threads(), cudnn.deterministic, cudnn.benchmark
    torch.set_num_threads(1)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        cudnn.deterministic, cudnn.benchmark = before[1:]


def _arch(cell: Any) -> Arch:
    if isinstance(cell, Arch):
        return cell
    if isinstance(cell, str):
        return Arch.parse(cell)
    if isinstance(cell, tuple | list):
        return Arch(cell)
    raise TypeError(f"A cell must be an Arch, its NB201 string or a tuple of operation names. "
                    f"Got {cell!r} instead.")
