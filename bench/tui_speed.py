"""Training speed of a run started from the TUI against `nnlab run`, measured in one process: the same stage
and config run by `nnlab run` (the headless baseline, a child process, as a user runs it), then started from the
real Textual app in this process (NNLabApp driven by Pilot, the Train screen following the run live, plots and
panels drawn as a user sees them), alternating, `--repeats` times each, after one warm-up of each. A run started
from the TUI trains in a process of its own (`nnlab run`, detached), so the ratio is what the UI following it
takes from the machine: the UI process's CPU time over the run is reported beside it.

Both runs are timed by the engine's own clock (the last epoch's wall_time in metrics.csv: training and
evaluation, not imports nor data loading). Also measured: the time from the start (ctrl+r: app.start_run) to the
first epoch on the Train screen, against `nnlab run`'s time from its start to its first epoch in metrics.csv;
and the time `nnlab run --detach` takes to give the shell back.

The last line is one JSON object; `tui_over_headless` is headless seconds over TUI seconds (1.0: the TUI costs
nothing; target >= 0.95). `ui_cpu_share` is the UI process's CPU time over the TUI run's wall time.

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


def first_row_time(run_dir: Path) -> bool:
    try:
        return (run_dir / "metrics.csv").read_text().count("\n") >= 2
    except OSError:
        return False


def headless(stage: str, assignments: list[str], runs: str, data_dir: str) -> tuple[float, float, float]:
    """`nnlab run STAGE KEY=VALUE... --json` in a child process: (engine s, wall s, start to first epoch s)."""
    command = [sys.executable, "-m", "engine", "run", stage, *assignments,
               "--runs-dir", runs, "--data-dir", data_dir, "--json"]
    before = set(os.listdir(runs))
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = None
    while child.poll() is None and first is None:
        new = [d for d in set(os.listdir(runs)) - before if not d.startswith(".")]
        if new and first_row_time(Path(runs) / new[0]):
            first = time.perf_counter() - start
        time.sleep(0.01)
    out, err = child.communicate()
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"nnlab run failed ({child.returncode}): {err.strip()[-500:]}")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "finished", result
    return engine_seconds(result["run_dir"]), wall, first if first is not None else wall


def detach_return_s(stage: str, assignments: list[str], runs: str, data_dir: str) -> float:
    """Seconds `nnlab run ... --detach` takes to give the shell back (the run itself is then stopped)."""
    command = [sys.executable, "-m", "engine", "run", stage, *assignments, "--runs-dir", runs,
               "--data-dir", data_dir, "--detach", "--json"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    took = time.perf_counter() - start
    run_id = json.loads(out.stdout.strip().splitlines()[-1])["run_id"]
    subprocess.run([sys.executable, "-m", "engine", "runs", "attach", run_id, "--runs-dir", runs],
                   capture_output=True, cwd=ROOT)  # waits for it to end, so the next measure runs alone
    return took


async def in_tui(config: dict, runs: str, data_dir: str, size: tuple[int, int],
                 timeout: float) -> tuple[float, float, float, float]:
    """(engine s, wall s, CPU s of this (the UI) process while the run went, start to first epoch shown s)."""
    app = NNLabApp(runs_dir=runs, data_dir=data_dir)
    app.devices = {"auto": True, "cpu": True, "cuda": False, "mps": False}  # no device probe child process
    async with app.run_test(size=size) as pilot:
        await pilot.pause(1.0)  # a user looks at the Lab screen before starting (the app builds Train meanwhile)
        start, ui_start = time.perf_counter(), time.process_time()
        assert app.start_run(config)
        end = start + timeout
        first = None
        while app.run_state.active:
            if first is None and app.run_state.history:
                first = time.perf_counter() - start
            if time.perf_counter() > end:
                app.stop_run()
                raise SystemExit(f"the TUI run did not end within {timeout:.0f} s")
            await asyncio.sleep(0.02)
        wall, ui_cpu = time.perf_counter() - start, time.process_time() - ui_start
        assert app.run_state.status == "finished", (app.run_state.status, app.run_state.message)
        run_dir = app.run_state.run_dir
        await pilot.pause(0.1)
    return engine_seconds(run_dir), wall, ui_cpu, first if first is not None else wall


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
    firsts: dict[str, list[float]] = {"headless": [], "tui": []}
    ui_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as runs:
        headless(args.stage, assignments[:-1] + ["epochs=1"], runs, args.data_dir)  # warm-up: data cache
        asyncio.run(in_tui(dict(config, epochs=1), runs, args.data_dir, size, args.timeout))  # type: ignore[arg-type]
        for _ in range(args.repeats):
            engine_s, wall, first = headless(args.stage, assignments, runs, args.data_dir)
            times["headless"].append((engine_s, wall))
            firsts["headless"].append(first)
            engine_s, wall, ui, first = asyncio.run(in_tui(config, runs, args.data_dir, size, args.timeout))  # type: ignore[arg-type]
            times["tui"].append((engine_s, wall))
            firsts["tui"].append(first)
            ui_cpu.append(ui)
        detach = [detach_return_s(args.stage, assignments, runs, args.data_dir) for _ in range(args.repeats)]
    med = {k: (statistics.median(e for e, _ in v), statistics.median(w for _, w in v)) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:8s} engine s: {' '.join(f'{e:.2f}' for e, _ in v)}   wall s: {' '.join(f'{w:.2f}' for _, w in v)}"
              f"   start to first epoch s: {' '.join(f'{f:.2f}' for f in firsts[k])}")
    print(f"UI process CPU during the TUI runs, s: {' '.join(f'{u:.2f}' for u in ui_cpu)}")
    print(f"--detach gives the shell back in, s: {' '.join(f'{d:.2f}' for d in detach)}")
    print(json.dumps({"stage": args.stage, "epochs": args.epochs, "set": args.set, "repeats": args.repeats,
                      "headless_s": round(med["headless"][0], 3), "tui_s": round(med["tui"][0], 3),
                      "tui_over_headless": round(med["headless"][0] / med["tui"][0], 3),
                      "ui_cpu_s": round(statistics.median(ui_cpu), 3),
                      "ui_cpu_share": round(statistics.median(ui_cpu) / med["tui"][1], 3),
                      "first_epoch_headless_s": round(statistics.median(firsts["headless"]), 3),
                      "first_epoch_tui_s": round(statistics.median(firsts["tui"]), 3),
                      "detach_return_s": round(statistics.median(detach), 3)}))


if __name__ == "__main__":
    main()
