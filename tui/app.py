"""The nnlab Textual app: five screens (Lab, Train, History, Compare, Studies) as app modes.

Only the Lab screen is built at start (the others when first shown), and torch is never imported into this
process: devices are probed in a child process, and every run trains in a process of its own, in a session of
its own (engine.detached), so that it outlives the terminal, an SSH drop, a kill of this app and ctrl+q. The app
follows the shown run's folder (engine.store.follow) and folds what it reads into `self.run_state`
(tui.run_state.RunState), which the Train screen draws on a timer. Any TUI on the same runs dir can follow and
stop any run.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.timer import Timer

from engine.allocator import keep_freed_memory
from engine.config import ConfigError
from engine.detached import early_output, interrupt, run_argv, start_detached, starting_pid
from engine.gpus import GpuInfo, gpus_from_json, nvml_gpus
from engine.stages import revalidate
from engine.store import check_runs_dir, list_runs, process_age_s, read_config, read_record
from engine.store.compare import COMPARE_MAX
from engine.store.follow import RunFollower
from tui.commands import nnlab_commands
from tui.input_order import KeyOrder
from tui.keymap import APP
from tui.quit_driver import driver_for
from tui.run_state import RunState
from tui.screens.compare import CompareScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.lab import LabScreen
from tui.screens.studies import StudiesScreen, StudySource
from tui.screens.train import TrainScreen
from tui.widgets.dialogs import QuitScreen

GPU_REFRESH_S = 3.0  # how often the Lab's GPU list is read again (NVML)
FOLLOW_S = 0.5  # how often the shown run's folder is read while it trains (the Train screen draws at 2 Hz)
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
                 clock: Callable[[], float] = time.monotonic, storage: str | None = None,
                 ends_process: bool = False) -> None:
        """ends_process: the process ends when the app does (tui.launch); quitting then skips the wait for
        Textual's input reader (tui.quit_driver)."""
        super().__init__(driver_class=driver_for(self.get_driver_class()) if ends_process else None)
        keep_freed_memory()  # as `nnlab` does first (an app made elsewhere trains with the same allocator)
        self.runs_dir = str(runs_dir)
        self.data_dir = str(data_dir)
        self.storage = storage or None  # the study storage URL (None: the journal file under the runs dir)
        self.study_source: StudySource | None = None  # where the Studies screen reads (None: engine.study.report)
        self.clock = clock
        self.run_state = RunState()
        self.devices: dict[str, bool] | None = None  # None until torch was probed
        self.gpus: list[GpuInfo] = []  # the box's GPUs (probe, then NVML every GPU_REFRESH_S)
        self._gpu_timer: Timer | None = None
        self.compare_ids: list[str] = []
        self.painted_at: float | None = None
        self.torch_at_first_paint: bool | None = None
        self.started_here: list[str] = []  # ids of the runs this app started (they train in their own processes)
        self._follow_timer: Timer | None = None  # reads the shown run's folder while it trains
        self._following: str | None = None  # the run dir the Train screen shows
        self._follower: RunFollower | None = None  # None until that run's folder exists
        self.exit_note = ""  # printed on the terminal once the app has ended (runs left training)
        self._probe_child: subprocess.Popen[str] | None = None  # the device probe, while it runs
        self._probe_lock = threading.Lock()
        self._probe_ended = False  # set at the app's end: no probe starts after it
        theme = os.environ.get("NNLAB_THEME")
        if theme:
            self.theme = theme

    # ------------------------------------------------------------------ navigation
    def action_goto(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    async def action_quit(self) -> None:
        """ctrl+q: at once when nothing trains; with runs this app started still training, ask whether to leave
        them training (the default: they are processes of their own) or stop them first."""
        self._kill_probe()  # first: Python's exit would wait for the thread that waits for it
        if isinstance(self.screen, QuitScreen):  # ctrl+q again: quit, leave them training
            self.screen.dismiss("leave")
            return
        live = self.live_started_here()
        if not live:
            self.exit(0)
            return

        def chosen(choice: str | None) -> None:
            if choice is None:
                return
            if choice == "stop":
                stopped = [run_id for run_id in live if self._interrupt_run(run_id)]
                self.exit_note = (f"nnlab: stopping {len(stopped)} run{'s' if len(stopped) != 1 else ''} "
                                  f"(they end interrupted, resumable): {' '.join(stopped)}")
            else:
                n = len(live)
                self.exit_note = (f"nnlab: {n} run{'s keep' if n != 1 else ' keeps'} training: {' '.join(live)}\n"
                                  f"  see {'them' if n != 1 else 'it'} again: nnlab (Train, History), or "
                                  f"nnlab runs attach {live[0]}; stop: nnlab runs stop ID")
            self.exit(0)

        self.push_screen(QuitScreen(live), chosen)

    def _interrupt_run(self, run_id: str) -> bool:
        folder = Path(self.runs_dir) / run_id
        pid = read_record(folder).pid if (folder / "run.json").exists() else starting_pid(self.runs_dir, run_id)
        return pid is not None and interrupt(pid)

    def on_unmount(self) -> None:
        self._kill_probe()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_next_theme(self) -> None:
        names = [t for t in self.THEMES_CYCLE if t in self.available_themes]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

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
        self.find_live_runs()
        self.set_timer(PREPARE_TRAIN_S, self._prepare_train_screen)

    @work(thread=True, group="live-runs", exit_on_error=False)
    def find_live_runs(self) -> None:
        """Runs training now in this runs dir (started by another TUI, `nnlab run`, a sweep, or this app before
        it was closed): the Train screen follows the newest, and a notice says how many there are."""
        try:
            live = [r for r in list_runs(self.runs_dir) if r.status == "running"]
        except (OSError, ConfigError):
            return
        if live:
            self.call_from_thread(self._show_live_runs, [str(r.run_dir) for r in live])

    def _show_live_runs(self, run_dirs: list[str]) -> None:
        n = len(run_dirs)
        if self.run_state.status == "idle":  # nothing shown yet: follow the newest (History lists them all)
            self._show_run(run_dirs[0])
        self.notify(f"{n} run{'s are' if n != 1 else ' is'} training: Train (2) follows "
                    f"{'the newest' if n != 1 else 'it'}; History (3) lists {'them' if n != 1 else 'it'} as running, "
                    "Enter there follows another", title="training now", timeout=8)

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
        devices: dict[str, Any] = {"auto": True, "cpu": True, "cuda": False, "mps": False}
        try:
            with self._probe_lock:  # a quit that came first wins: no child is started after it
                if self._probe_ended:
                    return
                child = subprocess.Popen([sys.executable, "-m", "engine.devices"], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
                self._probe_child = child  # the app's end kills it: quitting never waits for torch's import
            with child:
                out, _ = child.communicate(timeout=120)
            devices.update(json.loads(out.strip().splitlines()[-1]))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            pass  # cpu and auto always work; the engine rejects an unavailable accelerator anyway
        finally:
            self._probe_child = None
        gpus = gpus_from_json(devices.pop("gpus", None) or [])
        if not self._exit:
            self.call_from_thread(self._devices_probed, {k: bool(v) for k, v in devices.items()}, gpus)

    def _kill_probe(self) -> None:
        """At the app's end: kill the device probe, or keep it from starting. Its thread is a Textual worker,
        which the end of App.run waits for: a probe started just after the quit (its thread late on a busy
        machine) kept nnlab waiting for torch's import, up to the probe's 120 s."""
        with self._probe_lock:
            self._probe_ended = True
            child = self._probe_child
        if child is not None and child.poll() is None:
            try:
                child.kill()
            except OSError:
                pass  # it has just ended

    def _devices_probed(self, devices: dict[str, bool], gpus: list[GpuInfo]) -> None:
        self.devices = devices
        self.gpus = gpus
        for lab in self._lab_screens():
            lab.devices_known(devices)
        if gpus and self._gpu_timer is None:
            self._gpu_timer = self.set_interval(GPU_REFRESH_S, self.refresh_gpus)

    def _lab_screens(self) -> list[LabScreen]:
        return [screen for stack in self._screen_stacks.values() for screen in stack if isinstance(screen, LabScreen)]

    @work(thread=True, exclusive=True, group="gpus", exit_on_error=False)
    def refresh_gpus(self) -> None:
        """The GPUs' memory, utilisation and processes again, from NVML (no torch in this process); without
        NVML the probe's figures stay."""
        gpus = nvml_gpus()
        if gpus is not None and not self._exit:
            self.call_from_thread(self._gpus_refreshed, gpus)

    def _gpus_refreshed(self, gpus: list[GpuInfo]) -> None:
        self.gpus = gpus
        for lab in self._lab_screens():
            lab.gpus_known(gpus)

    # ------------------------------------------------------------------ training
    @property
    def training(self) -> bool:
        return self.run_state.active

    def start_run(self, config: dict[str, Any], name: str | None = None, tags: list[str] | None = None) -> bool:
        """Start a run of a resolved config in a process of its own and follow it on the Train screen; False
        if the run shown is still going."""
        return self._start_detached(run_argv(config, name, tags), config)

    def queue_run(self, config: dict[str, Any], name: str | None = None) -> bool:
        """Queue a run on its device (engine.run_queue): it starts when the runs queued before it there have
        ended. The Train screen follows it unless it shows a run that is still going."""
        return self._start_detached(run_argv(config, name), config, queue_on=str(config.get("device", "auto")))

    def resume_run(self, run_dir: str) -> bool:
        """Continue an interrupted or crashed run into a new run (`nnlab resume`, in a process of its own)."""
        try:
            config = read_config(Path(run_dir))
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        return self._start_detached(["resume", Path(run_dir).name], config)

    def _start_detached(self, argv: list[str], config: dict[str, Any], queue_on: str | None = None) -> bool:
        """Start (or queue) a run in a process of its own. A run shown and still going keeps training: the Train
        screen follows the new one (a queued one only when nothing shown is going), History lists both."""
        shown = self.run_state
        busy = shown.active
        try:
            check_runs_dir(self.runs_dir)
            run_id = start_detached(argv, self.runs_dir, self.data_dir, str(config["stage"]), queue_on)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        except OSError as exc:
            self.notify(f"could not start the run: {exc.strerror or exc}", severity="error")
            return False
        self.started_here.append(run_id)
        if queue_on is not None:
            self.notify(f"{run_id}: queued on {queue_on}; it starts when the runs before it there end "
                        "(History lists the queue)", title="queued")
            if busy:
                return True
        elif busy:
            self.notify(f"{shown.run_id} keeps training (History lists it; ctrl+e queues a run behind it)")
        run_dir = str(Path(self.runs_dir) / run_id)
        self.run_state.started(config, run_id, run_dir, starting_pid(self.runs_dir, run_id), self.clock(),
                               queued=queue_on is not None)
        self._follow_folder(run_dir)
        self.action_goto("train")
        return True

    def run_again(self, saved_config: dict[str, Any]) -> bool:
        """Start a new run with a saved run's config, validated again by the engine."""
        try:
            config = revalidate(saved_config)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        return self.start_run(config)

    def open_run(self, run_dir: str) -> bool:
        """Show a saved run on the Train screen; while it trains (in any process), follow it live."""
        state = self.run_state
        if state.run_dir and Path(state.run_dir) == Path(run_dir):
            self.action_goto("train")  # the one already shown
            return True
        if self._show_run(run_dir):
            self.action_goto("train")
            return True
        return False

    def _show_run(self, run_dir: str) -> bool:
        """The Train screen shows (and follows, while it trains) the run in `run_dir`."""
        state = self.run_state
        try:
            record = read_record(Path(run_dir))
            config = read_config(Path(run_dir))
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        follower = RunFollower(run_dir)
        first = follower.poll()
        state.show_saved(run_id=record.id, run_dir=str(record.run_dir), config=config, history=first.rows,
                         artifacts=first.artifacts, status=record.status, message=record.message or "",
                         device=record.device or "", now=self.clock())
        state.external = record.id not in self.started_here
        state.pid = record.pid if state.active else None
        self._follow_folder(run_dir, follower)
        return True

    def _follow_folder(self, run_dir: str, follower: RunFollower | None = None) -> None:
        """From now on the Train screen shows the run in `run_dir`: its folder is read every FOLLOW_S."""
        self._follower = follower
        self._following = run_dir
        if self._follow_timer is None:
            self._follow_timer = self.set_interval(FOLLOW_S, self._follow)

    def _follow(self) -> None:
        """Read what the shown run's process wrote since the last time (engine.store.follow)."""
        state = self.run_state
        if not state.active or self._following is None:
            return
        run_dir = Path(self._following)
        if self._follower is None:  # started here: its process is importing torch and loading the data
            if not (run_dir / "run.json").exists():
                if starting_pid(self.runs_dir, run_dir.name) is None and not (run_dir / "run.json").exists():
                    self._ended_before_start(run_dir.name)
                return
            self._follower = RunFollower(run_dir)
        state.follow_update(self._follower.poll(artifacts=self.current_mode == "train"), self.clock())

    def _ended_before_start(self, run_id: str) -> None:
        state = self.run_state
        output = early_output(self.runs_dir, run_id)
        if state.status == "stopping":
            state.status, state.message = "interrupted", "stopped before its first epoch"
            state.ended_at = self.clock()
            state.version += 1
            return
        last = output.splitlines()[-1] if output else "its process ended before the run began"
        state.fail(last.removeprefix("nnlab: error: "), self.clock())
        self.notify(last, title="run failed", severity="error", timeout=10)

    def stop_run(self) -> bool:
        """Stop the run shown (whoever started it): SIGINT to its process, which ends it interrupted (a queued
        run's waiting process: it leaves the queue). False when it cannot be stopped from here."""
        state = self.run_state
        if not state.active:
            return False
        if state.host and state.host != socket.gethostname():
            self.notify(f"this run trains on host {state.host}: stop it there (nnlab runs stop {state.run_id})",
                        severity="warning")
            return False
        waiting = state.status in ("queued", "preparing")
        pid = starting_pid(self.runs_dir, state.run_id) if waiting else state.pid
        if waiting:
            state.status = "stopping"
            state.version += 1
        else:
            state.stopping()
        if pid is not None:
            interrupt(pid)
        return True

    def live_started_here(self) -> list[str]:
        """The runs this app started that are still training (or starting)."""
        live = []
        for run_id in self.started_here:
            folder = Path(self.runs_dir) / run_id
            if (folder / "run.json").exists():
                if read_record(folder).status == "running":
                    live.append(run_id)
            elif starting_pid(self.runs_dir, run_id) is not None:
                live.append(run_id)
        return live

    def compare(self, run_ids: list[str]) -> None:
        self.compare_ids = list(run_ids)[:COMPARE_MAX]
        if self.current_mode == "compare":
            self.screen.load_runs()  # type: ignore[attr-defined]
        else:
            self.switch_mode("compare")  # the screen loads them on mount / resume

    def edit_in_lab(self, config: dict[str, Any]) -> None:
        self.action_goto("lab")
        screen = self.screen
        if isinstance(screen, LabScreen):
            self.call_after_refresh(screen.load_config, config)
