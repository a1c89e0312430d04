"""The Train view's machine-use line: sampled by the UI on its timer while a run trains in the app (CPU and
memory of the process; GPU figures on CUDA), not sampled while another screen is shown or no run goes."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_until as wait_for
from tui_canned import DEVICES, circles_events

from engine.stages import resolve_config
from tui.app import NNLabApp
from tui.widgets.resources import IDLE_TEXT, ResourceLine, fold


def test_train_view_shows_the_runs_cpu_and_memory(runs_dir, tmp_path):
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path / "data"))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(100, 32)) as pilot:
            assert app.start_run(resolve_config("circles-nn", {"epochs": "3000"}))
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen" and app.screen.query(ResourceLine),
                           20, "Train screen")
            line = app.screen.query_one(ResourceLine)
            await wait_for(pilot, lambda: line.samples >= 3 and app.run_state.status == "running", 60, "samples")
            usage = line.last
            assert usage.cpu_percent is not None and usage.rss_bytes > 50 * 1024 * 1024
            assert usage.gpu_util is None  # a cpu run
            assert line.shown.startswith("cpu ") and " mem " in line.shown.replace("\n", " ")
            # another screen shown: nothing sampled
            await pilot.press("3")
            await pilot.pause(0.2)
            before = line.samples
            await pilot.pause(0.8)
            assert line.samples == before
            await pilot.press("2")
            await wait_for(pilot, lambda: line.samples > before, 10, "sampling again")
            app.stop_run()
            await wait_for(pilot, lambda: not app.run_state.active, 60, "the run to stop")
            await wait_for(pilot, lambda: line.sampler is None, 10, "the sampler closed")
            assert line.shown.startswith("last sample: cpu ")

    asyncio.run(main())


def test_canned_runs_are_not_sampled(runs_dir):
    """Snapshots feed canned events: no training worker, so the line says so instead of live figures."""
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        for event in circles_events():
            app.run_state.apply(event, 1000.0)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await pilot.pause(0.6)
            line = app.screen.query_one(ResourceLine)
            assert line.samples == 0 and line.shown == IDLE_TEXT

    asyncio.run(main())


def test_fold_breaks_between_parts():
    text = "cpu 187% of 16 cores  mem 812M (5%)  gpu 93%  vram 3.1G/80.0G"
    assert fold(text, 40) == "cpu 187% of 16 cores  mem 812M (5%)\ngpu 93%  vram 3.1G/80.0G"
    assert fold(text, 200) == text
