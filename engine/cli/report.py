"""`nnlab report RUN...|--tag T|--study S [-o DIR] [--format md|html|latex]`: a report folder (document,
figures, results.csv), complete or absent; prints its path. Without -o: ./reports/report-<UTC time>."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from engine.config import ConfigError
from engine.report.build import write_report
from engine.report.document import check_format, check_target
from engine.store import LoadedRun, load_run, resolve_run

DEFAULT_PARENT = "reports"


def _study_runs(args: argparse.Namespace) -> list[LoadedRun]:
    from engine.figures.sweep import load_study_report

    try:
        report = load_study_report(args.storage, args.runs_dir, args.study)
    except ImportError:
        raise ConfigError(f"invalid value for --study: {args.study!r} (studies are not available in this "
                          "installation; allowed: RUN... or --tag T)") from None
    runs = []
    for trial in report.get("trials") or []:
        run_id = trial.get("run_id") if isinstance(trial, dict) else None
        if not run_id:
            continue
        try:
            runs.append(load_run(resolve_run(args.runs_dir, run_id)))
        except ConfigError:
            continue  # a trial that ran on another machine: its folder is not here
    if not runs:
        raise ConfigError(f"invalid value for --study: {args.study!r} (none of its trials' runs is in "
                          f"{args.runs_dir!r})")
    return runs


def cmd_report(args: argparse.Namespace) -> int:
    check_format(args.format)
    given = sum(bool(x) for x in (args.runs, args.tag, args.study))
    if given != 1:
        raise ConfigError("nnlab report needs exactly one of: RUN..., --tag T, --study S")
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = Path(args.output) if args.output else Path(DEFAULT_PARENT) / f"report-{stamp}"
    check_target(target, create_parent=args.output is None)
    if args.runs:
        runs = [load_run(resolve_run(args.runs_dir, ref)) for ref in args.runs]
        source = "given by id"
    elif args.tag:
        from engine.figures.sweep import tag_runs

        runs = tag_runs(args.runs_dir, args.tag)
        source = f"tag {args.tag}"
    else:
        runs = _study_runs(args)
        source = f"study {args.study}"
    title = "nnlab report" + (f": {args.tag}" if args.tag else f": study {args.study}" if args.study else "")
    print(write_report(runs, target, args.format, title, source))
    return 0
