"""Random search with weight sharing (RSWS, thesis ch. 5 §5.4).

1. Train one supernet of the cell space for ``epochs``, one architecture drawn uniformly per
   minibatch (``dagreuse.pipes.supernet.SupernetTrainer``), in chunks of ``chunk`` epochs: each
   chunk is a checkpoint node, so a later search with more epochs resumes from the last cached
   one instead of starting again (the chunks of 50 and 100 epochs nest).
2. Draw ``n_candidates`` distinct candidates (architecture and activation) with the search's
   seed and score each on the shared weights, on the same ``eval_batches`` minibatches of the
   validation split; 16 or more candidates per task (``n_candidates // 16`` tasks).
3. Score the ``top`` of them again on the whole validation split.
4. Retrain the best of those from scratch for ``retrain_epochs`` as a stand-alone network; its
   score is the search's ``best_score``. Ties go to the candidate drawn first.

The training hyperparameters (``lr``, ``weight_decay``) are fixed at their prior or middle
(``_weight_sharing``): RSWS does not tune them. With the same seed on CPU a search is exactly
reproducible (the same winner, the same weights): torch is seeded and trains on one thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._rungs import check_int
from ._weight_sharing import Evaluation, Retrain, WeightSharing, chunked, only_config

__all__ = ["RSWS"]

PER_TASK = 16  # candidates scored per evaluation task, at least


class RSWS(WeightSharing):
    """Random search with weight sharing over ``arch_space`` (module docstring)."""

    def __init__(self, arch_space: dict[str, Any], *, epochs: int = 50, n_candidates: int = 200,
                 eval_batches: int | None = 10, top: int = 10, retrain_epochs: int = 30,
                 chunk: int = 10, seed: int = 0, device: str = "cpu", module: Any = None):
        super().__init__(arch_space, seed=seed, device=device, module=module)
        self.epochs = check_int("RSWS", "epochs", epochs, 1)
        self.n_candidates = check_int("RSWS", "n_candidates", n_candidates, 1)
        if eval_batches is not None:
            check_int("RSWS", "eval_batches", eval_batches, 1)
        self.eval_batches = eval_batches
        self.top = check_int("RSWS", "top", top, 1)
        self.retrain_epochs = check_int("RSWS", "retrain_epochs", retrain_epochs, 1)
        self.chunk = check_int("RSWS", "chunk", chunk, 1)
        self.candidates = self.sample(np.random.default_rng(seed), n_candidates)
        self.shared: list[float] | None = None  # per candidate, on the evaluation minibatches
        self.full: dict[int, float] = {}  # candidate index -> score on the whole split
        self.winner: int | None = None
        self.trials: list[dict[str, Any]] = []
        self._phase = 0

    @property
    def ladder(self) -> list[int]:
        """The checkpoints: every ``chunk`` epochs, and the last."""
        return chunked(self.epochs, self.chunk)

    def ask(self, n: int | None = None) -> list[Any]:
        if self._phase == 0:
            return [self._evaluation(list(range(len(self.candidates))), self.eval_batches)]
        if self._phase == 1:
            return [self._evaluation(self._best(self.shared, self.top), None)]
        if self._phase == 2:
            self.winner = self._best([self.full.get(i, -np.inf) for i in
                                      range(len(self.candidates))], 1)[0]
            candidate = self.candidates[self.winner]
            pipe = self.standalone(candidate)
            return [Retrain(pipe, [only_config(pipe)], self.retrain_epochs)]
        return []

    def tell(self, work: Any) -> None:
        if self._phase == 0:
            self.shared = [s for group in work.scores for s in group]
            if not np.isfinite(self.shared).any():
                raise RuntimeError(f"RSWS's supernet failed; no candidate has a score: "
                                   f"{work.error}")
        elif self._phase == 1:
            scored = [i for part in work.members for i in part]
            self.full = dict(zip(scored, (s for g in work.scores for s in g), strict=True))
        else:
            for t in work.trials:
                t["config"] = self.config(self.candidates[self.winner])
            self.trials = work.trials
        self._phase += 1

    @property
    def finished(self) -> bool:
        return self._phase == 3

    def _evaluation(self, indices: list[int], batches: int | None) -> Evaluation:
        n_tasks = max(1, len(indices) // PER_TASK)
        parts = [[int(i) for i in part] for part in np.array_split(np.asarray(indices), n_tasks)]
        groups = [{"candidates": [self.candidates[i] for i in part], "batches": batches,
                   "seed": self.seed} for part in parts]
        return Evaluation(self.supernet(), self.ladder, groups, parts)

    @staticmethod
    def _best(scores: list[float], k: int) -> list[int]:
        """The ``k`` best indices, best first; NaN ranks worst, ties to the lower index."""
        clean = [-np.inf if not np.isfinite(s) else s for s in scores]
        return sorted(range(len(clean)), key=lambda i: (-clean[i], i))[:k]

    def ranking(self) -> list[dict[str, Any]]:
        """Every candidate with its shared-weight scores, best first (``SharedResult``)."""
        order = self._best(self.shared or [], len(self.candidates))
        full = {i: float(s) for i, s in self.full.items()}
        return [{"config": self.config(self.candidates[i]), "arch": str(self.candidates[i]["cell"]),
                 "shared_score": float(self.shared[i]), "full_score": full.get(i)}
                for i in order]

    def __repr__(self) -> str:
        return (f"RSWS(epochs={self.epochs}, n_candidates={self.n_candidates}, "
                f"eval_batches={self.eval_batches}, top={self.top}, "
                f"retrain_epochs={self.retrain_epochs}, seed={self.seed})")
