"""Every screen draws on plain terminals: without colour (NO_COLOR), with 16 colours, on a vt100 in the C
locale; and a run that ends because the app failed is saved `failed` with the reason, never blamed on the user.

The Pilot test draws each screen (Lab, Train with a run's events, History, Compare, help, the palette) in the
real app under each environment; the tmux test runs the real `nnlab` in a terminal of each kind, starts a real
run and visits every screen."""
from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from pilot_waits import wait_for
from tmux_driver import Tmux
from tui_canned import DEVICES, circles_events, populate, populate_cifar_and_sweep

from tui.app import NNLabApp

TERMINALS = {
    "no-color": {"NO_COLOR": "1", "TERM": "xterm-256color"},
    "16-colors": {"TERM": "xterm-16color", "COLORTERM": None, "TEXTUAL_COLOR_SYSTEM": "standard"},
    "vt100-C": {"TERM": "vt100", "LANG": "C", "LC_ALL": "C", "COLORTERM": None},
}




def screen_text(app) -> str:
    """What the screen shows now, drawn through the app's own line filters (NO_COLOR's included)."""
    return app.export_screenshot()


@pytest.mark.parametrize("terminal", list(TERMINALS))
def test_every_screen_draws(terminal, runs_dir, monkeypatch):
    for key, value in TERMINALS[terminal].items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    ids = populate(runs_dir)
    populate_cifar_and_sweep(runs_dir)

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        for event in circles_events():  # a run going: the Train screen draws its curves and boundary
            app.run_state.apply(event, 1000.0)
        assert app.no_color == (terminal == "no-color")
        assert app.console.color_system == ("256" if terminal == "no-color" else "standard")
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: getattr(app.screen, "form_ready", False), what="Lab form")
            drawn = [screen_text(app)]
            await pilot.press("2")
            await wait_for(pilot, lambda: getattr(app.screen, "drawn_epochs", 0) == 12, what="Train plots")
            await pilot.pause(0.3)
            drawn.append(screen_text(app))
            await pilot.press("v")
            await pilot.press("3")
            await wait_for(pilot, lambda: len(getattr(app.screen, "shown", [])) >= 7, what="History")
            await pilot.press("down")
            await pilot.pause(0.2)
            drawn.append(screen_text(app))
            app.compare(ids[:2])
            await wait_for(pilot, lambda: len(getattr(app.screen, "records", [])) == 2, what="Compare")
            drawn.append(screen_text(app))
            for _ in range(2):  # the ablation and sweep views
                await pilot.press("v")
                await pilot.pause(0.2)
                drawn.append(screen_text(app))
            if "studies" in app.MODES:
                await pilot.press("f6")  # the Studies screen (no study in this runs dir: its empty state)
                await wait_for(pilot, lambda: type(app.screen).__name__ == "StudiesScreen", what="Studies")
                await pilot.pause(0.3)
                drawn.append(screen_text(app))
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help")
            drawn.append(screen_text(app))
            await pilot.press("escape", "ctrl+p")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", what="palette")
            await pilot.press(*"history")
            await pilot.pause(0.3)
            drawn.append(screen_text(app))
            await pilot.press("escape")
            await pilot.pause()
        assert app.return_code in (0, None)
        for svg in drawn:
            assert "<svg" in svg

    asyncio.run(main())


# ---------------------------------------------------------------------------------------------- a real terminal
TMUX = shutil.which("tmux")
NNLAB = str(Path(sys.executable).with_name("nnlab"))


@pytest.mark.skipif(TMUX is None, reason="needs tmux")
@pytest.mark.parametrize("terminal", list(TERMINALS))
def test_real_terminal_run_and_every_screen(terminal, runs_dir, tmp_path):
    canned = set(populate(runs_dir))
    done = tmp_path / "exit-code"
    env = {**TERMINALS[terminal], "OMP_NUM_THREADS": "1"}
    # (the UI itself is drawn on stderr: a traceback would show in the pane once the app ended)
    tmux = Tmux(tmp_path, env, f"{NNLAB} --runs-dir {runs_dir} --data-dir {tmp_path}; echo $? > {done}")
    try:
        tmux.wait_for("batch_size")  # the Lab screen, its value fields built (just after the first paint)
        tmux.send("C-r")  # start the stage shown (circles-manual, 150 epochs)
        tmux.wait_for("FINISHED", timeout=120)
        # each screen's own title (the footer names other screens too: "c Compare" is on History)
        for key, text in (("3", "3 History"), ("4", "4 Compare"), ("2", "2 Train"), ("?", "everywhere")):
            tmux.send(key)
            tmux.wait_for(text)
        tmux.send("Escape")
        tmux.wait_for_gone("everywhere")  # help closed
        tmux.send("C-p")
        tmux.wait_for("Search for commands")
        tmux.send("Escape")
        tmux.wait_for_gone("Search for commands")
        tmux.send("C-q")
        end = time.monotonic() + 30
        while not done.exists() and time.monotonic() < end:
            time.sleep(0.2)
        shown = tmux.screen()
    finally:
        tmux.close()
    assert done.exists(), shown
    assert done.read_text().strip() == "0", shown
    assert "Traceback" not in shown
    runs = [json.loads((p / "run.json").read_text()) for p in runs_dir.iterdir()
            if p.name not in canned and not p.name.startswith(".")]
    assert [(r["stage"], r["status"]) for r in runs] == [("circles-manual", "finished")]


# ---------------------------------------------------------------------------------------- the app fails mid-run
def test_a_run_outlives_an_app_failure_and_finishes(runs_dir, tmp_path):
    """The run trains in a process of its own: a bug that ends the TUI does not end it."""
    from engine.stages import resolve_config
    from engine.store import list_runs, read_metrics

    class Boom(RuntimeError):
        pass

    def boom() -> None:
        raise Boom("a drawing error")

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path))
        app.devices = dict(DEVICES)
        with pytest.raises(Boom):
            async with app.run_test(size=(80, 24)) as pilot:
                app.start_run(resolve_config("circles-nn", {"epochs": "300"}))
                await wait_for(pilot, lambda: len(app.run_state.history) >= 2, 120, "2 epochs")
                app.call_later(boom)  # an unhandled error in the UI, as a bug in a widget would raise
                await pilot.pause(0.5)

    asyncio.run(main())
    end = time.monotonic() + 180
    while True:
        runs = list_runs(runs_dir)
        if runs and runs[0].status != "running" or time.monotonic() > end:
            break
        time.sleep(0.1)
    assert len(runs) == 1
    assert runs[0].status == "finished", runs[0].message
    assert len(read_metrics(runs[0].run_dir)) == 300
