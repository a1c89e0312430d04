"""Sample predictions: small images (gray or RGB) drawn with half blocks, with true/pred labels."""
from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text
from textual.widgets import Static


def _pixel(image: list, r: int, c: int) -> tuple[int, int, int]:
    v = image[r][c]
    if isinstance(v, list):
        return int(v[0]), int(v[1]), int(v[2])
    return int(v), int(v), int(v)


def image_lines(image: list, max_width: int = 16) -> list[Text]:
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
        line = Text()
        for c in cols:
            top = _pixel(image, rows[k], c)
            bottom = _pixel(image, rows[k + 1], c) if k + 1 < len(rows) else (0, 0, 0)
            line.append("▀", Style(color="rgb({},{},{})".format(*top), bgcolor="rgb({},{},{})".format(*bottom)))
        lines.append(line)
    return lines


def samples_text(payload: dict[str, Any], width: int = 80, max_image: int = 14) -> Text:
    labels = [str(x) for x in payload.get("labels") or []]
    items = payload.get("items") or []
    name = lambda i: labels[i] if isinstance(i, int) and 0 <= i < len(labels) else str(i)
    out = Text(f"sample predictions, epoch {payload.get('epoch', '?')} (green right, red wrong)\n")
    if not items:
        return out
    pics = [image_lines(it.get("image") or [], max_image) for it in items]
    cell_w = max(8, max((p[0].cell_len for p in pics if p), default=8)) + 1
    per_row = max(1, width // cell_w)
    for start in range(0, len(items), per_row):
        chunk = list(range(start, min(len(items), start + per_row)))
        height = max((len(pics[i]) for i in chunk), default=0)
        for line_no in range(height):
            for i in chunk:
                seg = pics[i][line_no] if line_no < len(pics[i]) else Text("")
                out.append_text(seg)
                out.append(" " * (cell_w - seg.cell_len))
            out.append("\n")
        for i in chunk:
            it = items[i]
            ok = it.get("true") == it.get("pred")
            label = f"{name(it.get('pred'))[:4]}/{name(it.get('true'))[:3]}"
            out.append(label[: cell_w - 1].ljust(cell_w), style="green" if ok else "bold red")
        out.append("\n")
    out.append("label: predicted/true", style="dim")
    return out


class SamplesView(Static):
    DEFAULT_CSS = "SamplesView { width: 1fr; height: auto; }"

    def show(self, payload: dict[str, Any] | None) -> None:
        self._payload = payload
        width = max(20, self.size.width or 60)
        self.update(samples_text(payload, width) if payload else "sample predictions: waiting for the first epoch")
