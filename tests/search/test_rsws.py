"""RSWS end to end on digits as 1x8x8 images, real torch training on CPU: the supernet's
training is the shared prefix (cached, resumed by a longer search), candidates are scored many
per task, a seeded search is exactly reproducible, the oracle and Dask agree, bad spaces are
refused before any work."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")

from sklearn.datasets import load_digits

from dagreuse.cache import Unbounded
from dagreuse.pipes import Runner, space
from dagreuse.pipes.supernet import Supernet
from dagreuse.search import RSWS, SharedResult, run
from dagreuse.search._weight_sharing import Evaluation, fixed_value

SPACE = {"cell": space.cell(), "channels": 4, "cells_per_stage": 1,
         "activation": space.choice(["relu", "hardswish", "mish"]),
         "lr": space.loguniform(1e-3, 1.0), "weight_decay": space.loguniform(1e-5, 1e-2)}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32).reshape(-1, 1, 8, 8), y


def small(**kw):
    args = {"epochs": 2, "n_candidates": 32, "eval_batches": 2, "top": 4, "retrain_epochs": 2,
            "chunk": 1, "seed": 0, **kw}
    return RSWS(SPACE, **args)


def supernet_epochs(result) -> int:
    """Epochs of supernet training this search computed (checkpoint nodes it computed)."""
    trace = result.profile.trace
    done = {e["key"] for e in trace.events if e["ev"] == "compute"}
    return sum(n["units"] for k, n in trace.nodes.items()
               if k in done and n["stage"] == "supernet" and n.get("checkpoint"))


def test_rsws_ranks_candidates_on_shared_weights_and_retrains_the_best(digits):
    X, y = digits
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(small(), X, y, cv=0.2, runner=runner)
    assert isinstance(result, SharedResult)
    assert len(result.ranking) == 32
    shared = [r["shared_score"] for r in result.ranking]
    assert shared == sorted(shared, reverse=True)
    rescored = [r for r in result.ranking if r["full_score"] is not None]
    assert len(rescored) == 4 and rescored == result.ranking[:4]
    best = max(rescored, key=lambda r: r["full_score"])
    assert result.best_config == best["config"]
    assert isinstance(result.best_config["cell"], space.Arch)
    assert result.best_config["lr"] == pytest.approx(math.sqrt(1e-3))  # fixed at the middle
    assert 0.3 < result.best_score <= 1 and len(result.trials) == 1
    assert result.trials[0]["resource"] == 2 and result.trials[0]["status"] == "ok"
    assert supernet_epochs(result) == 2
    assert "supernet" in str(result.profile)


def test_a_longer_search_resumes_from_the_cached_supernet(digits):
    X, y = digits
    with Runner(Unbounded(), scheduler="sync") as runner:
        first = run(small(epochs=2), X, y, cv=0.2, runner=runner)
        second = run(small(epochs=4), X, y, cv=0.2, runner=runner)
    assert supernet_epochs(first) == 2
    assert supernet_epochs(second) == 2  # only the new epochs: a checkpoint hit at 2
    assert second.profile.trace.count("hit") > 0


def test_a_seeded_search_is_exactly_reproducible_and_dask_agrees(digits):
    X, y = digits
    runs = []
    for kw in ({"scheduler": "sync"}, {"scheduler": "sync"},
               {"processes": False, "n_workers": 1, "threads_per_worker": 2}):
        with Runner(Unbounded(), **kw) as runner:
            r = run(small(n_candidates=16), X, y, cv=0.2, runner=runner)
        runs.append(([(x["arch"], x["shared_score"], x["full_score"]) for x in r.ranking],
                     r.best_config, r.best_score))
    assert runs[0] == runs[1] == runs[2]
    other = small(n_candidates=16, seed=1).candidates
    assert other != small(n_candidates=16).candidates


def test_many_candidates_are_scored_per_task():
    rsws = RSWS(SPACE, n_candidates=200, top=10)
    (work,) = rsws.ask()
    assert isinstance(work, Evaluation)
    assert len(work.groups) <= 200 / 16
    assert all(len(g["candidates"]) >= 16 for g in work.groups)
    assert sum(len(g["candidates"]) for g in work.groups) == 200
    assert len({(str(c["cell"]), c["activation"]) for c in rsws.candidates}) == 200
    assert work.ladder == [10, 20, 30, 40, 50]


def test_training_values_are_the_prior_or_the_middle():
    assert fixed_value(space.loguniform(1e-4, 1e-2)) == pytest.approx(1e-3)
    assert fixed_value(space.loguniform(1e-4, 1e-2, prior=5e-3)) == 5e-3
    assert fixed_value(space.uniform(0.0, 1.0)) == 0.5
    assert fixed_value(0.9) == 0.9


@pytest.mark.parametrize("arch_space, kw, match", [
    ({"channels": 8}, {}, "must be a dict with a 'cell'"),
    ({**SPACE, "depth": 3}, {}, r"unknown keys \['depth'\]"),
    ({**SPACE, "activation": "gelu"}, {}, "'activation' of RSWS's arch_space"),
    ({**SPACE, "channels": space.choice([8, 16])}, {}, "'channels' of RSWS's arch_space must be a fixed"),
    (SPACE, {"epochs": 0}, "'epochs' parameter of RSWS must be an int >= 1"),
    (SPACE, {"n_candidates": 0}, "'n_candidates' parameter of RSWS"),
    (SPACE, {"top": 0}, "'top' parameter of RSWS"),
    (SPACE, {"eval_batches": 0}, "'eval_batches' parameter of RSWS"),
])
def test_bad_input_is_refused_before_any_work(arch_space, kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        RSWS(arch_space, **kw)


class Counting(Supernet):
    """A user's own supernet class (here NB201's, counting its forwards)."""

    calls = 0

    def forward(self, x, arch=None, activation=None):
        type(self).calls += 1
        return super().forward(x, arch, activation)


def test_a_supernet_of_ones_own_plugs_in_as_module(digits):
    X, y = digits
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(small(n_candidates=16, module=Counting), X, y, cv=0.2, runner=runner)
    assert Counting.calls > 0 and result.trials[0]["status"] == "ok"
    with pytest.raises(TypeError, match="'module' parameter of RSWS must be a supernet class"):
        small(module="nb201")


def test_a_journal_is_refused_before_any_work(digits):
    X, y = digits
    with pytest.raises(ValueError, match="'journal' parameter of run is not supported for "
                                         "weight-sharing searches \\(RSWS\\)"):
        run(small(), X, y, journal="search.journal")
