"""Time to first paint of `nnlab` in a real terminal (tmux): process start -> Lab screen painted.

    .venv/bin/python tests/tui/measure_startup.py [--runs N] [--size 80x24]

Two clocks: the app's own note of its first paint (NNLAB_FIRST_PAINT_FILE, written right after
the Lab screen's first refresh) and the moment tmux's screen shows the stage list.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tmux_driver import tmux

ROOT = Path(__file__).resolve().parents[2]
NNLAB = str(Path(sys.executable).with_name("nnlab"))



def once(size: str, tmp: Path, i: int) -> tuple[float, float, float, bool]:
    """(app's own paint note, from process start), (paint note, from the command), (tmux shows it), torch."""
    w, h = size.split("x")
    log = tmp / f"paint{i}.json"
    session = f"nnlab-measure-{os.getpid()}-{i}"
    env = f"NNLAB_FIRST_PAINT_FILE={log} NNLAB_RUNS_DIR={tmp / 'runs'}"
    tmux("new-session", "-d", "-s", session, "-x", w, "-y", h, "bash --norc")  # the terminal is ready first
    time.sleep(0.5)
    tmux("send-keys", "-t", session, f"cd {ROOT} && env {env} {NNLAB}", "Enter")
    t0 = time.time()
    seen = None
    try:
        end = t0 + 30
        while time.time() < end:
            if seen is None and "cifar-batchnorm" in tmux("capture-pane", "-t", session, "-p"):
                seen = time.time() - t0
            if seen is not None and log.exists() and log.stat().st_size:
                break
            time.sleep(0.005)
        info = json.loads(log.read_text())
    finally:
        tmux("kill-session", "-t", session)
    return info["since_process_start_s"], info["painted_epoch_s"] - t0, seen or float("nan"), info["torch_imported"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="80x24")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [once(args.size, Path(tmp), i) for i in range(args.runs)]
    def stats(values):
        return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}

    print(json.dumps({"size": args.size, "runs": args.runs,
                      "first_paint_from_process_start_s": stats([r[0] for r in results]),
                      "first_paint_from_command_s": stats([r[1] for r in results]),
                      "visible_in_tmux_from_command_s": stats([r[2] for r in results]),
                      "torch_imported_at_paint": any(r[3] for r in results)}))

if __name__ == "__main__":
    main()
