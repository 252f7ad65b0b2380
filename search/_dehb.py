"""DEHB: differential evolution over Hyperband brackets (ALGORITHMS.md §5, automl/DEHB's rules).

Configs are points of the unit hypercube (``_encoding``). There is one *subpopulation* per budget
(resource level), as large as the largest rung at that budget over all brackets. Hyperband
iterations run their brackets one after another, each rung synchronously:

* **The first iteration is successive halving**: a bracket's base rung is fresh uniform configs,
  each higher rung the best ``floor(n / eta)`` of the rung below, *promoted* — with
  ``Iterations`` or ``Epochs`` they resume from their lower rung's cached checkpoint. Afterwards
  each budget's subpopulation is the best configs evaluated at it (padded with fresh uniform
  points if too few were).
* **Later iterations fill every rung with offspring.** For each slot of a rung at budget ``b``:
  the *target* is the next member of ``b``'s subpopulation (round robin); the *parent pool* is
  ``b``'s subpopulation for a bracket's base rung, else the best ``n_rung`` members of the next
  lower budget's, topped up with distinct random members of the whole population when it has
  fewer than 3. Mutation rand/1: ``v = x1 + F (x2 - x3)`` (``F = 0.5``) from three distinct pool
  members, coordinates outside [0, 1] resampled uniformly; binomial crossover with the target
  (``p = 0.5``, one coordinate forced from ``v``); once the rung is in, greedy selection: an
  offspring replaces its target when its fitness (``-score``; failures ``+inf``) is not worse.

Brackets are dagreuse's Hyperband brackets (thesis Alg. 1) by default; ``bracket_sizes="floor"``
gives automl/DEHB's ``n0 = floor((s_max + 1) / (s + 1)) * eta**s`` (20 evaluations per iteration
at budgets 3, 9, 27 and ``eta = 3``). Offspring are new configs: they train from scratch, but
their prefix nodes merge into the DAG like any other (equal prefix parameters are one node).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dagreuse.pipes import Pipeline
from dagreuse.pipes.resources import Resource

from ._base import Proposal
from ._encoding import UnitSpace
from ._rungs import MultiFidelity, check_int, score_of

__all__ = ["DEHB", "Subpopulation", "crossover", "mutate", "parent_pool"]

SIZES = ("hyperband", "floor")


class Subpopulation:
    """One budget's members: points and their fitness (``inf`` until evaluated)."""

    def __init__(self, points: list[np.ndarray]):
        self.points = list(points)
        self.fitness = [math.inf] * len(points)
        self.next = 0  # the next target, round robin

    def target(self) -> int:
        i, self.next = self.next, (self.next + 1) % len(self.points)
        return i

    def best(self, k: int) -> list[np.ndarray]:
        order = sorted(range(len(self.points)), key=lambda i: self.fitness[i])
        return [self.points[i] for i in order[:k]]


def parent_pool(pool: list[np.ndarray], everyone: list[np.ndarray],
                rng: np.random.Generator) -> list[np.ndarray]:
    """``pool`` topped up to 3 with distinct random members of ``everyone`` not in it."""
    pool = list(pool)
    if len(pool) >= 3:
        return pool
    others = [p for p in everyone if not any(p is q for q in pool)]
    for i in rng.permutation(len(others))[: 3 - len(pool)]:
        pool.append(others[i])
    return pool


def mutate(pool: list[np.ndarray], F: float, rng: np.random.Generator) -> np.ndarray:
    """rand/1 from three distinct members of ``pool``; coordinates outside [0, 1] resampled."""
    a, b, c = (pool[i] for i in rng.choice(len(pool), 3, replace=False))
    v = a + F * (b - c)
    bad = (v < 0) | (v > 1)
    v[bad] = rng.random(int(bad.sum()))
    return v


def crossover(target: np.ndarray, mutant: np.ndarray, p: float,
              rng: np.random.Generator) -> np.ndarray:
    """Binomial crossover: each coordinate from the mutant with probability ``p``, and one
    coordinate, drawn uniformly, from it in any case."""
    take = rng.random(len(target)) < p
    take[int(rng.integers(len(target)))] = True
    return np.where(take, mutant, target)


