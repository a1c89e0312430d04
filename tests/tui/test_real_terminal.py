"""The real `nnlab` in a real terminal (tmux at 80x24): after screen switches and resizes, what the terminal
shows is what a full repaint shows, with no character left behind at the right edge or anywhere else.

A full repaint is forced by a resize round trip (81 columns, then 80 again), after which Textual redraws every
cell. A stale cell (a character from the screen before, or one shifted by a glyph the terminal draws wider than
Textual counts) differs between the two captures. The app has saved runs to show, and no run going, so that
nothing changes between the captures but what a repaint fixes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from tmux_driver import tmux, wait_for_screen

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")



def settle(session: str, quiet: float = 0.6, timeout: float = 20.0) -> str:
    """The pane once it has stopped changing for `quiet` seconds."""
    end = time.monotonic() + timeout
    last, since = tmux("capture-pane", "-p", "-t", session), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.15)
        now = tmux("capture-pane", "-p", "-t", session)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    return last


def resize(session: str, cols: int, rows: int) -> None:
    tmux("resize-window", "-t", session, "-x", str(cols), "-y", str(rows))


@pytest.mark.parametrize("term", ["xterm-256color"])
def test_switches_and_resizes_leave_no_stale_cells(tmp_path, term):
    runs = tmp_path / "runs"
    env = dict(os.environ, NNLAB_RUNS_DIR=str(runs), NNLAB_DATA_DIR=str(tmp_path / "data"), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    for lr in ("0.03", "0.3"):  # History and Compare have something to show
        done = subprocess.run([sys.executable, "-m", "engine", "run", "circles-nn", f"lr={lr}", "epochs=30"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    session = f"nnlab-{uuid.uuid4().hex[:8]}"
    command = (f"cd {ROOT} && env TERM={term} NNLAB_RUNS_DIR={runs} NNLAB_DATA_DIR={tmp_path / 'data'} "
               f"PYTHONPATH={ROOT} {sys.executable} -m engine; sleep 60")
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        wait_for_screen(session, lambda screen: "circles-manual" in screen, 60, "the Lab screen")
        # each step, and the text that shows it has taken effect (the screen's own state, not a pause: History's
        # first listing can take more than a second on a loaded machine); "" where nothing tells
        listed = "2 of 2 runs"
        steps = [("keys", "3", listed), ("keys", "space", "marked 1"), ("keys", "down", ""),
                 ("keys", "space", "marked 2"), ("keys", "c", "4 Compare"), ("keys", "2", "2 Train"),
                 ("keys", "5", "5 Studies"), ("keys", "1", "1 Lab"), ("size", "120x40", ""), ("keys", "3", listed),
                 ("size", "70x20", ""), ("keys", "4", "4 Compare"), ("size", "100x30", ""), ("keys", "2", "2 Train"),
                 ("keys", "1", "1 Lab")]
        for kind, value, shows in steps:
            if kind == "keys":
                tmux("send-keys", "-t", session, value)
                wait_for_screen(session, lambda screen, text=shows: text in screen, 60,
                                f"after keys {value}: {shows!r}")
            else:
                resize(session, *map(int, value.split("x")))
                settle(session)
                resize(session, 80, 24)
            shown = settle(session)
            resize(session, 81, 24)
            settle(session)
            resize(session, 80, 24)
            repainted = settle(session)
            assert shown == repainted, (f"after {kind} {value}: stale cells\n{shown}\n---- a full repaint ----\n"
                                        f"{repainted}")
    finally:
        tmux("kill-session", "-t", session)
