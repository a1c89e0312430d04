"""Key-to-screen latency of the Train screen during a CNN run, in a real terminal (tmux).

    .venv/bin/python tests/tui/measure_latency.py [--presses 20] [--stage cifar-base]

Starts nnlab in tmux with a CNN run going (cifar-base on the offline digits set unless told
otherwise), then presses `v` (next panel view) and polls tmux's screen until the new view's
name shows; the time includes tmux's own capture (a few ms). Compares with the same presses
when no run is going.
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

from tmux_driver import tmux, wait_for_screen

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ["samples", "confusion", "summary"]


def serve(runs_dir: str, stage: str, dataset: str, train: bool) -> None:
    from engine.stages import resolve_config
    from tui.app import NNLabApp

    class App(NNLabApp):
        def on_mount(self) -> None:
            config = resolve_config(stage, {"dataset": dataset, "epochs": 50})
            if train:
                self.start_run(config)
            else:  # same screen, same panel, no run
                self.run_state.prepare(config, self.clock())
                self.run_state.status = "finished"
                self.action_goto("train")

    App(runs_dir=runs_dir, data_dir=str(ROOT / "datasets")).run()



def measure(session: str, presses: int) -> list[float]:
    out = []
    current = "samples"
    for _ in range(presses):
        want = VIEWS[(VIEWS.index(current) + 1) % len(VIEWS)]
        t0 = time.perf_counter()
        tmux("send-keys", "-t", session, "v")
        while f"[{want}]" not in tmux("capture-pane", "-t", session, "-p"):
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("the screen did not change")
        out.append(time.perf_counter() - t0)
        current = want
        time.sleep(0.3)
    return out


def run(presses: int, stage: str, dataset: str, train: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        session = f"nnlab-latency-{os.getpid()}-{int(train)}"
        cmd = (f"cd {ROOT} && {sys.executable} {__file__} --serve --runs-dir {tmp} --stage {stage} "
               f"--dataset {dataset} {'--train' if train else ''}")
        tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", cmd)
        try:
            want = "RUNNING" if train else "[samples]"
            wait_for_screen(session, lambda screen: want in screen and (
                not train or "epoch 1/" in screen or "epoch 2/" in screen), 120, "the run")
            time.sleep(1.0)
            lat = measure(session, presses)
            screen = tmux("capture-pane", "-t", session, "-p")
        finally:
            tmux("kill-session", "-t", session)
    return {"training": train, "presses": presses, "median_ms": round(1000 * statistics.median(lat), 1),
            "p90_ms": round(1000 * sorted(lat)[int(0.9 * (len(lat) - 1))], 1), "max_ms": round(1000 * max(lat), 1),
            "status_line": next((ln.strip() for ln in screen.splitlines() if "epoch" in ln), "")[:100]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--train", action="store_true")
    parser.add_argument("--runs-dir")
    parser.add_argument("--stage", default="cifar-base")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--presses", type=int, default=20)
    args = parser.parse_args()
    if args.serve:
        serve(args.runs_dir, args.stage, args.dataset, args.train)
        return
    idle = run(args.presses, args.stage, args.dataset, train=False)
    busy = run(args.presses, args.stage, args.dataset, train=True)
    print(json.dumps({"idle": idle, "during_cnn_run": busy}))


if __name__ == "__main__":
    main()
