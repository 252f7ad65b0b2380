"""``Result``: what a search found (its trials, best config and score) and what reuse saved
(its profile)."""

from __future__ import annotations

import math
import re
from typing import Any

from dagreuse.cache import require
from dagreuse.pipes import Config, Profile

__all__ = ["Result"]


class Result:
    """What a search found and what reuse saved.

    ``trials`` holds one dict per evaluation — a config at a resource level: ``config``,
    ``config_id`` (the same for every level of one config), ``resource``, ``rung``, ``bracket``,
    ``promoted_from`` (None unless a halving strategy set them), ``scores`` (per fold, primary
    metric), ``mean_score``, ``status`` (``"ok"`` or ``"error"``), ``error`` (text or None),
    ``test_scores``/``train_scores`` (per metric, per fold), ``fit_time``/``score_time`` per
    fold, ``elapsed`` (seconds from the start of the search to the trial's last fold),
    ``requests`` (the trace's request numbers of its folds).
    ``best_config``/``best_score`` are the best mean score at the highest resource level a
    successful evaluation reached (ties to the earlier trial).
    """

    def __init__(self, trials: list[dict[str, Any]], profile: Profile, metrics: list[str]):
        self.trials = trials
        self.profile = profile
        self.metrics = metrics
        ok = [t for t in trials if math.isfinite(t["mean_score"]) and t["status"] == "ok"]
        levels = [t["resource"] for t in ok if t["resource"] is not None]
        if levels:
            ok = [t for t in ok if t["resource"] == max(levels)]
        best = max(ok, key=lambda t: t["mean_score"]) if ok else None
        self.best_trial = best
        self.best_config: Config | None = best["config"] if best else None
        self.best_score: float = best["mean_score"] if best else math.nan

    def errors(self) -> list[dict[str, Any]]:
        """Each distinct error of the failed evaluations once, most frequent first: its
        ``error`` text, ``count`` (evaluations), the ``stages`` it names and an example
        ``config``."""
        found: dict[str, dict[str, Any]] = {}
        for t in self.trials:
            if t["error"] is None:
                continue
            entry = found.setdefault(t["error"], {"error": t["error"], "count": 0,
                                                  "stages": _stages(t["error"]),
                                                  "config": t["config"]})
            entry["count"] += 1
        return sorted(found.values(), key=lambda e: -e["count"])

    def trials_dataframe(self):
        """Trials as a pandas DataFrame, one column per stage label and per parameter."""
        pd = require("pandas", "Result.trials_dataframe")

        rows = []
        for t in self.trials:
            row: dict[str, Any] = {"config_id": t["config_id"]}
            for stage, (label, params) in t["config"].items():
                row[stage] = label
                row.update({f"{stage}__{p}": v for p, v in params.items()})
            row.update({k: t[k] for k in ("resource", "rung", "bracket") if t[k] is not None})
            row.update(mean_score=t["mean_score"], status=t["status"], error=t["error"])
            row.update({f"split{i}_score": s for i, s in enumerate(t["scores"])})
            rows.append(row)
        return pd.DataFrame(rows)

    def curves(self):
        """Learning curves as a pandas DataFrame: one row per evaluation, with ``config_id``,
        ``bracket``, ``rung``, ``resource``, ``mean_score`` and ``status``, by config then level."""
        pd = require("pandas", "Result.curves")

        cols = ["config_id", "bracket", "rung", "resource", "mean_score", "status"]
        frame = pd.DataFrame([{k: t[k] for k in cols} for t in self.trials], columns=cols)
        return frame.sort_values(["config_id", "resource"], kind="stable").reset_index(drop=True)

    def plot(self, path: Any = None) -> Any:
        """Best score so far against wall time, and against compute seconds with and without
        reuse (``dagreuse.pipes._draw.plot_search``); a PNG at ``path``; returns the Axes."""
        from dagreuse.pipes._draw import plot_search

        return plot_search(self.trials, self.profile.trace, path)

    def __repr__(self) -> str:
        return (f"Result(best_score={self.best_score:.4f}, trials={len(self.trials)}, "
                f"speedup={self.profile.speedup:.2f}x)")


def _stages(error: str) -> list[str]:
    """The stages an error text names (``stage 'pca' (PCA) failed: ...``)."""
    return re.findall(r"stage '([^']+)'", error)
