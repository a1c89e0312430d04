"""Activations on the Train screen, from the run's activations artifact (engine.inside: one fixed probe
batch, eval mode, at each epoch's end and before training).

Per layer that feeds a nonlinearity: its latest pre-activation quantiles as a text box plot on an axis all
layers share (`·` 1-10 % and 90-99 %, `─` 10-25 % and 75-90 %, `█` the middle half, `┃` the median, `┊` zero
where nothing else is), the quantiles in numbers, and the share of dead ReLU units or of saturated tanh
outputs with its trend over the epochs (a sparkline, first value to latest). With batch norm, each BN
layer's gamma, beta, running mean and running variance (mean over channels, min..max). With dropout, the
probe batch's accuracy and loss with dropout active (train mode) and off (eval mode), latest and over
epochs: lab question 33, dropout at train against test time. The glyphs carry everything: NO_COLOR and 16
colours lose only the layer colours of the boxes.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

from rich.style import Style

from engine.inside.limits import SATURATED
from tui.widgets.curves import colour
from tui.widgets.lines_view import Line, LinesView, plain

SPARKS = "▁▂▃▄▅▆▇█"
MAX_SPARK = 24  # points of a sparkline at most (evenly picked from a long run's epochs)
BOX_MAX = 60
DIM = Style(dim=True)


def num(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def share(value: Any) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return "-"
    return f"{100 * value:.1f}%"


def spark(values: Sequence[Any], lo: float | None = None, hi: float | None = None, points: int = MAX_SPARK) -> str:
    """A sparkline of the values (None or non-finite: a space), from lo (default 0) to hi (default max), of
    at most `points` characters (evenly picked values, the first and the last among them)."""
    vals = [float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None for v in values]
    points = max(2, min(points, MAX_SPARK))
    if len(vals) > points:
        vals = [vals[round(i * (len(vals) - 1) / (points - 1))] for i in range(points)]
    finite = [v for v in vals if v is not None]
    if not finite:
        return ""
    lo = 0.0 if lo is None else lo
    hi = max(finite) if hi is None else hi
    span = hi - lo
    out = []
    for v in vals:
        if v is None:
            out.append(" ")
        else:
            k = 0 if span <= 0 else round((v - lo) / span * (len(SPARKS) - 1))
            out.append(SPARKS[min(len(SPARKS) - 1, max(0, k))])
    return "".join(out)


def box_row(q: Sequence[float], lo: float, hi: float, width: int) -> str:
    """The 7 quantiles (1 10 25 50 75 90 99 %) as a text box plot over [lo, hi] in `width` columns."""
    if width < 3 or len(q) < 7 or hi <= lo:
        return " " * max(0, width)

    def col(v: float) -> int:
        return min(width - 1, max(0, round((v - lo) / (hi - lo) * (width - 1))))

    cells = [" "] * width
    for a, b, glyph in ((0, 6, "·"), (1, 5, "─"), (2, 4, "█")):
        for c in range(col(q[a]), col(q[b]) + 1):
            cells[c] = glyph
    cells[col(q[3])] = "┃"
    if lo <= 0 <= hi and cells[col(0.0)] == " ":
        cells[col(0.0)] = "┊"
    return "".join(cells)


def axis_row(lo: float, hi: float, width: int) -> str:
    """lo at the left, 0 where it falls, hi at the right."""
    cells = [" "] * width
    left, right = num(lo), num(hi)
    cells[:len(left)] = left
    cells[width - len(right):] = right
    if lo < 0 < hi:
        at = round((0 - lo) / (hi - lo) * (width - 1))
        if len(left) < at < width - len(right) - 1:
            cells[at] = "0"
    return "".join(cells)[:width]


def quantile_text(q: Sequence[float], width: int) -> str:
    """The quantiles in numbers, `1 10 [25 50 75] 90 99`, or fewer and shorter when the width is small."""
    for digits, picks in ((3, range(7)), (3, (0, 2, 3, 4, 6)), (2, (0, 2, 3, 4, 6))):
        parts = [f"{q[k]:.{digits}g}" for k in picks]
        box = [i for i, k in enumerate(picks) if k in (2, 3, 4)]
        parts[box[0]], parts[box[-1]] = "[" + parts[box[0]], parts[box[-1]] + "]"
        text = " ".join(parts)
        if len(text) <= width:
            return text
    return text


def spread(values: Sequence[Any]) -> str:
    """A per-channel vector as `mean (min..max)`."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return "-"
    return f"{num(sum(vals) / len(vals))} ({num(min(vals))}..{num(max(vals))})"


def pack(parts: list[str], width: int, indent: str) -> list[str]:
    """The parts joined by two spaces, on as few lines as the width allows (continuations indented)."""
    lines: list[str] = []
    line = ""
    for part in parts:
        if line and len(line) + 2 + len(part) > width:
            lines.append(line)
            line = indent + part
        else:
            line = f"{line}  {part}" if line else part
    if line:
        lines.append(line)
    return lines


