"""A confusion matrix (rows: true class, columns: predicted), cells shaded by row share."""
from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


def confusion_table(payload: dict[str, Any]) -> Table:
    labels = [str(x) for x in payload.get("labels") or []]
    matrix = payload.get("matrix") or []
    table = Table(title=f"confusion, epoch {payload.get('epoch', '?')} (rows true, cols predicted)",
                  box=None, padding=(0, 0), pad_edge=False, title_justify="left", show_edge=False)
    table.add_column("t\\p", justify="right", style="bold")
    for lab in labels:
        table.add_column(lab[:3], justify="right")
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        cells = []
        for j, count in enumerate(row):
            share = count / total
            if i == j:
                style = f"bold black on rgb({int(40 + 60 * (1 - share))},{int(120 + 100 * share)},{60})"
            elif count:
                style = f"on rgb({int(60 + 180 * min(1, share * 4))},40,40)"
            else:
                style = "dim"
            cells.append(Text(f"{count:>3}", style=style))
        table.add_row(labels[i][:6] if i < len(labels) else str(i), *cells)
    return table


class ConfusionView(Static):
    DEFAULT_CSS = "ConfusionView { width: auto; height: auto; }"

    def show(self, payload: dict[str, Any] | None) -> None:
        self.update(confusion_table(payload) if payload else "confusion matrix: waiting for the first epoch")
