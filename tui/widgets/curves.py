"""Line plots of metric curves over plotext (textual-plotext), redrawn only when asked.

A plotext build costs 10-120 ms, so callers set the series and call `redraw()` from a
timer or after a user action, never per batch.

Curves are told apart without colour too: each labelled series has its own marker (a thin
braille line, a thick half-block line, then marker characters), shown beside its label in
the legend, which has a line of its own above the data. The palette keeps its eight colours
distinct when a terminal has only 16 (each maps to another ANSI colour). Ticks are round
numbers (whole epochs on an epoch axis) and no tick label runs past the plot's edge.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.color import Color, ColorSystem, ColorType
from rich.style import Style
from rich.text import Span, Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

from tui.smoothing import finite_points

RGB = tuple[int, int, int]

# Stable run colours (RGB, so a table swatch can show the very same colour). Each one maps to a
# different colour of a 16-colour terminal (bright blue, yellow, bright green, bright red, magenta,
# cyan, bright magenta, bright yellow), so curves stay apart there too.
PALETTE: tuple[RGB, ...] = (
    (66, 135, 245), (220, 120, 0), (60, 180, 75), (230, 25, 75),
    (160, 60, 200), (70, 200, 200), (240, 100, 220), (200, 200, 60),
)
RAW = (120, 120, 120)  # unsmoothed curves under their smoothed ones: one grey, named in the legend
RAW_MARKER = "·"  # and one marker of their own (no series has it), so they stay apart without colour too

# plotext markers, one per labelled series, and how the legend draws each
MARKERS: tuple[str, ...] = ("braille", "•", "x", "+", "o", "*", "=", "#")
LEGEND_GLYPH = {"braille": "⠒⠒", "hd": "▄▄", "dot": "••", "sd": "██"}

MIN_DATA_ROWS = 3  # below this many rows for the curves (or 20 columns) the plot says so instead


def colour(i: int) -> RGB:
    return PALETTE[i % len(PALETTE)]


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


def hex_colour(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def legend_glyph(mark: str) -> str:
    return LEGEND_GLYPH.get(mark, (mark[:1] or "-") * 2)


@dataclass
class Series:
    label: str  # "" for an unlabelled companion curve (e.g. the raw values under a smoothed one)
    xs: Sequence[float]
    ys: Sequence[float | None]
    colour: RGB | str = "blue"
    marker: str = ""  # "" picks the next marker of MARKERS (labelled series) or RAW_MARKER (unlabelled)


# ---------------------------------------------------------------------------- ticks
def nice_step(span: float, count: int, integer: bool = False) -> float:
    """A round step (1, 2, 2.5 or 5 x 10^k) giving about `count` intervals over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * power
        if step >= raw and not (integer and step < 1) and not (integer and m == 2.5 and power < 10):
            return step
    return 10 * power


def nice_ticks(lo: float, hi: float, count: int, integer: bool = False) -> list[float]:
    """Round tick values inside [lo, hi] (whole numbers when `integer`), about `count` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [round(lo) if integer else lo]
    step = nice_step(hi - lo, max(1, count), integer)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= hi + 1e-9 * step and k < 100:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks


def log_ticks(lo: float, hi: float, count: int) -> list[float]:
    """Round ticks (1, 2, 5 x 10^k, or powers of ten when the span is wide) inside [lo, hi] > 0."""
    if lo <= 0 or hi <= 0:
        return []
    ticks = []
    for mults in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
                 for m in mults if lo * (1 - 1e-9) <= m * 10.0 ** e <= hi * (1 + 1e-9)]
        if len(ticks) <= count:
            break
    if len(ticks) < 2:  # a narrow span: linear round ticks read better
        return nice_ticks(lo, hi, count)
    return ticks


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels with just the decimals the ticks need (0.5 0.6 0.7, 10 20 30, 0.001 0.01)."""
    if not ticks:
        return []
    for decimals in range(0, 7):
        labels = [f"{t:.{decimals}f}" for t in ticks]
        if all(abs(float(s) - t) <= 1e-9 * max(1.0, abs(t)) for s, t in zip(labels, ticks)):
            return labels
    return [f"{t:.3g}" for t in ticks]


