"""Snapshot tests of every screen, fed with canned runs and events (no live training).

Dates, ids and values are fixed; the app's clock is frozen, so elapsed times read 0:00.
Update with: pytest tests/tui --snapshot-update
"""
from __future__ import annotations

import pytest
from pilot_waits import wait_for
from screen_colours import TERMINAL_COLOURS, colour_kinds
from tui_canned import DEVICES, circles_events, digits_cnn_events, populate, populate_cifar_and_sweep

from tui.app import NNLabApp

SMALL = (80, 24)
LARGE = (120, 36)


def make_app(runs_dir, events=()) -> NNLabApp:
    app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
    app.devices = dict(DEVICES)
    for event in events:
        app.run_state.apply(event, 1000.0)
    return app




async def lab_ready(pilot) -> None:
    """The Lab builds its value fields just after the first paint: wait for them."""
    await wait_for(pilot, lambda: getattr(pilot.app.screen, "form_ready", False))


def test_lab_small(snap_compare, runs_dir):
    assert snap_compare(make_app(runs_dir), terminal_size=SMALL, run_before=lab_ready)


def test_lab_cnn_invalid_value(snap_compare, runs_dir):
    async def run_before(pilot):
        lab = pilot.app.screen
        stages = lab.query_one("#stages")
        stages.highlighted = stages.get_option_index("cifar-augment")
        await wait_for(pilot, lambda: lab.stage.id == "cifar-augment" and lab.form_ready)
        lab.query_one("#key-lr").value = "fast"
        await pilot.pause()

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


def test_train_circles_small(snap_compare, runs_dir):
    async def run_before(pilot):
        await pilot.press("2")
        await wait_for(pilot, lambda: pilot.app.screen.drawn_epochs == 12)

    assert snap_compare(make_app(runs_dir, circles_events()), terminal_size=SMALL, run_before=run_before)


def test_train_diverged(snap_compare, runs_dir):
    async def run_before(pilot):
        await pilot.press("2")
        await wait_for(pilot, lambda: pilot.app.screen.drawn_epochs == 3)

    app = make_app(runs_dir, circles_events(epochs=3, total=150, status="diverged"))
    assert snap_compare(app, terminal_size=LARGE, run_before=run_before)


@pytest.mark.parametrize("view_presses", [0, 1, 2])
def test_train_cnn_panels(snap_compare, runs_dir, view_presses):
    async def run_before(pilot):
        await pilot.press("2")
        await wait_for(pilot, lambda: pilot.app.screen.drawn_epochs == 3)
        for _ in range(view_presses):
            await pilot.press("v")
        await pilot.pause()

    assert snap_compare(make_app(runs_dir, digits_cnn_events()), terminal_size=LARGE, run_before=run_before)


def test_history(snap_compare, runs_dir):
    ids = populate(runs_dir)

    async def run_before(pilot):
        await pilot.press("3")
        await wait_for(pilot, lambda: len(getattr(pilot.app.screen, "shown", [])) == 7)
        # off the damaged run (the newest, first) onto a 20-epoch run whose test accuracy peaks before its end
        for _ in range(7):
            if pilot.app.screen.current_id() == ids[1]:
                break
            await pilot.press("down")
        await wait_for(pilot, lambda: pilot.app.screen.current_id() == ids[1])

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


def test_history_small_filtered(snap_compare, runs_dir):
    populate(runs_dir)

    async def run_before(pilot):
        await pilot.press("3")
        await wait_for(pilot, lambda: len(getattr(pilot.app.screen, "shown", [])) == 7)
        await pilot.press("slash", *"tag:base", "enter")
        await wait_for(pilot, lambda: len(pilot.app.screen.shown) == 2)

    assert snap_compare(make_app(runs_dir), terminal_size=SMALL, run_before=run_before)


async def open_compare(pilot, ids) -> None:
    pilot.app.compare(ids)
    await wait_for(pilot, lambda: len(getattr(pilot.app.screen, "records", [])) == len(ids))


def test_compare_two_runs(snap_compare, runs_dir):
    ids = populate(runs_dir)

    async def run_before(pilot):
        await open_compare(pilot, ids[:2])

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


def test_compare_log_walltime_small(snap_compare, runs_dir):
    ids = populate(runs_dir)

    async def run_before(pilot):
        await open_compare(pilot, ids[:2])
        await pilot.press("m", "m", "l", "x", "s")

    assert snap_compare(make_app(runs_dir), terminal_size=SMALL, run_before=run_before)


def test_compare_ablation(snap_compare, runs_dir):
    populate_cifar_and_sweep(runs_dir)

    async def run_before(pilot):
        pilot.app.compare([])
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "CompareScreen")
        await pilot.press("v")

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


def test_compare_sweep(snap_compare, runs_dir):
    populate_cifar_and_sweep(runs_dir)

    async def run_before(pilot):
        pilot.app.compare([])
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "CompareScreen")
        await pilot.press("v", "v")

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


def test_help(snap_compare, runs_dir):
    async def run_before(pilot):
        await lab_ready(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(runs_dir), terminal_size=LARGE, run_before=run_before)


# ---- themes: ctrl+t cycles them all (a bounded number of presses); the ANSI ones keep the terminal's colours

def test_theme_cycle_and_ansi_themes_use_the_terminal_palette(runs_dir):
    import asyncio

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=SMALL) as pilot:
            await lab_ready(pilot)
            cycle = [t for t in app.THEMES_CYCLE if t in app.available_themes]
            assert {"ansi-dark", "ansi-light"} <= set(cycle)
            start = cycle.index(app.theme)
            seen = []
            for _ in range(len(cycle)):  # each press moves one step; len(cycle) presses come back to the start
                await pilot.press("ctrl+t")
                seen.append(app.theme)
            assert seen == [cycle[(start + k) % len(cycle)] for k in range(1, len(cycle) + 1)]

            assert "TRUECOLOR" in colour_kinds(app)  # textual-dark draws RGB: the check below can see it
            for theme in ("ansi-dark", "ansi-light"):
                while app.theme != theme and len(seen) < 3 * len(cycle):  # bounded: at most two more rounds
                    await pilot.press("ctrl+t")
                    seen.append(app.theme)
                await pilot.pause()
                assert app.theme == theme, seen
                kinds = colour_kinds(app)
                assert kinds and kinds <= TERMINAL_COLOURS, (theme, "Lab", kinds)
                await pilot.press("question_mark")
                await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")
                kinds = colour_kinds(app)
                assert kinds and kinds <= TERMINAL_COLOURS, (theme, "Help", kinds)
                await pilot.press("escape")
                await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "LabScreen")
            await pilot.press("2")  # another screen keeps the theme
            await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "TrainScreen")
            assert app.theme == "ansi-light"

    asyncio.run(main())
