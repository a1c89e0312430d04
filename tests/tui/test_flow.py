"""End to end with a REAL short circles run: pick the stage, change lr, start, see epochs
arrive in the plot data, stop, find the run in History, run again, compare the two."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_until as wait_for
from tui_canned import DEVICES

from tui.app import NNLabApp


async def set_value(pilot, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    await pilot.press("end")
    for _ in range(len(widget.value)):
        await pilot.press("backspace")
    await pilot.press(*text)
    await pilot.pause()


def test_circles_run_end_to_end(runs_dir, tmp_path):
    asyncio.run(_circles_run_end_to_end(runs_dir, tmp_path))


async def _circles_run_end_to_end(runs_dir, tmp_path):
    app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path / "data"))
    app.devices = dict(DEVICES)
    async with app.run_test(size=(100, 32)) as pilot:
        lab = app.screen
        assert type(lab).__name__ == "LabScreen"
        # pick circles-nn in the stage list with the keyboard
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: lab.stage.id == "circles-nn", 20, "circles-nn")
        await pilot.press("enter")
        await pilot.pause()
        # a bad value is marked and explained before anything starts
        await set_value(pilot, "#key-lr", "-1")
        assert "lr" in lab.errors and "allowed" in lab.errors["lr"]
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert type(app.screen).__name__ == "LabScreen" and not app.run_state.active
        # change lr and epochs (many epochs: we stop it ourselves)
        await set_value(pilot, "#key-lr", "0.1")
        await set_value(pilot, "#key-epochs", "20000")
        assert not lab.errors
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen", 20, "Train screen")
        train = app.screen
        # epochs arrive in the plot data
        await wait_for(pilot, lambda: train.query_one("#loss-plot").point_count() >= 6, 60, "3 epochs plotted")
        assert app.run_state.config["lr"] == 0.1
        assert app.run_state.artifacts.get("boundary") is not None
        # stop: the run is kept as interrupted
        await pilot.press("s")
        await wait_for(pilot, lambda: app.run_state.status == "interrupted", 30, "interrupted")
        first_id = app.run_state.run_id
        assert 3 <= len(app.run_state.history) < 20000
        # History lists it as interrupted
        await pilot.press("3")
        history = app.screen
        await wait_for(pilot, lambda: any(r.id == first_id for r in getattr(history, "shown", [])), 10,
                       "run in History")
        row = next(r for r in history.shown if r.id == first_id)
        assert row.status == "interrupted" and row.stage == "circles-nn"
        # run it again from Edit in Lab with fewer epochs, to the end
        await pilot.press("e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "LabScreen", 20, "Lab")
        await wait_for(pilot, lambda: app.screen.query_one("#key-epochs").value == "20000", 20, "config loaded")
        await set_value(pilot, "#key-epochs", "5")
        await set_value(pilot, "#key-lr", "0.03")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.run_state.status == "finished", 60, "second run finished")
        second_id = app.run_state.run_id
        assert len(app.run_state.history) == 5
        # compare the two from History
        await pilot.press("3")
        await wait_for(pilot, lambda: len(history.shown) == 2, 10, "2 runs")
        await pilot.press("home")  # the cursor stayed on the first run; the new one is above it
        for _ in range(2):
            await pilot.press("space", "down")
        assert len(history.marked) == 2
        await pilot.press("c")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen", 20, "Compare")
        compare = app.screen
        await wait_for(pilot, lambda: len(compare.records) == 2, 20, "2 records")
        assert {r.record.id for r in compare.records} == {first_id, second_id}
        table = compare.query_one("#compare-table")
        labels = [str(c.label) for c in table.columns.values()]
        assert "lr" in labels and "epochs" in labels and "seed" not in labels
        await pilot.press("x", "l", "s", "m")
        await pilot.pause()
        assert compare.settings.wall and compare.settings.ylog


def test_delete_and_undo_rename_tag(runs_dir, tmp_path):
    asyncio.run(_delete_and_undo_rename_tag(runs_dir, tmp_path))


async def _delete_and_undo_rename_tag(runs_dir, tmp_path):
    from tui_canned import populate

    populate(runs_dir)
    app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path))
    app.devices = dict(DEVICES)
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.press("3")
        history = app.screen
        await wait_for(pilot, lambda: len(getattr(history, "shown", [])) == 7, 10, "7 runs")
        await pilot.press("down")  # the newest healthy run (the damaged one is first)
        rid = history.current_id()
        await pilot.press("t")
        await pilot.press(*"best,lab", "enter")
        await wait_for(pilot, lambda: history.current() and history.current().tags == ("best", "lab"), 5,
                       "tags saved")
        await pilot.press("r")
        await pilot.press("end", *(["backspace"] * 60), *"renamed", "enter")
        await wait_for(pilot, lambda: history.current() and history.current().name == "renamed", 5,
                       "renamed")
        await pilot.press("d")
        await wait_for(pilot, lambda: rid not in [r.id for r in history.shown], 20, "deleted")
        assert (runs_dir / ".trash" / rid).is_dir()
        await pilot.press("u")
        await wait_for(pilot, lambda: rid in [r.id for r in history.shown], 20, "restored")
        # filters: status cycles through the statuses present
        await pilot.press("F")
        await pilot.pause()
        assert history.filters["status"] is not None
        assert all(r.status == history.filters["status"] for r in history.shown)
