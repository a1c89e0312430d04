"""Sample predictions: small images (gray or RGB) drawn with half blocks, with predicted/true labels.

The view draws its own lines (render_line) from segments whose styles are built once per colour
pair: a page of eight images is about a thousand coloured cells, and going through rich Text and
Textual's Content for each of them cost the UI thread ~0.2 s per epoch, time the trainer lost.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from rich.color import Color
from rich.style import Style

from tui.widgets.lines_view import Cell, Line, LinesView

RGB = tuple[int, int, int]

RIGHT = Style(color="green")
WRONG = Style(color="red", bold=True)
DIM = Style(dim=True)


def _pixel(image: list, r: int, c: int) -> RGB:
    v = image[r][c]
    if isinstance(v, list):
        return int(v[0]), int(v[1]), int(v[2])
    return int(v), int(v), int(v)


@lru_cache(maxsize=4096)
def half_block(top: RGB, bottom: RGB) -> Style:
    return Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))


def image_lines(image: list, max_width: int = 16) -> list[list[Cell]]:
    """An H x W (x 3) 0..255 image scaled to <= max_width columns, 2 pixel rows per line."""
    h = len(image)
    w = len(image[0]) if h else 0
    if not h or not w:
        return []
    step = max(1, -(-w // max_width))
    cols = list(range(0, w, step))
    rows = list(range(0, h, step))
    lines = []
    for k in range(0, len(rows), 2):
        line: list[Cell] = []
        for c in cols:
            top = _pixel(image, rows[k], c)
            bottom = _pixel(image, rows[k + 1], c) if k + 1 < len(rows) else (0, 0, 0)
            line.append(("▀", half_block(top, bottom)))
        lines.append(line)
    return lines


def samples_lines(payload: dict[str, Any], width: int = 80, max_image: int = 14) -> list[list[Cell]]:
    """The view's lines: a caption, then rows of images with their labels under them, then the key."""
    labels = [str(x) for x in payload.get("labels") or []]
    items = payload.get("items") or []

    def name(i: Any) -> str:
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else str(i)

    out: list[list[Cell]] = [[(f"sample predictions, epoch {payload.get('epoch', '?')} (green right, red wrong)",
                               None)]]
    if not items:
        return out
    pics = [image_lines(it.get("image") or [], max_image) for it in items]
    cell_w = max(8, max((len(p[0]) for p in pics if p), default=8)) + 1
    per_row = max(1, width // cell_w)
    for start in range(0, len(items), per_row):
        chunk = list(range(start, min(len(items), start + per_row)))
        height = max((len(pics[i]) for i in chunk), default=0)
        for line_no in range(height):
            line: list[Cell] = []
            for i in chunk:
                pic = pics[i][line_no] if line_no < len(pics[i]) else []
                line.extend(pic)
                line.append((" " * (cell_w - len(pic)), None))
            out.append(line)
        line = []
        for i in chunk:
            it = items[i]
            ok = it.get("true") == it.get("pred")
            label = f"{name(it.get('pred'))[:4]}/{name(it.get('true'))[:3]}"
            # right or wrong is said by the style and, without colour, by the mark after the label
            text = (label + (" " if ok else "!"))[: cell_w - 1]
            line.append((text.ljust(cell_w), RIGHT if ok else WRONG))
        out.append(line)
    out.append([("label: predicted/true (! wrong)", DIM)])
    return out


class SamplesView(LinesView):
    """The sample predictions; the lines are built once per payload, width and colour depth (LinesView), since
    the screen asks for them again whenever anything near the view is updated, and a line of per-pixel styles
    costs far more to build than to look up."""

    DEFAULT_CSS = "SamplesView { width: 1fr; height: auto; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._payload: dict[str, Any] | None = None

    def show(self, payload: dict[str, Any] | None) -> None:
        self._payload = payload
        self.changed()  # a layout only when the height changes: each epoch brings new images of the same size

    def build(self, width: int, depth: str) -> list[Line]:
        if self._payload:
            return samples_lines(self._payload, width)
        return [[("sample predictions: waiting for the first epoch", None)]]
