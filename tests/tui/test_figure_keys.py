"""The figure key (p) on Train, History and Compare and the reproduce-command key (y) on Train and History:
the real app with Pilot over runs the real engine trained, real matplotlib files."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from pilot_waits import wait_for
from tui_canned import DEVICES

from engine.command_line import reproduce_command
from engine.figures.curves import save_runs_figure
from engine.stages import resolve_config
from engine.store import read_config
from engine.train import train
from tui.app import NNLabApp
from tui.figure_actions import CommandScreen

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Three real circles-optim runs of 5 epochs; the last two are a sweep of lr (tag sweep-t1)."""
    root = tmp_path_factory.mktemp("figkeys")
    runs = root / "runs"
    (root / "data").mkdir()
    ids = []
    for lr, tags in ((0.05, None), (0.1, ["sweep-t1"]), (0.3, ["sweep-t1"])):
        result = train(resolve_config("circles-optim", {"epochs": "5", "lr": str(lr)}), runs_dir=str(runs),
                       data_dir=str(root / "data"), tags=tags)
        assert result.status == "finished", result.message
        ids.append(result.run_id)
    return runs, ids


def make_app(runs) -> NNLabApp:
    app = NNLabApp(runs_dir=str(runs), data_dir=str(runs.parent / "data"))
    app.devices = dict(DEVICES)
    return app




def notices(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


async def press_and_wait_for_figure(app, pilot, key: str = "p"):
    """Press the figure key; wait for its notification; the saved PNG and SVG paths it names."""
    before = len(getattr(app, "saved_figures", []))
    await pilot.press(key)
    await wait_for(pilot, lambda: len(getattr(app, "saved_figures", [])) > before or "could not save" in notices(app),
                   what="the figure to be saved")
    saved = app.saved_figures[-1]
    assert saved.drawn_in != threading.main_thread().name  # drawn in a worker: the UI thread stays free
    text = notices(app)
    assert str(saved.png) in text and str(saved.svg) in text, text
    return saved.png, saved.svg


def check_files(png: Path, svg: Path, runs: Path, on_screen: str) -> None:
    assert png.parent == svg.parent == runs / ".figures"
    assert png.suffix == ".png" and svg.suffix == ".svg" and png.stem == svg.stem
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    image = imread(str(png))
    assert (image[..., :3] < 0.9).any() and (image[..., :3] > 0.97).any()  # something drawn on a white page
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
    assert on_screen in text.replace("&#160;", " ")  # it is the screen: a text the screen shows


def same_image(png: Path, run_dirs, tmp_path: Path, **options) -> bool:
    """The PNG is the figure save_runs_figure draws of these runs with these options (pixel for pixel)."""
    reference = save_runs_figure(run_dirs, tmp_path / f"ref-{time.monotonic_ns()}.png", **options)
    a, b = imread(str(png)), imread(str(reference))
    return a.shape == b.shape and bool(np.array_equal(a, b))


# --------------------------------------------------------------------------------------------- the figure key
def test_train_figure_key_saves_the_current_runs_curves_and_a_screenshot(store, tmp_path):
    runs, ids = store

    async def main():
        app = make_app(runs)
        async with app.run_test(size=(110, 32)) as pilot:
            assert app.open_run(str(runs / ids[0]))
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen", what="Train")
            await pilot.pause(0.3)
            png, svg = await press_and_wait_for_figure(app, pilot)
            check_files(png, svg, runs, "FINISHED")
            assert ids[0] in png.name
            assert same_image(png, [runs / ids[0]], tmp_path, metric=None)  # loss and accuracy, as Train shows

    asyncio.run(main())


def test_history_figure_key_draws_the_marked_runs_else_the_selected_one(store, tmp_path):
    runs, ids = store

    async def main():
        app = make_app(runs)
        async with app.run_test(size=(110, 32)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.complete and len(history.shown) == 3, what="History")
            selected = history.current_id()
            png, svg = await press_and_wait_for_figure(app, pilot)
            check_files(png, svg, runs, "History")
            assert same_image(png, [runs / selected], tmp_path, metric="acc")
            # two marked runs: both, in the order they were marked
            await pilot.press("space", "down", "space")
            await pilot.pause()
            marked = list(history.marked)
            assert len(marked) == 2
            png2, svg2 = await press_and_wait_for_figure(app, pilot)
            check_files(png2, svg2, runs, "marked 2")
            assert png2 != png and svg2 != svg and png.exists()
            assert same_image(png2, [runs / i for i in marked], tmp_path, metric="acc")
            assert not same_image(png2, [runs / selected], tmp_path, metric="acc")

    asyncio.run(main())


def test_compare_figure_key_follows_the_views_settings(store, tmp_path):
    runs, ids = store
    dirs = [runs / ids[0], runs / ids[2]]

    async def main():
        app = make_app(runs)
        async with app.run_test(size=(110, 32)) as pilot:
            app.compare([ids[0], ids[2]])
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen"
                           and len(app.screen.records) == 2, what="Compare")
            compare = app.screen
            png, svg = await press_and_wait_for_figure(app, pilot)
            check_files(png, svg, runs, "m test_acc")
            assert same_image(png, dirs, tmp_path, metric="test_acc", smooth=0.6)
            # another metric, no smoothing, a log y axis: the figure follows
            await pilot.press("m", "s", "s", "s", "s", "l")
            await pilot.pause()
            s = compare.settings
            assert (s.metric, s.smoothing, s.ylog, s.wall) == ("train_acc", 0.0, True, False)
            png2, svg2 = await press_and_wait_for_figure(app, pilot)
            check_files(png2, svg2, runs, "m train_acc")
            assert "train_acc" in png2.name
            assert same_image(png2, dirs, tmp_path, metric="train_acc", smooth=0.0, log_y=True)
            assert not same_image(png2, dirs, tmp_path, metric="test_acc", smooth=0.0, log_y=True)
            # the sweep view: the sweep's runs, in the order of the swept lr
            await pilot.press("v", "v", "x")
            await pilot.pause()
            assert compare.view == "sweep" and compare.settings.wall
            png3, svg3 = await press_and_wait_for_figure(app, pilot)
            check_files(png3, svg3, runs, "sweep of lr")
            assert same_image(png3, [runs / ids[1], runs / ids[2]], tmp_path, metric="train_acc", x="wall",
                              log_y=True)

    asyncio.run(main())


