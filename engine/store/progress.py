"""A live run's latest batch, for whoever follows it from another process (the TUI's batch counter).

metrics.csv says which epochs are done; within an epoch, the run writes `<run dir>/.progress`: one short line,
`epoch batch batches start_epoch` (start_epoch: the first epoch this process trains, after those a resumed
run copied), rewritten in place (pwrite of a fixed-width record: a reader sees the old line or the new
one, never a torn file) at most PROGRESS_EVERY_S apart, and on the last batch of each epoch. It costs a clock
read per batch and four small writes a second. Nothing depends on it: a failed write is dropped, and the file is
removed when the run ends.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

PROGRESS_NAME = ".progress"
PROGRESS_EVERY_S = 0.25
_WIDTH = 40


class ProgressFile:
    def __init__(self, run_dir: str | os.PathLike, start_epoch: int = 1, batches: int = 0) -> None:
        self.path = Path(run_dir) / PROGRESS_NAME
        self.start_epoch = start_epoch
        self._last = float("-inf")
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError:
            self._fd = None
        self._write(start_epoch, 0, batches)

    def batch(self, epoch: int, batch: int, batches: int) -> None:
        if self._fd is None:
            return
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_S and batch != batches:
            return
        self._last = now
        self._write(epoch, batch, batches)

    def _write(self, epoch: int, batch: int, batches: int) -> None:
        if self._fd is None:
            return
        line = f"{epoch} {batch} {batches} {self.start_epoch}"
        try:
            os.pwrite(self._fd, line.ljust(_WIDTH - 1).encode() + b"\n", 0)
        except OSError:
            pass  # a full disk: the counter is a nicety, the run goes on

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            try:
                self.path.unlink()
            except OSError:
                pass


def read_progress(run_dir: str | os.PathLike) -> tuple[int, int, int, int] | None:
    """(epoch, batch, batches, start_epoch) of a live run's latest batch; None when it is not known."""
    try:
        with open(Path(run_dir) / PROGRESS_NAME, "rb") as fh:
            parts = fh.read(_WIDTH).split()
        epoch, batch, batches, start_epoch = (int(p) for p in parts[:4])
    except (OSError, ValueError):
        return None
    return epoch, batch, batches, start_epoch
