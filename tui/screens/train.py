"""Train screen: the live run. Loss and accuracy (train and test, per epoch), progress, ETA,
learning rate, stop; and the stage's own panel (decision boundary, SVM regions, sample
predictions, confusion matrix, CNN model summary) and, where the run recorded them (engine.inside), what
happens inside the network: gradient flow, activations, conv1's filters and feature maps.

It draws the app's RunState on one timer (2 Hz): the progress line and the resource line every tick
(one screen update), the plots and the stage's panel only when a new epoch arrived and, while the run
trains, at most once a second (PLOT_S), so batch events never cost a plot build and a run of short
epochs does not spend a core on redrawing curves. Every CPU second the UI takes is taken from the
trainer's cores; on two cores the trainer's parallel ops wait for it.
"""
from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static

from engine.model_summary import summarize_stage
from engine.store.status import RESUMABLE
from tui.figure_actions import save_figure, show_reproduce_command, train_figure
from tui.format import duration, pct
from tui.keymap import TRAIN
from tui.own_thread import in_own_thread
from tui.run_state import RunState
from tui.widgets.activations import ActivationsView
from tui.widgets.boundary import BoundaryView
from tui.widgets.confusion import ConfusionView
from tui.widgets.curves import CurvePlot, Series
from tui.widgets.filters import FeaturesView, FiltersView
from tui.widgets.gradients import GradientsView
from tui.widgets.key_scroll import KeyScroll
from tui.widgets.model_summary import SummaryView
from tui.widgets.resources import ResourceLine
from tui.widgets.samples import SamplesView
from tui.widgets.units import UnitsView

REDRAW_S = 0.5  # the progress line: 2 updates a second (its clocks count whole seconds), whatever the batch rate
PLOT_S = 1.0  # plots and panel while a run trains: at most one redraw a second

TRAIN_C = (66, 135, 245)
TEST_C = (245, 130, 48)


INSIDE_VIEWS = ("gradients", "activations", "filters", "features")  # each shown when its artifact is there
IMAGE_ACTIONS = {"image": ("features",), "maps_epoch": ("filters", "features")}  # view keys: where they act


def panel_views(stage: str, artifacts: dict[str, Any] | None = None) -> list[str]:
    """The panel's views of a stage; with the run's artifacts (by kind), the inside views it recorded."""
    if stage == "circles-svm":
        return ["boundary"]
    if stage.startswith("circles"):
        views = ["boundary", "units"]
    elif stage.startswith("cifar"):
        views = ["samples", "confusion", "summary"]
    else:
        views = ["samples", "confusion"]
    return views + [v for v in INSIDE_VIEWS if isinstance((artifacts or {}).get(v), dict)]


def show_text(widget: Static, text: str, *, layout: bool = True) -> None:
    """Update a Static only when its text changed: every update costs the UI thread a refresh (and a
    layout, unless the widget's size cannot change), time taken from the trainer while it runs."""
    if getattr(widget, "shown_text", None) != text:
        widget.shown_text = text  # type: ignore[attr-defined]
        widget.update(text, layout=layout)


def show_class(widget: Static, name: str) -> None:
    """set_classes restyles the widget each call: only when the class changes."""
    if set(widget.classes) != {name}:
        widget.set_classes(name)


def bar(fraction: float, width: int) -> str:
    full = int(round(fraction * width))
    return "█" * full + "░" * (width - full)