# --------------------------------------------------------------------------------- the reproduce-command key
async def check_reproduce_dialog(app, pilot, run_dir: Path) -> None:
    expected = reproduce_command(read_config(run_dir))
    assert app.clipboard != expected
    app.notify("saved a figure: fig.png and fig.svg", timeout=5)  # as `p` just before: it must not cover the dialog
    await pilot.press("y")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandScreen), 10, "the command dialog")
    assert not app._notifications  # the notice is gone, not drawn over the command
    shown = app.screen.query_one("#reproduce-command").text
    assert shown == expected
    assert app.clipboard == expected
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, CommandScreen), 10, "the dialog to close")


def test_reproduce_key_shows_and_copies_the_command_on_history_and_train(store):
    runs, ids = store

    async def main():
        app = make_app(runs)
        async with app.run_test(size=(110, 32)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.complete and len(history.shown) == 3, what="History")
            await pilot.press("down")
            await pilot.pause()
            selected = history.current_id()
            await check_reproduce_dialog(app, pilot, runs / selected)
            assert "lr=" in app.clipboard
            other = next(i for i in ids if i != selected)
            app.copy_to_clipboard("")
            assert app.open_run(str(runs / other))
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen", what="Train")
            await check_reproduce_dialog(app, pilot, runs / other)

    asyncio.run(main())


def test_the_tui_starts_without_matplotlib():
    """matplotlib loads only when a figure is drawn (in the worker), not with the app or its screens."""
    code = """
import json, sys
import tui.app, tui.launch, tui.figure_actions
import tui.screens.train, tui.screens.history, tui.screens.compare
print(json.dumps({"matplotlib": sorted(m for m in sys.modules if m.split(".")[0] == "matplotlib")}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"matplotlib": []}


def test_a_figure_that_cannot_be_written_is_said_and_leaves_no_file(store, tmp_path):
    """The figure folder cannot be made (a file has its name): an error notification, no PNG or SVG anywhere."""
    import shutil

    runs, ids = store
    mine = tmp_path / "runs"
    mine.mkdir()
    shutil.copytree(runs / ids[0], mine / ids[0])
    (mine / ".figures").write_text("not a folder")

    async def main():
        app = make_app(mine)
        async with app.run_test(size=(110, 32)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.complete and len(history.shown) == 1, what="History")
            await pilot.press("p")
            await wait_for(pilot, lambda: "could not save the figure" in notices(app), what="the error")
            errors = [n for n in app._notifications if "could not save" in str(n.message)]
            assert errors and errors[0].severity == "error"
            assert not getattr(app, "saved_figures", [])

    asyncio.run(main())
    assert sorted(p.suffix for p in tmp_path.rglob("*") if p.suffix in (".png", ".svg", ".tmp")) == []
