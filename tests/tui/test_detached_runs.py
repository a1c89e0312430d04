"""Runs started from the real `nnlab` TUI, in tmux, outlive it: a dropped connection (SIGHUP to the TUI, by
killing the tmux server), a kill -9 of the TUI, ctrl+q; and a second TUI finds them, follows them and stops
them."""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from tmux_driver import TMUX, Tmux

from engine.store import read_metrics, read_record
from tests.conftest import wait_for as wait

pytestmark = pytest.mark.skipif(TMUX is None, reason="needs tmux")
NNLAB = str(Path(sys.executable).with_name("nnlab"))


def the_run(runs_dir: Path) -> Path | None:
    folders = [p for p in runs_dir.iterdir() if not p.name.startswith(".")] if runs_dir.exists() else []
    return folders[0] if len(folders) == 1 and (folders[0] / "run.json").exists() else None


def start_from_the_lab(tmux: Tmux, epochs: int) -> None:
    """circles-manual with `epochs`, typed into the Lab form, then ctrl+r; waits for the Train screen."""
    tmux.wait_for("circles-manual")
    tmux.send("Enter")  # into the first value field, epochs
    tmux.wait_for("epochs: number of passes")
    tmux.send("End", "BSpace", "BSpace", "BSpace", *str(epochs))
    tmux.wait_for(f"epochs         {epochs}")
    tmux.send("C-r")
    tmux.wait_for("2 Train")


def tui_pid(tmp_path: Path) -> int:
    return int((tmp_path / "tui.pid").read_text())


@pytest.mark.parametrize("how", ["sighup", "kill-9"])
def test_a_run_started_in_the_tui_finishes_when_the_tui_goes(how, runs_dir, tmp_path):
    env = {"OMP_NUM_THREADS": "1"}
    # the shell records the TUI's pid (exec: the pid is nnlab's own)
    tmux = Tmux(tmp_path, env, f"sh -c 'echo $$ > {tmp_path / 'tui.pid'}; exec {NNLAB} --runs-dir {runs_dir} "
                               f"--data-dir {tmp_path}'")
    try:
        start_from_the_lab(tmux, 1500)
        run_dir = wait(lambda: the_run(runs_dir), what="the run folder")
        wait(lambda: len(read_metrics(run_dir)) >= 5, what="5 epochs")
        if how == "sighup":
            tmux.close()  # the terminal goes: SIGHUP to everything in it
        else:
            os.kill(tui_pid(tmp_path), signal.SIGKILL)
        wait(lambda: not os.path.exists(f"/proc/{tui_pid(tmp_path)}"), 30, "the TUI gone")
        assert read_record(run_dir).status == "running"
        wait(lambda: read_record(run_dir).status != "running", 300, "the run to end")
    finally:
        tmux.close()
    assert read_record(run_dir).status == "finished"
    assert [r["epoch"] for r in read_metrics(run_dir)] == list(range(1, 1501))


def test_ctrl_q_leaves_the_run_training_and_a_second_tui_follows_and_stops_it(runs_dir, tmp_path):
    env = {"OMP_NUM_THREADS": "1"}
    tmux = Tmux(tmp_path, env, "sh")
    try:
        tmux.send(f"{NNLAB} --runs-dir {runs_dir} --data-dir {tmp_path}; echo nnlab-exit-$?", "Enter")
        start_from_the_lab(tmux, 100000)
        run_dir = wait(lambda: the_run(runs_dir), what="the run folder")
        wait(lambda: len(read_metrics(run_dir)) >= 3, what="3 epochs")
        tmux.send("C-q")
        tmux.wait_for("1 run is training")
        tmux.send("Enter")  # quit, leave it training
        shown = tmux.wait_for("nnlab-exit-0")
        assert "1 run keeps training" in shown and run_dir.name in shown.replace("\n", "")
        done = len(read_metrics(run_dir))
        wait(lambda: len(read_metrics(run_dir)) > done + 3, what="epochs after the TUI closed")

        tmux.send("clear", "Enter")
        tmux.send(f"{NNLAB} --runs-dir {runs_dir} --data-dir {tmp_path}; echo nnlab-exit-$?", "Enter")
        tmux.wait_for("1 run is training")  # the second TUI finds it
        tmux.send("2")
        tmux.wait_for("started elsewhere")  # and follows it
        tmux.send("s")  # and stops it: SIGINT to its process
        tmux.wait_for("INTERRUPTED")
        assert read_record(run_dir).status == "interrupted"
        assert (run_dir / "checkpoints" / "last.pt").exists()
        tmux.send("C-q")  # nothing trains now: it quits at once
        tmux.wait_for("nnlab-exit-0")
    finally:
        tmux.close()
    output = (run_dir / "output.log").read_text()
    assert "interrupted" in output
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
