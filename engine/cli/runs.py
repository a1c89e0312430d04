"""`nnlab runs list|show|compare|export|rm|tag|untag|rename|note|attach|stop|cancel`: reading and managing
saved runs (the edits in run_edits, the live runs in live_runs)."""
from __future__ import annotations

import argparse
import atexit
import gc
import re
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.config import ConfigError, applicable
from engine.events import METRIC_COLUMNS
from engine.run_queue import queued_records, waiting
from engine.stages import STAGES
from engine.store import (
    LoadedRun,
    Summary,
    compare,
    json_line,
    list_runs,
    list_runs_json,
    load_run,
    move_to_trash,
    read_artifacts,
    read_config,
    read_metrics,
    resolve_run,
    table_keys,
)
from engine.store.records import RunRecord
from engine.store.search import Query
from engine.text import fit_table, one_line, render_table, terminal_width

LAST_EPOCHS = 5  # `runs show` prints the best epoch and the last LAST_EPOCHS (--all: every one)
SHOW_FIELDS = ("id", "stage", "name", "status", "created", "ended", "duration_s", "device", "seed",
               "resumed_from", "tags", "notes", "run_dir")


def cmd_list(args: argparse.Namespace) -> int:
    # Thousands of records without cycles, kept in memory by the store's index until the process exits: the
    # cyclic collector, including its pass at exit, would walk them all to free nothing.
    collecting = gc.isenabled()
    gc.disable()
    atexit.register(gc.freeze)  # runs before the pass at exit, which then skips them
    try:
        keep = _filter(args)
        print(_listing(args.runs_dir, args.json, args.wide) if keep is None
              else _filtered(args.runs_dir, args.json, keep, args.wide))
    finally:
        if collecting:
            gc.enable()
    return 0


