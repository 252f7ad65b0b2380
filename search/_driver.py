"""``run``: drive a strategy (ask -> merge -> execute -> tell) and collect the result."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from dagreuse.cache import Trace
from dagreuse.pipes import Config, Profile, Runner, merge

from ._base import Strategy

__all__ = ["Result", "run"]


class Result:
    """What a search found and what reuse saved.

    ``trials`` holds one dict per evaluated config: ``config``, ``scores`` (per fold, primary
    metric), ``mean_score``, ``status`` (``"ok"`` or ``"error"``), ``error`` (text or None), and
    ``test_scores``/``train_scores`` (per metric, per fold), ``fit_time``/``score_time`` per fold,
    ``resource``.
    """

    def __init__(self, trials: list[dict[str, Any]], profile: Profile, metrics: list[str]):
        self.trials = trials
        self.profile = profile
        self.metrics = metrics
        ok = [t for t in trials if math.isfinite(t["mean_score"])]
        best = max(ok, key=lambda t: t["mean_score"]) if ok else None
        self.best_trial = best
        self.best_config: Config | None = best["config"] if best else None
        self.best_score: float = best["mean_score"] if best else math.nan

    def trials_dataframe(self):
        """Trials as a pandas DataFrame, one column per stage label and per parameter."""
        import pandas as pd

        rows = []
        for t in self.trials:
            row: dict[str, Any] = {}
            for stage, (label, params) in t["config"].items():
                row[stage] = label
                row.update({f"{stage}__{p}": v for p, v in params.items()})
            row.update(mean_score=t["mean_score"], status=t["status"], error=t["error"])
            row.update({f"split{i}_score": s for i, s in enumerate(t["scores"])})
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"Result(best_score={self.best_score:.4f}, trials={len(self.trials)}, "
                f"speedup={self.profile.speedup:.2f}x)")


def _check_error_score(error_score: Any) -> float:
    if isinstance(error_score, bool) or not isinstance(error_score, numbers.Real):
        raise TypeError(
            f"The 'error_score' parameter must be a number (nan by default). Got {error_score!r} instead."
        )
    return float(error_score)


def run(
    strategy: Strategy,
    X: Any,
    y: Any = None,
    *,
    cv: Any = 5,
    scoring: Any = None,
    runner: Runner | None = None,
    error_score: float = np.nan,
    groups: Any = None,
    return_train_score: bool = False,
) -> Result:
    """Evaluate the configs ``strategy`` proposes, as one merged DAG per batch, on ``runner``.

    Without a ``runner`` a default :class:`Runner` (local Dask cluster) is started and closed.
    A failing candidate gets ``error_score`` and its error text; the others are unaffected.
    """
    if not isinstance(strategy, Strategy):
        raise TypeError(
            f"The 'strategy' parameter of run must be a dagreuse.search strategy such as "
            f"GriddedRandomSearch(pipeline, branching=[...]). Got {strategy!r} instead."
        )
    error_score = _check_error_score(error_score)
    if runner is not None and not isinstance(runner, Runner):
        raise TypeError(f"The 'runner' parameter of run must be a dagreuse Runner. Got {runner!r}.")
    own = runner is None
    runner = runner or Runner()
    trace = Trace()
    trials: list[dict[str, Any]] = []
    metrics: list[str] = []
    try:
        while proposals := strategy.ask():
            dag = merge(strategy.pipeline, [p.config for p in proposals], X, y, cv, scoring,
                        groups=groups, return_train_score=return_train_score)
            results = runner.execute(dag, trace)
            if not metrics:
                metrics = _metrics(dag)
            batch = _collect(dag, results, proposals, metrics, error_score)
            strategy.tell(batch)
            trials.extend(batch)
    finally:
        if own:
            runner.close()
    return Result(trials, Profile(trace), metrics)


def _metrics(dag: Any) -> list[str]:
    leaf = dag.nodes[dag.requests[0].leaf]
    return list(leaf.task.scorers)


def _collect(dag, results, proposals, metrics, error_score) -> list[dict[str, Any]]:
    n_folds = len(dag.folds)
    trials = []
    for p in proposals:
        trials.append({
            "config": p.config, "resource": p.resource,
            "test_scores": {m: [error_score] * n_folds for m in metrics},
            "train_scores": {m: [error_score] * n_folds for m in metrics},
            "fit_time": [0.0] * n_folds, "score_time": [0.0] * n_folds, "error": None,
        })
    for request, res in zip(dag.requests, results, strict=True):
        f = request.fold
        for i in request.configs:
            t = trials[i]
            if "error" in res:
                t["error"] = t["error"] or res["error"]
                continue
            for m in metrics:
                t["test_scores"][m][f] = res["test"][m]
                if res["train"] is not None:
                    t["train_scores"][m][f] = res["train"][m]
            t["fit_time"][f], t["score_time"][f] = res["fit_time"], res["score_time"]
    for t in trials:
        t["scores"] = t["test_scores"][metrics[0]]
        t["mean_score"] = float(np.mean(t["scores"]))
        t["status"] = "error" if t["error"] else "ok"
    return trials
