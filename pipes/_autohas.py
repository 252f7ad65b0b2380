"""AutoHAS's training loop (seed 001 §2-3): a supernet and a controller trained together.

The controller is a set of independent softmax distributions (logits ``theta``): one per cell
edge over the operations, one over the activations, and one per searched hyperparameter over
its *basis* values (``bases``: ``(name, values)`` pairs; ``lr`` and ``weight_decay`` are the
ones this loop applies). Every step:

1. draw an architecture and a basis value per hyperparameter from the controller;
2. take the gradient of the training loss on a minibatch through the active path only;
3. make **temporary weights** ``W*``: one step of the shared weights' own optimizer (SGD, its
   momentum buffer included) with the drawn values — a dict of tensors beside the network,
   which is never written to (``torch.func``);
4. the reward is the accuracy of ``W*`` on a minibatch of the *reward split* (a fixed part,
   ``reward_fraction``, of the training data: the validation fold stays for the final score);
5. after ``warmup`` of the planned steps, REINFORCE: ``theta`` follows ``(Q - b) * grad log pi``
   with Adam at ``meta_lr``; the baseline ``b`` moves by momentum 0.95 from the first step;
6. discard ``W*`` and update the shared weights with the same gradient (the same minibatch: the
   paper leaves open whether a new one is drawn) by SGD with momentum at the drawn values.

Why ``W*``: a hyperparameter acts only through training, so its reward must see a step taken
with it; taking that step on the shared weights themselves would let every candidate move them.
``temporary=False`` scores the shared weights instead (the ablation: then learning rates get no
signal). The plan (``epochs``, hence the warm-up's length) is part of the trainer, so its
checkpoints resume within one search, not across searches of other lengths.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ._ws_train import SupernetTrainer
from .neural import _cpu
from .space import NB201_OPS, Arch

__all__ = ["AutoHASTrainer"]


class AutoHASTrainer(SupernetTrainer):
    """A supernet trained with AutoHAS's controller (module docstring); ``evaluate`` returns
    the controller's distributions."""

    def __init__(self, ops: tuple[str, ...] = NB201_OPS, nodes: int = 4,
                 activations: tuple[str, ...] = ("relu",), bases: tuple = (),
                 channels: int = 16, cells_per_stage: int = 1, lr: float = 0.05,
                 weight_decay: float = 3e-4, momentum: float = 0.9, batch_size: int = 64,
                 grad_clip: float = 5.0, epochs: int = 30, meta_lr: float = 0.05,
                 warmup: float = 0.3, reward_fraction: float = 0.2, temporary: bool = True,
                 max_epochs: int | None = None, device: str = "cpu", module: Any = None):
        super().__init__(ops, nodes, activations, channels, cells_per_stage, lr, weight_decay,
                         momentum, batch_size, grad_clip, max_epochs, device, module)
        self.bases, self.epochs, self.meta_lr, self.warmup = bases, epochs, meta_lr, warmup
        self.reward_fraction, self.temporary = reward_fraction, temporary

    def _build(self, in_channels: int, classes: np.ndarray, device: str) -> None:
        super()._build(in_channels, classes, device)
        edges = self.nodes * (self.nodes - 1) // 2
        shapes = {"cell": (edges, len(self.ops)), "activation": (len(self.activations),),
                  **{name: (len(values),) for name, values in self.bases}}
        self.theta_ = {k: torch.zeros(s, device=device, requires_grad=True)
                       for k, s in shapes.items()}
        self.meta_opt_ = torch.optim.Adam(list(self.theta_.values()), lr=self.meta_lr)
        self.baseline_, self.step_ = 0.0, 0

    def _sample(self) -> tuple[dict[str, Any], torch.Tensor]:
        """One draw of every decision, and the sum of their log-probabilities."""
        logp = torch.zeros((), device=self.device_)
        picks: dict[str, Any] = {}
        for name, logits in self.theta_.items():
            dist = torch.distributions.Categorical(logits=logits)
            choice = torch.multinomial(dist.probs.detach().reshape(-1, logits.shape[-1]).cpu(),
                                       1).reshape(logits.shape[:-1]).to(logits.device)
            logp = logp + dist.log_prob(choice).sum()
            picks[name] = choice.tolist()
        return picks, logp

    def _decode(self, picks: dict[str, Any]) -> tuple[Arch, str, dict[str, float]]:
        hp = {name: values[picks[name]] for name, values in self.bases}
        return (Arch(self.ops[i] for i in picks["cell"]), self.activations[picks["activation"]],
                {"lr": hp.get("lr", self.lr), "weight_decay": hp.get("weight_decay",
                                                                     self.weight_decay)})

    def _epochs(self, X: Any, y: Any, epochs: int) -> None:
        n = len(X)
        order = torch.as_tensor(np.random.RandomState(0).permutation(n), device=X.device)
        held = max(2, round(self.reward_fraction * n))
        reward, fit = order[:held], order[held:]
        target = torch.searchsorted(torch.as_tensor(self.classes_, device=y.device), y)
        planned = self.epochs * math.ceil(len(fit) / self.batch_size)
        self.net_.train()
        for _ in range(epochs):
            rewards = reward[torch.randperm(len(reward), device=X.device)]
            for k, idx in enumerate(fit[torch.randperm(len(fit), device=X.device)].split(
                    self.batch_size)):
                if len(idx) < 2:
                    continue
                start = (k * self.batch_size) % max(1, len(rewards) - self.batch_size + 1)
                val = rewards[start:start + self.batch_size]
                self._step(X[idx], target[idx], X[val], target[val], planned)

    def _step(self, xb: Any, yb: Any, xv: Any, yv: Any, planned: int) -> None:
        picks, logp = self._sample()
        arch, act, hp = self._decode(picks)
        named, grads, q = self.reward(xb, yb, xv, yv, arch, act, hp)
        if self.step_ >= self.warmup * planned:  # REINFORCE, once the warm-up is over
            self.meta_opt_.zero_grad()
            (-(q - self.baseline_) * logp).backward()
            self.meta_opt_.step()
        self.baseline_ = 0.95 * self.baseline_ + 0.05 * q
        self.step_ += 1
        for group in self.opt_.param_groups:  # the shared step, with the drawn values
            group["lr"], group["weight_decay"] = hp["lr"], hp["weight_decay"]
        self.opt_.zero_grad(set_to_none=True)
        for p, g in zip(named.values(), grads, strict=True):
            p.grad = g
        self.opt_.step()

    def reward(self, xb: Any, yb: Any, xv: Any, yv: Any, arch: Arch, act: str,
               hp: dict[str, float]) -> tuple[dict, list, float]:
        """The active path's parameters, their (clipped) gradient on ``(xb, yb)``, and the
        reward: the accuracy on ``(xv, yv)`` of the temporary weights one step of ``hp`` makes
        (of the shared weights with ``temporary=False``). Writes to no weight."""
        named = {n: p for n, p in self.net_.named_parameters() if n in self.net_.touched(arch)}
        loss = F.cross_entropy(self.net_(xb, arch, act), yb)
        grads = torch.autograd.grad(loss, list(named.values()))  # only the active path's
        if self.grad_clip:
            total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g)
                                                          for g in grads]))
            scale = min(1.0, self.grad_clip / (float(total) + 1e-6))
            grads = [g * scale for g in grads]
        with torch.no_grad():
            if self.temporary:  # one step of the shared weights' own SGD, momentum included
                temp = {n: p - hp["lr"] * self._direction(p, g, hp["weight_decay"])
                        for (n, p), g in zip(named.items(), grads, strict=True)}
                logits = torch.func.functional_call(self.net_, temp, (xv, arch, act))
            else:
                logits = self.net_(xv, arch, act)
            q = float((logits.argmax(1) == yv).float().mean())
        return named, grads, q

    def _direction(self, p: Any, g: Any, weight_decay: float) -> Any:
        """The update torch's SGD would make of ``p`` with gradient ``g``: its momentum buffer
        (where it has one) times the momentum, plus the gradient and the weight decay."""
        d = g + weight_decay * p
        buf = self.opt_.state.get(p, {}).get("momentum_buffer")
        return d if buf is None or not self.momentum else self.momentum * buf + d

    def state(self) -> dict:
        out = super().state()
        out.update(_cpu({"theta": {k: v.detach() for k, v in self.theta_.items()},
                         "meta_opt": self.meta_opt_.state_dict()}))
        out.update({"baseline": self.baseline_, "step": self.step_})
        return out

    def restore(self, state: dict, *, device: str) -> None:
        super().restore(state, device=device)
        with torch.no_grad():
            for k, v in state["theta"].items():
                self.theta_[k].copy_(v)
        self.meta_opt_.load_state_dict(state["meta_opt"])
        self.baseline_, self.step_ = state["baseline"], state["step"]

    def evaluate(self, X: Any = None, y: Any = None, **_: Any) -> list[dict[str, Any]]:
        """The controller's distributions, ``{name: probabilities}`` (the cell's per edge)."""
        with torch.no_grad():
            return [{k: torch.softmax(v, -1).cpu().tolist() for k, v in self.theta_.items()}]

