"""Figures of what a screen shows, and the command that reproduces a run.

Train, History and Compare each say which runs they show and how (`train_figure`, `history_figure`,
`compare_figure` -> FigureRequest); `save_figure` then takes Textual's SVG screenshot of the screen (on the
UI thread: it is what the user sees at the key press) and, in a thread worker, draws the same runs with
matplotlib (engine.figures.curves, imported there: the TUI starts without matplotlib) and writes both files
atomically to <runs_dir>/.figures under one name; a notification names them.

`show_reproduce_command` shows the `nnlab run ...` command of a run (engine.command_line) in a dialog,
selectable, and copies it to the clipboard (OSC 52: works over SSH).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, TextArea

from engine.command_line import reproduce_command
from engine.config import ConfigError
from engine.store import list_runs, read_config
from engine.store.compare import COMPARE_MAX
from engine.store.files import atomic_write_bytes
from tui.keymap import COMMAND_DIALOG

_SAVING = threading.Lock()  # one figure at a time: file names stay unique, matplotlib draws in one thread


@dataclass(frozen=True)
class FigureRequest:
    """What to draw: the runs (or a function listing them, run in the worker) and Compare's settings."""

    label: str  # the screen (and view), in the file name
    runs: Sequence[Path] | Callable[[], Sequence[Path]]
    metric: str | None = None  # a metrics column, loss|acc, or None: loss and accuracy panels
    x: str = "epoch"
    smooth: float = 0.0
    log_y: bool = False
    kind: str = "curves"  # or "gradients": the runs' update-to-weight ratios per layer (engine.figures.gradients)


@dataclass(frozen=True)
class SavedFigure:
    png: Path
    svg: Path
    request: FigureRequest
    drawn_in: str = ""  # the thread that drew it (a worker's, never the UI thread)


# --------------------------------------------------------------------------- what each screen shows
def train_figure(screen: Any) -> FigureRequest | str:
    """Train: the current run's loss and accuracy (train and test), as its two plots show them."""
    state = screen.app.run_state
    if not state.run_dir:
        return "no run to draw yet: start one (Lab, ctrl+r) or open one (History, enter)"
    if not state.history:
        return "no epoch has finished yet: nothing to draw"
    return FigureRequest("train", [Path(state.run_dir)], metric=None)


def history_figure(screen: Any) -> FigureRequest | str:
    """History: the marked runs (the healthy ones), else the selected run; accuracy, as the preview shows."""
    healthy = {r.id: r for r in screen.runs if not r.is_damaged}
    marked = [healthy[i].run_dir for i in screen.marked if i in healthy]
    if marked:
        return FigureRequest("history", marked, metric="acc")
    record = screen.current()
    if record is None:
        return "no run selected"
    if record.is_damaged:
        return "a damaged run has no curves to draw"
    return FigureRequest("history", [record.run_dir], metric="acc")


def compare_figure(screen: Any) -> FigureRequest | str:
    """Compare: the runs of the view shown, with its metric, x axis, smoothing and log y."""
    s = screen.settings
    options = {"metric": s.metric, "x": "wall" if s.wall else "epoch", "smooth": float(s.smoothing),
               "log_y": bool(s.ylog)}
    runs_dir = screen.app.runs_dir
    if screen.view == "gradients":
        if not screen.records:
            return f"no runs to compare: mark 2-{COMPARE_MAX} runs in History (space), then c"
        return FigureRequest("compare-gradients", [r.record.run_dir for r in screen.records], metric="ratio",
                             kind="gradients")
    if screen.view == "runs":
        if not screen.records:
            return f"no runs to compare: mark 2-{COMPARE_MAX} runs in History (space), then c"
        return FigureRequest("compare", [r.record.run_dir for r in screen.records], **options)
    if screen.view == "ablation":
        return FigureRequest("ablation", lambda: ablation_runs(runs_dir), **options)
    index = screen.sweep_index
    return FigureRequest("sweep", lambda: sweep_runs(runs_dir, index), **options)


def ablation_runs(runs_dir: str) -> list[Path]:
    """The runs the ablation view draws: the chosen run of each 2-cd stage, in the stages' order."""
    from tui.widgets.compare_views import CIFAR_ORDER, loaded, pick_ablation

    chosen = pick_ablation(list_runs(runs_dir))
    return [record.run_dir for stage in CIFAR_ORDER
            if (record := chosen.get(stage)) is not None and loaded(record.run_dir) is not None]


def sweep_runs(runs_dir: str, index: int) -> list[Path]:
    """The runs the sweep view draws: the runs of its sweep tag, in the order of the swept values."""
    from engine.store import differing_keys
    from tui.widgets.compare_views import loaded, sweep_order, sweep_tags

    records = list_runs(runs_dir)
    tags = sweep_tags(records)
    if not tags:
        return []
    tag = tags[index % len(tags)]
    runs = [run for r in records if tag in r.tags and (run := loaded(r.run_dir)) is not None]
    runs.sort(key=sweep_order(differing_keys([r.config for r in runs]) or ["seed"]))
    return [r.record.run_dir for r in runs]


