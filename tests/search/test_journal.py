"""The journal: a search killed at any point resumes to the uninterrupted run's trials, and
evaluates nothing the journal recorded again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from dagreuse.pipes import Pipeline, Runner, resources, space
from dagreuse.pipes.testing import COUNT_LOG, CountedLogisticRegression, read_counts
from dagreuse.search import ASHA, JournalError, RandomSearch, run

X, y = load_digits(return_X_y=True)
X, y = X[:600], y[:600]


def pipeline(n_components=(5, 10, 20)):
    return Pipeline([
        ("scale", StandardScaler()),
        ("pca", PCA(random_state=0), {"n_components": space.choice(list(n_components))}),
        ("clf", CountedLogisticRegression(max_iter=200), {"C": space.loguniform(1e-3, 1e2)}),
    ])


def asha(seed=0, pipe=None):
    return ASHA(pipe or pipeline(), resources.Samples(), min_resource=1 / 8, max_resource=1,
                eta=2, brackets=[0], seed=seed, n_configs=12)


def outcome(result):
    return [(t["config_id"], repr(t["config"]), t["resource"], t["rung"], t["scores"], t["status"])
            for t in result.trials]


def searched(journal=None, resume=False, seed=0, runner=None, **kw):
    with runner or Runner(scheduler="sync") as r:
        return run(asha(seed), X, y, cv=3, runner=r, journal=journal, resume=resume,
                   max_in_flight=1, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("journal") / "full.journal"
    return searched(path), path.read_text().splitlines()


def test_a_cut_journal_resumes_to_the_same_trials(reference, tmp_path):
    full, lines = reference
    assert json.loads(lines[0])["dagreuse_journal"] == 1
    for cut in (1, 2, 7, len(lines) // 2, len(lines) - 1, len(lines)):
        path = tmp_path / f"cut{cut}.journal"
        path.write_text("\n".join(lines[:cut]) + "\n")
        resumed = searched(path, resume=True)
        assert outcome(resumed) == outcome(full)
        assert resumed.best_config == full.best_config and resumed.best_score == full.best_score
        # the profile covers the whole search: every request once, the abandoned ones aside
        assert resumed.profile.n_requests == full.profile.n_requests
        assert path.read_text().splitlines()[:cut] == lines[:cut]  # appended, never rewritten


def test_the_resumed_journal_resumes_again(reference, tmp_path):
    full, lines = reference
    path = tmp_path / "twice.journal"
    path.write_text("\n".join(lines[:len(lines) // 3]) + "\n")
    searched(path, resume=True)
    again = searched(path, resume=True)  # everything replayed, nothing evaluated
    assert outcome(again) == outcome(full)
    assert again.profile.n_requests == full.profile.n_requests


def test_a_torn_last_record_is_ignored_with_a_warning(reference, tmp_path):
    full, lines = reference
    path = tmp_path / "torn.journal"
    path.write_text("\n".join(lines[:10]) + "\n" + lines[10][: len(lines[10]) // 2])
    with pytest.warns(UserWarning, match="torn record"):
        resumed = searched(path, resume=True)
    assert outcome(resumed) == outcome(full)
    for line in path.read_text().splitlines():
        json.loads(line)  # the torn bytes were cut off before appending


def test_journals_of_other_searches_are_refused(reference, tmp_path):
    _, lines = reference
    path = tmp_path / "other.journal"
    path.write_text("\n".join(lines[:8]) + "\n")
    with pytest.raises(JournalError, match=r"exists already. Pass resume=True"):
        searched(path)
    with pytest.raises(JournalError, match=r"does not match this search: record"):
        searched(path, resume=True, seed=1)  # same space, another seed: other proposals
    with Runner(scheduler="sync") as r, pytest.raises(JournalError, match="another search"):
        run(asha(), X[:300], y[:300], cv=3, runner=r, journal=path, resume=True)
    with Runner(scheduler="sync") as r, pytest.raises(JournalError, match="another search"):
        run(asha(pipe=pipeline((5, 10))), X, y, cv=3, runner=r, journal=path, resume=True)
    bad = tmp_path / "bad.journal"
    bad.write_text('{"x": 1}\n')
    with pytest.raises(JournalError, match="not a dagreuse journal"):
        searched(bad, resume=True)
    damaged = tmp_path / "damaged.journal"
    damaged.write_text("\n".join([*lines[:3], "{oops", *lines[3:6]]) + "\n")
    with pytest.raises(JournalError, match="damaged at line 4"):
        searched(damaged, resume=True)
    with pytest.raises(ValueError, match="'resume' parameter of run needs a 'journal'"):
        searched(None, resume=True)
    with pytest.raises(TypeError, match="'resume' parameter of run must be True or False"):
        searched(path, resume="yes")


def test_resume_without_a_journal_file_starts_one(reference, tmp_path):
    full, _ = reference
    path = tmp_path / "new.journal"
    assert outcome(searched(path, resume=True)) == outcome(full)
    assert path.exists()


def test_a_batch_strategy_resumes_on_dask(tmp_path):
    """A batch strategy asked one job at a time on a Dask cluster: the same trials."""
    def make():
        return RandomSearch(pipeline(), n=6, seed=3)

    with Runner(scheduler="sync") as r:
        full = run(make(), X, y, cv=3, runner=r)
    path = tmp_path / "random.journal"
    with Runner(processes=False, n_workers=1) as r:
        run(make(), X, y, cv=3, runner=r, journal=path, max_in_flight=1)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:6]) + "\n")
    with Runner(processes=False, n_workers=1) as r:
        resumed = run(make(), X, y, cv=3, runner=r, journal=path, resume=True, max_in_flight=1)
    assert [t["scores"] for t in resumed.trials] == [t["scores"] for t in full.trials]


_KILLED = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_journal import searched
    searched({journal!r}, resume=True)
""")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_killed_driver_resumes_and_recomputes_nothing_it_journaled(reference, tmp_path,
                                                                      monkeypatch, seed):
    """SIGKILL the driver after a random number of journal records, resume: the uninterrupted
    run's trials, and no evaluation the journal holds is fitted again (counted fits)."""
    full, lines = reference
    journal, before, after = (tmp_path / n for n in ("killed.journal", "before.log", "after.log"))
    stop = int(np.random.default_rng(seed).integers(4, len(lines) - 4))
    script = _KILLED.format(tests=os.path.dirname(__file__), journal=str(journal))
    proc = subprocess.Popen([sys.executable, "-c", script], env={**os.environ,
                            COUNT_LOG: str(before)})
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists() and journal.read_bytes().count(b"\n") >= stop:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the search ended before it could be killed"
    told = sum(1 for line in journal.read_text().splitlines() if '"tell"' in line)
    monkeypatch.setenv(COUNT_LOG, str(after))
    resumed = searched(journal, resume=True)
    assert outcome(resumed) == outcome(full)
    again = set(read_counts(before)) & set(read_counts(after))
    # only the one job in flight at the kill (max_in_flight=1), on its 3 folds, is fitted again
    assert len(again) <= 3
    assert sum(read_counts(before).values()) >= 3 * told  # the journal's results were fitted
