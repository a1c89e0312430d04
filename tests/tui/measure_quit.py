"""Time from ctrl+q to the end of `nnlab` in a real terminal (tmux), sent at chosen moments after the first
paint (while the device probe imports torch, while the Train screen is built, later).

    .venv/bin/python tests/tui/measure_quit.py [--runs N] [--after 0,0.5,1,3]

The clock stops when the shell that ran nnlab writes the time after it (`date +%s.%N`), so it counts the
terminal's restoration and Python's exit too.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tmux_driver import tmux, wait_for_screen

ROOT = Path(__file__).resolve().parents[2]
NNLAB = str(Path(sys.executable).with_name("nnlab"))


def once(tmp: Path, i: int, after: float) -> float:
    """Seconds from ctrl+q, sent `after` s past the first paint, to the shell's next command."""
    paint, ended = tmp / f"paint{after}-{i}.json", tmp / f"ended{after}-{i}"
    session = f"nnlab-quit-{os.getpid()}-{after}-{i}".replace(".", "_")
    env = f"NNLAB_FIRST_PAINT_FILE={paint} NNLAB_RUNS_DIR={tmp / 'runs'}"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", "bash --norc")
    wait_for_screen(session, lambda text: "$" in text or "#" in text, 10, "the shell's prompt")
    try:
        tmux("send-keys", "-t", session, f"cd {ROOT} && env {env} {NNLAB}; date +%s.%N > {ended}", "Enter")
        end = time.time() + 60
        while not (paint.exists() and paint.stat().st_size):
            if time.time() > end:
                raise SystemExit(f"nnlab did not paint in 60 s; the terminal shows:\n"
                                 f"{tmux('capture-pane', '-p', '-t', session)}")
            time.sleep(0.005)
        time.sleep(after)
        sent = time.time()
        tmux("send-keys", "-t", session, "C-q")
        while not (ended.exists() and ended.stat().st_size) and time.time() < sent + 15:
            time.sleep(0.005)
        if not ended.exists():
            raise SystemExit(f"nnlab did not end 15 s after ctrl+q; the terminal shows:\n"
                             f"{tmux('capture-pane', '-p', '-t', session)}")
        return float(ended.read_text()) - sent
    finally:
        tmux("kill-session", "-t", session)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--after", default="0,0.5,1,3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for after in (float(a) for a in args.after.split(",")):
            times = [once(Path(tmp), i, after) for i in range(args.runs)]
            print(f"ctrl+q {after:>4} s after the first paint: median {statistics.median(times):.3f} s, "
                  f"max {max(times):.3f} s over {len(times)}")


if __name__ == "__main__":
    main()
