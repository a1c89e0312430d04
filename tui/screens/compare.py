"""Compare screen: 2 to 8 runs overlaid, plus the ablation, sweep and gradients views.

Curves: stable colours and markers (a run keeps both while you change views), x by epoch or wall
time, causal EMA smoothing drawn over the raw curve (grey, its own marker), log y. The views themselves are
widgets (tui.widgets.compare_views); this screen holds the runs, the plot settings and the keys.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static

from engine.store import LoadedRun, list_runs
from tui.figure_actions import compare_figure, save_figure
from tui.keymap import COMPARE
from tui.widgets.compare_views import AblationView, GradientsCompareView, PlotSettings, RunsView, SweepView, loaded

METRICS = ("test_acc", "train_acc", "test_loss", "train_loss")
SMOOTHING = (0.0, 0.6, 0.8, 0.9, 0.95)
VIEWS = ("runs", "ablation", "sweep", "gradients")
POLL_S = 2.0
PLOT_ACTIONS = ("metric", "xaxis", "smooth", "log", "all_keys")  # the curves' settings


def next_of(options: tuple, now: object) -> object:
    return options[(options.index(now) + 1) % len(options)]


class CompareScreen(Screen):
    SUB_TITLE = "4 Compare: runs side by side"
    BINDINGS = COMPARE

    def __init__(self) -> None:
        super().__init__()
        self.settings = PlotSettings()
        self.view = "runs"
        self.records: list[LoadedRun] = []
        self.sweep_index = 0
        self.loaded_ids: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="compare-bar", markup=False)
        with ContentSwitcher(id="compare-views", initial="runs"):
            yield RunsView()
            yield AblationView()
            yield SweepView()
            yield GradientsCompareView()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load_runs()
        self.set_interval(POLL_S, self._poll)

    def on_screen_resume(self) -> None:
        if self.loaded_ids != self.app.compare_ids:  # type: ignore[attr-defined]
            self.load_runs()

    def _poll(self) -> None:
        # reload while a run is going, or when a run was deleted elsewhere (another TUI, `nnlab runs rm`)
        if self.is_current and any(r.record.status == "running" or not r.record.run_dir.is_dir()
                                   for r in self.records):
            self.load_runs()

    def load_runs(self) -> None:
        ids = list(self.app.compare_ids)  # type: ignore[attr-defined]
        runs_dir = Path(self.app.runs_dir)  # type: ignore[attr-defined]
        self.loaded_ids = ids
        self.records = [r for r in (loaded(runs_dir / i) for i in ids) if r is not None]
        self.redraw()

    def redraw(self) -> None:
        s = self.settings
        views = "  ".join(f"[{v}]" if v == self.view else v for v in VIEWS)
        if self.view == "gradients":  # the metric, x axis, smoothing and log keys do not apply to it
            settings = "update/weight ratio per layer, log y"
        else:
            settings = (f"m {s.metric} | x {'wall time' if s.wall else 'epoch'} | s ema {s.smoothing:g} | "
                        f"l {'log' if s.ylog else 'lin'} y")
        bar = self.query_one("#compare-bar", Static)
        text = f"v {views} | {settings}"
        if len(text) > (bar.content_region.width or self.app.size.width - 2):  # 80 columns: the view shown only
            text = f"v [{self.view}] | {settings}"
        bar.update(text)
        if self.view == "gradients":
            self.query_one(GradientsCompareView).draw(self.records)
        elif self.view == "runs":
            keys = self.query_one(RunsView).draw(self.records, s)
            if len(self.records) >= 2 and not keys:
                self.notify("no hyperparameter differs between these runs (k shows all)", timeout=3)
        elif self.view == "ablation":
            self.query_one(AblationView).draw(list_runs(self.app.runs_dir), s)  # type: ignore[attr-defined]
        else:
            self.query_one(SweepView).draw(list_runs(self.app.runs_dir), self.sweep_index, s)  # type: ignore[attr-defined]

    def _show(self, view: str) -> None:
        self.view = view
        self.query_one("#compare-views", ContentSwitcher).current = view
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The curve settings' keys are not in the footer of the gradients view (its plots have none)."""
        return not (self.view == "gradients" and action in PLOT_ACTIONS)

    # ------------------------------------------------------------------ actions
    def action_metric(self) -> None:
        self.settings = replace(self.settings, metric=next_of(METRICS, self.settings.metric))
        self.redraw()

    def action_xaxis(self) -> None:
        self.settings = replace(self.settings, wall=not self.settings.wall)
        self.redraw()

    def action_smooth(self) -> None:
        self.settings = replace(self.settings, smoothing=next_of(SMOOTHING, self.settings.smoothing))
        self.redraw()

    def action_log(self) -> None:
        self.settings = replace(self.settings, ylog=not self.settings.ylog)
        self.redraw()

    def action_all_keys(self) -> None:
        self.settings = replace(self.settings, all_keys=not self.settings.all_keys)
        self.redraw()

    def action_view(self) -> None:
        self._show(str(next_of(VIEWS, self.view)))
        self.redraw()

    def action_sweep(self, step: int) -> None:
        if self.view != "sweep":
            self._show("sweep")
        else:
            self.sweep_index += step
        self.redraw()

    def action_save_figure(self) -> None:
        save_figure(self, compare_figure(self))
