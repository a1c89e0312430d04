"""The queue from the TUI: ctrl+e queues the Lab's run behind the one training; History lists it as queued, in
order, and `d` cancels it. Real runs, in processes of their own."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_for
from tui_canned import DEVICES

from engine.stages import resolve_config
from engine.store import read_record
from tui.app import NNLabApp


def test_ctrl_e_queues_behind_the_run_going_and_history_shows_and_cancels_it(runs_dir, tmp_path):
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(100, 32)) as pilot:
            lab = app.screen
            await wait_for(pilot, lambda: lab.form_ready, what="Lab form")
            app.start_run(resolve_config("circles-nn", {"epochs": "100000", "device": "cpu"}))
            first = app.run_state.run_id
            await wait_for(pilot, lambda: app.run_state.status == "running", 120, "the first run training")
            await pilot.press("1")
            await wait_for(pilot, lambda: app.screen is lab, 20, "the Lab")
            await wait_for(pilot, lambda: lab.stage.id == "circles-manual", 20, "the Lab's stage")
            lab.query_one("#dev-cpu").value = True
            await pilot.press("ctrl+e")  # queued behind the run going: the Train screen keeps following that one
            await wait_for(pilot, lambda: len(app.started_here) == 2, 20, "a second run queued")
            queued = app.started_here[1]
            assert app.run_state.run_id == first
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: any(r.id == queued for r in getattr(history, "shown", [])), 30,
                           "the queued run in History")
            row = next(r for r in history.shown if r.id == queued)
            assert row.status == "queued" and row.name == "#1 on cpu"
            while history.current_id() != queued:
                await pilot.press("down")
            await pilot.press("d")  # cancel: out of the queue, nothing else
            await wait_for(pilot, lambda: all(r.id != queued for r in history.shown), 30, "cancelled")
            assert not (runs_dir / queued).exists()
            assert read_record(runs_dir / first).status == "running"
            await pilot.press("2", "s")
            await wait_for(pilot, lambda: app.run_state.status == "interrupted", 60, "the first run stopped")

    asyncio.run(main())
