"""The nnlab Textual app: four screens (Lab, Train, History, Compare) as app modes.

Only the Lab screen is built at start; the others, plotext and torch load on demand, so
the first screen paints fast. Training runs in one thread worker owned by the app (so it
keeps going while you browse History); its events arrive as messages (tui.run_worker)
and fold into `self.run_state` (tui.run_state.RunState), which the Train screen draws on a timer.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from tui.run_state import RunState
from tui.run_worker import BatchProgress, RunEvent, RunFailed, run_training


def _lab() -> Screen:
    from tui.screens.lab import LabScreen
    return LabScreen()


def _train() -> Screen:
    from tui.screens.train import TrainScreen
    return TrainScreen()


def _history() -> Screen:
    from tui.screens.history import HistoryScreen
    return HistoryScreen()


def _compare() -> Screen:
    from tui.screens.compare import CompareScreen
    return CompareScreen()


def _process_age() -> float | None:
    """Seconds since this process started (Linux /proc), for the first-paint measurement."""
    try:
        with open("/proc/self/stat") as fh:
            start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
        return round(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


PROBE = ("import json, torch; m = getattr(torch.backends, 'mps', None); "
         "print(json.dumps({'cuda': bool(torch.cuda.is_available()), 'mps': bool(m is not None and m.is_available())}))")

SCREENS_GROUP = Binding.Group("screens")
SCREEN_KEYS = (("lab", "1", "f2"), ("train", "2", "f3"), ("history", "3", "f4"), ("compare", "4", "f5"))


class NNLabApp(App[int]):
    CSS_PATH = str(Path(__file__).with_name("nnlab.tcss"))  # absolute: subclasses elsewhere keep it
    TITLE = "nnlab"
    SUB_TITLE = "RDFIA practical 2-ab / 2-cd"
    MODES = {"lab": _lab, "train": _train, "history": _history, "compare": _compare}
    DEFAULT_MODE = "lab"
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help", key_display="?"),
        # one footer entry "1 2 3 4 screens" (each key's screen is in the header, the help and the palette)
        *[Binding(f"{digit},{fkey}", f"goto('{mode}')", mode.capitalize(), key_display=digit, group=SCREENS_GROUP)
          for mode, digit, fkey in SCREEN_KEYS],
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False),  # in help and the palette; the footer is full
        Binding("ctrl+t", "next_theme", "Theme", show=False),
    ]
    THEMES_CYCLE = ("textual-dark", "textual-light", "textual-ansi", "nord", "gruvbox", "monokai")

    def __init__(self, runs_dir: str = "saved_runs", data_dir: str = "datasets",
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.runs_dir = str(runs_dir)
        self.data_dir = str(data_dir)
        self.clock = clock
        self.run_state = RunState()
        self.devices: dict[str, bool] | None = None  # None until torch was probed
        self.compare_ids: list[str] = []
        self.painted_at: float | None = None
        self.torch_at_first_paint: bool | None = None
        self._stop = threading.Event()
        theme = os.environ.get("NNLAB_THEME")
        if theme:
            self.theme = theme

    # ------------------------------------------------------------------ navigation
    def action_goto(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_next_theme(self) -> None:
        names = [t for t in self.THEMES_CYCLE if t in self.available_themes]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        self.notify(f"theme: {self.theme}")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        from tui.commands import nnlab_commands

        yield from nnlab_commands(self, screen)

    # ------------------------------------------------------------------ first paint, devices
    def first_paint(self) -> None:
        """Called once the Lab screen has painted: note it, then probe the devices (imports torch)."""
        if self.painted_at is not None:
            return
        import sys

        self.painted_at = time.perf_counter()
        self.torch_at_first_paint = "torch" in sys.modules
        log = os.environ.get("NNLAB_FIRST_PAINT_FILE")
        if log:  # for measuring the time to first paint from outside (see tests/tui/measure_startup.py)
            import json

            with open(log, "w") as fh:
                json.dump({"painted_epoch_s": time.time(), "since_process_start_s": _process_age(),
                           "torch_imported": self.torch_at_first_paint}, fh)
        if self.devices is None:
            self.probe_devices()

    @work(thread=True, exclusive=True, group="probe")
    def probe_devices(self) -> None:
        """Ask torch which devices it can use, in a child process started after the first paint:
        importing torch takes seconds of CPU and, in this process, would hold the GIL against
        the UI (the first run imports it in its worker thread instead)."""
        import json
        import subprocess
        import sys

        devices = {"auto": True, "cpu": True, "cuda": False, "mps": False}
        try:
            out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
            devices.update(json.loads(out.stdout.strip().splitlines()[-1]))
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            pass  # cpu and auto always work; the engine rejects an unavailable accelerator anyway
        self.call_from_thread(self._devices_probed, devices)

    def _devices_probed(self, devices: dict[str, bool]) -> None:
        self.devices = devices
        from tui.screens.lab import LabScreen

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
        self._train_worker(config, name, tags, self._stop)
        self.action_goto("train")
        return True

    def run_again(self, saved_config: dict[str, Any]) -> bool:
        """Start a new run with a saved run's config, validated again by the engine."""
        from engine.config import ConfigError
        from engine.stages import revalidate

        try:
            config = revalidate(saved_config)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return False
        return self.start_run(config)

    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train_worker(self, config: dict[str, Any], name: str | None, tags: list[str] | None,
                      stop: threading.Event) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        run_training(config, runs_dir=self.runs_dir, data_dir=self.data_dir, post=self.post_message,
                     stop=stop, is_cancelled=lambda: worker.is_cancelled, name=name, tags=tags)

    def stop_run(self) -> None:
        if self.run_state.active:
            self._stop.set()
            if self.run_state.status != "preparing":
                self.run_state.status = "stopping"
                self.run_state.version += 1

    def on_run_event(self, message: RunEvent) -> None:
        self.run_state.apply(message.event, self.clock())

    def on_batch_progress(self, message: BatchProgress) -> None:
        self.run_state.apply(message.event, self.clock())

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
        from tui.screens.lab import LabScreen

        screen = self.screen
        if isinstance(screen, LabScreen):
            self.call_after_refresh(screen.load_config, config)
