"""The CNN's model summary: output shapes, parameters, receptive fields and FLOPs per layer."""
from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.widgets import Static


def _human(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return str(int(n))


def _shape(s: Any) -> str:
    if isinstance(s, (list, tuple)):
        return "x".join(str(v) for v in s)
    return str(s)


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"model summary: {summary.get('total_params', 0):,} parameters (RF: receptive field)", box=None,
                  padding=(0, 1), pad_edge=False, title_justify="left")
    for name, justify in (("layer", "left"), ("output", "right"), ("params", "right"), ("RF", "right"),
                          ("FLOPs", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for layer in summary.get("layers") or []:
        if str(layer.get("name", "")).startswith(("relu", "flatten", "dropout")):
            continue  # no parameters and no change of size: keep the table to the lab's rows
        rf = layer.get("receptive_field")
        rf_text = "all" if rf is None else (f"{rf}x{rf}" if isinstance(rf, int) else _shape(rf))
        table.add_row(str(layer.get("name")), _shape(layer.get("output_shape", layer.get("output"))),
                      f"{layer.get('params', 0):,}", rf_text, _human(layer.get("flops")))
    return table


class SummaryView(Static):
    DEFAULT_CSS = "SummaryView { width: 1fr; height: auto; }"

    def show(self, summary: dict[str, Any] | None) -> None:
        self.update(summary_table(summary) if summary else "model summary: not available for this stage")
