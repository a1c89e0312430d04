"""conv1's filters and the feature maps on the Train screen (CNN, inspect=full), drawn with half blocks:
`▀` with the upper pixel as its foreground and the lower one as its background, two pixel rows a line.
Half blocks rather than the kitty or sixel image protocols: they work over SSH and inside tmux, with
nothing more to install.

Filters: each of conv1's filters scaled symmetrically around 0 on its own, w -> (w / max|w| + 1) * 127.5
(rounded), so 0 is mid grey, the filter's most negative weight 0 and its most positive 255; its three input
channels are the pixel's red, green and blue. Feature maps: for one recorded image (i / I), the image and
the maps of conv1, conv2 and conv3 (after the ReLU) in grey, each map scaled to its own maximum, the most
active channels of that image first, as many as fit the width.

Colour depth (tui.widgets.lines_view.colour_depth):
- full: truecolor.
- 16 colours: a grey pixel (its channels within GREY_CHROMA of each other, every feature map) is one of
  the four ANSI greys (black, bright black, white, bright white) by its brightness in quarters; a
  coloured filter pixel is the nearest of the 16 ANSI colours (rich's match), so a red-green filter stays
  red and green.
- NO_COLOR: no colour at all; each pixel is a character of the ramp RAMP by its brightness (a filter's
  mean over RGB: ' ' its most negative, '@' its most positive), one line per pixel row.
`[` / `]` show an earlier or later recorded epoch (read from the run's artifacts folder).
"""
from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from rich.color import Color, ColorSystem
from rich.style import Style

from engine.inside.maps import decode_features, filter_array
from tui.widgets.lines_view import Line, LinesView, plain

RAMP = " .:-=+*#%@"
GREY_CHROMA = 48  # a pixel whose channels are this close is drawn as a grey at 16 colours
ANSI_GREYS = (0, 8, 7, 15)  # black, bright black, white, bright white: darkest to brightest
HALF = "▀"
DIM = Style(dim=True)


# ---------------------------------------------------------------------------- pixels
def filter_rgb(payload: dict[str, Any]) -> np.ndarray:
    """The filters artifact as n x k x k x 3 ints 0..255: each filter scaled to its own max |w|, 0 at 127.5
    (a grey filter when it has one input channel; the first three when it has more)."""
    w = filter_array(payload)
    top = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
    scaled = np.rint((w / np.where(top > 0, top, 1.0)[:, None, None, None] + 1.0) * 127.5).clip(0, 255)
    if scaled.shape[1] == 1:
        scaled = np.repeat(scaled, 3, axis=1)
    return scaled[:, :3].transpose(0, 2, 3, 1).astype(int)


def ramp_char(level: float) -> str:
    """A 0..255 brightness as a character of RAMP."""
    return RAMP[min(len(RAMP) - 1, max(0, int(level * len(RAMP) / 256)))]


