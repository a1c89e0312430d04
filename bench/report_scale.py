"""`nnlab report` over 100 runs: the whole report folder (results table and CSV, a curves figure per 8
runs, each of the first 12 runs' own figures, every run's reproduce command) against the baseline of
loading the same runs (record, config, metrics), and against drawing one curves figure of 8 runs.

The store is real: a few real trainings (circles-optim at 150 epochs, so the runs have every decision-
boundary snapshot), copied under fresh run ids with their config's lr edited, so every run differs.
The report is timed in this process (write_report, the function behind the CLI) and once as the real
`nnlab report` subprocess (interpreter start and imports included). The last line is a JSON object with
"report_over_load", "report_over_one_figure" and the times in seconds.

    python bench/report_scale.py [--runs 100] [--repeats 1]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.figures.curves import draw_curves  # noqa: E402
from engine.figures.save import save_figure  # noqa: E402
from engine.report.build import write_report  # noqa: E402
from engine.stages import resolve_config  # noqa: E402
from engine.store import atomic_write_json, load_run, read_json  # noqa: E402
from engine.train import train  # noqa: E402


def make_store(root: Path, n: int) -> list[Path]:
    """n real runs: 4 trainings copied under fresh ids, each copy's lr (config.json) made unique."""
    runs = root / "runs"
    templates = []
    for lr in ("0.01", "0.03", "0.1", "0.3"):
        result = train(resolve_config("circles-optim", {"lr": lr}), runs_dir=str(runs), data_dir=str(root))
        templates.append(Path(result.run_dir))
    dirs = []
    for i in range(n):
        src = templates[i % len(templates)]
        dst = runs / f"{src.name[:-4]}{i:04x}"
        if dst.exists():
            continue
        shutil.copytree(src, dst)
        config = read_json(dst / "config.json")
        config["lr"] = round(config["lr"] * (1 + i / 1000), 6)
        atomic_write_json(dst / "config.json", config)
        record = read_json(dst / "run.json")
        record["id"] = dst.name
        atomic_write_json(dst / "run.json", record)
        dirs.append(dst)
    for t in templates:
        shutil.rmtree(t)
    return dirs


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dirs = make_store(root, args.runs)
        load_s = min(timed(lambda: [load_run(d) for d in dirs]) for _ in range(args.repeats))
        runs = [load_run(d) for d in dirs]
        figure_s = min(timed(lambda: save_figure(draw_curves(runs[:8]), root / "one.png")) for _ in range(args.repeats))
        report_s = min(timed(lambda: write_report([load_run(d) for d in dirs], root / "rep", "md", "bench", "bench"))
                       for _ in range(args.repeats))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cli_s = timed(lambda: subprocess.run(
            [sys.executable, "-m", "engine", "report", *[d.name for d in dirs], "--runs-dir", str(root / "runs"),
             "-o", str(root / "rep-cli")], check=True, env=env, cwd=ROOT, capture_output=True))
        figures = len(list((root / "rep").glob("*.png")))
    print(f"{args.runs} runs: loading them {load_s:.3f} s; one curves figure of 8 runs {figure_s:.3f} s; "
          f"write_report {report_s:.2f} s ({figures} figures); `nnlab report` subprocess {cli_s:.2f} s")
    print(json.dumps({"runs": args.runs, "report_over_load": round(report_s / load_s, 1),
                      "report_over_one_figure": round(report_s / figure_s, 1), "load_s": round(load_s, 4),
                      "one_figure_s": round(figure_s, 4), "report_s": round(report_s, 3),
                      "cli_report_s": round(cli_s, 3), "figures": figures}))


if __name__ == "__main__":
    main()
