"""ctrl+q ends nnlab at once, whatever the device probe is doing, and gives the terminal back as it was."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from pilot_waits import wait_for
from tmux_driver import TMUX, Tmux

from tests.conftest import wait_for as wait_until
from tui.app import NNLabApp

NNLAB = str(Path(sys.executable).with_name("nnlab"))


def test_a_probe_whose_thread_comes_after_the_quit_starts_no_child(runs_dir, monkeypatch):
    """On a busy machine the probe's thread can start after ctrl+q: it started torch's import anyway, and
    the end of App.run waited for it (up to the probe's 120 s). Now nothing is started after the quit."""
    started: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(args, *a, **k):
        started.append(list(args))
        return real_popen(args, *a, **k)

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab")
            await wait_for(pilot, lambda: app.devices is not None, 120, "the first probe's answer")
            monkeypatch.setattr(subprocess, "Popen", recording_popen)
            app._kill_probe()  # what ctrl+q does first
            worker = app.probe_devices()  # the late thread
            await worker.wait()
        return app

    asyncio.run(main())
    assert not [a for a in started if "engine.devices" in a]


@pytest.mark.skipif(TMUX is None, reason="needs tmux")
def test_ctrl_q_right_after_the_first_paint_ends_nnlab_and_restores_the_terminal(runs_dir, tmp_path):
    """While the probe imports torch: exit code 0, and the shell reads lines again (cooked mode, echo)."""
    done = tmp_path / "exit-code"
    paint = tmp_path / "paint.json"
    tmux = Tmux(tmp_path, {"NNLAB_FIRST_PAINT_FILE": str(paint)},
                f"{NNLAB} --runs-dir {runs_dir} --data-dir {tmp_path}; echo $? > {done}")
    try:
        wait_until(lambda: paint.exists() and paint.stat().st_size, 90, "the first paint")
        tmux.send("C-q")
        wait_until(done.exists, 30, "nnlab's end")
        tmux.send("clear; echo typed-after-quit | tr a-z A-Z", "Enter")
        shown = tmux.wait_for("TYPED-AFTER-QUIT", timeout=30)
    finally:
        tmux.close()
    assert done.read_text().strip() == "0", shown
    assert "Traceback" not in shown
