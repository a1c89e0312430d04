"""Driving a real terminal: one tmux command, its stdout, and waiting for the screen to show something
(for the real-terminal test and the measure_ scripts)."""
from __future__ import annotations

import subprocess
import time
from typing import Callable


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
