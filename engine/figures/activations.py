"""Activations on the run's fixed probe batch (`nnlab plot RUN --kind activations`), from its activations
artifact (see engine.inside), against epoch (epoch 0: before training):

- per layer that feeds a nonlinearity, the pre-activations' spread: the 1-99 % and 10-90 % quantile bands
  shaded and the median drawn (a dotted line at 0 for ReLU, at +-atanh(SATURATED) for tanh: beyond it tanh
  saturates);
- the share of dead ReLUs (units never positive on the probe, CNN) or of saturated tanh outputs (MLP);
- with dropout: accuracy on the probe with dropout active (train mode) and off (eval mode), the lab's Q33;
- with batch norm: each BN layer's gamma, beta, running mean and running variance, as the median over the
  channels and the band of their 10-90 %.

A panel without data for the run (no dropout, no batch norm) is left out. The panels are packed in rows of
at most MAX_COLUMNS, each row's panels sharing its width. Layers keep one colour (and marker) throughout;
a BN layer has the colour of the conv layer it follows.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from engine.figures.inside_picks import missing, series_artifact
from engine.figures.mpl import Figure, new_figure
from engine.figures.style import colour, marker
from engine.inside.limits import SATURATED
from engine.store import LoadedRun

MAX_COLUMNS = 4
GRID = 12  # grid columns of a row: 1, 2, 3, 4 or 6 panels share it evenly
BN_PARTS = (("weight", "gamma (BN weight)"), ("bias", "beta (BN bias)"), ("running_mean", "running mean"),
            ("running_var", "running variance"))
Panel = Callable[[Any], None]


def level_index(levels: Sequence[float], q: float) -> int:
    """The position of the quantile level nearest q."""
    return int(np.argmin([abs(float(v) - q) for v in levels]))


def as_float(values: Any) -> np.ndarray:
    """A list (of lists) of numbers, None as NaN."""
    def one(v: Any) -> float:
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan

    if isinstance(values, list) and values and isinstance(values[0], list):
        return np.asarray([[one(v) for v in row] for row in values], dtype=np.float64)
    return np.asarray([one(v) for v in (values or [])], dtype=np.float64)


def _epoch_axis(ax: Any, ylabel: str) -> None:
    ax.set_xlabel("epoch (0: before training)")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.margins(x=0.03)
    ax.grid(True, alpha=0.3)


def _quantile_panel(art: dict[str, Any], layer: str, i: int) -> Panel | None:
    pre = as_float((art.get("pre") or {}).get(layer))
    epochs = np.asarray(art["epochs"], dtype=np.float64)
    levels = art.get("quantiles") or []
    if pre.ndim != 2 or pre.shape[0] != len(epochs) or pre.shape[1] != len(levels) or not np.isfinite(pre).any():
        return None
    kind = str((art.get("nonlinearity") or {}).get(layer, ""))

    def draw(ax: Any) -> None:
        lo1, lo10, mid, hi90, hi99 = (pre[:, level_index(levels, q)] for q in (0.01, 0.1, 0.5, 0.9, 0.99))
        ax.fill_between(epochs, lo1, hi99, color=colour(i), alpha=0.18, linewidth=0)
        ax.fill_between(epochs, lo10, hi90, color=colour(i), alpha=0.4, linewidth=0)
        ax.plot(epochs, mid, color=colour(i), marker=marker(i), markersize=3.5, linewidth=1.8,
                markevery=max(1, len(epochs) // 10))
        if kind == "tanh":
            edge = math.atanh(SATURATED)
            for y in (-edge, edge):
                ax.axhline(y, color="0.3", linestyle=":", linewidth=1.0)
            note = f"tanh; dotted: |x| = {edge:.2f}, beyond it |tanh| > {SATURATED:g}"
        else:
            ax.axhline(0.0, color="0.3", linestyle=":", linewidth=1.0)
            note = f"{kind or 'nonlinearity'}; dotted: 0"
        ax.set_title(f"{layer}: pre-activation\n({note})", fontsize=9)
        _epoch_axis(ax, "pre-activation value")

    return draw


def _share_panel(art: dict[str, Any], field: str, layers: Sequence[str]) -> Panel | None:
    shares = {layer: as_float(v) for layer, v in (art.get(field) or {}).items() if isinstance(v, list) and v}
    epochs = np.asarray(art["epochs"], dtype=np.float64)
    shares = {k: v for k, v in shares.items() if v.shape == epochs.shape and np.isfinite(v).any()}
    if not shares:
        return None

    def draw(ax: Any) -> None:
        top = 0.0
        for layer, values in shares.items():
            i = layers.index(layer) if layer in layers else len(layers)
            ax.plot(epochs, 100 * values, color=colour(i), marker=marker(i), markersize=3.5, linewidth=1.6,
                    markevery=max(1, len(epochs) // 10), label=layer)
            top = max(top, float(np.nanmax(100 * values)))
        ax.set_ylim(-0.04 * max(10.0, 1.15 * top), max(10.0, 1.15 * top))
        if field == "dead":
            ax.set_title("dead ReLUs: units never positive on the probe", fontsize=9)
            _epoch_axis(ax, "share of units (%)")
        else:
            ax.set_title(f"saturated tanh: |tanh| > {SATURATED:g} on the probe", fontsize=9)
            _epoch_axis(ax, "share of outputs (%)")
        ax.legend(fontsize=7, loc="upper left")

    return draw


def _dropout_panel(art: dict[str, Any]) -> Panel | None:
    drop = art.get("dropout") or {}
    epochs = np.asarray(art["epochs"], dtype=np.float64)
    train, test = as_float(drop.get("train_acc")), as_float(drop.get("eval_acc"))
    if train.shape != epochs.shape or test.shape != epochs.shape or not np.isfinite(train).any():
        return None

    def draw(ax: Any) -> None:
        ax.plot(epochs, 100 * train, color=colour(0), marker=marker(0), markersize=3.5, linewidth=1.6,
                label="train mode (dropout on)")
        ax.plot(epochs, 100 * test, color=colour(1), marker=marker(1), markersize=3.5, linewidth=1.6, linestyle="--",
                label="eval mode (dropout off)")
        ax.set_title("dropout: accuracy on the probe batch, train vs eval mode (Q33)", fontsize=9)
        _epoch_axis(ax, "accuracy (%)")
        ax.legend(fontsize=7, loc="best")

    return draw


def _bn_panel(art: dict[str, Any], part: str, name: str, layers: Sequence[str]) -> Panel | None:
    epochs = np.asarray(art["epochs"], dtype=np.float64)
    found = {}
    for bn, parts in (art.get("bn") or {}).items():
        values = as_float((parts or {}).get(part))
        if values.ndim == 2 and values.shape[0] == len(epochs) and np.isfinite(values).any():
            found[bn] = values
    if not found:
        return None

    def draw(ax: Any) -> None:
        for j, (bn, values) in enumerate(found.items()):
            i = _follows(bn, layers, j)
            lo, mid, hi = np.nanquantile(values, [0.1, 0.5, 0.9], axis=1)
            ax.fill_between(epochs, lo, hi, color=colour(i), alpha=0.2, linewidth=0)
            ax.plot(epochs, mid, color=colour(i), marker=marker(i), markersize=3.5, linewidth=1.6,
                    markevery=max(1, len(epochs) // 10), label=f"{bn} ({values.shape[1]} ch.)")
        ax.set_title(f"batch norm: {name}", fontsize=9)
        _epoch_axis(ax, "channels: median, 10-90 %")
        ax.legend(fontsize=7, loc="best")

    return draw


def _follows(bn: str, layers: Sequence[str], j: int) -> int:
    """The colour index of a BN layer: that of the conv layer with its number (bn2 -> conv2), else its order."""
    digits = "".join(ch for ch in bn if ch.isdigit())
    for i, layer in enumerate(layers):
        if digits and layer.startswith("conv") and layer[4:] == digits:
            return i
    return j


def activation_panels(art: dict[str, Any]) -> list[list[Panel]]:
    """The rows of panels that have data: quantiles per layer, then the shares and dropout (on the first
    row when they fit), then batch norm."""
    layers = [str(x) for x in art["layers"]]
    first = [p for i, layer in enumerate(layers) if (p := _quantile_panel(art, layer, i)) is not None]
    second = [p for p in (_share_panel(art, "dead", layers), _share_panel(art, "saturated", layers),
                          _dropout_panel(art)) if p is not None]
    third = [p for part, name in BN_PARTS if (p := _bn_panel(art, part, name, layers)) is not None]
    rows: list[list[Panel]] = []
    for group in (first, second, third):
        if rows and len(rows[-1]) + len(group) <= MAX_COLUMNS and group is second:
            rows[-1] += group
            continue
        while group:
            rows.append(group[:MAX_COLUMNS])
            group = group[MAX_COLUMNS:]
    return rows


def draw_activations(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> Figure:
    art = series_artifact(run, artifacts, "activations")
    rows = activation_panels(art)
    if not rows:
        raise missing(run, "activations")
    cols = max(len(r) for r in rows)
    fig = new_figure(max(4.2 * cols, 8.0), 3.3 * len(rows) + 0.7)
    grid = fig.add_gridspec(len(rows), GRID)
    for r, row in enumerate(rows):
        span = GRID // len(row) if GRID % len(row) == 0 else GRID // MAX_COLUMNS
        for c, draw in enumerate(row):
            draw(fig.add_subplot(grid[r, c * span:(c + 1) * span]))
    bands = [Patch(color="0.55", alpha=0.4, label="10-90 %"), Patch(color="0.55", alpha=0.18, label="1-99 %"),
             Line2D([], [], color="0.3", linewidth=1.8, label="median")]
    fig.legend(handles=bands, loc="outside lower center", ncols=3, fontsize=8,
               title="the pre-activations' quantiles over the probe batch", title_fontsize=8)
    fig.suptitle(f"{run.record.id}: activations on the probe batch ({art.get('probe') or 'a fixed batch'})",
                 fontsize=10)
    return fig

