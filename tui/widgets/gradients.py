"""Gradient flow on the Train screen: the update-to-weight ratio ||delta theta|| / ||theta|| of each layer
against epoch (log y), from the run's gradients artifact (engine.inside: one real training step per epoch,
the epoch's last), over a table of each layer's latest gradient norm, weight norm and ratio.

A layer is told apart by its marker as well as its colour; the table's first column is the plot's legend.
A layer flagged vanishing or exploding (the artifact's "flags") is named so in words, in its row and in a
note under the table. A grey dotted line marks 1e-3, the classic healthy ratio for one step.
"""
from __future__ import annotations

import math
from typing import Any

from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Vertical

from engine.inside.limits import EXPLODING, VANISHING
from tui.widgets.curves import RAW, CurvePlot, Series, colour, legend_glyph, marker
from tui.widgets.lines_view import Line, LinesView, plain

HEALTHY = 1e-3  # the rule of thumb for one step's ||delta theta|| / ||theta||
REFERENCE_MARKER = "·"
FLAG_STYLE = Style(bold=True, reverse=True)
DIM = Style(dim=True)


def fmt(value: Any) -> str:
    """A norm or a ratio as the table shows it: three significant digits ("-" when missing)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def latest(payload: dict[str, Any], field: str, layer: str) -> Any:
    values = (payload.get(field) or {}).get(layer) or []
    return values[-1] if values else None


def ratio_series(payload: dict[str, Any]) -> list[tuple[str, list[float], list[float | None], str]]:
    """(layer, epochs, update ratios, flag) of each layer of a gradients artifact."""
    epochs = list(payload.get("epochs") or [])
    flags = payload.get("flags") or {}
    ratios = payload.get("update_ratio") or {}
    return [(layer, epochs, list(ratios.get(layer) or []), str(flags.get(layer) or ""))
            for layer in payload.get("layers") or []]


def flag_note(flag: str) -> str:
    """What a flag (engine.inside.limits.flag, on the median of the last epochs' ratios) means."""
    if flag == "vanishing":
        return f"VANISHING: ratio < {VANISHING:g}, its steps barely move it, it has stopped learning"
    if flag == "exploding":
        return f"EXPLODING: ratio > {EXPLODING:g}, one step moves its weights by a large share of their size"
    return f"{flag.upper()}"


class GradientsTable(LinesView):
    """Each layer's latest gradient norm, weight norm and update ratio; the marker of its curve first."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.payload: dict[str, Any] | None = None

    def build(self, width: int, depth: str) -> list[Line]:
        p = self.payload
        if not p or not p.get("epochs"):
            return [plain("gradient flow: waiting for the first epoch", width)]
        name_w = max(5, *(len(str(layer)) for layer in p.get("layers") or [""]))
        head = f"   {'layer':<{name_w}} {'grad':>8} {'weight':>8} {'ratio':>8}"
        lines: list[Line] = [plain(head, width)]
        flagged = []
        for i, (layer, _, _, flag) in enumerate(ratio_series(p)):
            glyph = legend_glyph(marker(i))
            style = None if depth == "none" else Style(color="rgb({},{},{})".format(*colour(i)))
            row: Line = [(glyph, style), (f" {layer:<{name_w}}", None),
                         (f" {fmt(latest(p, 'grad_norm', layer)):>8} {fmt(latest(p, 'weight_norm', layer)):>8}"
                          f" {fmt(latest(p, 'update_ratio', layer)):>8}", None)]
            if flag:
                row.append((" ", None))
                row.append((flag.upper(), FLAG_STYLE))
                flagged.append(f"{layer} {flag_note(flag)}")
            lines.append(row)
        for note in flagged:
            lines.append([("! ", FLAG_STYLE), (note, None)])
        lines.append([(f"{REFERENCE_MARKER * 2} {HEALTHY:g}: a typical healthy ratio"[:width], DIM)])
        return lines


class GradientsView(Vertical):
    """The Train panel's gradients view: the ratio curves over the table."""

    DEFAULT_CSS = """
    GradientsView { height: 1fr; }
    GradientsView > CurvePlot { height: 1fr; min-height: 7; }
    GradientsView > GradientsTable { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.payload: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield CurvePlot(id="gradients-plot")
        yield GradientsTable(id="gradients-table")

    def show(self, payload: dict[str, Any] | None) -> None:
        if payload is self.payload:
            return
        self.payload = payload
        series: list[Series] = []
        epochs: list[float] = []
        for i, (_, xs, ys, _) in enumerate(ratio_series(payload or {})):
            # unlabelled, with a marker of their own: the table under the plot is the legend (a line saved)
            series.append(Series("", xs, ys, colour(i), marker(i)))
            epochs += xs
        if epochs:
            series.insert(0, Series("", [min(epochs), max(epochs)], [HEALTHY, HEALTHY], RAW, REFERENCE_MARKER))
        plot = self.query_one(CurvePlot)
        plot.empty_text = "no gradients yet"
        plot.set_series(series, title="update/weight ratio ‖Δθ‖/‖θ‖, log y", xlabel="", ylog=True)
        table = self.query_one(GradientsTable)
        table.payload = payload
        table.changed()
