"""`nnlab sweep STAGE KEY=V1,V2 ... [KEY=LOW..HIGH[:log]] [KEY=a|b|c] ...`: a grid or a search as an Optuna
study (engine.study), run by --jobs CPU workers or one worker per GPU; every trial is a saved run tagged
with the study and its trial number. `--json` prints the `studies show --json` object when it ends."""
from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from engine.config import ConfigError
from engine.store import check_runs_dir, json_line
from engine.study.create import check_existing, check_metric, create, study_meta
from engine.study.report import study_report
from engine.study.space import parse_space, raw_value
from engine.study.storage import describe, open_storage
from engine.study.workers import EXIT_INTERRUPTED, check_gpus, start_workers

DEFAULT_TRIALS = 20


def sweep_id() -> str:
    return f"sweep-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def check_workers(args: argparse.Namespace) -> list[str] | None:
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"invalid value for --jobs: {args.jobs!r} (allowed: an integer >= 1)")
    args.jobs = 1 if args.jobs is None else args.jobs
    return check_gpus(args.gpus) if args.gpus is not None else None


def compat_runs(report: dict[str, Any], space: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs as `sweep --json` listed them before studies: point (values as typed), status, final."""
    specs = space["params"]
    return [{"point": {k: raw_value(specs[k], v) if k in specs else str(v) for k, v in t["params"].items()},
             "run_id": t["run_id"], "status": t.get("status"), "final": t.get("final") or {}, "trial": t["number"]}
            for t in report["trials"]]


def exit_code(report: dict[str, Any], interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    # a diverged or pruned point is a result of the experiment (the report's lr 0.5); a failed one is not
    ok = all(t["state"] in ("complete", "pruned") or t.get("status") == "diverged"
             for t in report["trials"] if t["state"] != "waiting")
    return 0 if ok else 1


def print_report(report: dict[str, Any]) -> None:
    from engine.text import render_table

    keys: list[str] = []
    for t in report["trials"]:
        keys += [k for k in t["params"] if k not in keys]
    best = (report.get("best") or {}).get("number")
    rows = [[("*" if t["number"] == best else "") + str(t["number"]),
             *(_show(t["params"].get(k)) for k in keys), t["state"] + (f" ({t['status']})" if t.get("status")
                                                                     and t["state"] == "fail" else ""),
             _show(t["value"]), t["epochs"], t["host"] or "", t["run_id"] or ""] for t in report["trials"]]
    print(f"study {report['study']} ({report['stage']}, {report['metric']} {report['direction']}, "
          f"{len(report['trials'])} trials, {report['storage']})")
    print(render_table(["trial", *keys, "state", report["metric"] or "value", "epochs", "host", "run"], rows))
    saved = report.get("pruning_saved") or {}
    if saved.get("pruned_trials"):
        print(f"pruning: {saved['pruned_trials']} trials stopped early, {saved['epochs_run']} of "
              f"{saved['epochs_planned']} epochs run ({100 * saved['saved_fraction']:.0f} % saved)")
    if report.get("best"):
        b = report["best"]
        print(f"best: trial {b['number']} {report['metric']} {_show(b['value'])} "
              + " ".join(f"{k}={_show(v)}" for k, v in b["params"].items()) + f" run {b['run_id']}")


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def cmd_sweep(args: argparse.Namespace) -> int:
    gpus = check_workers(args)
    space = parse_space(args.stage, args.assignments)
    if args.sampler == "grid" and space.kind != "grid":
        raise ConfigError("invalid value for --sampler: 'grid' (a grid takes lists alone, KEY=V1,V2; "
                          "a range or a choice needs --sampler random or tpe)")
    if args.sampler in ("random", "tpe"):
        space.as_choices()
    if not space.params:
        raise ConfigError("nothing to sweep: give at least one KEY=V1,V2, KEY=LOW..HIGH[:log] or KEY=a|b")
    if space.kind == "grid":
        if args.trials is not None:
            raise ConfigError(f"invalid option --trials {args.trials}: a grid (lists alone) runs each point once; "
                              "--trials is for a search (a range KEY=LOW..HIGH or a choice KEY=a|b)")
        trials = len(space.grid_points())
    else:
        trials = DEFAULT_TRIALS if args.trials is None else args.trials
        if trials < 1:
            raise ConfigError(f"invalid value for --trials: {trials!r} (allowed: an integer >= 1)")
    check_metric(args.metric)
    if args.storage:
        open_storage(args.storage, args.runs_dir)  # an unreachable URL is bad input, before anything is made
    check_runs_dir(args.runs_dir)
    tag = sweep_id()
    name = args.study or tag
    sampler = "grid" if space.kind == "grid" else (args.sampler or "tpe")
    meta = study_meta(space, metric=args.metric, sampler=sampler, prune=args.prune, trials=trials, tag=name)
    joined = check_existing(name, meta, args.storage, args.runs_dir)
    if not joined:
        create(name, meta, space, args.storage, args.runs_dir)
    log = (lambda text: print(text, file=sys.stderr, flush=True))
    log(f"study {name} ({'joined' if joined else 'new'}, {space.kind}, {trials} trials, "
        f"{len(gpus) if gpus else args.jobs} workers, {describe(args.storage, args.runs_dir)})")
    code = start_workers(name, args.storage, args.runs_dir, args.data_dir, jobs=args.jobs, gpus=gpus, log=log)
    report = study_report(args.storage, args.runs_dir, name)
    if args.json:
        print(json_line({**report, "sweep_id": name, "runs": compat_runs(report, space.to_json())}))
    else:
        print_report(report)
    return exit_code(report, code == EXIT_INTERRUPTED)
