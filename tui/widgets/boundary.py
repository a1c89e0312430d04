"""The decision boundary of a 2-D classifier: the course's 40 x 40 grid as coloured cells.

Each terminal cell shows two grid rows with a half block (top colour as foreground, bottom
as background), so a 40 x 40 grid needs 40 x 20 cells; smaller widgets sample the grid.
Points (train set) are drawn on top in their class colour, • for class 0 and o for class 1.
"""
from __future__ import annotations

from typing import Any

from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

CLASS0 = (40, 90, 200)  # outer ring
CLASS1 = (230, 120, 30)  # inner disc


def blend(p: float) -> tuple[int, int, int]:
    """Class-1 probability -> colour: class 0 blue, 0.5 pale grey, class 1 orange."""
    p = 0.0 if p is None else min(1.0, max(0.0, float(p)))
    mid = (200, 200, 200)
    if p < 0.5:
        t = p / 0.5
        return tuple(int(a + (b - a) * t) for a, b in zip(CLASS0, mid))  # type: ignore[return-value]
    t = (p - 0.5) / 0.5
    return tuple(int(a + (b - a) * t) for a, b in zip(mid, CLASS1))  # type: ignore[return-value]


def _rgb(c: tuple[int, int, int]) -> str:
    return "rgb({},{},{})".format(*c)


def boundary_rows(prob: list[list[float]], width: int, height: int, lo: float = -2.0, hi: float = 2.0,
                  points: list[list[float]] | None = None) -> list[list[tuple[str, Style]]]:
    """Cells (char, style) of a width x height picture; row 0 is the top (largest y)."""
    n = len(prob)
    if not n or width <= 0 or height <= 0:
        return []
    m = len(prob[0])

    def at(px_row: int, col: int) -> float:
        # pixel row from the top over 2*height rows; grid row index = y index, y grows upwards
        gy = n - 1 - min(n - 1, px_row * n // (2 * height))
        gx = min(m - 1, col * m // width)
        return prob[gy][gx]

    marks: dict[tuple[int, int], int] = {}
    for x, y, label in points or ():
        if lo <= x < hi and lo <= y < hi:
            col = int((x - lo) / (hi - lo) * width)
            row = int((hi - y) / (hi - lo) * height)
            marks[(min(height - 1, row), min(width - 1, col))] = int(label)
    rows = []
    for r in range(height):
        cells = []
        for c in range(width):
            top, bottom = blend(at(2 * r, c)), blend(at(2 * r + 1, c))
            if (r, c) in marks:
                dot = (10, 30, 120) if marks[(r, c)] == 0 else (120, 40, 0)
                mean = tuple((a + b) // 2 for a, b in zip(top, bottom))
                mark = "•" if marks[(r, c)] == 0 else "o"  # the classes told apart without colour too
                cells.append((mark, Style(color=_rgb(dot), bgcolor=_rgb(mean), bold=True)))
            else:
                cells.append(("▀", Style(color=_rgb(top), bgcolor=_rgb(bottom))))
        rows.append(cells)
    return rows


class BoundaryView(Widget):
    """The latest decision-boundary grid of the run (circles MLP, SVM regions)."""

    DEFAULT_CSS = "BoundaryView { width: 1fr; height: 1fr; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.grid: dict[str, Any] | None = None
        self.points: list[list[float]] = []

    def show(self, grid: dict[str, Any] | None, points: dict[str, Any] | None = None) -> None:
        self.grid = grid
        if points:
            self.points = points.get("train") or []
        self.refresh()

    def caption(self) -> str:
        if not self.grid:
            return "boundary: waiting for the first grid"
        what = " (SVM regions)" if self.grid.get("decision") is not None else ""
        if getattr(self.app, "no_color", False):  # NO_COLOR: the glyphs tell the classes apart, not colours
            return f"epoch {self.grid.get('epoch', '?')}: class 0 •, class 1 o{what}"
        return f"epoch {self.grid.get('epoch', '?')}: class 0 blue •, 1 orange o{what}"  # fits 40 columns

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        base = self.rich_style  # every segment carries a style: textual's NO_COLOR filter needs one
        if y == 0:
            return Strip([Segment(self.caption()[:width].ljust(width), base)])
        if not self.grid or not self.grid.get("prob"):
            return Strip.blank(width, base)
        side = min(width, 2 * (height - 1))  # keep the picture square: a cell is ~1 wide x 2 tall
        rows = self._rows(side, max(1, side // 2))
        r = y - 1
        if r >= len(rows):
            return Strip.blank(width, base)
        segs = [Segment(ch, base + style) for ch, style in rows[r]]
        pad = width - side
        if pad > 0:
            segs.append(Segment(" " * pad, base))
        return Strip(segs)

    _cache_key: tuple | None = None
    _cache_rows: list = []

    def _rows(self, width: int, height: int) -> list:
        ansi = self.app.theme.startswith("ansi")  # the ANSI themes: the terminal's 16 colours only
        key = (id(self.grid), width, height, len(self.points), ansi)
        if key != self._cache_key:
            g = self.grid or {}
            rows = boundary_rows(g.get("prob") or [], width, height, float(g.get("lo", -2)),
                                 float(g.get("hi", 2)), self.points)
            if ansi:
                rows = [[(ch, Style(color=style.color and style.color.downgrade(ColorSystem.STANDARD),
                                    bgcolor=style.bgcolor and style.bgcolor.downgrade(ColorSystem.STANDARD),
                                    bold=style.bold)) for ch, style in row] for row in rows]
            self._cache_rows = rows
            self._cache_key = key
        return self._cache_rows
