"""`nnlab sweep STAGE KEY=V1,V2 ... [--jobs N]`: a grid of separate saved runs sharing one sweep tag."""
from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any

from engine.config import ConfigError, split_assignment
from engine.stages import resolve_config
from engine.store import check_runs_dir, json_line
from engine.text import render_table


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        key, values = split_assignment(item)
        parts = [v.strip() for v in values.split(",")]
        if any(not p for p in parts):
            raise ConfigError(f"invalid value for {key}: {values!r} (allowed: comma-separated values, e.g. {key}=a,b)")
        if key in grid:
            raise ConfigError(f"key {key} is given twice in the sweep")
        grid[key] = parts
    return grid


def grid_points(stage: str, grid: dict[str, list[str]]) -> list[dict[str, str]]:
    """Every combination, each validated before anything runs (bad input: exit 2, no runs)."""
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    for point in points:
        resolve_config(stage, point)
    return points


def sweep_id() -> str:
    return f"sweep-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def run_sweep(stage: str, points: list[dict[str, str]], *, jobs: int, runs_dir: str, data_dir: str,
              tag: str, log=None) -> list[dict[str, Any]]:
    """Each point runs as its own `nnlab run` process, up to `jobs` at once; returns their summaries."""
    jobs = max(1, jobs)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    pending = list(enumerate(points))
    running: list[tuple[int, subprocess.Popen]] = []
    results: list[dict[str, Any] | None] = [None] * len(points)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                index, point = pending.pop(0)
                cmd = [sys.executable, "-m", "engine", "run", stage, *(f"{k}={v}" for k, v in point.items()),
                       "--json", "--runs-dir", runs_dir, "--data-dir", data_dir, "--tag", tag,
                       "--name", f"{tag} " + " ".join(f"{k}={v}" for k, v in point.items())]
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
                running.append((index, proc))
                if log:
                    log(f"started {index + 1}/{len(points)}: " + " ".join(f"{k}={v}" for k, v in point.items()))
            time.sleep(0.05)
            for item in list(running):
                index, proc = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                out = proc.stdout.read() if proc.stdout else ""
                try:
                    summary = json.loads(out.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    summary = {"status": "failed", "run_id": None, "final": {}, "best": {}}
                summary["point"] = points[index]
                summary["exit_code"] = proc.returncode
                results[index] = summary
                if log:
                    acc = (summary.get("final") or {}).get("test_acc")
                    log(f"done {index + 1}/{len(points)}: {summary['status']}"
                        + (f" test_acc {acc:.4f}" if isinstance(acc, float) else ""))
    finally:
        for _, proc in running:  # interrupted: stop the children, they save what they have
            proc.terminate()
        for _, proc in running:
            proc.wait()
    return [r for r in results if r is not None]


def cmd_sweep(args: argparse.Namespace) -> int:
    args.jobs = 1 if args.jobs is None else args.jobs
    if args.jobs < 1:
        raise ConfigError(f"invalid value for --jobs: {args.jobs!r} (allowed: an integer >= 1)")
    grid = parse_grid(args.assignments)
    points = grid_points(args.stage, grid)
    check_runs_dir(args.runs_dir)
    tag = sweep_id()
    log = (lambda text: print(text, file=sys.stderr, flush=True))
    results = run_sweep(args.stage, points, jobs=args.jobs, runs_dir=args.runs_dir, data_dir=args.data_dir,
                        tag=tag, log=log)
    if args.json:
        print(json_line({"sweep_id": tag, "stage": args.stage, "keys": list(grid), "runs": results}))
    else:
        rows = [[*(r["point"][k] for k in grid), r.get("status"), (r.get("final") or {}).get("test_acc"),
                 (r.get("best") or {}).get("test_acc"), (r.get("best") or {}).get("epoch"), r.get("run_id")]
                for r in results]
        print(f"sweep {tag} ({args.stage}, {len(results)} runs)")
        print(render_table([*grid, "status", "final_test_acc", "best_test_acc", "best_epoch", "run"], rows))
    if len(results) < len(points):
        return 130
    # a diverged point is a result of the experiment (the report's lr 0.5); a failed one is not
    return 0 if all(r.get("status") in ("finished", "diverged") for r in results) else 1
