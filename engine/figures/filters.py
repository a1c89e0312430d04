"""The CNN's maps at chosen epochs (`--epochs 1,10,30`; default the first and the last recorded), from the
filters-eNNNN and features-eNNNN artifacts (see engine.inside and engine.inside.maps):

`nnlab plot RUN --kind filters`: conv1's filters (32 of 5 x 5 x RGB) as colour tiles, 8 to a row, a panel
per epoch. Scaling: each filter on its own and symmetrically around 0, tile = 0.5 + w / (2 max|w|) with
max|w| over that filter's three channels and 5 x 5 taps; 0 is mid grey, the filter's largest weight in
absolute value lands on 0 or 1, and the three channels keep their ratios (a tile's hue is the colour the
filter responds to, the inverse hue the colour it responds against). Own scale per filter, not one per
epoch: a filter with small weights would be a flat grey tile next to a large one, and the weights' size
is what the gradients figure shows. (An input with another number of channels than 3: the channels'
mean, in grey.)

`nnlab plot RUN --kind features [--image N]`: for one of the recorded test images (N: its position among
them, default 0), the image itself (from the samples artifact) and the feature maps after the ReLU of
conv1, conv2 and conv3 (every channel, a grey tile each, 8 to a row), a row per epoch. Each channel is
scaled by its own maximum on that image (black 0, white its max), as the artifact stores it; a channel
that is 0 everywhere (silent on this image) stays black, and each panel counts them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.figures.inside_picks import missing, pick_epochs, pick_image, snapshots
from engine.figures.mpl import Figure, new_figure
from engine.inside.maps import decode_features, filter_array
from engine.store import LoadedRun

TILES_PER_ROW = 8
GAP_COLOUR = "#7d9cc4"  # between feature tiles: a hue no grey map has
TILE_PIXELS = 28  # feature tiles smaller than this are repeated up to about it, so the 1-pixel gaps stay thin


def filter_tiles(weights: np.ndarray) -> np.ndarray:
    """conv1's C_out x C_in x k x k weights -> C_out x k x k x 3 tiles in [0, 1]: each filter scaled on its
    own, symmetrically around 0 (0.5 + w / (2 max|w|)); RGB for 3 input channels, else their mean in grey."""
    w = np.asarray(weights, dtype=np.float64)
    top = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
    scaled = 0.5 + w / (2.0 * np.where(top > 0, top, 1.0))[:, None, None, None]
    if scaled.shape[1] != 3:
        scaled = np.repeat(scaled.mean(axis=1, keepdims=True), 3, axis=1)
    return np.clip(scaled.transpose(0, 2, 3, 1), 0.0, 1.0)


def mosaic(tiles: np.ndarray, per_row: int = TILES_PER_ROW, gap: int = 1, fill: float = math.nan) -> np.ndarray:
    """N x h x w [x 3] tiles -> one image of rows of `per_row` tiles, `gap` pixels of `fill` between them
    (and in the unused places of the last row). Tile i sits at row i // per_row, column i % per_row."""
    n, h, w = tiles.shape[:3]
    cols = min(per_row, n)
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap) + tiles.shape[3:], fill, dtype=np.float64)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[i]
    return out


def tile_at(image: np.ndarray, i: int, h: int, w: int, per_row: int, gap: int = 1) -> np.ndarray:
    """Tile i back out of a mosaic (its inverse, for checks)."""
    r, c = divmod(i, per_row)
    return image[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w]


