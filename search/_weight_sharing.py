"""Weight-sharing searches: what they have in common, and how ``run`` drives them.

A weight-sharing search (RSWS; DEHB-WS and AutoHAS build on the same parts) declares its space
as a dict (``arch_space``) of

* ``cell`` — a ``space.cell``: the architecture, shared by one supernet;
* ``activation`` — a name or a ``space.choice`` of names (``relu``, ``hardswish``, ``mish``): an
  architectural choice too (it has no weights);
* ``channels``, ``cells_per_stage`` — the network's shape, fixed: every architecture lives in one
  supernet of that shape;
* ``lr``, ``weight_decay`` (and the fixed ``momentum``, ``batch_size``, ``grad_clip``) — training
  hyperparameters. A search that does not tune them (RSWS: weights shared by every candidate give
  no signal on how to train, thesis §7.1.2) trains at a fixed value: a dimension's prior where it
  has one, else its middle (the geometric middle of a log-uniform range).

The search itself never holds the Runner (DESIGN §7.7): it hands the driver *work* — an
:class:`Evaluation` (train this supernet to these epochs, score these groups of candidates on
it) or a :class:`Retrain` (train these stand-alone configs from scratch) — and is told the
results. :class:`SharedSearch`, the driver, turns an Evaluation into one
``dagreuse.pipes.evaluations`` DAG, :class:`Jobs` (copies of a supernet trained on one candidate
each, DEHB-WS) into one ``dagreuse.pipes.finetunes`` DAG, and a Retrain into an ordinary search
of the stand-alone pipeline, all on the same open session, so the supernet's checkpoints are
cached and reused like any node. Its result is a :class:`SharedResult`: the final trials, and
the ``ranking`` of every candidate scored on shared weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dagreuse.pipes import Config, Pipeline, Problem, Profile, evaluations, finetunes, space
from dagreuse.pipes.resources import Epochs

from ._base import Proposal, Strategy
from ._result import Result
from ._rungs import check_int
from ._sampling import sample_dimension

__all__ = ["Evaluation", "Jobs", "Retrain", "SharedResult", "SharedSearch", "WeightSharing",
           "chunked", "only_config"]

SHAPE = {"channels": 16, "cells_per_stage": 1}
TRAINING = {"lr": 0.05, "weight_decay": 3e-4, "momentum": 0.9, "batch_size": 64, "grad_clip": 5.0}


@dataclass
class Evaluation:
    """Train ``trainer`` through ``ladder`` (epochs), then score each group of candidates on it
    (``groups[i]``: the keyword arguments of the trained model's ``evaluate``)."""

    trainer: Any
    ladder: list[int]
    groups: list[dict[str, Any]]
    members: list[list[int]] = field(default_factory=list)  # the strategy's own indices
    values: list[list[Any]] = field(default_factory=list)  # per group: evaluate()'s, per fold
    error: str | None = None

    @property
    def scores(self) -> list[list[float]]:
        """Per group, per candidate: the mean over the folds (NaN where a fold failed)."""
        return [list(np.mean([np.full(len(g["candidates"]), np.nan) if v is None else v
                              for v in folds], axis=0))
                for g, folds in zip(self.groups, self.values, strict=True)]


@dataclass
class Retrain:
    """Train each of ``configs`` of ``pipeline`` from scratch to ``epochs`` and score it."""

    pipeline: Pipeline
    configs: list[Config]
    epochs: int
    trials: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Jobs:
    """Score each of ``recipes`` (``dagreuse.pipes.Finetuned``: a supernet's copy trained on
    one candidate); ``infos[i]`` starts recipe ``i``'s trial (config, resource, rung, ...)."""

    recipes: list[Any]
    infos: list[dict[str, Any]]
    trials: list[dict[str, Any]] = field(default_factory=list)


class WeightSharing(Strategy):
    """Base of weight-sharing searches: the parsed ``arch_space``, ask/tell of work."""

    def __init__(self, arch_space: dict[str, Any], *, seed: int, device: str,
                 module: Any = None):
        name = type(self).__name__
        if module is not None and not callable(module):
            raise TypeError(f"The 'module' parameter of {name} must be a supernet class "
                            "(dagreuse.pipes.supernet's protocol) or None. Got "
                            f"{module!r} instead.")
        check_int(name, "seed", seed, 0)
        if not isinstance(device, str):
            raise TypeError(f"The 'device' parameter of {name} must be a string such as 'cpu' "
                            f"or 'cuda'. Got {device!r} instead.")
        self.nets = _torch_nets(name)
        self.cell, self.activations, self.shape, self.training = parse_space(
            name, arch_space, tuple(self.nets.ACTIVATIONS))
        self.arch_space, self.seed, self.device, self.module = arch_space, seed, device, module
        self.resource = Epochs(seed)
        self.pipeline = self.standalone({"cell": _first(self.cell),
                                         "activation": self.activations[0]})

    def ask(self, n: int | None = None) -> list[Any]:
        raise NotImplementedError

    def tell(self, work: Any) -> None:
        raise NotImplementedError

    def supernet(self) -> Any:
        """The supernet trainer of this space at its fixed training values."""
        return self.nets.SupernetTrainer(ops=self.cell.ops, nodes=self.cell.nodes,
                                         activations=self.activations, max_epochs=None,
                                         device=self.device, module=self.module, **self.shape,
                                         **self.training)

    def standalone(self, candidate: dict[str, Any], **training: Any) -> Pipeline:
        """The pipeline of ``candidate`` as a stand-alone network trained from scratch."""
        net = self.nets.CellNet(cell=str(candidate["cell"]), activation=candidate["activation"],
                                device=self.device, module=self.module, **self.shape,
                                **{**self.training, **training})
        return Pipeline([("net", net)])

    def sample(self, rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
        """``n`` distinct candidates drawn uniformly (all of them where the space has fewer)."""
        total = self.cell.size() * len(self.activations)
        seen: dict[tuple, dict[str, Any]] = {}
        while len(seen) < min(n, total):
            arch = sample_dimension(self.cell, rng)
            act = self.activations[int(rng.integers(len(self.activations)))]
            seen.setdefault((arch, act), {"cell": arch, "activation": act})
        return list(seen.values())

    trials: list[dict[str, Any]]  # what ``SharedResult.trials`` holds, once finished
    policy: dict[str, Any] | None = None
    retrained: dict[str, Any] | None = None

    def ranking(self) -> list[dict[str, Any]]:
        """Candidates scored on shared weights, best first (``SharedResult.ranking``)."""
        return []

    def config(self, candidate: dict[str, Any]) -> dict[str, Any]:
        """A candidate as a config of ``arch_space``: every key, at the value trained with."""
        return {**self.shape, **self.training, **candidate}


def parse_space(owner: str, arch_space: Any,
                known: tuple[str, ...]) -> tuple[space.Cell, tuple, dict, dict]:
    """``arch_space`` as (cell, activations, shape, training values), checked (module docs);
    ``known``: the activations the supernet has."""
    if not isinstance(arch_space, dict) or not isinstance(arch_space.get("cell"), space.Cell):
        raise TypeError(f"The 'arch_space' parameter of {owner} must be a dict with a 'cell': "
                        f"space.cell(...). Got {arch_space!r} instead.")
    allowed = {"cell", "activation", *SHAPE, *TRAINING}
    unknown = sorted(set(arch_space) - allowed)
    if unknown:
        raise ValueError(f"The 'arch_space' parameter of {owner} has unknown keys {unknown}; "
                         f"allowed: {sorted(allowed)}.")
    act = arch_space.get("activation", "relu")
    activations = tuple(act.values()) if isinstance(act, space.Choice | space.Constant) else (act,)
    if not activations or any(a not in known for a in activations):
        raise ValueError(f"The 'activation' of {owner}'s arch_space must be one of "
                         f"{list(known)} or a space.choice of them. Got {act!r}.")
    shape = {}
    for k, default in SHAPE.items():
        v = arch_space.get(k, default)
        v = v.value if isinstance(v, space.Constant) else v
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"The {k!r} of {owner}'s arch_space must be a fixed int >= 1 (every "
                             f"architecture shares one supernet of that shape). Got {v!r}.")
        shape[k] = v
    training = {k: fixed_value(arch_space.get(k, default)) for k, default in TRAINING.items()}
    return arch_space["cell"], activations, shape, training


def fixed_value(dim: Any) -> Any:
    """The value a dimension is trained at when it is not searched: its prior, else its middle."""
    if not isinstance(dim, space.Dimension):
        return dim
    if isinstance(dim, space.Constant):
        return dim.value
    if dim.prior is not None:
        return dim.prior
    if isinstance(dim, space.LogUniform):
        return math.sqrt(dim.low * dim.high)
    if isinstance(dim, space.Uniform):
        return (dim.low + dim.high) / 2
    if isinstance(dim, space.RandInt):
        return (dim.low + dim.high - 1) // 2
    return dim.values()[0]


def _torch_nets(owner: str) -> Any:
    """``dagreuse.pipes.supernet``, or a clear error where torch is missing."""
    try:
        from dagreuse.pipes import supernet
    except ImportError as exc:
        raise ImportError(f"{owner} trains torch networks, and torch is not installed here "
                          f"({exc}). Install it: pip install 'dagreuse[torch]'.") from exc
    return supernet


def chunked(epochs: int, chunk: int) -> list[int]:
    """Checkpoint levels every ``chunk`` epochs up to ``epochs``: 50 and 100 epochs nest."""
    return [*range(chunk, epochs, chunk), epochs]


def only_config(pipeline: Pipeline) -> Config:
    """The one config of a pipeline that searches nothing."""
    stage = pipeline.stages[0]
    return {stage.name: (next(iter(stage.alternatives)), {})}


def _first(cell: space.Cell) -> space.Arch:
    return space.Arch([cell.ops[0]] * cell.edges)


class _Configs(Strategy):
    """A fixed list of configs at one epoch level: how a Retrain runs as an ordinary search."""

    def __init__(self, retrain: Retrain, resource: Epochs):
        self.pipeline, self.resource, self.retrain = retrain.pipeline, resource, retrain
        self._asked = False
        self.trials: list[dict[str, Any]] = []

    def ask(self, n: int | None = None) -> list[Proposal]:
        if self._asked:
            return []
        self._asked = True
        return [Proposal(c, self.retrain.epochs) for c in self.retrain.configs]

    def tell(self, trials: list[dict[str, Any]]) -> None:
        self.trials += trials

    @property
    def finished(self) -> bool:
        return self._asked and len(self.trials) == len(self.retrain.configs)


class SharedSearch:
    """One run of a weight-sharing strategy on an open session (module docstring)."""

    def __init__(self, strategy: WeightSharing, problem: Problem, session: Any,
                 error_score: float):
        self.strategy, self.problem, self.session = strategy, problem, session
        self.error_score = error_score
        self.metrics = list(problem.scorers)

    def run(self) -> list[dict[str, Any]]:
        while not self.strategy.finished:
            work = self.strategy.ask()
            if not work:
                raise RuntimeError(f"{self.strategy!r} proposes nothing and is not finished.")
            for w in work:
                if isinstance(w, Evaluation):
                    self._evaluate(w)
                elif isinstance(w, Jobs):
                    self._jobs(w)
                else:
                    self._retrain(w)
                self.strategy.tell(w)
        return self.strategy.trials

    def _evaluate(self, work: Evaluation) -> None:
        dag = evaluations(work.trainer, work.ladder, work.groups, self.problem,
                          resource=self.strategy.resource)
        work.values = [[None] * len(self.problem.folds) for _ in work.groups]
        for g, fold, result in self._results(dag):
            if "error" in result:
                work.error = work.error or result["error"]
            else:
                work.values[g][fold] = list(result["values"])

    def _jobs(self, work: Jobs) -> None:
        dag = finetunes(work.recipes, self.problem, resource=self.strategy.resource)
        n_folds, metric = len(self.problem.folds), self.metrics[0]
        work.trials = [{**info, "scores": [self.error_score] * n_folds, "error": None}
                       for info in work.infos]
        for i, fold, result in self._results(dag):
            t = work.trials[i]
            if "error" in result:
                t["error"] = t["error"] or result["error"]
            else:
                t["scores"][fold] = result["test"][metric]
        for t in work.trials:
            t["mean_score"] = float(np.mean(t["scores"]))
            t["status"] = "error" if t["error"] else "ok"

    def _results(self, dag: Any) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """Submit ``dag``; yield ``(i, fold, result)`` for each of ``dag.configs[i]`` as its
        request on ``fold`` completes."""
        ids = self.session.submit(dag)
        where = {r: (dag.requests[k].configs, dag.requests[k].fold) for k, r in enumerate(ids)}
        while where:
            for request, result in self.session.wait():
                served, fold = where.pop(request)
                for i in served:
                    yield i, fold, result

    def _retrain(self, work: Retrain) -> None:
        from ._driver import Search  # the driver of ordinary searches, which imports this one

        configs = _Configs(work, self.strategy.resource)
        Search(configs, self.problem, self.session, self.error_score, None).run()
        work.trials = configs.trials


class SharedResult(Result):
    """A weight-sharing search's result: ``trials`` (the stand-alone retraining, whose best is
    ``best_config``/``best_score``) and ``ranking``: every candidate scored on shared weights,
    best first — ``config`` (an ``arch_space`` config), ``shared_score`` (on the evaluation
    minibatches), ``full_score`` (on the whole validation split, for the re-scored top; else
    None), or for DEHB-WS every job's trial; ``policy``: a controller's final distributions
    (AutoHAS), else None; ``retrained``: the winner retrained from scratch, where that is not
    what ``best_score`` scores (DEHB-WS: its best is the incumbent fine-tuned from the supernet),
    else None."""

    def __init__(self, trials: list[dict[str, Any]], profile: Profile, metrics: list[str],
                 ranking: list[dict[str, Any]], policy: dict[str, Any] | None = None,
                 retrained: dict[str, Any] | None = None):
        super().__init__(trials, profile, metrics)
        self.ranking, self.policy, self.retrained = ranking, policy, retrained
