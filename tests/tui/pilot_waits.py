"""Bounded waits for Pilot tests: a condition polled until it holds, or a clear failure after `timeout`."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def wait_until(pilot: Any, predicate: Callable[[], Any], timeout: float = 90.0,
                     what: str = "condition") -> None:
    """Polls `predicate` every 50 ms (the app keeps running meanwhile); returns as soon as it holds, so a
    test can act on a state that does not last (a run still going)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> None:
    """wait_until, then lets the app settle once more (for what the screen shows after the change)."""
    await wait_until(pilot, predicate, timeout, what)
    await pilot.pause()
