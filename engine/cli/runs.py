"""`nnlab runs list|show|compare|export|rm`: reading and managing saved runs."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.config import ConfigError
from engine.store import clean_json, list_runs, move_to_trash, read_config, read_metrics, read_record, resolve_run
from engine.text import one_line


def _fmt(value: Any, spec: str = ".4f") -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return format(value, spec)
    return one_line(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain fixed-width table (no control characters: safe in pipes)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def best_of(record: dict[str, Any]) -> dict[str, Any]:
    return (record.get("summary") or {}).get("best", {}).get("test_acc") or {}


def last_of(record: dict[str, Any]) -> dict[str, Any]:
    return (record.get("summary") or {}).get("last") or {}


def cmd_list(args: argparse.Namespace) -> int:
    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps(clean_json(runs)))
        return 0
    if not runs:
        print(f"no runs in {args.runs_dir}")
        return 0
    rows = []
    for r in runs:
        if r["status"] == "damaged":
            rows.append([r["id"], "-", "-", "damaged", "-", "-", "-", r.get("reason", "")])
            continue
        summary = r.get("summary") or {}
        rows.append([r["id"], r.get("stage", "-"), r.get("name", "-"), r["status"],
                     f"{summary.get('epochs_done', 0)}/{r.get('epochs', '?')}",
                     best_of(r).get("value"), last_of(r).get("test_acc"),
                     ",".join(str(t) for t in r.get("tags", []))])
    print(table(["id", "stage", "name", "status", "epochs", "best_test", "last_test", "tags"], rows))
    return 0


def load_full(runs_dir: str, ref: str) -> dict[str, Any]:
    """run.json (effective status) + config + history; ConfigError for a damaged run."""
    run_dir = resolve_run(runs_dir, ref)
    record = read_record(run_dir)
    if record["status"] == "damaged":
        raise ConfigError(f"run {run_dir.name} is damaged: {record.get('reason')}")
    record["config"] = read_config(run_dir)
    record["history"] = read_metrics(run_dir)
    return record


def cmd_show(args: argparse.Namespace) -> int:
    record = load_full(args.runs_dir, args.run)
    if args.json:
        print(json.dumps(clean_json(record)))
        return 0
    for key in ("id", "stage", "name", "status", "created", "ended", "duration_s", "device", "seed",
                "resumed_from", "tags", "notes", "run_dir"):
        print(f"{key:<13} {one_line(record.get(key))}")
    print("config        " + one_line(" ".join(f"{k}={v}" for k, v in record["config"].items() if k != "stage")))
    hist = record["history"]
    if hist:
        cols = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "wall_time"]
        print()
        print(table(cols, [[r.get(c) for c in cols] for r in hist]))
    return 0


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    keys: list[str] = []
    for config in configs:
        keys += [k for k in config if k not in keys]
    return [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]


def table_keys(configs: list[dict[str, Any]], all_keys: bool = False) -> list[str]:
    """The config columns of a comparison table: the keys that differ (or every key), without stage, which
    such tables show in a column of their own."""
    keys = list(dict.fromkeys(k for c in configs for k in c)) if all_keys else differing_keys(configs)
    return [k for k in keys if k != "stage"]


def compare(records: list[dict[str, Any]]) -> dict[str, Any]:
    configs = [r["config"] for r in records]
    diff = differing_keys(configs)
    out = []
    for r in records:
        hist = r["history"]
        last = hist[-1] if hist else {}
        best = max((h for h in hist if isinstance(h.get("test_acc"), float)), key=lambda h: h["test_acc"], default={})
        out.append({"run_id": r["id"], "stage": r.get("stage"), "name": r.get("name"), "status": r["status"],
                    "epochs_done": len(hist), "final": {k: last.get(k) for k in
                                                        ("train_loss", "train_acc", "test_loss", "test_acc")},
                    "best": {"test_acc": best.get("test_acc"), "epoch": best.get("epoch")},
                    "differs": {k: r["config"].get(k) for k in diff}})
    return {"differing_keys": diff, "runs": out, "curves_agree": curves_agree(records)}


def curves_agree(records: list[dict[str, Any]], tol: float = 1e-5) -> bool | None:
    """True when all runs have the same number of epochs and per-epoch losses within tol."""
    hists = [r["history"] for r in records]
    if len(hists) < 2 or not hists[0] or any(len(h) != len(hists[0]) for h in hists):
        return None
    for rows in zip(*hists):
        for key in ("train_loss", "test_loss"):
            values = [row.get(key) for row in rows]
            if any(not isinstance(v, float) for v in values) or max(values) - min(values) > tol:
                return False
    return True


def cmd_compare(args: argparse.Namespace) -> int:
    records = [load_full(args.runs_dir, ref) for ref in args.runs]
    result = compare(records)
    if args.json:
        print(json.dumps(clean_json(result)))
        return 0
    diff = table_keys([r["config"] for r in records])
    headers = ["run", "stage", "status", "epochs", "final_test_acc", "final_train_acc", "final_test_loss",
               "best_test_acc", "best_epoch"] + diff
    rows = [[r["run_id"], r["stage"], r["status"], r["epochs_done"], r["final"]["test_acc"],
             r["final"]["train_acc"], r["final"]["test_loss"], r["best"]["test_acc"], r["best"]["epoch"]]
            + [r["differs"][k] for k in diff] for r in result["runs"]]
    print(table(headers, rows))
    if not diff:
        print("\nno hyperparameter differs between these runs")
    if result["curves_agree"]:
        print("\nper-epoch train and test losses agree to 1e-5: the same computation")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if args.csv:
        run_dir = resolve_run(args.runs_dir, args.run)
        rows = read_metrics(run_dir)
        from engine.events import METRIC_COLUMNS

        sys.stdout.write(",".join(METRIC_COLUMNS) + "\n")
        for row in rows:
            sys.stdout.write(",".join("" if row.get(c) is None else repr(row[c]) if isinstance(row[c], float)
                                      else str(row[c]) for c in METRIC_COLUMNS) + "\n")
        return 0
    record = load_full(args.runs_dir, args.run)
    from engine.store import read_artifacts

    record["artifacts"] = read_artifacts(Path(record["run_dir"]))
    print(json.dumps(clean_json(record)))
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    dirs = [resolve_run(args.runs_dir, ref) for ref in args.runs]  # resolve all before moving any
    for run_dir in dirs:
        target = move_to_trash(args.runs_dir, run_dir)
        print(f"moved {run_dir.name} to {target}")
    return 0


def dispatch(args: argparse.Namespace) -> int:
    return {"list": cmd_list, "show": cmd_show, "compare": cmd_compare, "export": cmd_export,
            "rm": cmd_rm}[args.runs_command](args)
