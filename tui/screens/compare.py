"""Compare screen: 2 to 8 runs overlaid, plus the ablation and sweep views.

Curves: stable colours (a run keeps its colour while you change views), x by epoch or wall
time, causal EMA smoothing drawn over the faded raw curve, log y. The table shows only the
hyperparameters that differ (k: all), with best, last and epoch-of-best. The ablation view
takes each 2-cd stage against the one before it; the sweep view shows one `nnlab sweep`
(runs sharing a sweep-... tag): a curve per swept value and a final/best table.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, DataTable, Footer, Header, Static

from engine.stages import STAGES
from tui.format import pct, short_name, value
from tui.smoothing import ema
from tui.widgets.curves import CurvePlot, Series, colour, faded, hex_colour

METRICS = ("test_acc", "train_acc", "test_loss", "train_loss")
SMOOTHING = (0.0, 0.6, 0.8, 0.9, 0.95)
VIEWS = ("runs", "ablation", "sweep")
CIFAR_ORDER = [s.id for s in STAGES.values() if s.part == "2-cd"]
POLL_S = 2.0


def load_run(run_dir: Path) -> dict[str, Any] | None:
    """run.json (effective status) + config + metrics of one run; None when damaged or gone."""
    from engine.config import ConfigError
    from engine.store import read_config, read_metrics, read_record

    record = read_record(run_dir)
    if record.get("status") == "damaged":
        return None
    try:
        record["config"] = read_config(run_dir)
    except ConfigError:
        return None
    record["history"] = read_metrics(run_dir)
    return record


def best_row(history: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [h for h in history if isinstance(h.get("test_acc"), float)]
    return max(rows, key=lambda h: h["test_acc"], default={})


def pick_ablation(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each 2-cd stage: its newest finished run, else its newest run with epochs done."""
    out: dict[str, dict[str, Any]] = {}
    for stage in CIFAR_ORDER:
        mine = sorted((r for r in runs if r.get("stage") == stage), key=lambda r: r["id"], reverse=True)
        done = [r for r in mine if r.get("status") == "finished"] or \
            [r for r in mine if (r.get("summary") or {}).get("epochs_done")]
        if done:
            out[stage] = done[0]
    return out


def sweep_tags(runs: list[dict[str, Any]]) -> list[str]:
    tags = {str(t) for r in runs for t in r.get("tags") or [] if str(t).startswith("sweep-")}
    return sorted(tags, reverse=True)


