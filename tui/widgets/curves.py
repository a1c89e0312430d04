"""Line plots of metric curves over plotext (textual-plotext), redrawn only when asked.

A plotext build costs 10-120 ms, so callers set the series and call `redraw()` from a
timer or after a user action, never per batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from textual_plotext import PlotextPlot

from tui.smoothing import finite_points

# Stable run colours (RGB, so a table swatch can show the very same colour).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75),
    (145, 30, 180), (70, 200, 200), (240, 200, 40), (170, 110, 40),
)


def colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def faded(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(c * 0.45 + 110 * 0.55) for c in rgb)  # type: ignore[return-value]


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass
class Series:
    label: str
    xs: Sequence[float]
    ys: Sequence[float | None]
    colour: tuple[int, int, int] | str = "blue"
    marker: str = "braille"


class CurvePlot(PlotextPlot):
    """A titled plot of several series; `redraw()` rebuilds the plotext figure."""

    DEFAULT_CSS = "CurvePlot { height: 1fr; min-height: 5; }"

    def __init__(self, title: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: list[Series] = []
        self.xlabel = ""
        self.ylog = False
        self.empty_text = "no data yet"

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

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        if self.xlabel:
            plt.xlabel(self.xlabel)
        plt.yscale("log" if self.ylog else "linear")
        drawn = 0
        for s in self.series:
            xs, ys = finite_points(s.xs, s.ys, positive=self.ylog)
            if not xs:
                continue
            plt.plot(xs, ys, label=s.label or None, color=s.colour, marker=s.marker)
            drawn += 1
        if not drawn:
            plt.text(self.empty_text, 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        self.refresh()
