"""History screen with 10,000 saved runs: time to first rows and per-key latency.

    .venv/bin/python bench/history_scale.py [--runs 10000] [--keep DIR]

Builds a store of N runs in a temporary folder (four runs written with engine.store.RunWriter,
then copied under new ids), runs the app headless (App.run_test, 120x40), presses 3 and times
the first rows drawn, then the latency of down, pagedown, `/` + typing a search, `o` (sort), and
how long a run written meanwhile takes to appear. The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.stages import STAGES  # noqa: E402
from engine.store import RunWriter, new_run_id  # noqa: E402
from tui.app import NNLabApp  # noqa: E402

TEMPLATE_STAGES = ("circles-nn", "circles-optim", "mnist-mlp", "cifar-base")
BASE_TIME = 1_700_000_000.0


def history(epochs: int, final: float) -> list[dict]:
    return [{"epoch": e, "train_loss": 0.7 / e, "train_acc": final * e / epochs, "test_loss": 0.8 / e,
             "test_acc": final * e / epochs - 0.01, "lr": 0.1, "wall_time": 0.5 * e} for e in range(1, epochs + 1)]


def make_template(root: Path, stage: str, k: int) -> Path:
    config = {"stage": stage, **STAGES[stage].defaults, "epochs": 5}
    writer = RunWriter.create(root, config, device="cpu", name=f"{stage} template {k}",
                              tags=["bench", f"t{k}"], history=history(5, 0.6 + 0.08 * k))
    writer.update(final=True, status="finished", duration_s=2.5, summary=writer.record["summary"])
    writer.close()
    return writer.run_dir


def write_copy(template: Path, root: Path, run_id: str, i: int) -> None:
    target = root / run_id
    (target / "artifacts").mkdir(parents=True)
    (target / "checkpoints").mkdir()
    record = json.loads((template / "run.json").read_text())
    stamp = run_id[:15]
    record.update(id=run_id, name=f"run {i}" if i % 3 else run_id, tags=["bench", f"g{i % 7}"],
                  created=f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z")
    (target / "run.json").write_text(json.dumps(record))
    for name in ("config.json", "metrics.csv"):
        shutil.copyfile(template / name, target / name)


def build_store(root: Path, n: int) -> None:
    staging = root.parent / "templates"
    staging.mkdir()
    templates = [make_template(staging, stage, k) for k, stage in enumerate(TEMPLATE_STAGES)]
    for i in range(n):
        template = templates[i % len(templates)]
        stage = TEMPLATE_STAGES[i % len(TEMPLATE_STAGES)]
        write_copy(template, root, new_run_id(stage, BASE_TIME + 60 * i)[:-4] + f"{i % 65536:04x}", i)
    shutil.rmtree(staging)


async def measure(root: Path, size: tuple[int, int]) -> dict:
    app = NNLabApp(runs_dir=str(root), data_dir=str(root))
    app.devices = {"auto": True, "cpu": True, "cuda": False, "mps": False}  # no torch probe
    out: dict = {}
    shown: list[float] = []  # when the app wrote a screen update (it does so headless too)
    rows_drawn: list[float] = []  # updates written with rows in the History table
    display = app._display

    def timed_display(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None:
            shown.append(time.perf_counter())
            if getattr(screen, "shown", None):
                rows_drawn.append(shown[-1])

    app._display = timed_display  # type: ignore[method-assign]

    def first_update_after(start: float) -> float:
        return next((t for t in shown if t > start), time.perf_counter()) - start

    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("3")
        while not rows_drawn:  # (the pilot's pauses wait for idle: late, hence the hook)
            await pilot.pause(0.005)
        out["first_rows_s"] = round(rows_drawn[0] - t0, 3)
        screen = app.screen

        async def keys(*names: str) -> list[float]:
            """Per key: from sending it to the first screen update after it."""
            times = []
            for name in names:
                start = time.perf_counter()
                await pilot.press(name)
                await pilot.pause()
                times.append(1000 * first_update_after(start))
            return times

        def stats(times: list[float]) -> dict:
            return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
                    "n": len(times)}

        out["down"] = stats(await keys(*["down"] * 30))
        out["pagedown"] = stats(await keys(*["pagedown"] * 10))
        search = await keys("slash", *"optim 1")
        out["search_typing"] = stats(search)
        out["search_rows"] = len(screen.shown)
        await keys("enter")
        out["search_clear"] = stats(await keys("slash", *["backspace"] * 7, "enter"))
        out["sort"] = stats(await keys(*["o"] * 8))
        # a run written by another process (here: this one, directly on disk) shows up by itself
        extra = make_template(root, "circles-nn", 9)
        start = time.perf_counter()
        while not any(r.id == extra.name for r in screen.runs):
            if time.perf_counter() - start > 30:
                break
            await pilot.pause(0.02)
        out["new_run_visible_s"] = round(time.perf_counter() - start, 3)
        out["rows"] = len(screen.runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--keep", help="build (or reuse) the store in this folder instead of a temporary one")
    args = parser.parse_args()
    tmp = None
    if args.keep:
        root = Path(args.keep) / "runs"
    else:
        tmp = tempfile.mkdtemp(prefix="nnlab-bench-")
        root = Path(tmp) / "runs"
    try:
        built = 0.0
        if not root.is_dir():
            root.mkdir(parents=True)
            start = time.perf_counter()
            build_store(root, args.runs)
            built = time.perf_counter() - start
        result = asyncio.run(measure(root, (120, 40)))
        result["store_build_s"] = round(built, 1)
        print(json.dumps(result))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
