"""DEHB-WS (seed 000 §2.3): DEHB whose jobs inherit and refine one shared supernet.

1. **Warm-up.** The supernet trains ``warmup_epochs`` with one uniformly drawn architecture per
   minibatch (as RSWS's), a chain of checkpoint nodes.
2. **DEHB** (this project's, ``_dehb``) proposes its jobs over the space of ``arch_space``
   (cell, activation, ``lr``, ``weight_decay``): every job trains a *copy* of the current
   supernet on its candidate, with the candidate's own learning rate and weight decay, for ``b``
   epochs at a bracket's base rung and ``b - b_prev`` at a later rung (the paper's
   "cumulative" budgets, which reproduce its 567 epochs), and is scored on the validation fold.
   A copy is a ``finetune`` node whose parent is the supernet: copies train side by side, and
   only what is selected touches the supernet.
3. **Averaging.** When a rung is complete, the supernet becomes the mean of the copies of the
   configs selected from it — read here as the ones successive halving would keep, the best
   ``max(1, floor(n / eta))`` of the rung that did not fail (the paper's "selected into the
   parent pool"). ``average="masked"`` (default) averages each parameter over the copies whose
   architecture touches it and keeps the supernet's value elsewhere; ``"plain"`` is the paper
   code's mean over every float tensor of every copy (untouched entries dilute it).
4. **The incumbent** (the best config at the highest budget) inherits the final supernet and
   fine-tunes ``finetune_epochs``: its score is ``best_score``. It is also retrained from scratch
   for ``retrain_epochs`` (``SharedResult.retrained``).

The supernets and copies are recipes (``dagreuse.pipes.Warmup``, ``Averaged``, ``Finetuned``):
each job's DAG holds everything its supernet descends from, cached and shared like any node.
"""

from __future__ import annotations

import math
from typing import Any

from sklearn.base import clone

from dagreuse.pipes import Averaged, Finetuned, Pipeline, Warmup
from dagreuse.pipes.resources import Epochs

from ._dehb import DEHB
from ._rungs import check_int
from ._weight_sharing import Jobs, Retrain, WeightSharing, only_config

__all__ = ["DEHBWS"]

AVERAGES = ("masked", "plain")