def _filter_snapshots(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    found = {}
    for art in snapshots(artifacts, "filters"):
        try:
            weights = filter_array(art)
        except (KeyError, TypeError, ValueError):
            continue  # a damaged artifact: that epoch is not offered
        if weights.ndim == 4:
            found[int(art["epoch"])] = art
    if not found:
        raise missing(run, "filters")
    return found


def draw_filters(run: LoadedRun, artifacts: dict[str, dict[str, Any]], epochs: str | None = None) -> Figure:
    """conv1's filters at the chosen epochs (`epochs`: the --epochs text), a panel each."""
    found = _filter_snapshots(run, artifacts)
    chosen = pick_epochs(epochs, list(found), run.record.id)
    cols = min(2, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    fig = new_figure(5.6 * cols + 0.4, 3.0 * rows + 0.8)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, epoch in zip(axes, chosen):
        weights = filter_array(found[epoch])
        tiles = filter_tiles(weights)
        n, k = tiles.shape[0], tiles.shape[1]
        image = mosaic(tiles, fill=1.0)
        ax.imshow(image, interpolation="nearest")
        per_row = min(TILES_PER_ROW, n)
        ax.set_xticks([c * (k + 1) + (k - 1) / 2 for c in range(per_row)], [str(c + 1) for c in range(per_row)],
                      fontsize=7)
        starts = range(0, n, per_row)
        ax.set_yticks([(s // per_row) * (k + 1) + (k - 1) / 2 for s in starts],
                      [f"{s + 1}-{min(s + per_row, n)}" for s in starts], fontsize=7)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel("position in the row", fontsize=8)
        ax.set_ylabel("filters", fontsize=8)
        ax.set_title(f"epoch {epoch}: {n} filters, {k}x{k}x{weights.shape[1]}, "
                     f"largest |w| {float(np.abs(weights).max()):.3g}", fontsize=9)
    for ax in axes[len(chosen):]:
        ax.set_visible(False)
    fig.suptitle(f"{run.record.id}: conv1's filters (each scaled on its own: grey 0.5 = 0, 0 and 1 = "
                 "-/+ its largest |w|)", fontsize=10)
    return fig


def feature_tiles(maps: np.ndarray, top: Sequence[float] | np.ndarray) -> np.ndarray:
    """One image's channels x h x w maps -> tiles in [0, 1], each channel over its own max (0 stays 0)."""
    top_arr = np.asarray(top, dtype=np.float64)
    safe = np.where(top_arr > 0, top_arr, 1.0)
    return np.clip(np.asarray(maps, dtype=np.float64) / safe[:, None, None], 0.0, 1.0)


def _input_image(artifacts: dict[str, dict[str, Any]], index: int) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The test image with that index from the samples artifact (H x W x 3 uint8), and its item."""
    samples = artifacts.get("samples") or {}
    for item in samples.get("items") or []:
        if isinstance(item, dict) and item.get("index") == index and item.get("image") is not None:
            try:
                image = np.asarray(item["image"], dtype=np.uint8)
            except (TypeError, ValueError):
                return None
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            return image, item
    return None


def _feature_snapshots(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    found = {int(a["epoch"]): a for a in snapshots(artifacts, "features")
             if isinstance(a.get("layers"), list) and a["layers"] and isinstance(a.get("images"), list)
             and a["images"]}
    if not found:
        raise missing(run, "features")
    return found


def draw_features(run: LoadedRun, artifacts: dict[str, dict[str, Any]], epochs: str | None = None,
                  image: str | None = None) -> Figure:
    """One recorded image (`image`: the --image text) and its conv layers' feature maps at the chosen epochs."""
    found = _feature_snapshots(run, artifacts)
    chosen = pick_epochs(epochs, list(found), run.record.id)
    first = found[chosen[0]]
    position = pick_image(image, min(len(found[e]["images"]) for e in chosen), run.record.id)
    index = int(first["images"][position])
    decoded = {}
    for epoch in chosen:
        try:
            decoded[epoch] = decode_features(found[epoch])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"run {run.record.id}: its features artifact of epoch {epoch} is damaged "
                              f"({type(exc).__name__})") from None
    layers = [str(layer["name"]) for layer in first["layers"]]
    shapes = {name: decoded[chosen[0]][name].shape[1:] for name in layers}  # channels, size, size
    ratios = []
    for name in layers:
        c, h, w = shapes[name]
        cols = min(TILES_PER_ROW, c)
        ratios.append(cols * w / (math.ceil(c / cols) * h))
    picture = _input_image(artifacts, index)
    widths = ([1.0] if picture is not None else []) + ratios
    fig = new_figure(2.6 * sum(widths) + 0.6, 2.9 * len(chosen) + 0.9)
    grid = fig.add_gridspec(len(chosen), len(widths), width_ratios=widths)
    labels = [str(v) for v in first.get("labels") or []]

    def class_name(i: Any) -> str:
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else str(i)

    true = (first.get("true") or [None] * len(first["images"]))[position]
    if picture is not None:
        pixels, item = picture
        ax = fig.add_subplot(grid[:, 0])
        ax.imshow(pixels, cmap="gray" if pixels.ndim == 2 else None, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        pred = item.get("pred")
        ax.set_title(f"test image #{index}\ntrue {class_name(true)}" + (f", predicted {class_name(pred)}\n(epoch "
                     f"{(artifacts.get('samples') or {}).get('epoch')})" if pred is not None else ""), fontsize=9)
    from matplotlib import colormaps

    cmap = colormaps["gray"].with_extremes(bad=GAP_COLOUR)
    for r, epoch in enumerate(chosen):
        tops = {layer["name"]: layer["max"][position] for layer in found[epoch]["layers"]}
        for c, layer in enumerate(layers):
            maps = decoded[epoch][layer][position]
            top = np.asarray(tops[layer], dtype=np.float64)
            ax = fig.add_subplot(grid[r, c + (picture is not None)])
            tiles = feature_tiles(maps, top)
            grow = max(1, round(TILE_PIXELS / max(1, tiles.shape[1])))  # small maps drawn larger: thin gaps
            tiles = tiles.repeat(grow, axis=1).repeat(grow, axis=2)
            ax.imshow(mosaic(tiles), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            channels, size = maps.shape[0], maps.shape[1]
            silent = int((top <= 0).sum())
            ax.set_title(f"{layer}: {channels} channels, {size}x{size}", fontsize=9)
            ax.set_xlabel(f"{silent} silent (all 0)" if silent else "none silent", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"epoch {epoch}", fontsize=10)
    fig.suptitle(f"{run.record.id}: feature maps after the ReLU, test image #{index} (true {class_name(true)}); each "
                 "channel scaled to its own max (black 0, white max)", fontsize=10)
    return fig
