"""AutoHAS (seed 001): architecture and hyperparameters searched together by a controller.

Hyperparameters are discretized on a *basis*: a choice's values (one-hot), and for a continuous
dimension ``basis_size`` points across its range (log-spaced where it is log-uniform) or the
values given in ``bases``. One supernet trains with the controller
(``dagreuse.pipes.supernet.AutoHASTrainer``: temporary weights per reward, REINFORCE with a
momentum baseline, frozen for the first ``warmup`` of the steps), in chunks of ``chunk`` epochs,
each a checkpoint node. The choice is then read from the controller: the most likely operation
on each edge and the most likely value of each categorical dimension; a continuous
hyperparameter is the probability-weighted sum of its basis values. That choice is retrained
from scratch for ``retrain_epochs``; its score is ``best_score``, and the controller's final
distributions are ``SharedResult.policy`` (averaged over the folds, one controller per fold).

Searched: ``cell``, ``activation`` when it is a choice, ``lr`` and ``weight_decay`` when they are
not fixed values; the rest is fixed as for every weight-sharing search (``_weight_sharing``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dagreuse.pipes import space

from ._rungs import check_int
from ._weight_sharing import Evaluation, Retrain, WeightSharing, chunked, only_config

__all__ = ["AutoHAS", "basis"]

SEARCHED = ("lr", "weight_decay")


def basis(dim: Any, size: int) -> tuple:
    """The basis values of a dimension (module docstring); a fixed value is its own basis."""
    if isinstance(dim, space.Choice | space.Constant):
        return tuple(dim.values())
    if isinstance(dim, space.LogUniform):
        return tuple(float(v) for v in np.geomspace(dim.low, dim.high, size))
    if isinstance(dim, space.Uniform):
        return tuple(float(v) for v in np.linspace(dim.low, dim.high, size))
    if isinstance(dim, space.RandInt):
        return tuple(sorted({round(float(v)) for v in np.linspace(dim.low, dim.high - 1, size)}))
    return (dim,)


class AutoHAS(WeightSharing):
    """AutoHAS over ``arch_space`` (module docstring)."""

    def __init__(self, arch_space: dict[str, Any], *, epochs: int = 30, retrain_epochs: int = 30,
                 meta_lr: float = 0.05, warmup: float = 0.3, bases: dict | None = None,
                 basis_size: int = 5, reward_fraction: float = 0.2, temporary: bool = True,
                 chunk: int = 10, seed: int = 0, device: str = "cpu", module: Any = None):
        super().__init__(arch_space, seed=seed, device=device, module=module)
        self.epochs = check_int("AutoHAS", "epochs", epochs, 1)
        self.retrain_epochs = check_int("AutoHAS", "retrain_epochs", retrain_epochs, 1)
        self.chunk = check_int("AutoHAS", "chunk", chunk, 1)
        basis_size = check_int("AutoHAS", "basis_size", basis_size, 2)
        for name, value, low, high in (("meta_lr", meta_lr, 0, np.inf), ("warmup", warmup, 0, 1),
                                       ("reward_fraction", reward_fraction, 0, 1)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    low <= value < high if name == "warmup" else low < value < high):
                raise ValueError(f"The {name!r} parameter of AutoHAS must be a number in "
                                 f"({low}, {high}). Got {value!r} instead.")
        bases = dict(bases or {})
        unknown = sorted(set(bases) - set(SEARCHED))
        if unknown:
            raise ValueError(f"The 'bases' parameter of AutoHAS names {unknown}; it takes bases "
                             f"for {list(SEARCHED)}.")
        given = {k: tuple(bases[k]) if k in bases else basis(arch_space.get(k), basis_size)
                 for k in SEARCHED}
        self.bases = tuple((k, v) for k, v in given.items() if len(v) > 1)  # searched ones
        self.meta_lr, self.warmup, self.reward_fraction = meta_lr, warmup, reward_fraction
        self.temporary = temporary
        self.policy: dict[str, Any] | None = None
        self.choice: dict[str, Any] | None = None
        self.trials: list[dict[str, Any]] = []
        self._phase = 0

    def trainer(self) -> Any:
        return self.nets.AutoHASTrainer(
            ops=self.cell.ops, nodes=self.cell.nodes, activations=self.activations,
            bases=self.bases, epochs=self.epochs, meta_lr=self.meta_lr, warmup=self.warmup,
            reward_fraction=self.reward_fraction, temporary=self.temporary, device=self.device,
            module=self.module, **self.shape, **self.training)

    def ask(self, n: int | None = None) -> list[Any]:
        if self._phase == 0:
            return [Evaluation(self.trainer(), chunked(self.epochs, self.chunk), [{}])]
        if self._phase == 1:
            candidate = {"cell": self.choice["cell"], "activation": self.choice["activation"]}
            hp = {k: self.choice[k] for k, _ in self.bases}
            pipe = self.standalone(candidate, **hp)
            return [Retrain(pipe, [only_config(pipe)], self.retrain_epochs)]
        return []

    def tell(self, work: Any) -> None:
        if self._phase == 0:
            if work.error is not None:
                raise RuntimeError(f"AutoHAS's supernet failed: {work.error}")
            policies = [fold[0] for fold in work.values[0]]  # one controller per fold
            self.policy = {k: np.mean([p[k] for p in policies], axis=0).tolist()
                           for k in policies[0]}
            self.choice = self._choose(self.policy)
        else:
            for t in work.trials:
                t["config"] = self.config(self.choice)
            self.trials = work.trials
        self._phase += 1

    @property
    def finished(self) -> bool:
        return self._phase == 2

    def _choose(self, policy: dict[str, Any]) -> dict[str, Any]:
        cell = policy["cell"]
        out = {"cell": space.Arch(self.cell.ops[int(np.argmax(p))] for p in cell),
               "activation": self.activations[int(np.argmax(policy["activation"]))]}
        for name, values in self.bases:
            p = np.asarray(policy[name])
            categorical = isinstance(self.arch_space.get(name), space.Choice) or not all(
                isinstance(v, int | float) for v in values)
            out[name] = values[int(np.argmax(p))] if categorical else float(p @ np.asarray(values))
        return out

    def __repr__(self) -> str:
        return (f"AutoHAS(epochs={self.epochs}, retrain_epochs={self.retrain_epochs}, "
                f"meta_lr={self.meta_lr}, bases={dict(self.bases)}, seed={self.seed})")
