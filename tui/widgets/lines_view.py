"""A view that draws its own lines of styled cells, built once per payload, width and colour depth.

The inside views (activations, filters, feature maps, the gradients table) are lists of short cells; a
cell's style None takes the widget's own. The lines are built when what they depend on changes (the view's
`version`, the width, the colour depth, the theme), not at each of the screen's redraws: a refresh of the
progress line makes Textual ask for the lines again twice a second.

Colour depth (`colour_depth`): "none" under NO_COLOR (the app's no_color), "16" with an ANSI theme or a
16-colour terminal (the console's colour system), else "full" (truecolor, downgraded by the terminal
driver to 256 colours where that is all there is).
"""
from __future__ import annotations

from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

Cell = tuple[str, Style | None]
Line = list[Cell]


def colour_depth(app: Any) -> str:
    if getattr(app, "no_color", False):
        return "none"
    theme = str(getattr(app, "theme", "") or "")
    system = getattr(getattr(app, "console", None), "color_system", None)
    if theme.startswith("ansi") or system in ("standard", "windows"):
        return "16"
    return "full"


def plain(text: str, width: int) -> Line:
    return [(text[:width], None)]


class LinesView(Widget):
    """Subclasses build their lines in `build(width, depth)` and call `changed()` when their data changed."""

    DEFAULT_CSS = "LinesView { width: 1fr; height: auto; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.version = 0
        self._lines: list[Line] = []
        self._key: tuple | None = None
        self._strips: dict[tuple[int, Style], Strip] = {}

    # -- for subclasses -----------------------------------------------------------------------
    def build(self, width: int, depth: str) -> list[Line]:
        raise NotImplementedError

    def visible_height(self) -> int:
        """The rows the view can show without scrolling (its scroll container's, when it is in one)."""
        parent = self.parent
        height = parent.size.height if isinstance(parent, Widget) else 0
        return height or self.size.height or 24

    def changed(self) -> None:
        before = len(self._lines)
        self.version += 1
        self._key = None
        if self.size.width:
            self.lines(self.size.width)
        self.refresh(layout=not self.size.width or len(self._lines) != before)

    # -- drawing ------------------------------------------------------------------------------
    def lines(self, width: int) -> list[Line]:
        depth = colour_depth(self.app)
        key = (self.version, width, depth, self.app.theme, self.visible_height())
        if key != self._key:
            self._key = key
            self._strips = {}
            self._lines = self.build(max(20, width), depth)
        return self._lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style  # every segment styled: Textual's NO_COLOR filter needs a style
        lines = self.lines(width)
        strip = self._strips.get((y, base))
        if strip is None:
            if y >= len(lines):
                strip = Strip.blank(width, base)
            else:
                segments = [Segment(text, base if style is None else base + style) for text, style in lines[y]]
                strip = Strip(segments).crop_extend(0, width, base)
            self._strips[(y, base)] = strip
        return strip

    def text(self) -> str:
        """What the view shows, as plain text (for tests and logs)."""
        return "\n".join("".join(t for t, _ in line) for line in self.lines(self.size.width or 80))
