"""Curves of one or several runs, with the options of the TUI's Compare: the metric, x by epoch or wall
time, causal EMA smoothing (drawn over the faded raw curve) and a log y axis.

    save_runs_figure(run_dirs, path=None, metric="test_acc", x="epoch", smooth=0.0, log_y=False) -> Path
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.ticker import MaxNLocator

from engine.config import ConfigError
from engine.figures.mpl import Figure, new_figure
from engine.figures.save import check_output, save_figure
from engine.figures.style import colour, faded, legend_title, marker, run_handles, run_labels, series_style
from engine.store import LoadedRun, load_run

# a name a user types -> the metrics.csv columns drawn together on one axis
METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    "loss": ("train_loss", "test_loss"), "acc": ("train_acc", "test_acc"), "lr": ("lr",),
    "train_loss": ("train_loss",), "test_loss": ("test_loss",), "train_acc": ("train_acc",),
    "test_acc": ("test_acc",),
}
AXIS_LABEL = {"loss": "loss", "acc": "accuracy", "lr": "learning rate"}
FIGURE_DIR = ".figures"


def metric_columns(metric: str) -> tuple[str, ...]:
    try:
        return METRIC_GROUPS[metric]
    except KeyError:
        raise ConfigError(f"invalid value for --metric: {metric!r} (allowed: {', '.join(METRIC_GROUPS)})") from None


def check_options(metric: str | None, x: str, smooth: float) -> None:
    """ConfigError for an unknown metric, x axis or smoothing weight (checked before anything is drawn)."""
    if metric is not None:
        metric_columns(metric)
    if x not in ("epoch", "wall"):
        raise ConfigError(f"invalid value for --x: {x!r} (allowed: epoch, wall)")
    if not (isinstance(smooth, (int, float)) and 0.0 <= smooth < 1.0):
        raise ConfigError(f"invalid value for --smooth: {smooth!r} (allowed: a number >= 0 and < 1, e.g. 0.6)")


def ema(values: Sequence[float | None], weight: float) -> list[float | None]:
    """Causal exponential moving average, debiased (point i uses points 0..i); missing or non-finite
    values stay None. weight 0 returns the values."""
    out: list[float | None] = []
    acc, n = 0.0, 0
    for v in values:
        if v is None or not math.isfinite(v):
            out.append(None)
            continue
        n += 1
        acc = acc * weight + (1.0 - weight) * v
        out.append(acc / (1.0 - weight ** n) if weight > 0 else v)
    return out


def _points(xs: Sequence[Any], ys: Sequence[float | None], positive: bool) -> tuple[list[float], list[float]]:
    px, py = [], []
    for xv, yv in zip(xs, ys):
        if xv is None or yv is None or not math.isfinite(yv) or (positive and yv <= 0):
            continue
        px.append(float(xv))
        py.append(float(yv))
    return px, py


def draw_axis(ax: Any, runs: Sequence[LoadedRun], columns: Sequence[str], *, x: str,
              smooth: float, log_y: bool, first: int = 0) -> int:
    """The runs' `columns` on one matplotlib axis; returns the number of curves drawn."""
    drawn = 0
    for i, run in enumerate(runs, start=first):
        # the model before its first update is the first point (epoch 0, wall time 0), where it was recorded
        rows = ([{"epoch": 0, "wall_time": 0.0, **run.initial}] if run.initial else []) + list(run.history)
        xs = [row.get("wall_time") if x == "wall" else row.get("epoch") for row in rows]
        for column in columns:
            ys = [row.get(column) for row in rows]
            style = series_style(column)
            every = max(1, len(xs) // 10)
            start = (i * max(1, every // 4)) % every  # runs that coincide still show every run's markers
            if smooth > 0:
                px, py = _points(xs, ys, log_y)
                ax.plot(px, py, color=faded(i), linestyle=style, linewidth=1.0, zorder=1)
                ys = ema(ys, smooth)
            px, py = _points(xs, ys, log_y)
            if px:
                ax.plot(px, py, color=colour(i), linestyle=style, marker=marker(i), markevery=(start, every),
                        markersize=4,
                        linewidth=1.6, zorder=2)
                drawn += 1
    ax.set_xlabel("wall time (s)" if x == "wall" else "epoch")
    if x == "epoch":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if log_y:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    return drawn


def draw_curves(runs: Sequence[LoadedRun], metric: str | None = None, x: str = "epoch", smooth: float = 0.0,
                log_y: bool = False, title: str | None = None) -> Figure:
    """One axis for `metric` (a column, or loss|acc for train and test together), or two (loss and
    accuracy, train solid and test dashed) when metric is None."""
    check_options(metric, x, smooth)
    configs = [r.config for r in runs]
    labels = run_labels(configs, [r.record.id for r in runs], [r.record.name for r in runs])
    panels = [metric] if metric is not None else ["loss", "acc"]
    fig = new_figure(6.4 * len(panels), 4.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        draw_axis(ax, runs, metric_columns(panel), x=x, smooth=smooth, log_y=log_y)
        ax.set_ylabel(AXIS_LABEL.get(panel, panel))
        ax.set_title(AXIS_LABEL.get(panel, panel) if panel in AXIS_LABEL else panel)
        ax.legend(handles=run_handles(labels, metric_columns(panel)), fontsize=8, title=legend_title(configs),
                  title_fontsize=8)
    fig.suptitle((title or _title(runs, labels)) + (
        f"\nsmoothed: EMA weight {smooth:g} (bold), raw values faded" if smooth > 0 else ""))
    return fig


def _title(runs: Sequence[LoadedRun], labels: Sequence[str]) -> str:
    """What is drawn: the run, or the stages and the runs' labels. (draw_curves adds the EMA weight when
    the curves are smoothed: a smoothed figure never passes for the raw numbers.)"""
    if len(runs) == 1:
        head = runs[0].record.name if runs[0].record.has_name else runs[0].record.id
    else:
        stages = sorted({str(r.record.stage) for r in runs})
        head = f"{', '.join(stages)}: {len(runs)} runs, " + " vs ".join(labels)
        if len(head) > 110:
            head = f"{', '.join(stages)}: {len(runs)} runs (see the legend)"
    return head


def default_figure_dir(runs_dir: str | os.PathLike) -> Path:
    """Where figures go when no path is given: <runs_dir>/.figures (beside the runs it draws; a hidden
    entry, so listing the store never takes it for a run). Created when missing."""
    folder = Path(runs_dir) / FIGURE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_figure_path(runs_dir: str | os.PathLike, run_ids: Sequence[str], kind: str, ext: str = ".png") -> Path:
    """<runs_dir>/.figures/<first run id>[+N]-<kind>-<UTC time>.png"""
    head = run_ids[0] if run_ids else "runs"
    more = f"+{len(run_ids) - 1}" if len(run_ids) > 1 else ""
    return default_figure_dir(runs_dir) / f"{head}{more}-{kind}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}{ext}"


def save_runs_figure(run_dirs: Sequence[str | os.PathLike], path: str | os.PathLike | None = None, *,
                     metric: str | None = "test_acc", x: str = "epoch", smooth: float = 0.0,
                     log_y: bool = False) -> Path:
    """The figure of the runs' curves as the TUI's Compare shows them (metric, x epoch|wall, EMA smoothing,
    log y), written atomically to `path` (.png, .svg or .pdf), by default a PNG in
    default_figure_dir(<the first run's runs dir>). Returns the path. ConfigError for bad options or an
    unreadable run."""
    if not run_dirs:
        raise ConfigError("no run to draw (allowed: one or more run folders)")
    check_options(metric, x, smooth)
    dirs = [Path(d) for d in run_dirs]
    out = Path(path) if path is not None else default_figure_path(dirs[0].parent, [d.name for d in dirs], "curves")
    check_output(out)
    fig = draw_curves([load_run(d) for d in dirs], metric=metric, x=x, smooth=smooth, log_y=log_y)
    return save_figure(fig, out)
