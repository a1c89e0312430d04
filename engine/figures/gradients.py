"""Gradient flow per layer (`nnlab plot RUN --kind gradients`): from the run's gradients artifact (see
engine.inside; one real training step per epoch, the epoch's last), three panels against epoch on a log y
axis: the gradient norm, the weight norm and the update-to-weight ratio ||delta theta|| / ||theta||, a
curve per layer (a colour and a marker per layer, so the curves stay apart printed in grey).

The ratio panel shades the healthy band, a decade either side of the rule of thumb 1e-3, and draws the
flag thresholds of engine.inside.limits (VANISHING, EXPLODING) as labelled dashed lines; a flagged layer
(the artifact's "flags", read on the median of the last epochs) is named in the legend and the panel title.

Several runs (`nnlab plot RUN1 RUN2 --kind gradients`): the update ratios only, one panel per run side by
side, sharing the log y axis, each layer in the same colour in every panel. Overlaying the runs with a line
style each was the other choice; it was not taken because what tells cifar-dropout from cifar-batchnorm is
how the layers' ratios sit against each other: batch norm makes a conv layer's output blind to the scale of
its weights, so its conv layers' ratios sit at another level and closer together than without it, where the
layers spread out (the output layer far above conv1). Overlaid, both runs' five curves fall in the same one
or two decades and tangle into ten lines told apart only by dash pattern; side by side, each run's spread
between its layers reads at a glance, and the shared axis keeps the levels comparable.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter, MaxNLocator

from engine.figures.inside_picks import grid_shape, series_artifact
from engine.figures.mpl import Figure, new_figure
from engine.figures.style import colour, marker, run_labels
from engine.inside.limits import EXPLODING, VANISHING
from engine.store import LoadedRun, load_run, read_artifacts

MEASURES = (
    ("grad_norm", "gradient norm", "||dL/d theta||"),
    ("weight_norm", "weight norm", "||theta||"),
    ("update_ratio", "update-to-weight ratio", "||delta theta|| / ||theta||"),
)
HEALTHY = (1e-4, 1e-2)  # a decade either side of the classic 1e-3 per step
MAX_COLUMNS = 3  # runs side by side; more runs wrap to a new row


class PlainLog(LogFormatter):
    """Log-axis tick labels as plain numbers (0.2, 1e-06), on the ticks matplotlib chooses to label."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:.3g}" if super().__call__(x, pos) else ""


def log_axis(ax: Any) -> None:
    """A log y axis labelled with plain numbers (the minor ticks too, when less than two decades show)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(PlainLog())
    ax.yaxis.set_minor_formatter(PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def positive_points(epochs: Sequence[Any], values: Sequence[Any]) -> tuple[list[float], list[float], int]:
    """The series as a log axis can show it: a value <= 0, not finite or missing becomes NaN (a gap in the
    line, not a bridge over it); returns (epochs, values, how many became NaN)."""
    xs: list[float] = []
    ys: list[float] = []
    gaps = 0
    for x, y in zip(epochs, values):
        if not isinstance(x, (int, float)):
            continue
        ok = isinstance(y, (int, float)) and math.isfinite(y) and y > 0
        xs.append(float(x))
        ys.append(float(y) if ok else math.nan)
        gaps += not ok
    return xs, ys, gaps


def flagged(art: dict[str, Any]) -> dict[str, str]:
    """{layer: "vanishing" | "exploding"} for the layers the artifact flags."""
    flags = art.get("flags") if isinstance(art.get("flags"), dict) else {}
    return {str(k): str(v) for k, v in (flags or {}).items() if v}


def _flag_text(flags: dict[str, str]) -> str:
    return "flagged: " + ", ".join(f"{k} {v}" for k, v in flags.items()) if flags else "no layer flagged"


def _layer_curves(ax: Any, art: dict[str, Any], measure: str, layers: Sequence[str]) -> int:
    """A curve per layer of art[measure] on a log axis; returns the number of points left out."""
    epochs = art["epochs"]
    every = max(1, len(epochs) // 10)
    flags = flagged(art)
    left_out = 0
    for i, layer in enumerate(layers):
        series = (art.get(measure) or {}).get(layer) or []
        xs, ys, dropped = positive_points(epochs, series)
        left_out += dropped
        if all(math.isnan(y) for y in ys):
            continue
        ax.plot(xs, ys, color=colour(i), marker=marker(i), markersize=4, markevery=(i % every, every),
                linewidth=1.6 if layer not in flags else 2.4)
    log_axis(ax)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)
    return left_out


def layer_handles(layers: Sequence[str], flags: dict[str, str]) -> list[Any]:
    """Legend entries: a layer's colour and marker, its flag when it has one."""
    return [Line2D([], [], color=colour(i), marker=marker(i), markersize=4, linewidth=2.4 if layer in flags else 1.6,
                   label=f"{layer} ({flags[layer]})" if layer in flags else layer) for i, layer in enumerate(layers)]


