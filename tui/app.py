"""The nnlab Textual app: four screens (Lab, Train, History, Compare) as app modes.

Only the Lab screen is built at start (the others when first shown), and torch is never
imported before the first paint: devices are probed in a child process, the trainer imports
torch in its worker thread. Training runs in one thread worker owned by the app (so it
keeps going while you browse History); its start and end arrive as messages, its epochs and
batches through a mailbox the app collects (tui.run_worker), and all fold into `self.run_state`
(tui.run_state.RunState), which the Train screen draws on a timer.
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import get_current_worker

from engine.allocator import keep_freed_memory
from engine.config import ConfigError
from engine.stages import revalidate
from engine.store import process_age_s, read_artifacts, read_config, read_metrics, read_record
from tui.commands import nnlab_commands
from tui.input_order import KeyOrder
from tui.keymap import APP
from tui.run_state import RunState
from tui.run_worker import Mailbox, RunEvent, RunFailed, in_own_thread, run_training
from tui.screens.compare import CompareScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.lab import LabScreen
from tui.screens.studies import StudiesScreen, StudySource
from tui.screens.train import TrainScreen

FOLLOW_S = 1.0  # how often a run shown from its folder is read again while another process runs it
COLLECT_S = 0.5  # while the Train screen is not shown: how often the trainer's epochs are taken
PREPARE_TRAIN_S = 0.5  # after the first paint: the Train screen is built while the user reads the Lab


class NNLabApp(KeyOrder, App[int]):
    CSS_PATH = str(Path(__file__).with_name("nnlab.tcss"))  # absolute: subclasses elsewhere keep it
    TITLE = "nnlab"
    SUB_TITLE = "RDFIA practical 2-ab / 2-cd"
    MODES = {"lab": LabScreen, "train": TrainScreen, "history": HistoryScreen, "compare": CompareScreen,
             "studies": StudiesScreen}
    DEFAULT_MODE = "lab"
    BINDINGS = APP
    THEMES_CYCLE = ("textual-dark", "textual-light", "ansi-dark", "ansi-light", "nord", "gruvbox", "monokai")

    def __init__(self, runs_dir: str = "saved_runs", data_dir: str = "datasets",
                 clock: Callable[[], float] = time.monotonic, storage: str | None = None) -> None:
        super().__init__()
        keep_freed_memory()  # as `nnlab` does first (an app made elsewhere trains with the same allocator)
        self.runs_dir = str(runs_dir)
        self.data_dir = str(data_dir)
        self.storage = storage or None  # the study storage URL (None: the journal file under the runs dir)
        self.study_source: StudySource | None = None  # where the Studies screen reads (None: engine.study.report)
        self.clock = clock
        self.run_state = RunState()
        self.devices: dict[str, bool] | None = None  # None until torch was probed
        self.compare_ids: list[str] = []
        self.painted_at: float | None = None
        self.torch_at_first_paint: bool | None = None
        self._stop = threading.Event()
        self.mailbox = Mailbox()  # the running trainer's epochs and latest batch (collect() takes them)
        self.failure: str | None = None  # why the app failed (an unhandled error): a run going is saved failed
        self._follow_timer: Timer | None = None  # follows a run shown from its folder (open_run)
        self._collect_timer: Timer | None = None  # takes the trainer's epochs while another screen is shown
        self._probe_child: subprocess.Popen[str] | None = None  # the device probe, while it runs
        theme = os.environ.get("NNLAB_THEME")
        if theme:
            self.theme = theme

    # ------------------------------------------------------------------ navigation
    def action_goto(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    async def action_quit(self) -> None:
        self._kill_probe()  # first: Python's exit would wait for the thread that waits for it
        await super().action_quit()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_next_theme(self) -> None:
        names = [t for t in self.THEMES_CYCLE if t in self.available_themes]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

    def _handle_exception(self, error: Exception) -> None:
        """An unhandled error ends the app (Textual's own handling, below); a run going in the worker
        thread is told first, so it ends `failed` with this reason instead of `interrupted`."""
        if self.failure is None:
            self.failure = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        super()._handle_exception(error)

    @property
    def screenshot_dir(self) -> Path:
        """Where screenshots go: $NNLAB_SCREENSHOT_DIR, else `screenshots` beside the runs dir."""
        chosen = os.environ.get("NNLAB_SCREENSHOT_DIR")
        return Path(chosen).expanduser() if chosen else Path(self.runs_dir).resolve().parent / "screenshots"

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's Screenshot (and the screenshot action): an SVG in `screenshot_dir` (made when missing),
        not the Downloads folder, which need not exist; Textual's notice then names the file."""
        folder = Path(path) if path else self.screenshot_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(f"cannot save a screenshot in {folder}: {exc.strerror or exc}", title="Screenshot",
                        severity="error")
            return None
        return super().deliver_screenshot(filename, str(folder), time_format)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from nnlab_commands(self, screen)

    # ------------------------------------------------------------------ first paint, devices
    def first_paint(self) -> None:
        """Called once the Lab screen has painted: note it, then probe the devices (imports torch)."""
        if self.painted_at is not None:
            return
        self.painted_at = time.perf_counter()
        self.torch_at_first_paint = "torch" in sys.modules
        log = os.environ.get("NNLAB_FIRST_PAINT_FILE")
        if log:  # for measuring the time to first paint from outside (see tests/tui/measure_startup.py)
            with open(log, "w") as fh:
                json.dump({"painted_epoch_s": time.time(), "since_process_start_s": process_age_s(),
                           "torch_imported": self.torch_at_first_paint}, fh)
        if self.devices is None:
            self.probe_devices()
        self.set_timer(PREPARE_TRAIN_S, self._prepare_train_screen)

    def _prepare_train_screen(self) -> None:
        """Build the Train screen while nothing happens, once the first screen is up: built on the first
        start instead, its mount and first layout (a few tenths of a second of the UI thread) took a core
        from the run's first epoch. Textual builds a mode's screen on the first switch; _init_mode is the
        part of switch_mode that builds it (textual is pinned to 8.2)."""
        if "train" not in self._screen_stacks and not self._exit:
            self._init_mode("train")

    @work(thread=True, exclusive=True, group="probe")
    def probe_devices(self) -> None:
        """Ask torch which devices it can use, in a child process started after the first paint:
        importing torch takes seconds of CPU and, in this process, would hold the GIL against
        the UI (the first run imports it in its worker thread instead)."""
        devices = {"auto": True, "cpu": True, "cuda": False, "mps": False}
        try:
            with subprocess.Popen([sys.executable, "-m", "engine.devices"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True) as child:
                self._probe_child = child  # the app's end kills it: quitting never waits for torch's import
                out, _ = child.communicate(timeout=120)
            devices.update(json.loads(out.strip().splitlines()[-1]))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            pass  # cpu and auto always work; the engine rejects an unavailable accelerator anyway
        finally:
            self._probe_child = None
        if not self._exit:
            self.call_from_thread(self._devices_probed, devices)

    def _kill_probe(self) -> None:
        child = self._probe_child
        if child is not None and child.poll() is None:
            try:
                child.kill()
            except OSError:
                pass  # it has just ended

    def _devices_probed(self, devices: dict[str, bool]) -> None:
        self.devices = devices
        for stack in self._screen_stacks.values():
            for screen in stack:
                if isinstance(screen, LabScreen):
                    screen.devices_known(devices)

    # ------------------------------------------------------------------ training
    @property
    def training(self) -> bool:
        return self.run_state.active

    def start_run(self, config: dict[str, Any], name: str | None = None, tags: list[str] | None = None) -> bool:
        """Start a run of a resolved config and show the Train screen; False if one is going."""
        if self.run_state.active:
            self.notify("a run is already going: stop it first (Train screen, s)", severity="warning")
            return False
        self._stop = threading.Event()
        self.run_state.prepare(config, self.clock())
        self._show_then_train(config, name, tags, self._stop)
        return True

    def _show_then_train(self, config: dict[str, Any], name: str | None, tags: list[str] | None,
                         stop: threading.Event, resume_from: str | None = None) -> None:
        """Switch to the Train screen, then start the trainer once it is drawn: the switch (styles,
        layout, a full paint: about a tenth of a second of the UI thread) would otherwise run beside
        the first epoch and take a core from it, on two cores both of the trainer's. What exists now is
        kept out of the cyclic GC's full collections from here (gc.freeze): one, set off by the switch's
        allocations, walked the whole heap (torch's objects included) for a quarter of a second before the
        run could start. train() keeps it so while the epochs run; the worker hands it back at the end."""
        gc.freeze()
        self.mailbox = Mailbox()
        if self._collect_timer is None:
            self._collect_timer = self.set_interval(COLLECT_S, self._collect_elsewhere)
        self.action_goto("train")
        self.call_after_refresh(self._train_worker, config, name, tags, stop, resume_from, self.mailbox)

    def run_again(self, saved_config: dict[str, Any]) -> bool:
        """Start a new run with a saved run's config, validated again by the engine."""
        try:
            config = revalidate(saved_config)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        return self.start_run(config)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train_worker(self, config: dict[str, Any], name: str | None, tags: list[str] | None,
                      stop: threading.Event, resume_from: str | None, mailbox: Mailbox) -> None:
        worker = get_current_worker()
        try:
            in_own_thread(run_training, config, runs_dir=self.runs_dir, data_dir=self.data_dir,
                          post=self.post_message, mailbox=mailbox, stop=stop, is_cancelled=lambda: worker.is_cancelled,
                          name=name, tags=tags, app_failure=lambda: self.failure, resume_from=resume_from)
        finally:
            gc.unfreeze()  # (train() did, unless the run failed before its epochs: bad input found in the data)

    def resume_run(self, run_dir: str) -> bool:
        """Continue an interrupted or crashed run into a new run (engine.train.resume, as `nnlab resume`)."""
        if self.run_state.active:
            self.notify("a run is already going: stop it first (Train screen, s)", severity="warning")
            return False
        try:
            config = read_config(Path(run_dir))
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        self._stop = threading.Event()
        self.run_state.prepare(config, self.clock())
        self._show_then_train({}, None, None, self._stop, resume_from=str(run_dir))
        return True

    def open_run(self, run_dir: str) -> bool:
        """Show a saved run on the Train screen; while another process runs it, follow it live."""
        state = self.run_state
        if state.run_dir and Path(state.run_dir) == Path(run_dir):
            self.action_goto("train")  # this app's own run, or the one already shown
            return True
        if state.active:
            self.notify("a run of this app is going: stop it first to show another one (Train screen, s)",
                        severity="warning")
            return False
        try:
            record = read_record(Path(run_dir))
            config = read_config(Path(run_dir))
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        state.show_saved(run_id=record.id, run_dir=str(record.run_dir), config=config,
                         history=read_metrics(record.run_dir), artifacts=read_artifacts(record.run_dir),
                         status=record.status, message=record.message or "", device=record.device or "",
                         now=self.clock())
        if self._follow_timer is None:
            self._follow_timer = self.set_interval(FOLLOW_S, self._follow)
        self.action_goto("train")
        return True

    def _follow(self) -> None:
        """A run shown from its folder and still going elsewhere: read what its process wrote since."""
        state = self.run_state
        if not state.live_elsewhere:
            return
        run_dir = Path(state.run_dir)
        record = read_record(run_dir)
        rows = read_metrics(run_dir)
        artifacts = read_artifacts(run_dir) if len(rows) != len(state.history) else {}
        state.follow(rows, artifacts, record.status, record.message or "", self.clock())

    def stop_run(self) -> None:
        if self.run_state.active:
            self._stop.set()
            if self.run_state.status != "preparing":
                self.run_state.status = "stopping"
                self.run_state.version += 1

    def on_run_event(self, message: RunEvent) -> None:
        self.collect()  # the epochs the run ended after come first
        self.run_state.apply(message.event, self.clock())

    def on_unmount(self) -> None:
        """The app ends: hand back what a run's start froze (gc.freeze in _show_then_train), also when it
        ends before its trainer began. A trainer still stopping hands it back itself when it ends."""
        self._kill_probe()
        gc.unfreeze()

    def _collect_elsewhere(self) -> None:
        if self.current_mode != "train":  # the Train screen collects when it draws
            self.collect()

    def collect(self) -> None:
        """Fold what the trainer left in the mailbox into the run state: its epochs, then its latest batch.
        The Train screen calls it before it draws, the app's timer while another screen is shown."""
        state = self.run_state
        if state.status not in ("running", "stopping") or state.external:
            return  # the run's start has not been taken yet (it comes first), or this is not our run
        now = self.clock()
        for event in self.mailbox.take_epochs():
            state.apply(event, now)
        batch = self.mailbox.batch
        if batch is not None and state.newer_batch(batch):
            state.apply(batch, now)

    def on_run_failed(self, message: RunFailed) -> None:
        self.run_state.fail(message.text, self.clock())
        self.notify(message.text, title="run failed", severity="error", timeout=10)

    def compare(self, run_ids: list[str]) -> None:
        self.compare_ids = list(run_ids)[:8]
        if self.current_mode == "compare":
            self.screen.load_runs()  # type: ignore[attr-defined]
        else:
            self.switch_mode("compare")  # the screen loads them on mount / resume

    def edit_in_lab(self, config: dict[str, Any]) -> None:
        self.action_goto("lab")
        screen = self.screen
        if isinstance(screen, LabScreen):
            self.call_after_refresh(screen.load_config, config)