class TrainScreen(Screen):
    SUB_TITLE = "2 Train: the live run"
    BINDINGS = TRAIN

    def __init__(self) -> None:
        super().__init__()
        self.drawn_version = -1
        self.drawn_epochs = -1
        self.drawn_artifacts: dict[str, int] = {}
        self.drawn_at = float("-inf")  # time.monotonic() of the last plot and panel redraw
        self.summaries: dict[str, dict[str, Any] | None] = {}
        self.view = ""
        self.views: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="run-header", markup=False)
        yield Static(id="progress", markup=False)
        with Horizontal(id="train-body"):
            with Vertical(id="train-plots"):
                yield CurvePlot("loss", id="loss-plot")
                yield CurvePlot("accuracy", id="acc-plot")
            with Vertical(id="stage-panel"):
                yield Static(id="panel-title", markup=False)
                with ContentSwitcher(id="panel", initial="boundary"):
                    yield BoundaryView(id="boundary")
                    yield UnitsView(id="units")
                    with KeyScroll(id="samples"):
                        yield SamplesView(id="samples-view")
                    with KeyScroll(id="confusion"):
                        yield ConfusionView(id="confusion-view")
                    with KeyScroll(id="summary"):
                        yield SummaryView(id="summary-view")
                    yield GradientsView(id="gradients")
                    with KeyScroll(id="activations"):
                        yield ActivationsView(id="activations-view")
                    with KeyScroll(id="filters"):
                        yield FiltersView(id="filters-view")
                    with KeyScroll(id="features"):
                        yield FeaturesView(id="features-view")
                yield ResourceLine(id="resources")
        yield Footer(compact=True)

    @property
    def state(self) -> RunState:
        return self.app.run_state  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self.set_interval(REDRAW_S, self.tick)
        self.tick()

    def on_screen_resume(self) -> None:
        self.tick()

    # ------------------------------------------------------------------ drawing
    def tick(self) -> None:
        """Cheap text every tick; plots and panels only when their data changed (see PLOT_S)."""
        resource_lines = self.query(ResourceLine)
        if not resource_lines:  # no widgets: the app ended as the screen was made, or is taking it down
            return
        state = self.state
        self._draw_header(state)
        resource_lines.first().tick()
        if state.version == self.drawn_version:
            return
        views = panel_views(state.stage, state.artifacts) if state.stage else []
        now = time.monotonic()
        if views == self.views and state.active and now - self.drawn_at < PLOT_S:
            return  # drawn less than PLOT_S ago: the next tick after it will
        self.drawn_version = state.version
        self.drawn_at = now
        if views != self.views:
            self.views = views
            if self.view not in views:  # a view added (the run's first inside artifacts) keeps the one shown
                self.view = views[0] if views else ""
            self._show_view()
        if len(state.history) != self.drawn_epochs:
            self.drawn_epochs = len(state.history)
            self._draw_plots(state)
        self._draw_panel(state)

    def _draw_header(self, state: RunState) -> None:
        now = self.app.clock()  # type: ignore[attr-defined]
        header = self.query_one("#run-header", Static)
        progress = self.query_one("#progress", Static)
        if state.status == "idle":
            show_text(header, "No run yet: pick a stage on the Lab screen (1), then ctrl+r to start.")
            show_text(progress, "", layout=False)
            return
        loading = "(loading torch, the data and the model)" if state.active else "(no run was saved)"
        who = f"{state.stage}  {state.run_id or loading}"
        where = f"  on {state.device}" if state.device else ""
        status = state.status
        if state.diverged():
            text = (f"DIVERGED: {state.message or 'the loss became non-finite'}. "
                    f"Saved as diverged. {who}")
            show_class(header, "diverged")
        elif status == "failed":
            text = f"FAILED: {state.message}  {who}"
            show_class(header, "failed")
        elif status == "interrupted" and state.external:
            text = f"INTERRUPTED after {len(state.history)} epochs (R: resume)  {who}"
            show_class(header, "interrupted")
        elif status == "interrupted":
            text = f"STOPPED by you after {len(state.history)} epochs (kept as interrupted; R: resume)  {who}"
            show_class(header, "interrupted")
        elif status == "crashed":
            text = f"CRASHED after {len(state.history)} epochs (its process is gone; R: resume)  {who}"
            show_class(header, "failed")
        elif state.live_elsewhere:
            text = f"{status.upper()} (started elsewhere; s: stop)  {who}{where}"
            show_class(header, "running")
        elif status == "finished":
            text = f"FINISHED  {who}{where}"
            show_class(header, "finished")
        else:
            text = f"{status.upper()}  {who}{where}"
            show_class(header, "running")
        blown = state.blown_up() if status not in ("failed",) and not state.diverged() else None
        if blown is not None:  # finite but exploded: said as plainly as a divergence
            lr_now = state.lr()
            lr_text = f"lr {lr_now:g} is too large" if lr_now is not None else "the step is too large"
            text = (f"LOSS BLEW UP: {blown[0]:.4g} per example (lowest {blown[1]:.3g}); {lr_text}, "
                    f"try a smaller one.  {text}")
            show_class(header, "unstable")
        show_text(header, text)
        frac = state.fraction()
        eta = state.eta(now)
        lr = state.lr()
        best = state.best
        epoch = (state.epoch or 0) if state.active else len(state.history)  # after a stop: the epochs done
        elapsed = duration(state.elapsed(now))
        # (long form, short form): the short forms when the line would not fit (80 columns)
        parts = [(f"{bar(frac, 10)} {100 * frac:3.0f}%",) * 2,
                 (f"epoch {epoch}/{state.epochs}", f"ep {epoch}/{state.epochs}")]
        if state.active and state.batches:
            parts.append((f"batch {state.batch}/{state.batches}", f"b {state.batch}/{state.batches}"))
        parts.append((f"elapsed {elapsed}", elapsed))
        if state.active:
            parts.append((f"ETA {duration(eta) if eta is not None else '-'}",) * 2)
        if lr is not None:
            parts.append((f"lr {lr:g}",) * 2)
        if best.get("test_acc") is not None:
            parts.append((f"best {pct(best['test_acc'])}@{best.get('epoch')}",) * 2)
        line = " ".join(p[0] for p in parts)
        if len(line) > progress.size.width - 2:
            line = " ".join(p[1] for p in parts)
        show_text(progress, line, layout=False)  # one line, always

    def _draw_plots(self, state: RunState) -> None:
        initial = state.artifacts.get("initial")  # the model before its first update: epoch 0
        rows = ([{"epoch": 0, **initial}] if isinstance(initial, dict) else []) + state.history
        xs = [r["epoch"] for r in rows]
        col = lambda k: [r.get(k) for r in rows]  # noqa: E731
        self.query_one("#loss-plot", CurvePlot).set_series(
            [Series("train", xs, col("train_loss"), TRAIN_C), Series("test", xs, col("test_loss"), TEST_C)],
            title="loss (per example)", xlabel="epoch")
        self.query_one("#acc-plot", CurvePlot).set_series(
            [Series("train", xs, col("train_acc"), TRAIN_C), Series("test", xs, col("test_acc"), TEST_C)],
            title="accuracy", xlabel="epoch")

    def _draw_panel(self, state: RunState) -> None:
        title = self.query_one("#panel-title", Static)
        if len(self.views) > 1:
            text = "  ".join(f"[{v}]" if v == self.view else v for v in self.views) + "   (v: next)"
            # the panel is 45% of the screen, at least 40 columns, less its border (before its first layout)
            width = title.size.width or max(40, self.app.size.width * 45 // 100) - 1
            if len(text) > width:  # too many views for the panel's title: the one shown, and how many
                text = f"[{self.view}] {self.views.index(self.view) + 1} of {len(self.views)}   (v: next)"
            show_text(title, text, layout=False)
        else:
            show_text(title, self.view, layout=False)
        arts = state.artifacts
        stamp = {k: id(v) for k, v in arts.items()}
        if stamp == self.drawn_artifacts and self.view != "summary":
            return
        self.drawn_artifacts = stamp
        if self.view == "boundary":
            self.query_one(BoundaryView).show(arts.get("boundary"), arts.get("points"))
        elif self.view == "units":
            self.query_one(UnitsView).show(arts.get("units"))
        elif self.view == "samples":
            self.query_one(SamplesView).show(arts.get("samples"))
        elif self.view == "confusion":
            self.query_one(ConfusionView).show(arts.get("confusion"))
        elif self.view == "summary":
            self.query_one(SummaryView).show(arts.get("summary") or self._summary(state.config))
        elif self.view == "gradients":
            self.query_one(GradientsView).show(arts.get("gradients"))
        elif self.view == "activations":
            self.query_one(ActivationsView).show(arts.get("activations"))
        elif self.view == "filters":
            self.query_one(FiltersView).show(arts.get("filters"), state.run_dir)
        elif self.view == "features":
            self.query_one(FeaturesView).show(arts.get("features"), arts.get("samples"), state.run_dir)

    def _summary(self, config: dict[str, Any]) -> dict[str, Any] | None:
        """The model summary of a config whose run has not written one (yet): built once per config, in a
        thread that ends with it. Built here, torch's parallel ops would leave the UI thread an OpenMP team
        for the rest of the session, and with more OpenMP threads than cores every later run trains slower
        (tui/own_thread.py says why)."""
        if not str(config.get("stage", "")).startswith("cifar"):
            return None
        key = repr(sorted(config.items()))
        if key not in self.summaries:
            built: list[dict[str, Any]] = []
            in_own_thread(lambda: built.append(summarize_stage(config)))
            self.summaries[key] = built[0]
        return self.summaries[key]

    def _show_view(self) -> None:
        if self.view:
            self.query_one("#panel", ContentSwitcher).current = self.view
        self.drawn_artifacts = {}
        self.refresh_bindings()  # the view keys (i, I, [ ]) act only in their views, `i` then in the footer

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        views = IMAGE_ACTIONS.get(action)
        return views is None or self.view in views

    # ------------------------------------------------------------------ actions
    def action_stop(self) -> None:
        if self.state.active:
            if self.app.stop_run():  # type: ignore[attr-defined]
                self.notify("stopping after this batch; the run is kept as interrupted")
            self.tick()
        else:
            self.notify("no run is going")

    def action_next_view(self) -> None:
        if len(self.views) > 1:
            self.view = self.views[(self.views.index(self.view) + 1) % len(self.views)]
            self._show_view()
            self._draw_panel(self.state)

    def action_image(self, step: int) -> None:
        """The features view: the next (previous) recorded image."""
        if self.view == "features":
            self.query_one(FeaturesView).step_image(step)

    def action_maps_epoch(self, step: int) -> None:
        """The filters and features views: an earlier (later) recorded epoch, read from the run's folder."""
        view = self.query_one(FeaturesView) if self.view == "features" else self.query_one(FiltersView)
        if self.view in ("filters", "features"):
            self.notify(view.step_epoch(step), timeout=2)

    def action_again(self) -> None:
        if self.state.config:
            self.app.run_again(self.state.config)  # type: ignore[attr-defined]

    def action_resume(self) -> None:
        state = self.state
        if state.status in RESUMABLE and state.run_dir and not state.active:
            self.app.resume_run(state.run_dir)  # type: ignore[attr-defined]
        else:
            self.notify("only an interrupted or crashed run can be resumed", severity="warning")

    def action_edit(self) -> None:
        if self.state.config:
            self.app.edit_in_lab(self.state.config)  # type: ignore[attr-defined]

    def action_save_figure(self) -> None:
        save_figure(self, train_figure(self))

    def action_reproduce(self) -> None:
        show_reproduce_command(self, self.state.run_dir, self.state.run_id)