def wrapped(text: str, width: int, style: Style | None = None) -> list[Line]:
    return [[(t, style)] for t in textwrap.wrap(text, width, subsequent_indent="  ")]


def activation_lines(p: dict[str, Any], width: int, depth: str) -> list[Line]:
    out: list[Line] = []
    out += wrapped(f"activations, epoch {p.get('epoch', '?')}, probe: {p.get('probe', '?')}", width)
    layers = [str(x) for x in p.get("layers") or []]
    pre = p.get("pre") or {}
    latest = {layer: (pre.get(layer) or [[]])[-1] for layer in layers}
    latest = {k: v for k, v in latest.items() if len(v) >= 7}
    epochs = list(p.get("epochs") or [])
    if latest:
        lo = min(0.0, *(v[0] for v in latest.values()))
        hi = max(0.0, *(v[6] for v in latest.values()))
        name_w = max(len(x) for x in latest) + 1
        box_w = max(10, min(BOX_MAX, width - name_w))
        out += wrapped("pre-activation quantiles, box: · 1-99 % ─ 10-90 % █ 25-75 % ┃ median ┊ 0; numbers: "
                       "1 10 [25 50 75] 90 99 %", width, DIM)
        out.append([(" " * name_w + axis_row(lo, hi, box_w), DIM)])
        nonlinearity = p.get("nonlinearity") or {}
        for i, layer in enumerate(layers):
            q = latest.get(layer)
            if q is None:
                continue
            style = None if depth == "none" else Style(color="rgb({},{},{})".format(*colour(i)))
            out.append([(layer.ljust(name_w), None), (box_row(q, lo, hi, box_w), style)])
            pad = " " * name_w
            out.append(plain(pad + quantile_text(q, width - name_w), width))
            kind = nonlinearity.get(layer)
            field, word = ("dead", "dead") if kind == "relu" else ("saturated", "saturated")
            series = (p.get(field) or {}).get(layer) or []
            if series:
                first = f" from {share(series[0])}" if len(series) > 1 else ""
                text = f"{pad}{word} {share(series[-1])} "
                out.append(plain(f"{text}{spark(series, points=width - len(text) - len(first))}{first}", width))
        if any(nonlinearity.get(x) == "tanh" for x in latest):
            out += wrapped(f"saturated: |tanh| > {SATURATED:g}, its gradient below {1 - SATURATED ** 2:.2f} "
                           "(trend: epoch "
                           f"{epochs[0] if epochs else 0} to now)", width, DIM)
        if any(nonlinearity.get(x) == "relu" for x in latest):
            out += wrapped("dead: units never positive on the probe (trend: epoch "
                           f"{epochs[0] if epochs else 0} to now)", width, DIM)
    bn = p.get("bn") or {}
    if bn:
        out.append(plain("", width))
        out += wrapped("batch norm, per channel: mean (min..max)", width)
        for name, parts in bn.items():
            values = {k: (parts.get(k) or [[]])[-1] for k in ("weight", "bias", "running_mean", "running_var")}
            pad = " " * (len(name) + 1)
            texts = [f"γ {spread(values['weight'])}", f"β {spread(values['bias'])}",
                     f"mean {spread(values['running_mean'])}", f"var {spread(values['running_var'])}"]
            for k, line in enumerate(pack(texts, width - len(pad), "")):
                out.append(plain((name + " " if k == 0 else pad) + line, width))
    drop = p.get("dropout") or {}
    if drop.get("train_acc") and drop.get("eval_acc"):
        out.append(plain("", width))
        out += wrapped("dropout, probe batch (Q33): train mode (dropout on) vs eval mode (off)", width)
        train, test = drop["train_acc"], drop["eval_acc"]
        train_loss, test_loss = drop.get("train_loss") or [None], drop.get("eval_loss") or [None]
        out.append(plain(f"  train mode {share(train[-1])}  loss {num(train_loss[-1])}", width))
        out.append(plain(f"  eval mode  {share(test[-1])}  loss {num(test_loss[-1])}", width))
        if all(isinstance(v, (int, float)) for v in (train[-1], test[-1])):
            out.append(plain(f"  eval - train: {100 * (test[-1] - train[-1]):+.1f} pt", width))
        span = f" (epochs {epochs[0]}-{epochs[-1]}, 0-100%)" if len(epochs) > 1 else ""
        out.append(plain(f"  train {spark(train, 0.0, 1.0)}{span}", width))
        out.append(plain(f"  eval  {spark(test, 0.0, 1.0)}", width))
    return out


class ActivationsView(LinesView):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.payload: dict[str, Any] | None = None

    def show(self, payload: dict[str, Any] | None) -> None:
        if payload is not self.payload:
            self.payload = payload
            self.changed()

    def build(self, width: int, depth: str) -> list[Line]:
        if not self.payload:
            return [plain("activations: waiting for the first epoch", width)]
        return activation_lines(self.payload, width, depth)