def _healthy_band(ax: Any) -> list[Any]:
    """The band around 1e-3 and the two flag thresholds; returns their legend handles."""
    from matplotlib.patches import Patch

    ax.axhspan(*HEALTHY, color="0.85", zorder=0)
    ax.axhline(VANISHING, color="0.25", linestyle="--", linewidth=1.0, zorder=1)
    ax.axhline(EXPLODING, color="0.25", linestyle="--", linewidth=1.0, zorder=1)
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, VANISHING / 4), max(hi, EXPLODING * 4))
    return [Patch(color="0.85", label=f"ratio healthy:\n{HEALTHY[0]:g} to {HEALTHY[1]:g}"),
            Line2D([], [], color="0.25", linestyle="--", label=f"flag thresholds:\nvanishing < {VANISHING:g}\n"
                                                                f"exploding > {EXPLODING:g}")]


def _left_out_note(count: int) -> str:
    return f"\n({count} value{'s' if count > 1 else ''} <= 0 or not finite left out: gaps)" if count else ""


def draw_gradients(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> Figure:
    """The three measures of one run, a panel each."""
    art = series_artifact(run, artifacts, "gradients")
    layers = [str(x) for x in art["layers"]]
    flags = flagged(art)
    fig = new_figure(15.5, 4.8)
    axes = fig.subplots(1, len(MEASURES), squeeze=False)[0]
    for ax, (measure, name, formula) in zip(axes, MEASURES):
        left_out = _layer_curves(ax, art, measure, layers)
        title = name
        extra: list[Any] = []
        if measure == "update_ratio":
            extra = _healthy_band(ax)
            title += f"\n{_flag_text(flags)}"
        ax.set_title(title + _left_out_note(left_out), fontsize=10)
        ax.set_ylabel(f"{formula} (log)")
    fig.legend(handles=layer_handles(layers, flags) + extra, loc="outside right center", fontsize=8, title="layer",
               title_fontsize=8)
    fig.suptitle(f"{run.record.id}: gradient flow per layer, at {art.get('how') or 'one training step per epoch'}",
                 fontsize=10)
    return fig


def draw_gradients_runs(runs: Sequence[LoadedRun], artifacts: Sequence[dict[str, dict[str, Any]]]) -> Figure:
    """The update-to-weight ratios of several runs, one panel per run side by side, on one log y axis."""
    arts = []
    for run, found in zip(runs, artifacts):
        arts.append(series_artifact(run, found, "gradients"))
    labels = run_labels([r.config for r in runs], [r.record.id for r in runs], [r.record.name for r in runs])
    # a layer keeps its colour in every panel: the colours follow the union of the layers, in order
    layers: list[str] = []
    for art in arts:
        layers += [str(x) for x in art["layers"] if str(x) not in layers]
    rows, cols = grid_shape(len(runs), MAX_COLUMNS)
    fig = new_figure(5.0 * cols + 1.6, 4.6 * rows + 0.4)
    grid = fig.subplots(rows, cols, squeeze=False, sharey=True)
    panels = [ax for row in grid for ax in row]
    extra: list[Any] = []
    for ax, run, art, label in zip(panels, runs, arts, labels):
        left_out = _layer_curves(ax, art, "update_ratio", layers)
        ax.set_title(f"{label}\n{run.record.id}\n{_flag_text(flagged(art))}{_left_out_note(left_out)}", fontsize=9)
    for ax in panels[:len(runs)]:
        extra = _healthy_band(ax)  # after every curve: the shared axis spans every run's values
    for ax in panels[len(runs):]:
        ax.set_visible(False)
    for row in grid:
        row[0].set_ylabel("||delta theta|| / ||theta|| (log)")
    fig.legend(handles=layer_handles(layers, {}) + extra, loc="outside right center", fontsize=8, title="layer",
               title_fontsize=8)
    fig.suptitle(f"update-to-weight ratio per layer, {len(runs)} runs (the epoch's last training step)", fontsize=10)
    return fig


def gradients_figure(run_dirs: Sequence[Any]) -> Figure:
    """The gradients figure of one run (draw_gradients) or of several (draw_gradients_runs), from their folders."""
    runs = [load_run(d) for d in run_dirs]
    found = [read_artifacts(d) for d in run_dirs]
    return draw_gradients(runs[0], found[0]) if len(runs) == 1 else draw_gradients_runs(runs, found)
