"""Driving a real terminal: one tmux command, its stdout, and waiting for the screen to show something
(for the real-terminal tests and the measure_ scripts); Tmux: a tmux server of its own, one 80x24 window."""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

TMUX = shutil.which("tmux")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30).stdout


def wait_for_screen(session: str, shows: Callable[[str], bool], timeout: float, what: str) -> str:
    """The pane's text once `shows(text)` holds; AssertionError naming `what`, with the pane, after `timeout` s."""
    end = time.monotonic() + timeout
    while True:
        screen = tmux("capture-pane", "-p", "-t", session)
        if shows(screen):
            return screen
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not show:\n{screen}")
        time.sleep(0.1)


class Tmux:
    """One tmux server of its own (its own socket), one 80x24 window running a command."""

    def __init__(self, tmp: Path, env: dict[str, str | None], command: str):
        self.socket = str(tmp / "tmux.sock")
        self.run("new-session", "-d", "-x", "80", "-y", "24", "-s", "t", "sh")
        # tmux gives the window TERM=screen or tmux-256color; the command sets the terminal under test itself
        sets = " ".join(f"{k}={v}" for k, v in env.items() if v is not None)
        unsets = " ".join(f"-u {k}" for k, v in env.items() if v is None)
        self.send(f"env {unsets} {sets} {command}", "Enter")

    def run(self, *args: str) -> str:
        return subprocess.run([TMUX or "tmux", "-S", self.socket, *args], capture_output=True, text=True,
                              timeout=30).stdout

    def send(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def wait_for(self, text: str, timeout: float = 90.0) -> str:
        end = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text in shown:
                return shown
            if "Traceback" in shown or time.monotonic() > end:
                raise AssertionError(f"waited for {text!r}; the terminal shows:\n{shown}")
            time.sleep(0.2)

    def wait_for_gone(self, text: str, timeout: float = 90.0) -> str:
        end = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if text not in shown:
                return shown
            if time.monotonic() > end:
                raise AssertionError(f"waited for {text!r} to go; the terminal shows:\n{shown}")
            time.sleep(0.2)

    def close(self) -> None:
        self.run("kill-server")
