"""The CNN's model summary: output shapes, parameters, receptive fields and FLOPs per layer, as the
engine tabulates them (engine.model_summary.summary_rows)."""
from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.widgets import Static

from engine.model_summary import summary_rows


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"model summary: {summary.get('total_params', 0):,} parameters (RF: receptive field)", box=None,
                  padding=(0, 1), pad_edge=False, title_justify="left")
    headers, rows = summary_rows(summary, compact=True)
    # a CNN's table has outputs and FLOPs for 32x32 and 28x28 inputs: the panel keeps the size this run trains on
    size = str(summary.get("input_size", ""))
    keep = [i for i, h in enumerate(headers) if not h.startswith(("out (", "FLOPs ")) or size in h]
    for i in keep:
        table.add_column(headers[i], justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    return table


class SummaryView(Static):
    DEFAULT_CSS = "SummaryView { width: 1fr; height: auto; }"

    def show(self, summary: dict[str, Any] | None) -> None:
        self.update(summary_table(summary) if summary else "model summary: not available for this stage")