@lru_cache(maxsize=8192)
def pixel_colour(rgb: tuple[int, int, int], depth: str) -> Color:
    if depth != "16":
        return Color.from_rgb(*rgb)
    if max(rgb) - min(rgb) <= GREY_CHROMA:
        return Color.from_ansi(ANSI_GREYS[min(3, int(sum(rgb) / 3) // 64)])
    return Color.from_rgb(*rgb).downgrade(ColorSystem.STANDARD)


@lru_cache(maxsize=8192)
def half_style(top: tuple[int, int, int], bottom: tuple[int, int, int] | None, depth: str) -> Style:
    return Style(color=pixel_colour(top, depth), bgcolor=pixel_colour(bottom, depth) if bottom else None)


def picture(image: np.ndarray, depth: str, scale: int = 1) -> list[Line]:
    """An h x w x 3 0..255 int image as lines: half blocks (two pixel rows a line), or under NO_COLOR one
    ramp character a pixel (`scale` characters wide) and one line a pixel row."""
    h, w = image.shape[:2]
    if depth == "none":
        return [[("".join(ramp_char(float(image[r, c].mean())) * scale for c in range(w)), None)]
                for r in range(h)]
    lines = []
    for r in range(0, h, 2):
        line: Line = []
        for c in range(w):
            top = tuple(int(v) for v in image[r, c])
            bottom = tuple(int(v) for v in image[r + 1, c]) if r + 1 < h else None
            line.append((HALF * scale, half_style(top, bottom, depth)))  # type: ignore[arg-type]
        lines.append(line)
    return lines


def upscale(image: np.ndarray, k: int) -> np.ndarray:
    return image if k == 1 else image.repeat(k, axis=0).repeat(k, axis=1)


def shrink(maps: np.ndarray, factor: int) -> np.ndarray:
    """c x n x n maps averaged over factor x factor blocks (n cut to a multiple of factor)."""
    if factor <= 1:
        return maps
    c, n = maps.shape[0], maps.shape[1] // factor * factor
    return maps[:, :n, :n].reshape(c, n // factor, factor, n // factor, factor).mean(axis=(2, 4))


def tiles_row(pics: Sequence[list[Line]], widths: Sequence[int], gap: int = 1) -> list[Line]:
    """Pictures side by side (a gap between them), top-aligned."""
    height = max((len(p) for p in pics), default=0)
    out = []
    for y in range(height):
        line: Line = []
        for k, (pic, w) in enumerate(zip(pics, widths)):
            cells = pic[y] if y < len(pic) else [(" " * w, None)]
            line.extend(cells)
            if k < len(pics) - 1:
                line.append((" " * gap, None))
        out.append(line)
    return out


def wrapped(text: str, width: int, style: Style | None = None) -> list[Line]:
    return [[(t, style)] for t in textwrap.wrap(text, width, subsequent_indent="  ")]


def line_len(line: Line) -> int:
    return sum(len(t) for t, _ in line)


# ---------------------------------------------------------------------------- epochs
class MapsView(LinesView):
    """A view of one kind of maps artifact (filters or features): the latest, or an epoch picked with [ ]."""

    KIND = ""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.latest: dict[str, Any] | None = None
        self.run_dir: str = ""
        self.pinned: dict[str, Any] | None = None  # an earlier epoch's payload, read from the run's folder

    @property
    def payload(self) -> dict[str, Any] | None:
        return self.pinned or self.latest

    def show_latest(self, payload: dict[str, Any] | None, run_dir: str) -> bool:
        """True when what the view shows changed."""
        if run_dir != self.run_dir:
            self.run_dir, self.pinned = run_dir, None
        if payload is self.latest:
            return False
        self.latest = payload
        return self.pinned is None

    def recorded(self) -> dict[int, Path]:
        """The epochs recorded in the run's folder: {epoch: path}."""
        folder = Path(self.run_dir) / "artifacts" if self.run_dir else None
        out: dict[int, Path] = {}
        if folder is None:
            return out
        try:
            names = [p.name for p in folder.iterdir()]
        except OSError:
            return out
        for name in names:
            match = re.fullmatch(rf"{self.KIND}-e(\d+)\.json", name)
            if match:
                out[int(match.group(1))] = folder / name
        return out

    def step_epoch(self, step: int) -> str:
        """Shows the recorded epoch `step` away from the one shown; returns a note for the user."""
        from engine.store.files import read_json

        now = (self.payload or {}).get("epoch")
        found = self.recorded()
        latest_epoch = (self.latest or {}).get("epoch")
        epochs = sorted(set(found) | ({latest_epoch} if isinstance(latest_epoch, int) else set()))
        if not epochs or now not in epochs:
            return f"no other {self.KIND} epoch recorded"
        i = min(len(epochs) - 1, max(0, epochs.index(now) + step))
        if epochs[i] == now:
            return f"{self.KIND}: epoch {now} is the {'first' if step < 0 else 'latest'} recorded"
        if epochs[i] == latest_epoch:
            self.pinned = None
        else:
            try:
                data = read_json(found[epochs[i]])
            except (OSError, ValueError, UnicodeDecodeError, RecursionError):
                return f"{self.KIND}: epoch {epochs[i]} could not be read"
            if not isinstance(data, dict):
                return f"{self.KIND}: epoch {epochs[i]} could not be read"
            self.pinned = data
        self.changed()
        return f"{self.KIND}: epoch {epochs[i]} ({i + 1} of {len(epochs)} recorded)"

    def epoch_note(self) -> str:
        return "" if self.pinned is None else " (earlier)"


# ---------------------------------------------------------------------------- filters
def filter_layout(n: int, side: int, width: int, height: int, plain_text: bool) -> tuple[int, int, int]:
    """(scale, characters a pixel, tiles per row): the largest tiles at which all n fit width x height, else
    the smallest (the view scrolls). Under NO_COLOR a pixel is a line tall and two characters wide (a
    character is about twice as tall as wide), or one character when even that does not fit."""
    options = [(2, 2), (1, 2), (1, 1)] if plain_text else [(4, 1), (3, 1), (2, 1), (1, 1)]
    for k, chars in options:
        per_row = (width + 1) // (side * k * chars + 1)
        if per_row < 1:
            continue
        # half blocks: an odd pixel count leaves half a line of gap under a row of tiles, else a blank line
        tile_h = side * k + 1 if plain_text else -(-side * k // 2) + (side * k + 1) % 2
        if -(-n // per_row) * tile_h <= height:
            return k, chars, per_row
    return 1, 1, max(1, (width + 1) // (side + 1))


class FiltersView(MapsView):
    KIND = "filters"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.geometry = (0, 1, 1, 1)  # as drawn last: (first line of tiles, scale, characters a pixel, per row)

    def show(self, payload: dict[str, Any] | None, run_dir: str = "") -> None:
        if self.show_latest(payload, run_dir):
            self.changed()

    def build(self, width: int, depth: str) -> list[Line]:
        p = self.payload
        if not p or not p.get("weights"):
            return [plain("conv1 filters: none recorded yet", width)]
        rgb = filter_rgb(p)
        n, side = rgb.shape[0], rgb.shape[1]
        shape = "x".join(str(s) for s in p.get("shape", [])[1:])
        head = f"conv1 filters, epoch {p.get('epoch', '?')}{self.epoch_note()}: {n} of {shape}"
        if depth == "none":
            key = "w/max|w| each, RGB mean: ' ' -1, '@' +1; [ ]: epoch"
        elif depth == "16":
            key = "w/max|w| each: grey 0, 16 colours; [ ]: epoch"
        else:
            key = "w/max|w| each: grey 0, RGB colour; [ ]: epoch"
        out: list[Line] = [plain(head, width), *wrapped(key, width, DIM)]
        plain_text = depth == "none"
        k, chars, per_row = filter_layout(n, side, width, self.visible_height() - len(out), plain_text)
        self.geometry = (len(out), k, chars, per_row)
        for start in range(0, n, per_row):
            pics = [picture(upscale(rgb[i], k), depth, chars) for i in range(start, min(n, start + per_row))]
            out += tiles_row(pics, [line_len(pic[0]) for pic in pics])
            if plain_text or side * k % 2 == 0:
                out.append(plain("", width))
        return out


# ---------------------------------------------------------------------------- features
class FeaturesView(MapsView):
    KIND = "features"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image = 0
        self.samples: dict[str, Any] | None = None
        self._decoded: tuple[int, dict[str, np.ndarray]] | None = None

    def show(self, payload: dict[str, Any] | None, samples: dict[str, Any] | None = None, run_dir: str = "") -> None:
        changed = self.show_latest(payload, run_dir)
        if samples is not self.samples:
            self.samples = samples
            changed = True
        if changed:
            self.changed()

    def count(self) -> int:
        return len((self.payload or {}).get("images") or [])

    def step_image(self, step: int) -> None:
        if self.count():
            self.image = (self.image + step) % self.count()
            self.changed()

    def maps(self) -> dict[str, np.ndarray]:
        p = self.payload or {}
        if self._decoded is None or self._decoded[0] != id(p):
            self._decoded = (id(p), decode_features(p) if p.get("layers") else {})
        return self._decoded[1]

    def input_image(self) -> tuple[np.ndarray | None, Any]:
        """The recorded image's pixels (from the samples artifact: the same test images) and its prediction
        there (None when the samples are of another epoch)."""
        p = self.payload or {}
        index = (p.get("images") or [None])[self.image % max(1, self.count())]
        for item in (self.samples or {}).get("items") or []:
            if item.get("index") == index and item.get("image"):
                image = np.asarray(item["image"], dtype=float)
                if image.ndim == 2:
                    image = np.repeat(image[:, :, None], 3, axis=2)
                same = (self.samples or {}).get("epoch") == p.get("epoch")
                return image.astype(int), item.get("pred") if same else None
        return None, None

    def build(self, width: int, depth: str) -> list[Line]:
        p = self.payload
        n = self.count()
        if not p or not n:
            return [plain("feature maps: none recorded yet", width)]
        i = self.image % n
        labels = [str(x) for x in p.get("labels") or []]

        def name(k: Any) -> str:
            return labels[k] if isinstance(k, int) and 0 <= k < len(labels) else str(k)

        true = (p.get("true") or [None] * n)[i]
        tall = self.visible_height() >= 40 and width >= 60
        target = 14 if tall else 7  # the side of a map tile, in pixels
        image, pred = self.input_image()
        pic: list[Line] = []
        if image is not None:
            factor = max(1, image.shape[0] // (2 * target))
            small = shrink(image.transpose(2, 0, 1).astype(float), factor).transpose(1, 2, 0).round().astype(int)
            pic = picture(small, depth)
        pic_w = line_len(pic[0]) if pic else 0
        room = width - pic_w - 2
        head = f"image {i + 1}/{n}: label '{name(true)}'"
        info = [head] if len(head) <= room else [f"image {i + 1}/{n}", f"label '{name(true)}'"]
        if pred is not None:
            info.append(f"predicted '{name(pred)}'" + ("" if pred == true else " (wrong)"))
        info += [f"test image #{(p.get('images') or [''])[i]}", f"epoch {p.get('epoch', '?')}{self.epoch_note()}",
                 "i / I: image", "[ / ]: epoch"]
        out: list[Line] = []
        if pic:
            for y in range(max(len(pic), len(info))):
                left = pic[y] if y < len(pic) else [(" " * pic_w, None)]
                right = info[y] if y < len(info) else ""
                out.append([*left, ("  " + right[:max(0, width - pic_w - 2)], None)])
        else:
            out += [plain(t, width) for t in info]
        maps = self.maps()
        layer_max = {layer["name"]: layer.get("max") or [] for layer in p.get("layers") or []}
        for layer, arrays in maps.items():
            if i >= len(arrays):
                continue
            channels, size = arrays.shape[1], arrays.shape[2]
            factor = max(1, size // target)
            tile = size // factor
            per_row = max(1, (width + 1) // (tile + 1))
            top = np.asarray((layer_max.get(layer) or [[]])[i] or arrays[i].reshape(channels, -1).max(axis=1))
            order = [int(c) for c in np.argsort(-top, kind="stable")][:min(channels, per_row)]
            out.append(plain(f"{layer} {size}x{size}, {len(order)} of {channels} (most active)", width))
            pics, widths = [], []
            for c in order:
                m = shrink(arrays[i][c:c + 1], factor)[0]
                peak = float(m.max())
                grey = np.rint(255 * m / peak) if peak > 0 else np.zeros_like(m)
                pic = picture(np.repeat(grey.astype(int)[:, :, None], 3, axis=2), depth)
                pics.append(pic)
                widths.append(line_len(pic[0]))
            out += tiles_row(pics, widths)
            out.append([("".join(f"c{c + 1}".ljust(tile + 1) for c in order)[:width], DIM)])
        key = "each map to its own max: " + ("' ' 0, '@' the max" if depth == "none" else "black 0, white the max")
        out += wrapped(key, width, DIM)
        return out
