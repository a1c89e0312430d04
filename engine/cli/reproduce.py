"""`nnlab reproduce 2-ab|2-cd [--quick] [-o DIR]`: runs (or reuses) every experiment of that part of the
seed report, then writes the report folder (complete or absent) and prints its path. Ctrl-C stops the
running experiment (kept as interrupted); the finished ones stay and are reused next time (exit 130, no
report). Without -o: ./reports/reproduce-<part>[-quick]."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.cli.exits import EXIT_INTERRUPTED
from engine.cli.run import StopFlag
from engine.report.document import check_format, check_target
from engine.report.reproduce import experiments, run_all, write
from engine.store import check_runs_dir

DEFAULT_PARENT = "reports"


def cmd_reproduce(args: argparse.Namespace) -> int:
    exps = experiments(args.part, args.quick, args.data_dir)  # bad input: before anything runs
    check_format(args.format)
    target = Path(args.output) if args.output else Path(DEFAULT_PARENT) / f"reproduce-{args.part}{'-quick' if args.quick else ''}"
    check_target(target, create_parent=args.output is None)
    check_runs_dir(args.runs_dir)
    stop = StopFlag()
    stop.install()
    started = time.perf_counter()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if not run_all(exps, runs_dir=args.runs_dir, data_dir=args.data_dir, part=args.part, log=log, should_stop=stop):
        done = sum(len(e.loaded) for e in exps)
        log(f"nnlab: interrupted: {done} of {sum(len(e.configs) for e in exps)} experiments done and kept; the "
            "same command reuses them")
        return EXIT_INTERRUPTED
    print(write(target, args.format, exps, args.part, args.quick, time.perf_counter() - started))
    return 0