class DEHB(MultiFidelity):
    """DEHB over ``pipeline``'s space (module docstring), ``n_iterations`` Hyperband iterations.

    ``min_resource`` defaults to ``max_resource / eta**2`` (three budgets, as DEHB's examples);
    ``mutation_factor`` and ``crossover_prob`` are DE's ``F`` and ``p``.
    """

    def __init__(self, pipeline: Pipeline, resource: Resource, *, min_resource: Any = None,
                 max_resource: Any = None, eta: int = 3, seed: int | None = None,
                 n_iterations: int = 1, bracket_sizes: str = "hyperband",
                 mutation_factor: float = 0.5, crossover_prob: float = 0.5):
        if not isinstance(pipeline, Pipeline):
            raise TypeError("The 'pipeline' parameter of DEHB must be a dagreuse.pipes.Pipeline "
                            f"(DEHB evolves points of its space). Got {pipeline!r} instead.")
        super().__init__(pipeline, resource, min_resource, max_resource, eta, seed)
        self.n_iterations = check_int("DEHB", "n_iterations", n_iterations, 1)
        if bracket_sizes not in SIZES:
            raise ValueError(f"The 'bracket_sizes' parameter of DEHB must be one of {SIZES}. Got "
                             f"{bracket_sizes!r} instead.")
        for name, v, high in (("mutation_factor", mutation_factor, 2),
                              ("crossover_prob", crossover_prob, 1)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= high:
                raise ValueError(f"The {name!r} parameter of DEHB must be a number in (0, {high}]. "
                                 f"Got {v!r} instead.")
        self.F, self.p = float(mutation_factor), float(crossover_prob)
        self.levels = self._levels(self._default_min(2) if min_resource is None else min_resource)
        self.space = UnitSpace(pipeline)
        if self.space.d == 0:
            raise ValueError("DEHB needs a searched parameter in the pipeline; it has none.")
        self.rng = np.random.default_rng(seed)
        s_max = len(self.levels) - 1
        self.plan = [(s, _bracket_size(s, s_max, self.eta, bracket_sizes)) for s in range(s_max + 1)]
        sizes = {b: 0 for b in self.levels}
        for s, n in self.plan:
            for i, b in enumerate(self.levels[s:]):
                sizes[b] = max(sizes[b], n // self.eta**i)
        self.pops = {b: Subpopulation([]) for b in self.levels}
        self._sizes = sizes
        self._evaluated: dict[Any, list[tuple[float, np.ndarray]]] = {b: [] for b in self.levels}
        self._steps = [(it, s, i) for it in range(self.n_iterations) for s, _ in self.plan
                       for i in range(len(self.levels) - s)]
        self._step = -1
        self._rung: list[dict[str, Any]] = []  # the current rung's slots
        self._previous: list[tuple[float, np.ndarray]] = []  # the last rung's (fitness, point)
        self._handed = self._told = 0
        self._jobs = 0
        self._slot: dict[int, int] = {}  # job -> its slot in the current rung

    # -- the schedule -------------------------------------------------------------------------
    def evaluations_per_iteration(self) -> int:
        return sum(n // self.eta**i for s, n in self.plan for i in range(len(self.levels) - s))

    def _rung_size(self, s: int, i: int) -> int:
        return dict(self.plan)[s] // self.eta**i

    def _open_next(self) -> None:
        """Fill the next rung's slots (module docstring)."""
        self._step += 1
        it, s, i = self._steps[self._step]
        if it == 1 and i == 0 and s == 0:
            self._seed_populations()
        b, n = self.levels[s + i], self._rung_size(s, i)
        slots = []
        if it == 0 and i == 0:
            slots = [{"point": self.space.sample(self.rng)} for _ in range(n)]
        elif it == 0:  # promotion: the best of the rung below, resuming from its checkpoint
            ranked = sorted(self._previous, key=lambda fp: fp[0])[:n]
            slots = [{"point": p, "from": self.levels[s + i - 1]} for f, p in ranked if f < math.inf]
        else:
            pop = self.pops[b]
            source = pop if i == 0 else self.pops[self.levels[s + i - 1]]
            pool = source.points if i == 0 else source.best(n)
            everyone = [p for q in self.pops.values() for p in q.points]
            for _ in range(n):
                target = pop.target()
                v = mutate(parent_pool(pool, everyone, self.rng), self.F, self.rng)
                slots.append({"point": crossover(pop.points[target], v, self.p, self.rng),
                              "target": target})
        self._rung = [dict(slot, level=b, rung=i, bracket=s) for slot in slots]
        self._handed, self._told, self._previous = 0, 0, []
        if not self._rung and self._step + 1 < len(self._steps):  # every config below failed
            self._open_next()

    def _seed_populations(self) -> None:
        """After the first iteration: each budget's best evaluated configs, padded uniformly."""
        for b in self.levels:
            best = sorted(self._evaluated[b], key=lambda fp: fp[0])[: self._sizes[b]]
            pop = Subpopulation([p for _, p in best])
            pop.fitness = [f for f, _ in best]
            while len(pop.points) < self._sizes[b]:
                pop.points.append(self.space.sample(self.rng))
                pop.fitness.append(math.inf)
            self.pops[b] = pop

    # -- the strategy interface ---------------------------------------------------------------
    def ask(self, n: int | None = None) -> list[Proposal]:
        if self._handed == len(self._rung) and self._told == len(self._rung):
            if self._step + 1 >= len(self._steps):
                return []
            self._open_next()
        end = len(self._rung) if n is None else min(len(self._rung), self._handed + n)
        out = []
        for j in range(self._handed, end):
            slot, job = self._rung[j], self._jobs
            self._slot[job], self._jobs = j, job + 1
            out.append(Proposal(self.space.decode(slot["point"]), slot["level"], slot.get("from"),
                                slot["rung"], slot["bracket"], job))
        self._handed = end
        return out

    def tell(self, trials: list[dict[str, Any]]) -> None:
        for trial in trials:
            self._rung[self._slot.pop(trial["job"])]["fitness"] = -score_of(trial)
            self._told += 1
        if self._told < len(self._rung):
            return
        for slot in self._rung:  # the rung is in: record, select
            f, p, b = slot["fitness"], slot["point"], slot["level"]
            self._evaluated[b].append((f, p))
            self._previous.append((f, p))
            if "target" in slot and f <= self.pops[b].fitness[slot["target"]]:
                self.pops[b].points[slot["target"]] = p
                self.pops[b].fitness[slot["target"]] = f

    @property
    def finished(self) -> bool:
        return (self._step + 1 >= len(self._steps) and self._handed == len(self._rung)
                and self._told == len(self._rung))

    def __repr__(self) -> str:
        return (f"DEHB(n_iterations={self.n_iterations}, brackets={self.plan}, "
                f"levels={self.levels}, eta={self.eta}, {self.resource!r})")


def _bracket_size(s: int, s_max: int, eta: int, sizes: str) -> int:
    """Configs at the base of bracket ``s`` (its early-stopping rate; ``k = s_max - s`` rungs
    above the base): thesis Alg. 1, or automl/DEHB's floor variant."""
    k = s_max - s
    if sizes == "floor":
        return (s_max + 1) // (k + 1) * eta**k
    return -(-(s_max + 1) * eta**k // (k + 1))
