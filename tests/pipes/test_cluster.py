"""The Runner's own local cluster: worker processes by default, a script's main guard, no
statistical profiler in its workers."""

import pytest

from dagreuse.pipes import Runner

UNGUARDED = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import RandomSearch, run
X, y = load_iris(return_X_y=True)
pipe = Pipeline([("clf", LogisticRegression(max_iter=300), {"C": space.loguniform(0.1, 10)})])
with Runner() as runner:
    print("processes", runner.processes_used)
    print("best", run(RandomSearch(pipe, n=3, seed=0), X, y, runner=runner).best_score)
"""


@pytest.mark.slow
@pytest.mark.parametrize("guarded", [True, False])
def test_default_cluster_is_worker_processes_and_an_unguarded_script_still_runs(tmp_path, guarded):
    """Worker processes import the main script: guarded, the default Runner runs a worker
    process per core; unguarded, it refuses in the workers and computes in threads, warning."""
    import subprocess
    import sys
    import textwrap

    body = UNGUARDED if not guarded else (
        UNGUARDED.split("with Runner")[0] + "if __name__ == '__main__':\n"
        + textwrap.indent("with Runner" + UNGUARDED.split("with Runner")[1], "    "))
    script = tmp_path / "search.py"
    script.write_text(body)
    out = subprocess.run([sys.executable, "-W", "always::RuntimeWarning", str(script)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"processes {guarded}" in out.stdout and "best 0.9" in out.stdout
    assert ("worker processes did not start" in out.stderr) is not guarded
    if not guarded:
        assert "guard the script's search with `if __name__ == '__main__':`" in out.stderr


def _profiling(dask_worker) -> bool:
    return "profile" in dask_worker.periodic_callbacks


def test_own_cluster_runs_no_statistical_profiler():
    """The Runner's own workers do not sample their threads' stacks (a dashboard feature)."""
    with Runner(processes=False) as runner:
        assert set(runner.client.run(_profiling).values()) == {False}
