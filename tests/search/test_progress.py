"""A search's live progress line: plain lines off a terminal, a redrawn bar on one."""

import fcntl
import io
import os
import re
import struct
import termios

from sklearn.linear_model import LogisticRegression, SGDClassifier

from dagreuse.pipes import Pipeline, Runner, space
from dagreuse.search import ASHA, GridSearch, _progress, run


def pipe():
    return Pipeline([("clf", LogisticRegression(max_iter=200), {"C": space.choice([0.1, 1.0, 10.0])})])


def test_plain_lines_when_not_a_terminal(data, capsys, monkeypatch):
    X, y = data
    monkeypatch.setattr(_progress, "PLAIN_SECONDS", 0.0)  # a line per evaluation
    with Runner(scheduler="sync") as runner:
        run(GridSearch(pipe()), X, y, cv=3, runner=runner, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("search: 1/3 evaluations")
    assert re.match(r"search: 3/3 evaluations, \d+ s, best 0\.\d+, speedup [\d.]+x$", lines[-1])


def test_off_by_default_when_not_a_terminal(data, capsys):
    X, y = data
    with Runner(scheduler="sync") as runner:
        run(GridSearch(pipe()), X, y, cv=3, runner=runner)
    assert "search:" not in capsys.readouterr().err


def test_a_live_bar_on_a_terminal_with_an_open_total_for_asha(data, monkeypatch):
    X, y = data
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # 160 columns
    tty = io.TextIOWrapper(os.fdopen(slave, "wb", buffering=0), write_through=True)
    monkeypatch.setattr("sys.stderr", tty)
    sgd = Pipeline([("clf", SGDClassifier(random_state=0), {"alpha": space.choice([1e-4, 1e-3, 1e-2])})])
    asha = ASHA(sgd, resource=_iterations(), min_resource=1, max_resource=16, eta=4, seed=0,
                n_configs=6)
    with Runner(scheduler="sync") as runner:
        result = run(asha, X, y, cv=3, runner=runner)  # progress on: stderr is a terminal
    tty.flush()
    out = b""
    while chunk := _read(master):  # before closing: Linux drops what is unread then
        out += chunk
    tty.close()
    os.close(master)
    text = out.decode()
    assert "\r" in text  # redrawn in place
    assert f"{len(result.trials)}eval" in text.replace(" ", "")  # a counter: no total for ASHA
    assert "rung" in text and "best" in text


def _iterations():
    from dagreuse.pipes import resources

    return resources.Iterations("max_iter")


def _read(fd):
    import select

    ready, _, _ = select.select([fd], [], [], 0.5)
    try:
        return os.read(fd, 65536) if ready else b""
    except OSError:  # the terminal's other side is closed: all was read
        return b""
