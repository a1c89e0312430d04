"""Epochs and batches reach the Train screen without waking the UI: the trainer leaves every EpochEnd and
its latest BatchEnd in the app's Mailbox, and the app collects them when the screen draws (and before it
takes the run's end). Only a run's start and end are messages: each message wakes the UI thread, which
then takes a core from the trainer, and circles epochs come hundreds a second."""
from __future__ import annotations

import asyncio
import threading

from pilot_waits import wait_until
from textual.widgets import Static
from tui_canned import DEVICES, circles_events

from engine.events import BatchEnd, EpochEnd, RunFinished, RunStarted
from engine.stages import resolve_config
from tui.app import NNLabApp
from tui.run_worker import RunEvent


def test_a_real_run_posts_its_start_and_end_and_no_epoch_or_batch_message(tmp_path):
    asyncio.run(_real_run(tmp_path))


async def _real_run(tmp_path):
    app = NNLabApp(runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    app.devices = dict(DEVICES)
    ui_thread = threading.get_ident()
    from_trainer: list[object] = []
    post = app.post_message

    def recording_post(message):
        if threading.get_ident() != ui_thread:
            from_trainer.append(message)
        return post(message)

    app.post_message = recording_post  # type: ignore[method-assign]
    config = resolve_config("cifar-batchnorm", {"dataset": "digits", "epochs": "2"})
    async with app.run_test(size=(100, 32)) as pilot:
        assert app.start_run(config)
        await wait_until(pilot, lambda: app.run_state.status == "finished", 240, "the run to finish")
        batches = app.run_state.batches
        assert batches >= 10  # many batches an epoch: a message per batch would show
        kinds = [type(m.event).__name__ if isinstance(m, RunEvent) else type(m).__name__ for m in from_trainer]
        assert kinds == ["RunStarted", "RunFinished"]
        assert app.mailbox.batch == BatchEnd(2, batches, batches)  # every batch went to the mailbox
        assert [row["epoch"] for row in app.run_state.history] == [1, 2]  # every epoch was collected, in order
        assert not app.mailbox.epochs


def test_the_screen_takes_epochs_in_order_and_the_latest_batch_and_never_goes_back(tmp_path):
    asyncio.run(_progress(tmp_path))


async def _progress(tmp_path):
    app = NNLabApp(runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    app.devices = dict(DEVICES)
    started, first_epoch, second_epoch = circles_events(epochs=2, total=5)[:3]
    assert isinstance(started, RunStarted) and isinstance(first_epoch, EpochEnd)
    batches = started.batches_per_epoch
    async with app.run_test(size=(100, 32)) as pilot:
        app.run_state.prepare(dict(started.config), app.clock())
        app.action_goto("train")
        await pilot.pause()
        train = app.screen
        progress = train.query_one("#progress", Static)

        def shown() -> str:
            train.tick()
            return str(getattr(progress, "shown_text", ""))

        app.mailbox.put(BatchEnd(1, 2, batches))
        assert "batch 2/" not in shown()  # before RunStarted reached the UI: not a batch of this run yet
        app.run_state.apply(started, app.clock())
        assert f"batch 2/{batches}" in shown()
        app.mailbox.put(BatchEnd(1, 3, batches))
        assert f"batch 3/{batches}" in shown()
        app.mailbox.put(BatchEnd(1, batches - 1, batches))
        app.mailbox.put(first_epoch)  # the epoch ended after that batch: its end wins
        shown()
        assert (app.run_state.epoch, app.run_state.batch) == (1, batches) and len(app.run_state.history) == 1
        app.mailbox.put(BatchEnd(2, 1, batches))
        assert f"batch 1/{batches}" in shown() and app.run_state.epoch == 2
        app.mailbox.put(BatchEnd(2, batches, batches))
        app.mailbox.put(second_epoch)
        app.post_message(RunEvent(RunFinished(started.run_id, started.run_dir, "circles-nn", "finished", 2, {},
                                              {})))
        await pilot.pause()
        # the run's end came before the screen drew again: the epoch left in the mailbox was taken first
        assert app.run_state.status == "finished" and [r["epoch"] for r in app.run_state.history] == [1, 2]
        app.mailbox.put(BatchEnd(3, 1, batches))
        shown()
        assert app.run_state.epoch == 2  # a finished run takes no more batches