def _since(text: str) -> str:
    """--since -> the smallest run id prefix (yyyymmdd-HHMMSS, UTC) that passes."""
    now = datetime.now(UTC)
    relative = re.fullmatch(r"(\d{1,6})([mhd])", text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        when = now - timedelta(minutes=amount if unit == "m" else 0, hours=amount if unit == "h" else 0,
                               days=amount if unit == "d" else 0)
    else:
        for form in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"):
            try:
                when = datetime.strptime(text.strip(), form).replace(tzinfo=UTC)
                break
            except ValueError:
                continue
        else:
            raise ConfigError(f"invalid value for --since: {text!r} (allowed: YYYY-MM-DD, YYYY-MM-DDTHH:MM in UTC, "
                              "or 30m, 12h, 7d)")
    return when.strftime("%Y%m%d-%H%M%S")


def _filter(args: argparse.Namespace) -> Callable[[RunRecord], bool] | None:
    """The runs list filters as one predicate; None when no filter is given."""
    stage, status, tag = args.stage, args.status, args.tag
    since = _since(args.since) if args.since else None
    query = Query.parse(args.search) if args.search else None
    if stage is not None and stage not in STAGES:
        raise ConfigError(f"invalid value for --stage: {stage!r} (allowed: {', '.join(STAGES)})")
    if not any((stage, status, tag, since, query)):
        return None

    def keep(r: RunRecord) -> bool:
        return ((not stage or r.stage == stage) and (not status or r.status == status)
                and (not tag or tag in r.tags) and (not since or r.id[:15] >= since)
                and (query is None or query.matches(r, _config_of)))
    return keep


def _config_of(record: RunRecord) -> dict[str, Any] | None:
    try:
        return read_config(record.run_dir)
    except ConfigError:
        return None


def _filtered(runs_dir: str, as_json: bool, keep: Callable[[RunRecord], bool], wide: bool = False) -> str:
    runs = [r for r in queued_records(runs_dir) + list_runs(runs_dir) if keep(r)]
    if as_json:
        return json_line([r.to_json() for r in runs])
    if not runs:
        return f"no runs in {runs_dir} match"
    return _fitted_list([_row(r) for r in runs], wide)


LIST_HEADERS = ["id", "stage", "name", "status", "epochs", "best_test", "last_test", "tags"]


def _row(r: RunRecord) -> list[Any]:
    if r.is_damaged:
        return [r.id, "-", "-", "damaged", "-", "-", "-", r.reason or ""]
    best = r.best
    total = r.epochs if r.epochs is not None else "?"
    epochs = "-" if r.status in ("queued", "starting") else f"{r.epochs_done}/{total}"
    name = "" if r.name == r.id else r.name  # a run not renamed: its name repeats its id
    return [r.id, r.stage if r.stage is not None else "-", name, r.status, epochs,
            best.value if best else None, r.last.get("test_acc"), ",".join(r.tags)]


def short_id(run_id: Any) -> str:
    """A run id as History shows it: its short id (the last 4 hex digits, which every RUN argument takes)."""
    text = str(run_id)
    return "#" + text[-4:] if len(text) > 4 else text


def _ellipsis(limit: int) -> Callable[[Any], Any]:
    def cut(value: Any) -> Any:
        text = "" if value is None else str(value)
        return text if len(text) <= limit else text[: limit - 1] + "\u2026"
    return cut


# Below the table's full width (150+ columns), what goes first: the id shortens to its short id, long names
# are cut, then tags, the last test accuracy, the epochs and the stage are left out. --wide or --json: all.
LIST_SHORTEN = {"id": short_id, "name": _ellipsis(24)}
LIST_DROP = ["tags", "last_test", "epochs", "stage"]


def narrowed_note(dropped: list[str]) -> str:
    """The line under a narrowed table, wrapped to the terminal as the table is."""
    note = "(--wide: all columns" + (f"; not shown: {', '.join(dropped)})" if dropped else ")")
    return "\n".join(textwrap.wrap(note, max(terminal_width() or 80, 40), break_on_hyphens=False))


def _fitted_list(rows: list[list[Any]], wide: bool) -> str:
    headers, rows, dropped = fit_table(list(LIST_HEADERS), rows, None if wide else terminal_width(),
                                       LIST_DROP, LIST_SHORTEN)
    table = render_table(headers, rows)
    if dropped or (headers and rows and str(rows[0][0]).startswith("#")):
        table += "\n" + narrowed_note(dropped)
    return table


def _listing(runs_dir: str, as_json: bool, wide: bool = False) -> str:
    """Queued runs first, in their queues' order (status queued, with their position), then the saved runs."""
    queued = [(t, i) for device in sorted({t.device for t in waiting(runs_dir, with_failed=True)})
              for i, t in enumerate(waiting(runs_dir, device, with_failed=True), 1)]
    if as_json:
        return json_line([t.to_json(i) for t, i in queued] + list_runs_json(runs_dir))
    runs = list_runs(runs_dir)
    if not runs and not queued:
        return f"no runs in {runs_dir}"
    rows: list[list[Any]] = [[t.run_id, t.stage, f"#{i} on {t.device}" if t.failed is None else t.failed,
                              t.status, "-", None, None, ""] for t, i in queued]
    rows += [_row(r) for r in runs]
    return _fitted_list(rows, wide)


def load(runs_dir: str, ref: str) -> LoadedRun:
    """The run a reference names, in full; ConfigError for an unknown or damaged run."""
    return load_run(resolve_run(runs_dir, ref))


def cmd_show(args: argparse.Namespace) -> int:
    run = load(args.runs_dir, args.run)
    shown = run.to_json()
    if args.json:
        print(json_line(shown))
        return 0
    for key in SHOW_FIELDS:
        print(f"{key:<13} {one_line(shown.get(key))}")
    print("config        " + one_line(" ".join(f"{k}={v}" for k, v in applicable(run.config).items() if k != "stage")))
    if run.history:
        rows, note = shown_epochs(run.history, every=args.all)
        if run.initial:  # epoch 0: the model before its first update
            rows.insert(0, ("before", {"epoch": 0, **run.initial}))
        print()
        print(render_table(["", *METRIC_COLUMNS], [[mark, *(row.get(c) for c in METRIC_COLUMNS)]
                                                   for mark, row in rows]))
        if note:
            print(note)
    return 0


def shown_epochs(history: list[dict[str, Any]], every: bool = False,
                 last: int = LAST_EPOCHS) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """The epochs `runs show` prints, each with its mark ("best": the best test accuracy; "last"), and a
    line saying what was left out: the best and the last `last` epochs, or every one."""
    best = Summary.from_history(history).best_test_acc
    best_epoch = best.epoch if best is not None else None
    picked = history if every else [r for r in history[:-last] if r.get("epoch") == best_epoch] + history[-last:]
    rows = [("best" if row.get("epoch") == best_epoch else "last" if row is history[-1] else "", row)
            for row in picked]
    left = len(history) - len(picked)
    note = f"({left} of {len(history)} epochs not shown; --all shows every one)" if left else ""
    return rows, note


# below the table's full width: the run id shortens first, then these go, in this order (the differing keys stay)
COMPARE_DROP = ["initial_test_loss", "final_test_loss", "final_train_acc", "best_epoch", "status", "epochs",
                "stage"]


def cmd_compare(args: argparse.Namespace) -> int:
    runs = [load(args.runs_dir, ref) for ref in args.runs]
    result = compare(runs)
    if args.json:
        print(json_line(result))
        return 0
    diff = table_keys([r.config for r in runs])
    headers = ["run", "stage", "status", "epochs", "initial_test_loss", "final_test_acc", "final_train_acc",
               "final_test_loss", "best_test_acc", "best_epoch"] + diff
    rows = [[r["run_id"], r["stage"], r["status"], r["epochs_done"], (r["initial"] or {}).get("test_loss"),
             r["final"]["test_acc"], r["final"]["train_acc"], r["final"]["test_loss"], r["best"]["test_acc"],
             r["best"]["epoch"]] + [r["differs"][k] for k in diff] for r in result["runs"]]
    headers, rows, dropped = fit_table(headers, rows, None if args.wide else terminal_width(), COMPARE_DROP,
                                       {"run": short_id})
    print(render_table(headers, rows))
    if dropped or (rows and str(rows[0][0]).startswith("#")):
        print(narrowed_note(dropped))
    if not diff:
        print("\nno hyperparameter differs between these runs")
    if result["curves_agree"]:
        print("\nper-epoch train and test losses agree to 1e-5: the same computation")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.csv:
        rows = read_metrics(resolve_run(args.runs_dir, args.run))
        sys.stdout.write(",".join(METRIC_COLUMNS) + "\n")
        for row in rows:
            sys.stdout.write(",".join("" if row.get(c) is None else repr(row[c]) if isinstance(row[c], float)
                                      else str(row[c]) for c in METRIC_COLUMNS) + "\n")
        return 0
    run = load(args.runs_dir, args.run)
    print(json_line({**run.to_json(), "artifacts": read_artifacts(run.record.run_dir)}))
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    dirs = [resolve_run(args.runs_dir, ref) for ref in args.runs]  # resolve all before moving any
    for run_dir in dirs:
        target = move_to_trash(args.runs_dir, run_dir)
        print(f"moved {run_dir.name} to {target}")
    return 0


def dispatch(args: argparse.Namespace) -> int:
    if args.runs_command in ("tag", "untag", "rename", "note"):
        from engine.cli.run_edits import cmd_note, cmd_rename, cmd_tag, cmd_untag

        return {"tag": cmd_tag, "untag": cmd_untag, "rename": cmd_rename,
                "note": cmd_note}[args.runs_command](args)
    if args.runs_command in ("attach", "stop", "cancel"):
        from engine.cli.live_runs import cmd_attach, cmd_cancel, cmd_stop

        return {"attach": cmd_attach, "stop": cmd_stop, "cancel": cmd_cancel}[args.runs_command](args)
    return {"list": cmd_list, "show": cmd_show, "compare": cmd_compare, "export": cmd_export,
            "rm": cmd_rm}[args.runs_command](args)
