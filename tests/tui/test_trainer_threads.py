"""A run trained from the TUI leaves no OpenMP team behind, in any thread of the app.

With the OpenMP build of torch, each thread that runs a parallel op gets a team of OpenMP threads that
lives as long as the thread. Once a process holds more OpenMP threads than cores, libgomp stops
spin-waiting between parallel regions, and a CNN's many short ops then train at about one core's
speed: a run from the TUI was 0.75x as fast as `nnlab run` (bench/tui_speed.py). So the trainer runs in
a thread that ends with the run (its team goes with it), and the UI thread builds no model itself.

Measured in a fresh interpreter (the test process's own threads have run torch in other tests): the
native threads that are not Python threads, before a run and after it (with the model summary built
for a config whose run wrote none), must be as many.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import asyncio, json, os, sys, threading, time
import torch  # these imports start native threads of their own (scipy's OpenBLAS pool, under the digits
import sklearn.datasets  # loader): started before the count, as they are after it

from engine.stages import resolve_config
from tui.app import NNLabApp

def native_only():
    """Threads of this process that Python does not know: OpenMP's, torch's own."""
    return len(os.listdir("/proc/self/task")) - len(threading.enumerate())

async def until(pilot, predicate, timeout, what):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.05)

async def main():
    app = NNLabApp(runs_dir=sys.argv[1], data_dir=sys.argv[2])
    app.devices = {"auto": True, "cpu": True, "cuda": False, "mps": False}
    config = resolve_config("cifar-batchnorm", {"dataset": "digits", "epochs": "2"})
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause(0.3)
        before = native_only()
        assert app.start_run(config)
        await until(pilot, lambda: app.run_state.status == "finished", 240, "the run to finish")
        await until(pilot, lambda: not any(w.group == "train" and not w.is_finished for w in app.workers), 30,
                    "the training worker to end")
        app.screen._summary(dict(config, dropout=0.3))  # a config no run has written a summary for
        await pilot.pause(0.5)  # an ending thread's OpenMP team goes with it: let the threads exit
        print(json.dumps({"before": before, "after": native_only(), "threads": torch.get_num_threads()}))

asyncio.run(main())
'''


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
def test_a_tui_run_leaves_no_openmp_team_behind(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NNLAB_DATA_DIR=str(tmp_path / "data"))
    env.pop("OMP_NUM_THREADS", None)  # torch's default: one OpenMP thread per core
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "runs"), str(tmp_path / "data")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=280)
    assert out.returncode == 0, out.stderr[-2000:]
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    if counts["threads"] < 2:
        pytest.skip("torch uses one thread here (one core): no OpenMP team is ever started")
    assert counts["after"] == counts["before"], counts