class CompareScreen(Screen):
    SUB_TITLE = "4 Compare: runs side by side"
    BINDINGS = [
        Binding("m", "metric", "Metric"),
        Binding("x", "xaxis", "X axis", tooltip="epoch or wall time"),
        Binding("s", "smooth", "Smooth", tooltip="causal EMA smoothing: cycle its strength"),
        Binding("l", "log", "Log y"),
        Binding("k", "all_keys", "All keys", show=False),
        Binding("v", "view", "View"),
        Binding("left_square_bracket", "sweep(-1)", "Prev sweep", key_display="[", show=False),
        Binding("right_square_bracket", "sweep(1)", "Next sweep", key_display="]", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.metric = "test_acc"
        self.wall = False
        self.smoothing = 0.6
        self.ylog = False
        self.all_keys = False
        self.view = "runs"
        self.records: list[dict[str, Any]] = []
        self.sweep_index = 0
        self.loaded_ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="compare-bar", markup=False)
        with ContentSwitcher(id="compare-views", initial="runs"):
            with Vertical(id="runs"):
                yield CurvePlot(id="compare-plot")
                yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="ablation"):
                yield CurvePlot(id="ablation-plot")
                yield DataTable(id="ablation-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="sweep"):
                yield CurvePlot(id="sweep-plot")
                yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load_runs()
        self.set_interval(POLL_S, self._poll)

    def on_screen_resume(self) -> None:
        if self.loaded_ids != self.app.compare_ids:  # type: ignore[attr-defined]
            self.load_runs()

    def _poll(self) -> None:
        if self.is_current and any(r.get("status") == "running" for r in self.records):
            self.load_runs()

    @property
    def runs_dir(self) -> Path:
        return Path(self.app.runs_dir)  # type: ignore[attr-defined]

    def load_runs(self) -> None:
        ids = list(self.app.compare_ids)  # type: ignore[attr-defined]
        self.loaded_ids = ids
        self.records = [r for r in (load_run(self.runs_dir / i) for i in ids) if r is not None]
        self.redraw()

    # ------------------------------------------------------------------ drawing
    def redraw(self) -> None:
        self._bar()
        if self.view == "runs":
            self._draw_runs()
        elif self.view == "ablation":
            self._draw_ablation()
        else:
            self._draw_sweep()

    def _bar(self) -> None:
        views = "  ".join(f"[{v}]" if v == self.view else v for v in VIEWS)
        self.query_one("#compare-bar", Static).update(
            f"v {views} | m {self.metric} | x {'wall time' if self.wall else 'epoch'} | "
            f"s ema {self.smoothing:g} | l {'log' if self.ylog else 'lin'} y")

    def _series(self, records: list[dict[str, Any]], labels: list[str], colours: list) -> list[Series]:
        out: list[Series] = []
        for record, label, rgb in zip(records, labels, colours):
            hist = record["history"]
            xs = [h.get("wall_time") if self.wall else h["epoch"] for h in hist]
            ys = [h.get(self.metric) for h in hist]
            if self.smoothing > 0:
                out.append(Series("", xs, ys, faded(rgb)))
                out.append(Series(label, xs, ema(ys, self.smoothing), rgb))
            else:
                out.append(Series(label, xs, ys, rgb))
        return out

    def _plot(self, plot_id: str, records: list[dict[str, Any]], labels: list[str], colours: list,
              title: str) -> None:
        plot = self.query_one(plot_id, CurvePlot)
        plot.empty_text = "nothing to compare yet"
        plot.set_series(self._series(records, labels, colours), title=f"{title}: {self.metric}",
                        xlabel="wall time (s)" if self.wall else "epoch", ylog=self.ylog)

    def _draw_runs(self) -> None:
        records = self.records
        colours = [colour(i) for i in range(len(records))]
        labels = [f"{i + 1} {short_name(r)[:28]}" for i, r in enumerate(records)]
        self._plot("#compare-plot", records, labels, colours,
                   f"{len(records)} runs" if len(records) >= 2 else "pick 2-8 runs in History (space, c)")
        from engine.cli.runs import table_keys

        keys = table_keys([r["config"] for r in records], all_keys=self.all_keys)
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        # the keys that differ come right after the run: they are the point of the table (and stay in view at 80)
        table.add_columns("", "run", *[k for k in keys], "best", "last", "best@", "done", "status", "stage")
        for i, r in enumerate(records):
            hist = r["history"]
            best = best_row(hist)
            last = hist[-1] if hist else {}
            table.add_row(Text("■", style=hex_colour(colours[i])), labels[i], *[value(r["config"].get(k)) for k in keys],
                          pct(best.get("test_acc")), pct(last.get("test_acc")), value(best.get("epoch")),
                          str(len(hist)), r.get("status"), r.get("stage", "-"))
        if len(records) >= 2 and not keys:
            self.notify("no hyperparameter differs between these runs (k shows all)", timeout=3)

    def _draw_ablation(self) -> None:
        from engine.store import list_runs

        chosen = pick_ablation(list_runs(self.runs_dir))
        records, labels, colours = [], [], []
        table = self.query_one("#ablation-table", DataTable)
        table.clear(columns=True)
        table.add_columns("", "stage", "adds", "run", "status", "best", "delta", "last", "epochs")
        prev_best: float | None = None
        for i, stage in enumerate(CIFAR_ORDER):
            rgb = colour(i)
            swatch = Text("■", style=hex_colour(rgb))
            adds = STAGES[stage].title[:34]
            run = chosen.get(stage)
            record = load_run(Path(run["run_dir"])) if run else None
            if record is None:
                table.add_row(swatch, stage, adds, Text("no run yet (start it from Lab)", style="dim"),
                              "-", "-", "-", "-", "-")
                continue
            best = best_row(record["history"]).get("test_acc")
            last = record["history"][-1].get("test_acc") if record["history"] else None
            delta = "-"
            if prev_best is not None and best is not None:
                d = 100 * (best - prev_best)
                delta = Text(f"{d:+.1f} pt", style="green" if d >= 0 else "red")
            table.add_row(swatch, stage, adds, short_name(record)[:28],
                          record.get("status"), pct(best), delta, pct(last), str(len(record["history"])))
            if best is not None:
                prev_best = best
            records.append(record)
            labels.append(stage)
            colours.append(rgb)
        self._plot("#ablation-plot", records, labels, colours, "2-cd ablation (newest finished run per stage)")

    def _draw_sweep(self) -> None:
        from engine.cli.runs import differing_keys
        from engine.store import list_runs

        runs = list_runs(self.runs_dir)
        tags = sweep_tags(runs)
        table = self.query_one("#sweep-table", DataTable)
        table.clear(columns=True)
        if not tags:
            self._plot("#sweep-plot", [], [], [], "no sweep yet (nnlab sweep STAGE lr=0.001,0.1,0.3,0.5)")
            return
        self.sweep_index %= len(tags)
        tag = tags[self.sweep_index]
        members = [r for r in runs if tag in (r.get("tags") or [])]
        records = [x for x in (load_run(Path(r["run_dir"])) for r in members) if x is not None]
        keys = differing_keys([r["config"] for r in records]) or ["seed"]

        def sort_value(r: dict[str, Any]):
            out = []
            for k in keys:
                v = r["config"].get(k)
                number = isinstance(v, (int, float)) and not isinstance(v, bool)
                out.append((0, float(v), "") if number else (1, 0.0, json.dumps(v, sort_keys=True)))
            return tuple(out)

        records.sort(key=sort_value)
        labels = [" ".join(f"{k}={value(r['config'].get(k))}" for k in keys) for r in records]
        colours = [colour(i) for i in range(len(records))]
        stage = records[0].get("stage") if records else "?"
        self._plot("#sweep-plot", records, labels, colours,
                   f"sweep {tag} ({stage}, {len(records)} runs, [ ] other sweeps: {len(tags)})")
        table.add_columns("", *keys, "status", "final test", "best test", "best@", "final train loss", "epochs")
        for rgb, r in zip(colours, records):
            hist = r["history"]
            best = best_row(hist)
            last = hist[-1] if hist else {}
            table.add_row(Text("■", style=hex_colour(rgb)), *[value(r["config"].get(k)) for k in keys],
                          r.get("status"), pct(last.get("test_acc")), pct(best.get("test_acc")),
                          value(best.get("epoch")), value(last.get("train_loss")), str(len(hist)))

    # ------------------------------------------------------------------ actions
    def action_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.redraw()

    def action_xaxis(self) -> None:
        self.wall = not self.wall
        self.redraw()

    def action_smooth(self) -> None:
        self.smoothing = SMOOTHING[(SMOOTHING.index(self.smoothing) + 1) % len(SMOOTHING)]
        self.redraw()

    def action_log(self) -> None:
        self.ylog = not self.ylog
        self.redraw()

    def action_all_keys(self) -> None:
        self.all_keys = not self.all_keys
        self.redraw()

    def action_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.query_one("#compare-views", ContentSwitcher).current = self.view
        self.redraw()

    def action_sweep(self, step: int) -> None:
        if self.view != "sweep":
            self.view = "sweep"
            self.query_one("#compare-views", ContentSwitcher).current = "sweep"
        else:
            self.sweep_index += step
        self.redraw()