def terminal_palette(text: Text) -> Text:
    """The same text in the terminal's own colours (the ANSI themes): every RGB colour becomes the nearest
    of the 16 palette colours, and backgrounds the terminal's default."""
    def plain(style: Style | str) -> Style | str:
        if isinstance(style, str):
            return style
        colour_ = style.color
        if colour_ is not None and colour_.type in (ColorType.TRUECOLOR, ColorType.EIGHT_BIT):
            # black or white here is the plot's frame and text (plotext's theme has no ANSI colours):
            # the terminal's own foreground; the series' colours become their 16-colour versions
            rgb = colour_.get_truecolor()
            colour_ = Color.default() if rgb in ((0, 0, 0), (255, 255, 255)) \
                else colour_.downgrade(ColorSystem.STANDARD)
        return style + Style(color=colour_, bgcolor=Color.default() if style.bgcolor is not None else None)

    out = text.copy()
    out.style = plain(out.style)
    out.spans = [Span(s.start, s.end, plain(s.style)) for s in out.spans]
    return out


# ---------------------------------------------------------------------------- the widget
class CurvePlot(PlotextPlot):
    """A titled plot of several series; `redraw()` rebuilds the plotext figure.

    Rows: the title, the legend (one line, more when it does not fit), then the data with its
    axes. Every line is a styled Text, so the NO_COLOR filter and plain themes draw it as is."""

    DEFAULT_CSS = "CurvePlot { height: 1fr; min-height: 5; background: $surface; }"

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: list[Series] = []
        self.xlabel = ""
        self.ylog = False
        self.empty_text = "no data yet"
        self.raw_note = ""  # legend entry for the unlabelled RAW curves (e.g. "raw"), "" for none
        self._drawn: list[tuple[Series, list[float], list[float], str]] = []  # what redraw() plotted

    def set_series(self, series: list[Series], *, title: str | None = None, xlabel: str | None = None,
                   ylog: bool | None = None) -> None:
        self.series = series
        if title is not None:
            self.title = title
        if xlabel is not None:
            self.xlabel = xlabel
        if ylog is not None:
            self.ylog = ylog
        self.redraw()

    def point_count(self) -> int:
        return sum(len(finite_points(s.xs, s.ys)[0]) for s in self.series)

    def markers(self) -> list[str]:
        """The marker of each series: its own, else the next of MARKERS among labelled series."""
        out, k = [], 0
        for s in self.series:
            if s.marker:
                out.append(s.marker)
            elif s.label:
                out.append(marker(k))
                k += 1
            else:
                out.append(RAW_MARKER)
        return out

    def legend(self) -> list[tuple[str, str, RGB | str]]:
        """(glyph, label, colour) of each labelled series drawn, then the raw curves' entry."""
        entries = [(legend_glyph(m), s.label, s.colour) for s, _, _, m in self._drawn if s.label]
        if self.raw_note and any(not s.label for s, _, _, _ in self._drawn):
            entries.append((legend_glyph(RAW_MARKER), self.raw_note, RAW))
        return entries

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if self.xlabel:
            plt.xlabel(self.xlabel)
        # a log y axis is drawn as log10 of the values on a linear axis, labelled with the values:
        # plotext's own log scale takes the log of its stored data again at every build (a resize)
        plt.yscale("linear")
        self._drawn = []
        for s, mark in zip(self.series, self.markers()):
            xs, ys = finite_points(s.xs, s.ys, positive=self.ylog)
            if xs:
                self._drawn.append((s, xs, ys, mark))
        # unlabelled companions first, so the labelled curves are drawn over them
        for s, xs, ys, mark in sorted(self._drawn, key=lambda d: bool(d[0].label)):
            plt.plot(xs, [math.log10(y) for y in ys] if self.ylog else ys, color=s.colour, marker=mark)
        if not self._drawn:
            plt.text(self.empty_text, 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
            plt.xticks([])  # no 0-1 ticks on an axis that says "epoch": there is nothing to read on it yet
            plt.yticks([])
        self.refresh()

    # ------------------------------------------------------------------ rendering
    def _style(self, rgb: RGB | str) -> Style:
        colour_ = "rgb({},{},{})".format(*rgb) if isinstance(rgb, tuple) else rgb
        return self.rich_style + Style(color=colour_)

    def _head(self, width: int) -> list[Text]:
        base = self.rich_style
        title = self.title if len(self.title) <= width else self.title[:max(0, width - 1)] + "…"
        lines = [Text(title, style=base + Style(bold=True))]
        line = Text(style=base)
        for glyph, label, rgb in self.legend():
            entry = f"{glyph} {label}"
            if line.cell_len and line.cell_len + 2 + len(entry) > width:
                lines.append(line)
                line = Text(style=base)
            if line.cell_len:
                line.append("  ")
            line.append(glyph, self._style(rgb))
            line.append(" " + label[:max(0, width - 3)])
        if line.cell_len:
            lines.append(line)
        return lines

    def _y_ticks(self, lo: float, hi: float, rows: int) -> list[float]:
        """Round ticks about 3.5 rows of data apart: of the round steps, the one whose tick count is
        nearest to that (at least 2 ticks where any round step gives 2)."""
        data_rows = rows - (4 if self.xlabel else 3)  # frame above and below, tick labels, axis label
        target = max(2.0, data_rows / 3.5)
        best: list[float] = []
        for count in range(1, max(2, data_rows) + 1):
            ticks = log_ticks(lo, hi, count) if self.ylog else nice_ticks(lo, hi, count)
            if len(ticks) > data_rows:
                break
            if not best or (len(best) < 2 <= len(ticks)) or \
                    (len(ticks) >= 2 and abs(len(ticks) - target) < abs(len(best) - target)):
                best = ticks
        return best

    def _ticks(self, width: int, rows: int) -> None:
        """Round ticks on both axes, sized to the plot; labels that would be cut are left out."""
        if not self._drawn:
            return
        plt = self.plt
        xs = [x for _, dx, _, _ in self._drawn for x in dx]
        ys = [y for _, _, dy, _ in self._drawn for y in dy]
        x_lo, x_hi, y_lo, y_hi = min(xs), max(xs), min(ys), max(ys)
        integer_x = all(float(x).is_integer() for x in xs)
        y_ticks = self._y_ticks(y_lo, y_hi, rows)
        if len(y_ticks) < 2 and not self.ylog:  # a flat curve: ticks around it
            pad = abs(y_lo) * 0.05 or 0.05
            y_lo, y_hi = y_lo - pad, y_hi + pad
            y_ticks = nice_ticks(y_lo, y_hi, 2)
            plt.ylim(y_lo, y_hi)
        if self.ylog:
            y_ticks = [t for t in y_ticks if t > 0]
        y_labels = tick_labels(y_ticks)
        plt.yticks([math.log10(t) for t in y_ticks] if self.ylog else y_ticks, y_labels)
        left = max((len(s) for s in y_labels), default=1) + 1  # y labels and the axis
        canvas = max(1, width - left - 2)
        x_ticks = nice_ticks(x_lo, x_hi, max(1, canvas // 10), integer=integer_x)
        if len(x_ticks) < 2 and x_hi == x_lo:
            plt.xlim(x_lo - 1, x_hi + 1)
            x_lo, x_hi = x_lo - 1, x_hi + 1
        x_labels = tick_labels(x_ticks)
        keep = []
        for t, label in zip(x_ticks, x_labels):
            at = left + 1 + (t - x_lo) / ((x_hi - x_lo) or 1) * (canvas - 1)
            if at + (len(label) - 1) // 2 + 1 < width and at - len(label) // 2 >= 0:
                keep.append((t, label))
        plt.xticks([t for t, _ in keep], [label for _, label in keep])

    def render(self) -> RenderResult:
        width, height = self.size.width, self.size.height
        head = self._head(width)
        rows = height - len(head)
        if width < 20 or rows - (4 if self.xlabel else 3) < MIN_DATA_ROWS:  # frame, tick labels, axis label
            note = f"{self.title}: " if self.title else ""
            return Text(f"{note}terminal too small for this plot (needs 80x24)", style=self.rich_style)
        self._plot.plotsize(width, rows)
        self._plot._set_size(width, rows)  # see PlotextPlot.render: resizing needs both
        self._plot.theme(self._get_plotext_theme_name(self.app.theme))
        self._ticks(width, rows)
        body = Text.from_ansi(self._plot.build(), style=self.rich_style)
        text = Text("\n", style=self.rich_style).join([*head, body])
        return terminal_palette(text) if self.app.theme.startswith("ansi") else text
