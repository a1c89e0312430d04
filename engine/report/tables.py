"""The results table of a report: one row per run with its stage, the hyperparameters that differ
between the runs, the best test accuracy and its epoch, the last metrics, the time and the device.

results.csv holds the runs' metrics.csv values written as metrics.csv writes them (repr of the float), so a
CSV cell and the metrics cell it comes from are the same text; the document's table shows them as the CLI's
tables do (engine.text.fmt_number: 4 decimals; durations to 0.1 s), so a column of 0.6254703903198242 reads
0.6255."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from engine.store import LoadedRun, Summary, table_keys
from engine.text import fmt_number

FIXED_HEAD = ("run", "stage")
FIXED_TAIL = ("status", "epochs", "best_test_acc", "best_epoch", "last_test_acc", "last_train_acc",
              "last_test_loss", "last_train_loss", "initial_test_loss", "initial_test_acc", "duration_s", "device")


def cell(value: Any) -> str:
    """A value as metrics.csv and config.json hold it: floats by repr, booleans true/false, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def results_table(runs: Sequence[LoadedRun]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of the results table; rows are text cells (see cell)."""
    keys = table_keys([r.config for r in runs])
    headers = [*FIXED_HEAD, *keys, *FIXED_TAIL]
    rows = []
    for run in runs:
        summary = Summary.from_history(run.history)
        best = summary.best_of("test_acc")
        last = run.history[-1] if run.history else {}
        rows.append([cell(v) for v in (
            run.record.id, run.record.stage, *(run.config.get(k) for k in keys), run.record.status,
            len(run.history), best.value if best else None, best.epoch if best else None, last.get("test_acc"),
            last.get("train_acc"), last.get("test_loss"), last.get("train_loss"),
            (run.initial or {}).get("test_loss"), (run.initial or {}).get("test_acc"),  # before the first update
            run.record.duration_s, run.record.device)])
    return headers, rows


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()


def shown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[list[str]]:
    """The results table as a document shows it: floats at the CLI table's precision (the exact text stays in
    results.csv); other cells as they are."""
    out = []
    for row in rows:
        shown = []
        for header, text in zip(headers, row):
            try:
                value = float(text) if text and not text.lstrip("-").isdigit() else None
            except ValueError:
                value = None
            if value is None:
                shown.append(text)
            elif header == "duration_s":
                shown.append(f"{value:.1f}")
            else:
                shown.append(fmt_number(value))
        out.append(shown)
    return out
