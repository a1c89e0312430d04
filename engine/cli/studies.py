"""`nnlab studies list|show NAME [--storage URL] [--json]`: the studies of a storage, or one study's trials
(parameters, state, value, epochs, host, run id), its best trial and what pruning saved."""
from __future__ import annotations

import argparse

from engine.cli.sweep import print_report
from engine.store import json_line
from engine.study.report import list_studies, study_report
from engine.study.storage import describe
from engine.text import render_table


def cmd_studies(args: argparse.Namespace) -> int:
    if args.studies_command == "show":
        report = study_report(args.storage, args.runs_dir, args.study)
        if args.json:
            print(json_line(report))
        else:
            print_report(report)
        return 0
    studies = list_studies(args.storage, args.runs_dir)
    if args.json:
        print(json_line(studies))
        return 0
    if not studies:
        print(f"no studies in {describe(args.storage, args.runs_dir)}")
        return 0
    rows = [[s["study"], s["stage"] or "", s["metric"] or "", s["n_trials"],
             " ".join(f"{k} {v}" for k, v in sorted(s["states"].items())),
             "" if s["best_value"] is None else f"{s['best_value']:.4g}"] for s in studies]
    print(render_table(["study", "stage", "metric", "trials", "states", "best"], rows))
    return 0