class DEHBWS(WeightSharing):
    """DEHB-WS over ``arch_space`` (module docstring); budgets are epochs."""

    def __init__(self, arch_space: dict[str, Any], *, min_resource: int = 1,
                 max_resource: int = 9, eta: int = 3, n_iterations: int = 3,
                 bracket_sizes: str = "floor", warmup_epochs: int = 10,
                 finetune_epochs: int = 15, retrain_epochs: int = 50, average: str = "masked",
                 mutation_factor: float = 0.5, crossover_prob: float = 0.5, seed: int = 0,
                 device: str = "cpu", module: Any = None):
        super().__init__(arch_space, seed=seed, device=device, module=module)
        self.warmup_epochs = check_int("DEHBWS", "warmup_epochs", warmup_epochs, 1)
        self.finetune_epochs = check_int("DEHBWS", "finetune_epochs", finetune_epochs, 1)
        self.retrain_epochs = check_int("DEHBWS", "retrain_epochs", retrain_epochs, 1)
        if average not in AVERAGES:
            raise ValueError(f"The 'average' parameter of DEHBWS must be one of {AVERAGES}. Got "
                             f"{average!r} instead.")
        self.average = average
        self.dehb = DEHB(self._jobs_pipeline(), Epochs(seed), min_resource=min_resource,
                         max_resource=max_resource, eta=eta, seed=seed, n_iterations=n_iterations,
                         bracket_sizes=bracket_sizes, mutation_factor=mutation_factor,
                         crossover_prob=crossover_prob)
        self.supernet_recipe: Any = Warmup(self.supernet(), (self.warmup_epochs,))
        self.jobs: list[dict[str, Any]] = []  # every job's trial, in order
        self.trials: list[dict[str, Any]] = []
        self._final = False
        self._done = False

    def _jobs_pipeline(self) -> Pipeline:
        """The space DEHB evolves: a copy's candidate and training values."""
        params = {"cell": self.cell, "activation": self.arch_space.get("activation", "relu")}
        for k in ("lr", "weight_decay"):
            params[k] = self.arch_space.get(k, self.training[k])
        fixed = {k: v for k, v in self.training.items() if k not in params}
        self._base = self.nets.FinetuneTrainer(ops=self.cell.ops, nodes=self.cell.nodes,
                                               activations=self.activations, device=self.device,
                                               module=self.module, **self.shape, **fixed)
        return Pipeline([("net", self._base, params)])

    def _copy(self, params: dict[str, Any], epochs: int) -> Finetuned:
        """A job: a copy of the current supernet trained ``epochs`` on ``params``' candidate."""
        trainer = clone(self._base).set_params(**{**params, "cell": str(params["cell"])})
        return Finetuned(self.supernet_recipe, trainer, epochs)

    def ask(self, n: int | None = None) -> list[Any]:
        if self._final:
            return []
        proposals = self.dehb.ask(None)
        if proposals:
            levels = self.dehb.levels
            recipes, infos = [], []
            for p in proposals:
                b = p.resource
                epochs = b if not p.rung else b - levels[levels.index(b) - 1]
                params = p.config["net"][1]
                recipes.append(self._copy(params, epochs))
                infos.append({"config": self.config(params), "resource": b, "rung": p.rung,
                              "bracket": p.bracket, "job": p.job, "epochs": epochs})
            return [Jobs(recipes, infos)]
        self._final = True
        best = self._incumbent()
        pipe = self.standalone(best, lr=best["lr"], weight_decay=best["weight_decay"])
        return [Jobs([self._copy(best, self.finetune_epochs)],
                     [{"config": self.config(best), "resource": self.finetune_epochs,
                       "rung": None, "bracket": None, "job": None, "phase": "finetune"}]),
                Retrain(pipe, [only_config(pipe)], self.retrain_epochs)]

    def tell(self, work: Any) -> None:
        if isinstance(work, Retrain):
            for t in work.trials:  # told after the fine-tuning, of the same incumbent
                t["config"], t["phase"] = self.trials[0]["config"], "retrain"
            self.retrained = work.trials[0]
            self._done = True
            return
        if self._final:
            self.trials = work.trials
            return
        self.jobs += work.trials
        self.dehb.tell(work.trials)
        keep = max(1, len(work.trials) // self.dehb.eta)
        ok = [(t, r) for t, r in zip(work.trials, work.recipes, strict=True)
              if t["status"] == "ok" and math.isfinite(t["mean_score"])]
        ok.sort(key=lambda tr: -tr[0]["mean_score"])  # stable: ties to the earlier job
        if ok:
            self.supernet_recipe = Averaged(self.supernet_recipe,
                                            tuple(r for _, r in ok[:keep]), self.average)

    @property
    def finished(self) -> bool:
        return self._done

    def _incumbent(self) -> dict[str, Any]:
        """The best config at the highest budget reached (ties to the earlier job)."""
        ok = [t for t in self.jobs if t["status"] == "ok" and math.isfinite(t["mean_score"])]
        if not ok:
            raise RuntimeError("Every DEHB-WS job failed; there is no incumbent. First error: "
                               f"{self.jobs[0]['error'] if self.jobs else None}")
        top = max(t["resource"] for t in ok)
        best = max((t for t in ok if t["resource"] == top), key=lambda t: t["mean_score"])
        return {k: best["config"][k] for k in ("cell", "activation", "lr", "weight_decay")}

    def ranking(self) -> list[dict[str, Any]]:
        return sorted(self.jobs, key=lambda t: -t["mean_score"] if math.isfinite(
            t["mean_score"]) else math.inf)

    def __repr__(self) -> str:
        return (f"DEHBWS(levels={self.dehb.levels}, n_iterations={self.dehb.n_iterations}, "
                f"warmup_epochs={self.warmup_epochs}, average={self.average!r}, "
                f"seed={self.seed})")
