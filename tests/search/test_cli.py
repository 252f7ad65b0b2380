import json

from dagreuse.cache import Trace
from dagreuse.search._cli import main


def test_demo_prints_best_config_and_profile(tmp_path, capsys):
    trace = tmp_path / "demo.trace.json"
    assert main(["demo", "--branching", "2", "2", "2", "--trace", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "8 candidates evaluated (0 failed)" in out
    best = out.split("with ", 1)[1].splitlines()[0]
    assert set(json.loads(best)) == {"scale", "features", "clf"}
    assert "Reuse profile" in out and "features" in out and "speedup" in out
    assert Trace.load(trace).count("request") == 8 * 3
