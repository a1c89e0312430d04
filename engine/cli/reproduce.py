"""`nnlab reproduce 2-ab|2-cd [--dataset NAME] [--quick] [-o DIR] [--queue]`: runs (or reuses) every
experiment of that part of the seed report, then writes the report folder (complete or absent) and prints
its path; --queue queues the experiments still to run on their device instead, and returns. Ctrl-C stops the
running experiment (kept as interrupted); the finished ones stay and are reused next time (exit 130, no
report). Without -o: ./reports/reproduce-<part>[-quick]."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine.cli.run import StopFlag
from engine.exits import EXIT_INTERRUPTED
from engine.report.document import check_format, check_target
from engine.report.reproduce import experiments, find_existing, run_all, write
from engine.store import check_runs_dir

DEFAULT_PARENT = "reports"


def cmd_reproduce(args: argparse.Namespace) -> int:
    exps = experiments(args.part, args.quick, args.data_dir, args.dataset)  # bad input: before anything runs
    check_format(args.format)
    suffix = (f"-{args.dataset}" if args.dataset else "") + ("-quick" if args.quick else "")
    target = Path(args.output) if args.output else Path(DEFAULT_PARENT) / f"reproduce-{args.part}{suffix}"
    check_target(target, create_parent=args.output is None)
    check_runs_dir(args.runs_dir)
    if args.queue:
        return _queue_all(args, exps)
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
    print(write(target, args.format, exps, args.part, args.quick, time.perf_counter() - started, args.dataset))
    return 0


def _queue_all(args: argparse.Namespace, exps: list) -> int:
    """--queue: every experiment without a reusable run is queued on its device (engine.run_queue), each a
    detached run; the command returns at once. Run it again without --queue once they have ended: it reuses
    them all and writes the report."""
    from engine.detached import run_argv, start_detached

    configs: list = []
    for config in (c for e in exps for c in e.configs):  # one run per distinct config (fig. 4's batch 10 is
        if config not in configs:                         # fig. 3's default run)
            configs.append(config)
    existing = find_existing(args.runs_dir, configs)
    queued = []
    for config, found in zip(configs, existing):
        if found is None:
            device = str(config.get("device", "auto"))
            queued.append((start_detached(run_argv(config), args.runs_dir, args.data_dir, str(config["stage"]),
                                          queue_on=device), device))
    for run_id, device in queued:
        print(f"{run_id}: queued on {device}")
    again = (f"nnlab reproduce {args.part}{f' --dataset {args.dataset}' if args.dataset else ''}"
             f"{' --quick' if args.quick else ''}")
    print(f"{len(queued)} of {len(configs)} experiments queued ({len(configs) - len(queued)} already done); "
          f"once they have ended, `{again}` reuses them and writes the report (nnlab runs list shows the queue)")
    return 0