# --------------------------------------------------------------------------- saving
def save_figure(screen: Screen, request: FigureRequest | str) -> None:
    """The screenshot now (UI thread), the matplotlib figure in a thread worker; a notification names both."""
    app = screen.app
    if isinstance(request, str):
        app.notify(request, title="Figure", severity="warning")
        return
    svg = app.export_screenshot()
    app.notify("drawing the figure...", title="Figure", timeout=2)
    app.run_worker(lambda: _save(app, request, svg), thread=True, group="figure", exit_on_error=False)


def _save(app: App, request: FigureRequest, svg: str) -> None:
    try:
        saved = write_figure(app.runs_dir, request, svg)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 (said in a notification: a worker's error would go unseen)
        reason = str(exc) if isinstance(exc, (ConfigError, OSError)) else f"{type(exc).__name__}: {exc}"
        app.call_from_thread(app.notify, f"could not save the figure: {reason}", title="Figure", severity="error",
                             markup=False)
        return
    app.call_from_thread(_saved, app, saved)


def _saved(app: App, saved: SavedFigure) -> None:
    app.saved_figures = [*getattr(app, "saved_figures", []), saved]  # type: ignore[attr-defined]
    app.notify(f"figure (PNG): {saved.png}\nscreenshot (SVG): {saved.svg}", title="Figure saved", timeout=10,
               markup=False)


def write_figure(runs_dir: str, request: FigureRequest, svg: str) -> SavedFigure:
    """Draw the request with matplotlib and write <name>.png and the screenshot <name>.svg (runs a while:
    call it off the UI thread)."""
    from engine.figures.curves import default_figure_dir, save_runs_figure  # matplotlib: only here

    runs = list(request.runs() if callable(request.runs) else request.runs)
    if not runs:
        raise ConfigError("no run to draw in this view")
    with _SAVING:
        folder = default_figure_dir(runs_dir)
        png, shot = figure_paths(folder, request, [Path(r).name for r in runs])
        if request.kind == "gradients":
            from engine.figures.gradients import gradients_figure
            from engine.figures.save import save_figure as save_matplotlib

            save_matplotlib(gradients_figure(runs), png)
        else:
            save_runs_figure(runs, png, metric=request.metric, x=request.x, smooth=request.smooth,
                             log_y=request.log_y)
        atomic_write_bytes(shot, svg.encode("utf-8"))
    return SavedFigure(png, shot, request, threading.current_thread().name)


def figure_paths(folder: Path, request: FigureRequest, run_ids: Sequence[str]) -> tuple[Path, Path]:
    """<screen>-<first run id>[+N]-<metric>-<UTC time>[-n].png and .svg, names no file has yet."""
    more = f"+{len(run_ids) - 1}" if len(run_ids) > 1 else ""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    stem = f"{request.label}-{run_ids[0]}{more}-{request.metric or 'loss-acc'}-{stamp}"
    n = 1
    while True:
        name = stem if n == 1 else f"{stem}-{n}"
        png, svg = folder / f"{name}.png", folder / f"{name}.svg"
        if not png.exists() and not svg.exists():
            return png, svg
        n += 1


# --------------------------------------------------------------------------- the reproduce command
class CommandScreen(ModalScreen[None]):
    """A run's reproduce command, selectable (a read-only text area); it is on the clipboard already."""

    BINDINGS = COMMAND_DIALOG
    DEFAULT_CSS = """
    CommandScreen { align: center middle; }
    CommandScreen > Vertical { width: 90%; max-width: 110; height: auto; border: round $accent;
                               background: $surface; padding: 0 1; }
    CommandScreen TextArea { height: auto; max-height: 8; }
    CommandScreen .hint { color: $text-muted; }
    """

    def __init__(self, title: str, command: str) -> None:
        super().__init__()
        self.title_text = title
        self.command = command

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield TextArea(self.command, read_only=True, soft_wrap=True, show_line_numbers=False,
                           id="reproduce-command")
            yield Label("copied to the clipboard; select with the mouse or shift+arrows to copy again.  "
                        "Esc: close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_close(self) -> None:
        self.dismiss(None)


def show_reproduce_command(screen: Screen, run_dir: str | Path | None, run_id: str | None = None) -> None:
    """The dialog with the run's `nnlab run ...` command, copied to the clipboard."""
    app = screen.app
    if not run_dir:
        app.notify("no run to reproduce yet", severity="warning")
        return
    try:
        command = reproduce_command(read_config(Path(run_dir)))
    except (ConfigError, KeyError, OSError) as exc:
        app.notify(f"cannot read this run's config: {exc}", severity="error", markup=False)
        return
    app.copy_to_clipboard(command)
    app.clear_notifications()  # a notice still shown (a saved figure's) would cover the dialog for seconds
    app.push_screen(CommandScreen(f"reproduce {run_id or Path(run_dir).name}:", command))
