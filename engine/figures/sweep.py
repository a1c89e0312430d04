"""A sweep (the runs sharing a sweep tag) or an Optuna study as the report's figs. 3-4 show it: a curve
per swept value, and the final and best metric against the swept parameter.

A tag is read from the local run store alone; a study through engine.study.report.study_report (its
trials' parameters, per-epoch curve and value), which also works where the trials' run folders are not."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.ticker import MaxNLocator

from engine.config import ConfigError
from engine.figures.mpl import Figure, new_figure
from engine.figures.style import colour, format_value, marker
from engine.store import LoadedRun, differing_keys, list_runs, load_run

SWEEP_METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")


@dataclass
class SweepPoint:
    """One run (or trial) of a sweep: its swept values, its per-epoch curves, its state."""

    params: dict[str, Any]
    curves: dict[str, list[float | None]] = field(default_factory=dict)  # metric -> value per epoch
    status: str = "finished"
    run_id: str | None = None

    def final(self, metric: str) -> float | None:
        """The last finite value of the metric."""
        values = [v for v in self.curves.get(metric, []) if v is not None and math.isfinite(v)]
        return values[-1] if values else None

    def best(self, metric: str) -> float | None:
        values = [v for v in self.curves.get(metric, []) if v is not None and math.isfinite(v)]
        if not values:
            return None
        return min(values) if "loss" in metric else max(values)


@dataclass
class Sweep:
    title: str
    keys: list[str]  # the swept keys, the first one on the x axis
    points: list[SweepPoint]
    metric: str = "test_acc"


def _sort_value(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, str(value))


def tag_runs(runs_dir: str, tag: str) -> list[LoadedRun]:
    """The readable runs carrying `tag`, oldest first; ConfigError when there are none."""
    found = [r for r in list_runs(runs_dir) if tag in r.tags and not r.is_damaged]
    if not found:
        raise ConfigError(f"invalid value for --tag: {tag!r} (no run in {runs_dir!r} has this tag; "
                          "see the tags column of `nnlab runs list`)")
    return [load_run(r.run_dir) for r in reversed(found)]


def sweep_of_runs(runs: Sequence[LoadedRun], title: str, metric: str = "test_acc") -> Sweep:
    """The sweep that a set of runs makes: the swept keys are the config keys that differ; `metric` is the
    one drawn against the swept parameter."""
    keys = [k for k in differing_keys([r.config for r in runs])]
    points = [SweepPoint({k: r.config.get(k) for k in keys},
                         {m: [row.get(m) for row in r.history] for m in SWEEP_METRICS},
                         r.record.status, r.record.id) for r in runs]
    points.sort(key=lambda p: tuple(_sort_value(p.params.get(k)) for k in keys))
    return Sweep(title, keys, points, metric)


def sweep_of_study(report: dict[str, Any]) -> Sweep:
    """The sweep of a study report (the `nnlab studies show --json` object: trials with params, curve,
    state, run_id; metric)."""
    metric = str(report.get("metric") or "test_acc")
    trials = [t for t in report.get("trials") or [] if isinstance(t, dict)]
    keys = list(dict.fromkeys(k for t in trials for k in (t.get("params") or {})))
    points = [SweepPoint(dict(t.get("params") or {}), {metric: list(t.get("curve") or [])},
                         str(t.get("state") or "?"), t.get("run_id")) for t in trials]
    points.sort(key=lambda p: tuple(_sort_value(p.params.get(k)) for k in keys))
    return Sweep(f"study {report.get('study')} ({report.get('stage')})", keys, points, metric)


def point_label(point: SweepPoint, keys: Sequence[str]) -> str:
    label = ", ".join(f"{k}={format_value(point.params.get(k))}" for k in keys) or (point.run_id or "?")[-4:]
    return label if point.status in ("finished", "complete") else f"{label} ({point.status})"


def draw_sweep(sweep: Sweep) -> Figure:
    """Curves per swept value (loss and metric when the runs have them) and the metric's final and best
    value against the first swept parameter."""
    if not sweep.points:
        raise ConfigError(f"{sweep.title}: nothing to draw (no run or trial)")
    curve_metrics = [m for m in ("test_loss", sweep.metric) if any(p.curves.get(m) for p in sweep.points)]
    curve_metrics = list(dict.fromkeys(curve_metrics))
    fig = new_figure(5.0 * (len(curve_metrics) + 1), 4.4)
    axes = fig.subplots(1, len(curve_metrics) + 1, squeeze=False)[0]
    for ax, metric in zip(axes, curve_metrics):
        for i, point in enumerate(sweep.points):
            ys = point.curves.get(metric) or []
            xs = [e + 1 for e, v in enumerate(ys) if v is not None and math.isfinite(v)]
            ys = [v for v in ys if v is not None and math.isfinite(v)]
            if ys:
                ax.plot(xs, ys, color=colour(i), marker=marker(i), markevery=max(1, len(xs) // 10), markersize=4,
                        linewidth=1.5, label=point_label(point, sweep.keys))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per epoch")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    draw_against_parameter(axes[-1], sweep)
    fig.suptitle(sweep.title)
    return fig


def draw_against_parameter(ax: Any, sweep: Sweep) -> None:
    """Final (solid, filled marker) and best (dashed, open marker) metric against the first swept key; one
    line per combination of the other swept keys."""
    metric = sweep.metric
    if not sweep.keys:
        ax.set_visible(False)
        return
    key, others = sweep.keys[0], sweep.keys[1:]
    values: list[Any] = sorted({p.params.get(key) for p in sweep.points}, key=_sort_value)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    positions: dict[Any, float] = {v: (float(v) if numeric else float(i)) for i, v in enumerate(values)}
    groups: dict[tuple[str, ...], list[SweepPoint]] = {}
    for p in sweep.points:
        groups.setdefault(tuple(format_value(p.params.get(k)) for k in others), []).append(p)
    for gi, (group, pts) in enumerate(groups.items()):
        pts = sorted(pts, key=lambda p: _sort_value(p.params.get(key)))
        name = ", ".join(f"{k}={v}" for k, v in zip(others, group))
        for which, style, fill in (("final", "-", True), ("best", "--", False)):
            xs, ys = [], []
            for p in pts:
                y = p.final(metric) if which == "final" else p.best(metric)
                if y is not None:
                    xs.append(positions[p.params.get(key)])
                    ys.append(y)
            if xs:
                ax.plot(xs, ys, color=colour(gi), linestyle=style, marker=marker(gi), markersize=6,
                        markerfacecolor=colour(gi) if fill else "white",
                        label=f"{which} {metric}" + (f" ({name})" if name else ""))
    if numeric and all(positions[v] > 0 for v in values) and max(positions.values()) / min(positions.values()) >= 20:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(list(positions.values()), [format_value(v) for v in values])
    ax.set_xlabel(key)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} against {key}")
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def load_study_report(storage: str | None, runs_dir: str, name: str) -> dict[str, Any]:
    """The study's report (engine.study, loaded only when a study is asked for)."""
    from engine.study.report import study_report  # noqa: PLC0415 - optuna loads only for a study

    report = study_report(storage, runs_dir, name)
    return report if isinstance(report, dict) else dict(report)
