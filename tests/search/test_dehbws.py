"""DEHB-WS: epochs b at a base rung and b - b_prev above it, the supernet replaced by the mean of
the selected copies after each rung (masked: a hand-computed mean), untouched by the others,
and a search end to end (real torch training on digits as 1x8x8 images)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import load_digits  # noqa: E402

from dagreuse.cache import Unbounded  # noqa: E402
from dagreuse.pipes import Averaged, Runner, Warmup, space  # noqa: E402
from dagreuse.pipes.neural import NetCheckpoint  # noqa: E402
from dagreuse.pipes.space import Arch  # noqa: E402
from dagreuse.pipes.supernet import Average, Supernet  # noqa: E402
from dagreuse.search import DEHBWS, run  # noqa: E402
from dagreuse.search._weight_sharing import Jobs  # noqa: E402

SPACE = {"cell": space.cell(), "channels": 4, "activation": space.choice(["relu", "mish"]),
         "lr": space.loguniform(1e-3, 1.0), "weight_decay": space.loguniform(1e-5, 1e-2)}


def fake_scores(dw, score):
    """Drive ``dw`` to its final work with made-up scores; return every Jobs it asked."""
    asked = []
    while True:
        (work, *rest) = dw.ask()
        if rest:  # the final fine-tune and retrain
            return asked
        asked.append((work, dw.supernet_recipe))
        work.trials = [{**info, "scores": [s], "mean_score": s, "status": "ok", "error": None}
                       for info, s in zip(work.infos, map(score, work.infos), strict=True)]
        dw.tell(work)


def test_jobs_train_b_then_b_minus_b_prev_epochs_and_20_per_iteration():
    dw = DEHBWS(SPACE, min_resource=3, max_resource=27, eta=3, n_iterations=3)
    asked = fake_scores(dw, lambda info: float(info["config"]["lr"]))
    jobs = [info for work, _ in asked for info in work.infos]
    assert len(jobs) == 60  # 20 per iteration, the floor brackets at 3, 9, 27
    assert sum(j["epochs"] for j in jobs) == 567  # the paper's figure: 189 per iteration
    for j in jobs:
        previous = {3: 0, 9: 3, 27: 9}[j["resource"]] if j["rung"] else 0
        assert j["epochs"] == j["resource"] - previous


def test_each_rung_averages_the_copies_it_selects_and_nothing_else():
    dw = DEHBWS(SPACE, min_resource=1, max_resource=9, eta=3, n_iterations=1)
    score = lambda info: -abs(np.log10(info["config"]["lr"]) + 1.5)  # noqa: E731
    asked = fake_scores(dw, score)
    for k, (work, start) in enumerate(asked):
        after = asked[k + 1][1] if k + 1 < len(asked) else dw.supernet_recipe
        assert isinstance(after, Averaged) and after.start is start
        ranked = sorted(zip(work.infos, work.recipes, strict=True), key=lambda ir: -score(ir[0]))
        keep = max(1, len(work.infos) // 3)
        assert list(after.copies) == [r for _, r in ranked[:keep]]
        assert all(r.start is start for r in work.recipes)  # every job copies the supernet
    assert isinstance(asked[0][1], Warmup)


def test_the_masked_mean_is_the_hand_computed_one():
    torch.manual_seed(0)
    net = Supernet(1, 10, channels=2)
    base = {k: v.clone() for k, v in net.state_dict().items()}
    a = Arch(["conv_3x3", "none", "skip_connect", "none", "none", "conv_1x1"])
    b = Arch(["conv_1x1", "none", "none", "none", "none", "conv_1x1"])
    copies = []
    for arch, shift in ((a, 1.0), (b, 3.0)):
        state = {k: v + shift if k in net.touched(arch) else v.clone() for k, v in base.items()}
        copies.append(NetCheckpoint({"net": state}, 2, {}))
    start = NetCheckpoint({"net": base, "classes": np.arange(10)}, 5, {"seed": 1})
    masked = Average((str(a), str(b)), "masked")(start, *copies)
    plain = Average((str(a), str(b)), "plain")(start, *copies)
    ta, tb = net.touched(a), net.touched(b)
    for k, v in base.items():
        want = {(True, True): v + 2.0, (True, False): v + 1.0, (False, True): v + 3.0,
                (False, False): v}[k in ta, k in tb]
        assert torch.allclose(masked.state["net"][k], want)
        assert torch.allclose(plain.state["net"][k], v + ((k in ta) * 1.0 + (k in tb) * 3.0) / 2)
    assert masked.epochs == 0 and masked.rng == {"seed": 1}
    assert masked.state["classes"] is start.state["classes"]


def test_dehbws_runs_end_to_end_and_reuses_its_supernets():
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    dw = DEHBWS(SPACE, min_resource=1, max_resource=3, eta=3, n_iterations=1, warmup_epochs=1,
                finetune_epochs=1, retrain_epochs=1, seed=0)
    with Runner(Unbounded(), scheduler="sync") as runner:
        result = run(dw, X, y[:600], cv=0.2, runner=runner)
    assert len(result.ranking) == 6  # brackets 3@1 -> 1@3 and 2@3 (floor sizes, eta 3)
    assert result.trials[0]["phase"] == "finetune" and result.retrained["phase"] == "retrain"
    assert result.best_config == result.retrained["config"]
    assert 0 < result.best_score <= 1 and isinstance(result.best_config["cell"], Arch)
    trace = result.profile.trace
    computed = [e["key"] for e in trace.events if e["ev"] == "compute"]
    assert len(computed) == len(set(computed))  # every node once: supernets are shared
    # epochs trained, counted on the nodes: 1 of warm-up; copies 3 x 1 and 1 x (3 - 1) in the
    # first bracket, 2 x 3 in the second; 1 of fine-tuning
    units = [trace.nodes[k].get("units", 0) for k in computed
             if trace.nodes[k]["stage"] == "supernet" and trace.nodes[k].get("checkpoint")]
    assert sum(units) == 1 + 3 * 1 + 1 * 2 + 2 * 3 + 1


@pytest.mark.parametrize("kw, match", [
    ({"average": "median"}, "'average' parameter of DEHBWS"),
    ({"warmup_epochs": 0}, "'warmup_epochs' parameter of DEHBWS"),
    ({"eta": 1}, "eta"),
])
def test_bad_input_is_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        DEHBWS(SPACE, **kw)


def test_jobs_is_the_work_of_copies():
    dw = DEHBWS(SPACE, min_resource=1, max_resource=9, eta=3, n_iterations=1)
    (work,) = dw.ask()
    assert isinstance(work, Jobs) and len(work.recipes) == 9
    assert {r.trainer.cell for r in work.recipes} == {str(i["config"]["cell"]) for i in work.infos}
