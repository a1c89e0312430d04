"""Starting a run from the TUI keeps what exists out of the cyclic GC's full collections (gc.freeze) until
the run ends: the screen switch's allocations set off a full collection that walked the whole heap for a
quarter of a second before the run could start. Whatever way the run ends, everything is handed back."""
from __future__ import annotations

import asyncio
import gc

from pilot_waits import wait_until
from tui_canned import DEVICES

from engine.stages import resolve_config
from tui.app import NNLabApp


def test_frozen_from_the_start_and_handed_back_after_a_run_and_after_bad_input(tmp_path):
    asyncio.run(_runs(tmp_path))


async def _runs(tmp_path):
    gc.unfreeze()  # a run of an earlier test in this process may still be stopping (it hands back when it ends)
    app = NNLabApp(runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    app.devices = dict(DEVICES)
    async with app.run_test(size=(100, 32)) as pilot:
        assert gc.get_freeze_count() == 0
        assert app.start_run(resolve_config("circles-nn", {"epochs": "3"}))
        assert gc.get_freeze_count() > 0  # before the switch to the Train screen
        await wait_until(pilot, lambda: app.run_state.status == "finished", 120, "the run to finish")
        await wait_until(pilot, lambda: not any(w.group == "train" and not w.is_finished for w in app.workers), 30,
                         "the worker to end")
        assert gc.get_freeze_count() == 0
        # a run that fails while loading its data (before train() freezes anything itself)
        missing = tmp_path / "absent.mat"
        assert app.start_run(resolve_config("circles-nn", {"epochs": "3", "dataset": str(missing)}))
        await wait_until(pilot, lambda: app.run_state.status == "failed", 120, "the run to fail")
        await wait_until(pilot, lambda: not any(w.group == "train" and not w.is_finished for w in app.workers), 30,
                         "the worker to end")
        assert gc.get_freeze_count() == 0


def test_an_app_that_ends_before_its_trainer_began_hands_everything_back(tmp_path):
    async def main():
        gc.unfreeze()
        app = NNLabApp(runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(100, 32)):
            app._train_worker = lambda *args: None  # the trainer never begins (the app ends first)
            assert app.start_run(resolve_config("circles-nn", {"epochs": "3"}))
            assert gc.get_freeze_count() > 0
        assert gc.get_freeze_count() == 0

    asyncio.run(main())
