"""The Lab lists each GPU of the box (canned here: CI has none) and lets the user pick one, cuda:N."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_for

from engine.gpus import GpuInfo
from tui.app import NNLabApp

GIB = 2**30
GPUS = [GpuInfo(0, "NVIDIA H100", 70 * GIB, 80 * GIB, 97.0, 3), GpuInfo(1, "NVIDIA H100", 2 * GIB, 80 * GIB, 0.0, 0)]


def test_the_lab_lists_the_gpus_and_starts_on_the_one_picked(runs_dir, tmp_path):
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(tmp_path))
        app.devices = {"auto": True, "cpu": True, "cuda": True, "mps": False}
        async with app.run_test(size=(100, 40)) as pilot:
            lab = app.screen
            await wait_for(pilot, lambda: lab.form_ready, what="Lab form")
            app._devices_probed(dict(app.devices), GPUS)
            stages = lab.query_one("#stages")
            stages.highlighted = stages.get_option_index("cifar-base")  # a stage with a device
            await wait_for(pilot, lambda: lab.stage.id.startswith("cifar"), 20, "a CNN stage")
            await wait_for(pilot, lambda: lab.query("#dev-cuda-1"), 20, "a button per GPU")
            note = str(lab.query_one("#device-note").render())
            assert "cuda:0  NVIDIA H100  70.0/80.0 GiB  97%  3 procs" in note
            assert "cuda:1  NVIDIA H100  2.0/80.0 GiB  0%  0 procs" in note
            assert "least busy GPU now, cuda:1" in note
            lab.query_one("#dev-cuda-1").value = True
            await pilot.pause()
            assert lab.overrides()["device"] == "cuda:1"
            assert lab.validate()["device"] == "cuda:1"
            busier = [GPUS[0], GpuInfo(1, "NVIDIA H100", 60 * GIB, 80 * GIB, 99.0, 5)]
            app._gpus_refreshed(busier)  # NVML read again a few seconds later
            await pilot.pause()
            assert "least busy GPU now, cuda:0" in str(lab.query_one("#device-note").render())

    asyncio.run(main())
