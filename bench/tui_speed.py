"""Training speed in the TUI against headless, measured in one run: the same stage and config run
by `nnlab run` (the headless baseline, a child process, as a user runs it), then started from the
real Textual app in this process (NNLabApp driven by Pilot, Train screen shown, live plots and
panels drawn as a user sees them), alternating, `--repeats` times each, after one warm-up of each.
Both are timed by the engine's own clock (the last epoch's wall_time in metrics.csv, which counts
training and evaluation, not imports or data loading) and by the wall clock around the call.

The baseline is not run in this process: its torch ops would leave this process's main thread an
OpenMP team of its own, which (more OpenMP threads than cores) makes libgomp stop spin-waiting and
slows every other thread's small parallel ops, the TUI's trainer included (see tui/run_worker.py).
The app's own UI thread runs no torch op.

The last line is one JSON object; `tui_over_headless` is headless seconds over TUI seconds (1.0: the
TUI costs nothing; target >= 0.97). `ui_cpu_share` is the UI thread's CPU time over the TUI run's wall
time: what the UI can take from the trainer (the GIL, a core), which on a loaded machine says more
than the ratio of two noisy wall times.

    python bench/tui_speed.py [--stage cifar-batchnorm] [--epochs 4] [--set dataset=digits ...]
                              [--repeats 3] [--size 100x32]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from engine.config import parse_assignments  # noqa: E402
from engine.stages import resolve_config  # noqa: E402
from engine.store import read_metrics  # noqa: E402
from tui.app import NNLabApp  # noqa: E402


def engine_seconds(run_dir: str | Path) -> float:
    """The engine's own clock: wall_time of the last epoch row (seconds since the run's first epoch began)."""
    rows = read_metrics(Path(run_dir))
    return float(rows[-1]["wall_time"])


def headless(stage: str, assignments: list[str], runs: str, data_dir: str) -> tuple[float, float]:
    """`nnlab run STAGE KEY=VALUE... --json` in a child process: (engine seconds, wall seconds)."""
    command = [sys.executable, "-m", "engine", "run", stage, *assignments,
               "--runs-dir", runs, "--data-dir", data_dir, "--json"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"nnlab run failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == "finished", result
    return engine_seconds(result["run_dir"]), wall


async def in_tui(config: dict, runs: str, data_dir: str, size: tuple[int, int],
                 timeout: float) -> tuple[float, float, float]:
    """(engine seconds, wall seconds, CPU seconds of the UI thread while the run went)."""
    app = NNLabApp(runs_dir=runs, data_dir=data_dir)
    app.devices = {"auto": True, "cpu": True, "cuda": False, "mps": False}  # no device probe child process
    async with app.run_test(size=size) as pilot:
        await pilot.pause(1.0)  # a user looks at the Lab screen before starting (the app builds Train meanwhile)
        start, ui_start = time.perf_counter(), time.thread_time()
        assert app.start_run(config)
        end = start + timeout
        while app.run_state.status in ("preparing", "running", "stopping"):
            if time.perf_counter() > end:
                app.stop_run()
                raise SystemExit(f"the TUI run did not end within {timeout:.0f} s")
            await asyncio.sleep(0.05)
        wall, ui_cpu = time.perf_counter() - start, time.thread_time() - ui_start
        assert app.run_state.status == "finished", (app.run_state.status, app.run_state.message)
        run_dir = app.run_state.run_dir
        await pilot.pause(0.1)
    return engine_seconds(run_dir), wall, ui_cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default="cifar-batchnorm")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--set", nargs="*", default=["dataset=digits"], metavar="KEY=VALUE")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--size", default="100x32", help="terminal size of the app, COLSxROWS")
    p.add_argument("--data-dir", default=os.environ.get("NNLAB_DATA_DIR", "datasets"))
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args()
    assignments = [a for a in args.set if not a.startswith("epochs=")] + [f"epochs={args.epochs}"]
    config = resolve_config(args.stage, parse_assignments(assignments))
    size = tuple(int(v) for v in args.size.lower().split("x"))
    times: dict[str, list[tuple[float, float]]] = {"headless": [], "tui": []}
    ui_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as runs:
        headless(args.stage, assignments[:-1] + ["epochs=1"], runs, args.data_dir)  # warm-up: data cache
        asyncio.run(in_tui(dict(config, epochs=1), runs, args.data_dir, size, args.timeout))  # type: ignore[arg-type]
        for _ in range(args.repeats):
            times["headless"].append(headless(args.stage, assignments, runs, args.data_dir))
            engine_s, wall, ui = asyncio.run(in_tui(config, runs, args.data_dir, size, args.timeout))  # type: ignore[arg-type]
            times["tui"].append((engine_s, wall))
            ui_cpu.append(ui)
    med = {k: (statistics.median(e for e, _ in v), statistics.median(w for _, w in v)) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:8s} engine s: {' '.join(f'{e:.2f}' for e, _ in v)}   wall s: {' '.join(f'{w:.2f}' for _, w in v)}")
    print("(wall s: headless counts a new interpreter importing torch; the TUI's imports were paid by its warm-up)")
    print(f"UI thread CPU during the TUI runs, s: {' '.join(f'{u:.2f}' for u in ui_cpu)} (the time the UI could take "
          "from the trainer: a load-independent measure of what the TUI costs)")
    print(json.dumps({"stage": args.stage, "epochs": args.epochs, "set": args.set, "repeats": args.repeats,
                      "headless_s": round(med["headless"][0], 3), "tui_s": round(med["tui"][0], 3),
                      "tui_over_headless": round(med["headless"][0] / med["tui"][0], 3),
                      "ui_cpu_s": round(statistics.median(ui_cpu), 3),
                      "ui_cpu_share": round(statistics.median(ui_cpu) / med["tui"][1], 3)}))


if __name__ == "__main__":
    main()
