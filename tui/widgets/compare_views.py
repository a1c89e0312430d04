"""The views of the Compare screen, each a plot over a table: runs side by side, the 2-cd ablation (each
stage against the one before it), one `nnlab sweep` (a curve per swept value), and the runs' gradient flow
(one small plot per layer of the update-to-weight ratio against epoch, a curve per run)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import DataTable

from engine.config import ConfigError
from engine.stages import STAGES
from engine.store import LoadedRun, RunRecord, Summary, differing_keys, load_run, table_keys
from engine.text import fmt_number
from tui.format import pct, short_name
from tui.smoothing import ema
from tui.widgets.curves import RAW, CurvePlot, Series, colour, hex_colour, legend_glyph, marker
from tui.widgets.gradients import HEALTHY, REFERENCE_MARKER, fmt, latest, ratio_series

CIFAR_ORDER = [s.id for s in STAGES.values() if s.part == "2-cd"]
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class PlotSettings:
    """How every view draws its curves (the Compare screen's keys change these)."""

    metric: str = "test_acc"
    wall: bool = False  # x is wall time, not epochs
    smoothing: float = 0.6
    ylog: bool = False
    all_keys: bool = False  # the runs table shows every config key, not just those that differ


def config_value(value: Any) -> str:
    return fmt_number(value, "g")


def loaded(run_dir: Any) -> LoadedRun | None:
    """A run in full, or None when it is damaged or gone."""
    try:
        return load_run(run_dir)
    except (ConfigError, OSError):
        return None


def pick_ablation(runs: Sequence[RunRecord]) -> dict[str, RunRecord]:
    """For each 2-cd stage: its newest finished run, else its newest run with epochs done."""
    out: dict[str, RunRecord] = {}
    for stage in CIFAR_ORDER:
        mine = sorted((r for r in runs if r.stage == stage), key=lambda r: r.id, reverse=True)
        done = [r for r in mine if r.status == "finished"] or [r for r in mine if r.epochs_done]
        if done:
            out[stage] = done[0]
    return out


def sweep_tags(runs: Sequence[RunRecord]) -> list[str]:
    return sorted({t for r in runs for t in r.tags if t.startswith("sweep-")}, reverse=True)


def swatch(rgb: RGB, i: int) -> Text:
    """A table row's key to its curve: the curve's marker in its colour (told apart without colour too)."""
    return Text(legend_glyph(marker(i)), style=hex_colour(rgb))


class CompareView(Vertical):
    """A plot over a table; `plot()` draws the runs' curves of the chosen metric."""

    def __init__(self, name: str) -> None:
        super().__init__(id=name)
        self.plot_id = f"{name}-plot" if name != "runs" else "compare-plot"
        self.table_id = f"{name}-table" if name != "runs" else "compare-table"

    def compose(self) -> ComposeResult:
        yield CurvePlot(id=self.plot_id)
        yield DataTable(id=self.table_id, cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def plot(self, runs: Sequence[LoadedRun], labels: Sequence[str], colours: Sequence[RGB], title: str,
             settings: PlotSettings, marks: Sequence[int] | None = None) -> None:
        """`marks`: each run's index into the markers (the table's swatch uses the same); default 0, 1, ..."""
        series: list[Series] = []
        marks = list(marks) if marks is not None else list(range(len(runs)))
        for run, label, rgb, i in zip(runs, labels, colours, marks):
            rows = ([{"epoch": 0, "wall_time": 0.0, **run.initial}] if run.initial else []) + run.history  # epoch 0
            xs = [h.get("wall_time") if settings.wall else h["epoch"] for h in rows]
            ys = [h.get(settings.metric) for h in rows]
            if settings.smoothing > 0:
                series.append(Series("", xs, ys, RAW))  # the raw values, one grey, under the smoothed curve
                series.append(Series(label, xs, ema(ys, settings.smoothing), rgb, marker(i)))
            else:
                series.append(Series(label, xs, ys, rgb, marker(i)))
        plot = self.query_one(CurvePlot)
        plot.empty_text = "nothing to compare yet"
        plot.raw_note = "raw (before smoothing)"
        plot.set_series(series, title=f"{settings.metric}: {title}",
                        xlabel="wall time (s)" if settings.wall else "epoch", ylog=settings.ylog)


class RunsView(CompareView):
    """2 to 8 runs overlaid; the table shows the hyperparameters that differ, best, last, epoch of best."""

    def __init__(self) -> None:
        super().__init__("runs")

    def draw(self, runs: Sequence[LoadedRun], settings: PlotSettings) -> list[str]:
        """Draws; returns the config keys shown (none: nothing differs)."""
        colours = [colour(i) for i in range(len(runs))]
        labels = [f"{i + 1} {short_name(r.record)[:28]}" for i, r in enumerate(runs)]
        self.plot(runs, labels, colours,
                  f"{len(runs)} runs" if len(runs) >= 2 else "pick 2-8 runs in History (space, c)", settings)
        keys = table_keys([r.config for r in runs], all_keys=settings.all_keys)
        table = self.table
        table.clear(columns=True)
        # the keys that differ come right after the run: they are the point of the table (and stay in view at 80)
        table.add_columns("", "run", *keys, "best", "last", "best@", "done", "status", "stage")
        for i, (rgb, label, run) in enumerate(zip(colours, labels, runs)):
            summary = Summary.from_history(run.history)
            best = summary.best_of("test_acc")
            table.add_row(swatch(rgb, i), label, *[config_value(run.config.get(k)) for k in keys],
                          pct(best.value if best else None), pct(summary.last_of("test_acc")),
                          fmt_number(best.epoch if best else None), str(summary.epochs_done), run.record.status,
                          run.record.stage or "-")
        return keys


class AblationView(CompareView):
    """The newest finished run of each 2-cd stage, each against the stage before it."""

    def __init__(self) -> None:
        super().__init__("ablation")

    def draw(self, records: Sequence[RunRecord], settings: PlotSettings) -> None:
        chosen = pick_ablation(records)
        runs, labels, colours, marks = [], [], [], []
        table = self.table
        table.clear(columns=True)
        table.add_columns("", "stage", "adds", "run", "status", "best", "delta", "last", "epochs")
        prev_best: float | None = None
        for i, stage in enumerate(CIFAR_ORDER):
            rgb = colour(i)
            adds = STAGES[stage].title[:34]
            record = chosen.get(stage)
            run = loaded(record.run_dir) if record else None
            if run is None:
                table.add_row(swatch(rgb, i), stage, adds, Text("no run yet (start it from Lab)", style="dim"),
                              "-", "-", "-", "-", "-")
                continue
            summary = Summary.from_history(run.history)
            best_of = summary.best_of("test_acc")
            best = best_of.value if best_of else None
            delta: str | Text = "-"
            if prev_best is not None and best is not None:
                d = 100 * (best - prev_best)
                delta = Text(f"{d:+.1f} pt", style="green" if d >= 0 else "red")
            table.add_row(swatch(rgb, i), stage, adds, short_name(run.record)[:28], run.record.status, pct(best), delta,
                          pct(summary.last_of("test_acc")), str(summary.epochs_done))
            if best is not None:
                prev_best = best
            runs.append(run)
            labels.append(stage)
            colours.append(rgb)
            marks.append(i)
        self.plot(runs, labels, colours, "2-cd ablation (newest finished run per stage)", settings, marks)


def sweep_order(keys: list[str]):
    """Sort key of a sweep's runs: by the swept values, numbers before anything else."""
    def key(run: LoadedRun) -> tuple:
        out = []
        for k in keys:
            v = run.config.get(k)
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            out.append((0, float(v), "") if number else (1, 0.0, json.dumps(v, sort_keys=True)))
        return tuple(out)
    return key


class SweepView(CompareView):
    """One sweep (runs sharing a sweep-... tag): a curve per swept value and a final/best table."""

    def __init__(self) -> None:
        super().__init__("sweep")

    def draw(self, records: Sequence[RunRecord], index: int, settings: PlotSettings) -> None:
        """Draws the sweep at `index` (newest first, modulo their number)."""
        tags = sweep_tags(records)
        table = self.table
        table.clear(columns=True)
        if not tags:
            self.plot([], [], [], "no sweep yet (nnlab sweep STAGE lr=0.001,0.1,0.3,0.5)", settings)
            return
        tag = tags[index % len(tags)]
        runs = [run for r in records if tag in r.tags and (run := loaded(r.run_dir)) is not None]
        keys = differing_keys([r.config for r in runs]) or ["seed"]
        runs.sort(key=sweep_order(keys))
        labels = [" ".join(f"{k}={config_value(r.config.get(k))}" for k in keys) for r in runs]
        colours = [colour(i) for i in range(len(runs))]
        stage = runs[0].record.stage if runs else "?"
        # the sweep's name first (what it swept, on which stage): a long title is cut at its end
        others = f", [ ] {index % len(tags) + 1} of {len(tags)} sweeps" if len(tags) > 1 else ""
        self.plot(runs, labels, colours,
                  f"sweep of {', '.join(keys)} on {stage}, {len(runs)} runs ({tag.removeprefix('sweep-')}{others})",
                  settings)
        table.add_columns("", *keys, "status", "final test", "best test", "best@", "final train loss", "epochs")
        for i, (rgb, run) in enumerate(zip(colours, runs)):
            summary = Summary.from_history(run.history)
            best = summary.best_of("test_acc")
            table.add_row(swatch(rgb, i), *[config_value(run.config.get(k)) for k in keys], run.record.status,
                          pct(summary.last_of("test_acc")), pct(best.value if best else None),
                          fmt_number(best.epoch if best else None),
                          config_value(summary.last_of("train_loss")), str(summary.epochs_done))


def read_gradients(run: LoadedRun) -> dict[str, Any] | None:
    """The run's gradients artifact (engine.inside), or None: inspect=off, a run from before it, damaged."""
    from engine.store.files import read_json

    path = run.record.run_dir / "artifacts" / "gradients.json"
    try:
        data = read_json(path) if not path.is_symlink() else None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == "gradients" and data.get("layers") else None


def grid_columns(plots: int) -> int:
    return plots if plots <= 2 else 2 if plots == 4 else 3


class GradientsCompareView(Vertical):
    """The runs' update-to-weight ratio ||delta theta|| / ||theta|| of each layer against epoch, log y: one
    small plot per layer (cifar-dropout against cifar-batchnorm: how each layer's steps compare), a curve
    per run in the run's colour and marker, as in the runs view; the table is the legend, with each run's
    latest ratio per layer and the layers flagged vanishing or exploding."""

    def __init__(self) -> None:
        super().__init__(id="gradients")
        self.layer_names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Grid(id="gradients-grid")
        yield DataTable(id="gradients-table", cursor_type="row", zebra_stripes=True)

    def draw(self, runs: Sequence[LoadedRun]) -> None:
        payloads = [read_gradients(r) for r in runs]
        layers: list[str] = []
        for p in payloads:
            layers += [str(x) for x in (p or {}).get("layers") or [] if str(x) not in layers]
        grid = self.query_one(Grid)
        if layers != self.layer_names or len(grid.children) != max(1, len(layers)):
            self.layer_names = layers
            grid.remove_children()
            grid.mount_all([CurvePlot(classes="gradients-layer") for _ in range(max(1, len(layers)))])
        grid.styles.grid_size_columns = grid_columns(len(layers))
        plots = list(grid.query(CurvePlot))
        for plot, layer in zip(plots, layers or [""]):
            series: list[Series] = []
            flagged = []
            epochs: list[float] = []
            for i, p in enumerate(payloads):
                for name, xs, ys, flag in ratio_series(p or {}):
                    if name == layer:
                        series.append(Series("", xs, ys, colour(i), marker(i)))
                        epochs += xs
                        if flag:
                            flagged.append(f"{i + 1} {flag.upper()}")
            if epochs:
                series.insert(0, Series("", [min(epochs), max(epochs)], [HEALTHY, HEALTHY], RAW, REFERENCE_MARKER))
            plot.empty_text = "no gradients recorded" if runs else "pick 2-8 runs in History (space, c)"
            title = f"{layer}: ratio, log y" + (f" ({', '.join(flagged)})" if flagged else "") if layer else ""
            plot.set_series(series, title=title or "update/weight ratio per layer", xlabel="", ylog=True)
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_columns("", "run", *layers, "flagged", "stage")
        for i, (run, p) in enumerate(zip(runs, payloads)):
            label = f"{i + 1} {short_name(run.record)[:22]}"
            if p is None:
                table.add_row(swatch(colour(i), i), label, *["-"] * len(layers),
                              Text("no gradients.json (inspect=off, or an older run)", style="dim"),
                              run.record.stage or "-")
                continue
            flags = [f"{layer} {flag.upper()}" for layer, _, _, flag in ratio_series(p) if flag]
            table.add_row(swatch(colour(i), i), label, *[fmt(latest(p, "update_ratio", x)) for x in layers],
                          Text(", ".join(flags), style="bold") if flags else "-", run.record.stage or "-")
