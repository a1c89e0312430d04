"""SVM decision regions on circles (the report's figs. 8-9): the predicted class over the course grid,
the decision function's 0 level (the boundary) and its -1 and +1 levels (the margins, dashed) where they fall in
the square, the training points, and the support vectors circled.

The support vectors are the artifact's `support` (indices into the training points) when the run saved
them; otherwise they are the training points on or inside the margin, y f(x) <= 1, with f read from the
saved decision grid by bilinear interpolation (the legend then says "from the grid")."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.figures.boundary import draw_points, grid_centres, pct
from engine.figures.mpl import Figure, new_figure
from engine.store import LoadedRun

REGION_COLOURS = ("#fbd3b5", "#bfe6da")  # the class colours of boundary.CLASS_COLOURS, light


def bilinear(grid: np.ndarray, ticks: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """grid[row = y, col = x] sampled at ticks, interpolated at the points xy (N x 2); clamped at the edges."""
    step = ticks[1] - ticks[0]
    fx = np.clip((xy[:, 0] - ticks[0]) / step, 0, len(ticks) - 1.000001)
    fy = np.clip((xy[:, 1] - ticks[0]) / step, 0, len(ticks) - 1.000001)
    x0, y0 = fx.astype(int), fy.astype(int)
    tx, ty = fx - x0, fy - y0
    g = grid
    return ((1 - tx) * (1 - ty) * g[y0, x0] + tx * (1 - ty) * g[y0, x0 + 1]
            + (1 - tx) * ty * g[y0 + 1, x0] + tx * ty * g[y0 + 1, x0 + 1])


def support_vectors(regions: dict[str, Any], train: np.ndarray) -> tuple[np.ndarray, bool]:
    """(the support vectors' rows of `train`, exact?): the saved indices, else y f(x) <= 1 from the grid."""
    saved = regions.get("support")
    if isinstance(saved, list) and all(isinstance(i, int) and 0 <= i < len(train) for i in saved):
        return train[np.asarray(saved, dtype=int)] if saved else train[:0], True
    decision = np.asarray(regions.get("decision") or [], dtype=float)
    if decision.ndim != 2 or len(train) == 0:
        return train[:0], False
    f = bilinear(decision, grid_centres(regions), train[:, :2])
    sign = np.where(train[:, 2] > 0, 1.0, -1.0)
    return train[sign * f <= 1.0], False


def contour_lines(ax: Any, ticks: np.ndarray, decision: np.ndarray) -> str:
    """Draw the decision function's 0 level (solid) and its -1 and +1 levels (dashed) where they fall in the
    plotted square; return the caption that says which of them are drawn. A linear SVM on circles has
    |f| < 1 everywhere in the square: its margins lie outside, and the caption says so with f's range."""
    if decision.ndim != 2 or decision.size == 0:
        return "decision function not saved"
    lo, hi = float(decision.min()), float(decision.max())
    drawn = [level for level in (-1.0, 0.0, 1.0) if lo < level < hi]
    if drawn:
        ax.contour(ticks, ticks, decision, levels=drawn, colors="black",
                   linestyles=["-" if level == 0 else "--" for level in drawn],
                   linewidths=[1.4 if level == 0 else 0.9 for level in drawn])
    parts = ["boundary f=0 (solid)" if 0.0 in drawn else "no boundary f=0 in this square"]
    margins = [level for level in drawn if level != 0]
    if len(margins) == 2:
        parts.append("margins f=±1 (dashed)")
    elif margins:
        parts.append(f"margin f={margins[0]:+g} (dashed); f={-margins[0]:+g} lies outside")
    else:
        parts.append(f"margins f=±1 lie outside (f from {lo:.2f} to {hi:.2f} here)")
    return ", ".join(parts)


def draw_svm(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> Figure:
    regions = artifacts.get("regions")
    if not regions or not isinstance(regions.get("prob"), list):
        raise ConfigError(f"invalid value for --kind: 'svm' for run {run.record.id} (stage {run.record.stage} "
                          "saves no SVM regions; allowed for circles-svm runs)")
    ticks = grid_centres(regions)
    cls = np.asarray(regions["prob"], dtype=float)
    fig = new_figure(5.6, 5.2)
    ax = fig.subplots()
    ax.contourf(ticks, ticks, cls, levels=[-0.5, 0.5, 1.5], colors=REGION_COLOURS)
    decision = np.asarray(regions.get("decision") or [], dtype=float)
    lines = contour_lines(ax, ticks, decision)
    points = artifacts.get("points") or {}
    draw_points(ax, points, size=14)
    train = np.asarray(points.get("train") or [], dtype=float).reshape(-1, 3)
    sv, exact = support_vectors(regions, train)
    if len(sv):
        ax.scatter(sv[:, 0], sv[:, 1], s=60, facecolors="none", edgecolors="black", linewidths=0.9,
                   label=f"support vectors ({len(sv)}{'' if exact else ', from the grid'})", zorder=4)
    ax.set_xlim(ticks[0], ticks[-1])
    ax.set_ylim(ticks[0], ticks[-1])
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(fontsize=7, loc="upper right")
    c = run.config
    kernel = c.get("kernel", "?")
    last = run.history[-1] if run.history else {}
    details = f"C={c.get('C')}" + (f", gamma={c.get('gamma')}" if kernel in ("rbf", "poly") else "") \
        + (f", degree={c.get('degree')}" if kernel == "poly" else "")
    ax.set_title(f"SVM kernel={kernel} ({details}): train {pct(last.get('train_acc'))}, "
                 f"test {pct(last.get('test_acc'))}\n{lines}", fontsize=9)
    return fig
