"""`dagreuse profile TRACE.json`: what-if table in seconds, the run's cache marked, a readable plot."""

import sys

import pytest

from dagreuse.cache import MissingDependency, Trace, WReciprocal
from dagreuse.pipes import Profile, Runner
from dagreuse.search import GriddedRandomSearch, run
from dagreuse.search._cli import main
from tests.conftest import counted_pipeline


@pytest.fixture(scope="module")
def saved_trace(tmp_path_factory, data):
    X, y = data
    log = str(tmp_path_factory.mktemp("log") / "c.log")
    with Runner(WReciprocal("40kB", seed=0), scheduler="sync") as runner:
        result = run(GriddedRandomSearch(counted_pipeline(log), [3, 3, 2], seed=0), X, y, cv=3,
                     runner=runner)
    path = tmp_path_factory.mktemp("trace") / "run.trace.json"
    result.profile.save(path)
    return path, result


def test_profile_prints_seconds_and_marks_the_run(saved_trace, capsys):
    path, result = saved_trace
    assert main(["profile", str(path), "--policies", "lru,wreciprocal,opt",
                 "--capacities", "10kB,40kB,1MB"]) == 0
    out = capsys.readouterr().out
    assert "simulated compute seconds" in out and " s (" in out
    lines = [line for line in out.splitlines() if line.strip().startswith("40kB")]
    assert len(lines) == 1 and lines[0].count("*") == 1  # WReciprocal 40kB is this run
    assert f"speedup {result.profile.speedup:.2f}x" in out


def test_profile_writes_plot_and_html(saved_trace, tmp_path, capsys):
    path, _ = saved_trace
    png, page = tmp_path / "p.png", tmp_path / "p.html"
    assert main(["profile", str(path), "--plot", str(png), "--html", str(page)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = page.read_text()
    assert "<table" in text and text.count("data:image/png;base64,") == 2  # what-if and DAG
    assert "http" not in text and "reduce" in text  # self-contained; the per-stage table


def test_profile_what_if_and_plot_from_python(saved_trace, tmp_path):
    _, result = saved_trace
    profile = Profile(Trace.from_dict(result.profile.trace.to_dict()))
    rows = profile.what_if(policies=["lru", "wreciprocal"], capacities=[40_000])
    live = next(r for r in rows if r["policy"] == "wreciprocal")
    assert live["hits"] == result.profile.cache_stats["hits"]  # the replay is the run
    ax = profile.plot(tmp_path / "x.png", policies=["lru", "wreciprocal"])
    assert ax.get_xlabel() == "cache capacity (MB)" and "speedup" in ax.get_ylabel()
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"LRU", "WRECIPROCAL"}


def test_profile_rejects_bad_capacities(saved_trace):
    path, _ = saved_trace
    with pytest.raises(ValueError, match=r"'--capacities' parameter of dagreuse profile"):
        main(["profile", str(path), "--capacities", "lots"])


def test_a_missing_optional_dependency_is_one_line(saved_trace, tmp_path, capsys, monkeypatch):
    path, result = saved_trace
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pandas", None)
    assert main(["profile", str(path), "--plot", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ('dagreuse: Plotting needs matplotlib, which is not installed: '
                   'pip install "dagreuse[plot]"')
    with pytest.raises(MissingDependency, match=r'pip install "dagreuse\[pandas\]"'):
        result.trials_dataframe()


def _png(path, at_least=10_000):
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > at_least


def test_pictures_of_the_dag_and_the_search(saved_trace, tmp_path, capsys, monkeypatch):
    from dagreuse.pipes import _draw

    path, result = saved_trace
    result.profile.draw(tmp_path / "dag.png")
    result.plot(tmp_path / "search.png")
    assert _png(tmp_path / "dag.png") and _png(tmp_path / "search.png")
    monkeypatch.setattr(_draw, "MAX_MARKS", 5)  # many leaves: each parent's drawn as one mark
    assert main(["draw", str(path), "--out", str(tmp_path / "grouped.png")]) == 0
    assert _png(tmp_path / "grouped.png") and "DAG drawn to" in capsys.readouterr().out


def test_the_rungs_of_successive_halving_are_drawn(data, tmp_path):
    from sklearn.linear_model import SGDClassifier

    from dagreuse.pipes import Pipeline, resources, space
    from dagreuse.search import SuccessiveHalving

    X, y = data
    pipe = Pipeline([("clf", SGDClassifier(random_state=0), {"alpha": space.loguniform(1e-5, 1e-1)})])
    sha = SuccessiveHalving(GriddedRandomSearch(pipe, [16], seed=0), resource=resources.Samples(),
                            min_resource=1 / 16, eta=4)
    with Runner(scheduler="sync") as runner:
        result = run(sha, X, y, cv=2, runner=runner)
    ax = result.profile.draw(tmp_path / "rungs.png")
    assert _png(tmp_path / "rungs.png")
    assert {t.get_text() for t in ax.texts} >= {"r=1/16", "r=1/4", "r=1"}


def test_report_is_one_self_contained_page_with_the_trials(saved_trace, tmp_path, capsys):
    path, result = saved_trace
    page = tmp_path / "report.html"
    assert main(["report", str(path), "--html", str(page)]) == 0
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 2 and "http" not in text
    assert "<h2>Trials</h2>" in text and text.count("<tr>") > len(result.trials)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # its pictures are inlined only
