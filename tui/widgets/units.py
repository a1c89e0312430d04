"""The hidden units of a circles MLP on the Train screen: each unit's tanh output over the plane as a small
tile (half blocks: two grid rows per cell), the latest recorded epoch, beside the decision boundary.

Colours: purple for +1, white for 0, orange for -1 (the figure's, engine.figures.units). At 16 colours they
are the terminal's; under NO_COLOR each cell is a glyph for its value: `#` >= 0.5, `+` above 0.1, `·` near 0,
`-` below -0.1, `=` <= -0.5. Many units (hidden=50): as many tiles as fit, those with the largest output
weight first, and the caption says how many are shown."""
from __future__ import annotations

from typing import Any

from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from engine.figures.unit_codes import by_weight, unit_maps

POSITIVE, ZERO, NEGATIVE = (84, 39, 136), (247, 247, 247), (179, 88, 6)
GLYPHS = ((0.5, "#"), (0.1, "+"), (-0.1, "·"), (-0.5, "-"))  # the first threshold a value reaches; else "="


def colour(v: float) -> tuple[int, int, int]:
    v = min(1.0, max(-1.0, float(v)))
    end = POSITIVE if v > 0 else NEGATIVE
    return tuple(int(z + (e - z) * abs(v)) for z, e in zip(ZERO, end))  # type: ignore[return-value]


def glyph(v: float) -> str:
    return next((g for limit, g in GLYPHS if v >= limit), "=")


def layout(units: int, width: int, height: int) -> tuple[int, int, int]:
    """(tile side in cells, tiles per row, tiles shown): the largest side (4..20) for which all units fit
    in width x height (one cell between tiles, one line between rows); at side 4, as many as fit."""
    for side in range(20, 3, -1):
        per_row = max(1, (width + 1) // (side + 1))
        rows = -(-units // per_row)
        if rows * (side // 2 + 1) <= height:
            return side, per_row, units
    side = 4
    per_row = max(1, (width + 1) // (side + 1))
    return side, per_row, min(units, per_row * max(1, height // (side // 2 + 1)))


class UnitsView(Widget):
    DEFAULT_CSS = "UnitsView { width: 1fr; height: 1fr; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.artifact: dict[str, Any] | None = None
        self._lines: list[Strip] = []
        self._key: tuple | None = None

    def show(self, artifact: dict[str, Any] | None) -> None:
        if artifact is not self.artifact:
            self.artifact = artifact
            self.refresh()

    def _caption(self, shown: int, total: int) -> str:
        """Fits a 40-column panel: the epoch and the colour key (or the glyphs' under NO_COLOR)."""
        if not self.artifact:
            return "hidden units: waiting for the first map"
        more = f" ({shown} of {total})" if shown < total else ""
        key = "tanh # +1, = -1" if getattr(self.app, "no_color", False) else "purple +1, orange -1"
        return f"units, epoch {self.artifact.get('epoch', '?')}: {key}{more}"

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        base = self.rich_style
        key = (id(self.artifact), width, height, getattr(self.app, "no_color", False), self.app.theme)
        if key != self._key:
            self._key = key
            self._lines = self._draw(width, height, base)
        return self._lines[y] if y < len(self._lines) else Strip.blank(width, base)

    def _draw(self, width: int, height: int, base: Style) -> list[Strip]:
        if not self.artifact or not self.artifact.get("maps"):
            return [Strip([Segment(self._caption(0, 0)[:width].ljust(width), base)])]
        maps = unit_maps(self.artifact)
        side, per_row, shown = layout(len(maps), width, height - 1)
        picked = sorted(by_weight(self.artifact)[:shown])
        plain = bool(getattr(self.app, "no_color", False))
        ansi = self.app.theme.startswith("ansi")
        lines = [Strip([Segment(self._caption(shown, len(maps))[:width].ljust(width), base)])]
        for start in range(0, len(picked), per_row):
            tiles = picked[start:start + per_row]
            for r in range(side // 2):
                segs: list[Segment] = []
                for t, unit in enumerate(tiles):
                    grid = maps[unit]
                    n = grid.shape[0]
                    for c in range(side):
                        gx = min(n - 1, c * n // side)
                        top = grid[n - 1 - min(n - 1, (2 * r) * n // side), gx]
                        bottom = grid[n - 1 - min(n - 1, (2 * r + 1) * n // side), gx]
                        if plain:
                            segs.append(Segment(glyph((top + bottom) / 2), base))
                        else:
                            style = Style(color="rgb({},{},{})".format(*colour(top)),
                                          bgcolor="rgb({},{},{})".format(*colour(bottom)))
                            if ansi:
                                style = Style(color=style.color and style.color.downgrade(ColorSystem.STANDARD),
                                              bgcolor=style.bgcolor and style.bgcolor.downgrade(ColorSystem.STANDARD))
                            segs.append(Segment("▀", base + style))
                    if t < len(tiles) - 1:
                        segs.append(Segment(" ", base))
                used = sum(len(s.text) for s in segs)
                segs.append(Segment(" " * max(0, width - used), base))
                lines.append(Strip(segs).crop(0, width))
            labels = "".join(f"u{unit + 1}".ljust(side + 1) for unit in tiles)
            lines.append(Strip([Segment(labels[:width].ljust(width), base)]))
        return lines
