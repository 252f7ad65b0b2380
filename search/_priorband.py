"""PriorBand: Hyperband (or ASHA) whose new configs mix random, prior and incumbent sampling.

ALGORITHMS.md §7, after the PriorBand paper (Mallik et al., 2023). Each config that starts at a
bracket's bottom rung, at rung index ``r`` of the levels, is drawn

* uniformly with probability ``p_random = 1 / (1 + eta**r)``;
* otherwise from the space's priors — until the *incumbent* exists (a config evaluated at
  ``max_resource``); from then on the rest is split between the priors and the incumbent by how
  well each explains the best configs at ``max_resource`` (the top ``max(1, n // eta)`` of the
  ``n`` there): ``p_prior : p_incumbent = S_prior : S_incumbent``, each ``S`` the sum over those
  configs of their density under the priors and under the incumbent's perturbation;
* from the incumbent: each parameter perturbed with probability 0.5 — a number by a normal step
  of 0.25 in its normalised range, a choice (and the choice of alternative) resampled uniformly.

A density is the product over the parameters of the prior rule (``_sampling.density``);
parameters without a prior count 1, and for the incumbent's density a config's parameters count
only where it chose the incumbent's alternative (another counts 0.5). The paper and NePS agree
on these weights; NePS also offers other incumbent-activation rules, not followed here.
Promotions are Hyperband's (synchronous brackets, run one after another so that each bracket's
draws see the results of those before) or ASHA's (``base="asha"``), resuming from checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dagreuse.pipes import Config, Pipeline, space
from dagreuse.pipes.resources import Resource

from ._asha import ASHA
from ._base import Proposal, Strategy
from ._halving import Bracket
from ._proposals import check_sampler
from ._rungs import MultiFidelity, check_int, score_of
from ._sampling import density, perturb, sample_stage

__all__ = ["Mixture", "PriorBand"]

BASES = ("hyperband", "asha")
RATE, STEP = 0.5, 0.25  # incumbent sampling: how often, and how far, a parameter moves


class Mixture:
    """The sampling policy (module docstring): draws configs, learns the top level's results."""

    def __init__(self, pipeline: Pipeline, eta: int, top: Any, rng: np.random.Generator):
        self.pipeline, self.eta, self.top, self.rng = pipeline, eta, top, rng
        self.at_top: list[tuple[float, Config]] = []  # (score, config) at max_resource
        self.draws: list[str] = []  # what each draw came from: random / prior / incumbent

    def weights(self, rung: int) -> tuple[float, float, float]:
        """``(p_random, p_prior, p_incumbent)`` for a config starting at rung index ``rung``."""
        p_random = 1 / (1 + self.eta**rung)
        if not self.at_top:
            return p_random, 1 - p_random, 0.0
        ranked = sorted(self.at_top, key=lambda sc: -sc[0])
        best = [c for _, c in ranked[: max(1, len(ranked) // self.eta)]]
        incumbent = ranked[0][1]
        s_prior = sum(self._density(c, None) for c in best)
        s_inc = sum(self._density(c, incumbent) for c in best)
        share = s_prior / (s_prior + s_inc) if s_prior + s_inc > 0 else 0.5
        return p_random, (1 - p_random) * share, (1 - p_random) * (1 - share)

    def draw(self, rung: int) -> Config:
        p_random, p_prior, _ = self.weights(rung)
        u = self.rng.random()
        stages = self.pipeline.stages
        if u < p_random:
            kind, config = "random", {s.name: sample_stage(s, self.rng) for s in stages}
        elif u < p_random + p_prior:
            kind, config = "prior", {s.name: sample_stage(s, self.rng, True) for s in stages}
        else:
            incumbent = max(self.at_top, key=lambda sc: sc[0])[1]
            kind = "incumbent"
            config = {s.name: perturb(s, incumbent[s.name], self.rng, RATE, STEP) for s in stages}
        self.draws.append(kind)
        return config

    def tell(self, trial: dict[str, Any]) -> None:
        score = score_of(trial)
        if trial.get("resource") == self.top and math.isfinite(score):
            self.at_top.append((score, trial["config"]))

    def _density(self, config: Config, incumbent: Config | None) -> float:
        """Under the priors (``incumbent`` None) or the incumbent's perturbation."""
        out = 1.0
        for stage in self.pipeline.stages:
            label, params = config[stage.name]
            if incumbent is not None and incumbent[stage.name][0] != label:
                out *= 1 - RATE
                continue
            for p, dim in stage.alternatives[label].space.items():
                if isinstance(dim, space.Constant):
                    continue
                if incumbent is None:
                    if dim.prior is not None:
                        out *= density(dim, params[p], dim.prior, dim.confidence)
                elif isinstance(dim, space.Choice):  # kept, or resampled uniformly
                    k = len(dim.values())
                    same = params[p] == incumbent[stage.name][1][p]
                    out *= (1 - RATE) + RATE / k if same else RATE / k
                else:
                    out *= density(dim, params[p], incumbent[stage.name][1][p], 1 - STEP)
        return out


class PriorBand(Strategy):
    """PriorBand over ``pipeline`` (module docstring): ``n_iterations`` Hyperband iterations, or
    ASHA over ``n_configs`` configs with ``base="asha"``. The space needs priors."""

    def __init__(self, pipeline: Pipeline, resource: Resource, *, min_resource: Any = None,
                 max_resource: Any = None, eta: int = 3, seed: int | None = None,
                 base: str = "hyperband", n_iterations: int = 1, n_configs: int | None = None):
        if base not in BASES:
            raise ValueError(f"The 'base' parameter of PriorBand must be one of {BASES}. Got "
                             f"{base!r} instead.")
        if not isinstance(pipeline, Pipeline):
            raise TypeError("The 'pipeline' parameter of PriorBand must be a dagreuse.pipes."
                            f"Pipeline. Got {pipeline!r} instead.")
        check_sampler("PriorBand", pipeline, "prior", None)
        self.pipeline, self.resource, self.base = pipeline, resource, base
        rng = np.random.default_rng(seed)
        if base == "asha":
            if n_configs is None:
                raise ValueError("PriorBand(base='asha') needs 'n_configs': how many configs start.")
            self._inner: Any = _ASHA(pipeline, resource, min_resource=min_resource,
                                     max_resource=max_resource, eta=eta, n_configs=n_configs,
                                     rng=rng)
        else:
            self._inner = _Hyperband(pipeline, resource, min_resource, max_resource, eta, seed,
                                     check_int("PriorBand", "n_iterations", n_iterations, 1), rng)
        self.asynchronous = base == "asha"
        self.mixture: Mixture = self._inner.mixture

    @property
    def min_resource(self) -> Any:
        return self._inner.min_resource

    @property
    def max_resource(self) -> Any:
        return self._inner.max_resource

    @property
    def levels(self) -> list[Any]:
        return self._inner.levels

    def ask(self, n: int | None = None) -> list[Proposal]:
        return self._inner.ask(n)

    def tell(self, trials: list[dict[str, Any]]) -> None:
        self._inner.tell(trials)

    @property
    def finished(self) -> bool:
        return self._inner.finished

    def likely(self) -> list[Any]:
        return self._inner.likely()

    def __repr__(self) -> str:
        return f"PriorBand(base={self.base!r}, {self._inner!r})"


class _ASHA(ASHA):
    """ASHA whose configs are drawn by the mixture as they start."""

    def __init__(self, pipeline: Pipeline, resource: Resource, *, rng: np.random.Generator,
                 **kwargs: Any):
        super().__init__(pipeline, resource, **kwargs)
        self.mixture = Mixture(pipeline, self.eta, self.max_resource, rng)

    def _configs(self, n: int | None, what: str) -> list[Config]:
        return [None] * n  # drawn as they start (_start_config)

    def _start_config(self, bracket: Any) -> int:
        member = super()._start_config(bracket)
        self._all[member] = self.mixture.draw(bracket.s)
        return member

    def tell(self, trials: list[dict[str, Any]]) -> None:
        super().tell(trials)
        for trial in trials:
            self.mixture.tell(trial)


class _Hyperband(MultiFidelity):
    """Hyperband's brackets one after another, each drawing its configs when it opens."""

    def __init__(self, pipeline: Pipeline, resource: Resource, min_resource: Any, max_resource: Any,
                 eta: int, seed: int | None, n_iterations: int, rng: np.random.Generator):
        super().__init__(pipeline, resource, min_resource, max_resource, eta, seed)
        if min_resource is None:
            min_resource = 1 if resource.integral else self._default_min(4)
        self.levels = self._levels(min_resource)
        s_max = len(self.levels) - 1
        self.plan = [(s, -(-(s_max + 1) * self.eta ** (s_max - s) // (s_max - s + 1)))
                     for s in range(s_max + 1)] * n_iterations
        self.mixture = Mixture(pipeline, self.eta, self.max_resource, rng)
        self._all: list[Config] = []
        self._bracket: Bracket | None = None
        self._opened = 0
        self._jobs: dict[int, int] = {}  # job -> member
        self._handed = 0

    def _open(self) -> None:
        s, n = self.plan[self._opened]
        self._opened += 1
        first = len(self._all)
        self._all.extend(self.mixture.draw(s) for _ in range(n))
        self._bracket = Bracket(list(range(first, first + n)), self.levels[s:], self.eta, s)

    def ask(self, n: int | None = None) -> list[Proposal]:
        if (self._bracket is None or self._bracket.done) and self._opened < len(self.plan):
            self._open()
        if self._bracket is None:
            return []
        out = []
        for member, rung, level, previous in self._bracket.proposals(n):
            job, self._handed = self._handed, self._handed + 1
            self._jobs[job] = member
            out.append(Proposal(self._all[member], level, previous, rung, self._bracket.label, job))
        return out

    def tell(self, trials: list[dict[str, Any]]) -> None:
        self._bracket.tell([(self._jobs.pop(t["job"]), score_of(t), t["job"]) for t in trials])
        for trial in trials:
            self.mixture.tell(trial)

    @property
    def finished(self) -> bool:
        return self._opened == len(self.plan) and self._bracket is not None and self._bracket.done

    def likely(self) -> list[Any]:
        return [] if self._bracket is None else self._bracket.likely()

    def __repr__(self) -> str:
        return f"levels={self.levels}, eta={self.eta}, {len(self.plan)} brackets, {self.resource!r}"
