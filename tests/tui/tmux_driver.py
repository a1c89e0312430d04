"""Driving a real terminal: one tmux command, its stdout (for the real-terminal test and the measure_ scripts)."""
from __future__ import annotations

import subprocess


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=30).stdout
