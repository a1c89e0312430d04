"""The decision boundary of a circles run as a grid of snapshots over epochs (the report's fig. 2): each
panel is the model's P(class 1) over the course grid [-2, 2)^2 with the 0.5 contour and the training
points, titled with that epoch's accuracies; the last panel is the loss and accuracy curves."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.figures.mpl import Figure, new_figure
from engine.figures.style import CLASS_MARKERS
from engine.store import LoadedRun

CLASS_COLOURS = ("#d95f02", "#1b9e77")  # class 0 (outer ring), class 1 (inner disc)
REGION_CMAP = "RdBu"
MAX_PANELS = 8


def snapshots(artifacts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's boundary-eNNNN artifacts, by epoch."""
    found = [a for stem, a in artifacts.items() if stem.startswith("boundary-e") and isinstance(a.get("prob"), list)]
    return sorted(found, key=lambda a: int(a.get("epoch") or 0))


def pick(items: Sequence[dict[str, Any]], n: int = MAX_PANELS) -> list[dict[str, Any]]:
    """At most n snapshots, evenly spread, the first and the last always among them."""
    if len(items) <= n:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in idx]


def grid_centres(artifact: dict[str, Any]) -> np.ndarray:
    """The x (and y) of the grid's points: lo + (hi - lo) / n * i (the course's grid)."""
    lo, hi, n = float(artifact.get("lo", -2.0)), float(artifact.get("hi", 2.0)), int(artifact.get("n", 40))
    return lo + (hi - lo) / n * np.arange(n)


def draw_points(ax: Any, points: dict[str, Any] | None, split: str = "train", size: float = 10) -> None:
    """The data points, a colour and a marker per class (told apart without colour too)."""
    rows = np.asarray((points or {}).get(split) or [], dtype=float)
    if rows.size == 0:
        return
    for c in sorted({int(v) for v in rows[:, 2]}):
        sel = rows[rows[:, 2] == c]
        ax.scatter(sel[:, 0], sel[:, 1], s=size, c=CLASS_COLOURS[c % 2], marker=CLASS_MARKERS[c % len(CLASS_MARKERS)],
                   edgecolors="black", linewidths=0.3, label=f"class {c}", zorder=3)


def row_of(history: Sequence[dict[str, Any]], epoch: int) -> dict[str, Any]:
    return next((r for r in history if r.get("epoch") == epoch), {})


def pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, float) else "-"


def draw_boundary(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> Figure:
    """The snapshot grid of one circles MLP run; ConfigError when the run has no boundary snapshots."""
    snaps = pick(snapshots(artifacts))
    if not snaps:
        raise ConfigError(f"invalid value for --kind: 'boundary' for run {run.record.id} (stage {run.record.stage} "
                          "saves no decision-boundary snapshots; allowed for the circles MLP stages)")
    panels = len(snaps) + 1
    cols = min(3, panels)
    rows = -(-panels // cols)
    fig = new_figure(3.4 * cols + 0.8, 3.3 * rows + 0.5, constrained=False)
    fig.subplots_adjust(left=0.06, right=0.86, bottom=0.07, top=1 - 0.55 / (3.3 * rows + 0.5), wspace=0.35,
                        hspace=0.35)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    points = artifacts.get("points")
    mesh = None
    for ax, snap in zip(axes, snaps):
        prob = np.asarray(snap["prob"], dtype=float)  # rows = y, cols = x
        ticks = grid_centres(snap)
        step = ticks[1] - ticks[0]
        mesh = ax.imshow(prob, origin="lower", cmap=REGION_CMAP, alpha=0.75, vmin=0, vmax=1, interpolation="bilinear",
                         extent=(ticks[0] - step / 2, ticks[-1] + step / 2, ticks[0] - step / 2, ticks[-1] + step / 2))
        ax.contour(ticks, ticks, prob, levels=[0.5], colors="black", linewidths=1.2)
        draw_points(ax, points)
        epoch = int(snap.get("epoch") or 0)
        row = row_of(run.history, epoch)
        ax.set_title(f"epoch {epoch}: train {pct(row.get('train_acc'))}, test {pct(row.get('test_acc'))}",
                     fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(ticks[0], ticks[-1])
        ax.set_ylim(ticks[0], ticks[-1])
        ax.tick_params(labelsize=7)
    if mesh is not None:
        fig.colorbar(mesh, cax=fig.add_axes((0.9, 0.3, 0.015, 0.4)), label="P(class 1)")
    curve_ax = axes[len(snaps)]
    draw_loss_acc(curve_ax, run.history)
    for ax in axes[len(snaps) + 1:]:
        ax.set_visible(False)
    if points:
        axes[0].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{run.record.id}: decision boundary over epochs (black line: P = 0.5)")
    return fig


def draw_loss_acc(ax: Any, history: Sequence[dict[str, Any]]) -> None:
    """Loss (left axis) and accuracy (right axis), train solid and test dashed: the report's fig. 2(d)."""
    epochs = [r["epoch"] for r in history]
    for col, style in (("train_loss", "-"), ("test_loss", "--")):
        ax.plot(epochs, [r.get(col) for r in history], color="#1f4e99", linestyle=style, label=col)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color="#1f4e99")
    twin = ax.twinx()
    for col, style in (("train_acc", "-"), ("test_acc", "--")):
        twin.plot(epochs, [r.get(col) for r in history], color="#b8410e", linestyle=style, label=col)
    twin.set_ylabel("accuracy", color="#b8410e")
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], fontsize=7, loc="center right")
    ax.set_title("loss and accuracy", fontsize=9)
    ax.grid(True, alpha=0.3)
