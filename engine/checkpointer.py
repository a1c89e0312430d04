"""checkpoints/last.pt of a run: the state at the end of the last finished epoch, written at most
every NNLAB_CHECKPOINT_EVERY_S seconds (default CHECKPOINT_EVERY_S), on the last epoch and when
the run stops."""
from __future__ import annotations

import math
import os
import time
from typing import Any

from engine.runner import StageRunner
from engine.store import RunWriter

CHECKPOINT_EVERY_S = 5.0  # at most this long of training is redone after a kill -9
CHECKPOINT_ENV = "NNLAB_CHECKPOINT_EVERY_S"  # overrides CHECKPOINT_EVERY_S (tests: 0 = every epoch)


def checkpoint_every() -> float:
    """Seconds between checkpoints: $NNLAB_CHECKPOINT_EVERY_S when it is a number >= 0, else the default."""
    raw = os.environ.get(CHECKPOINT_ENV, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return CHECKPOINT_EVERY_S
    return value if math.isfinite(value) and value >= 0 else CHECKPOINT_EVERY_S


def snapshot(state: Any) -> Any:
    """A detached copy of a runner state (tensors cloned), to write later if the run stops."""
    import torch  # the runner has imported it already; this module stays importable without it

    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {k: snapshot(v) for k, v in state.items()}
    if isinstance(state, list):
        return [snapshot(v) for v in state]
    if isinstance(state, tuple):
        return tuple(snapshot(v) for v in state)
    return state


class Checkpointer:
    """The last good state of a run (the end of its last finished epoch) and which epoch last.pt holds.

    `rows` is the run's history list, which the epoch loop appends to: the good state's history is its
    first `epoch` rows, so committing an epoch copies no rows. After a failed write it writes no more:
    last.pt keeps the previous checkpoint, whole."""

    def __init__(self, writer: RunWriter, runner: StageRunner, rows: list[dict[str, Any]]):
        self.writer = writer
        self.runner = runner
        self.rows = rows
        self.epoch = len(rows)  # the last good epoch
        self.state = snapshot(runner.state_dict())  # the runner at the end of that epoch
        self.saved_epoch = -1  # the epoch checkpoints/last.pt holds (-1: none written by this run)
        self.every = checkpoint_every()
        self.last_save = time.perf_counter()
        self.broken = False

    @property
    def history(self) -> list[dict[str, Any]]:
        """The metrics rows of the last good state (one per epoch up to self.epoch)."""
        return self.rows[: self.epoch]

    def commit(self, epoch: int) -> None:
        """Epoch `epoch` ended well (its row is in `rows`): its runner state becomes the last good state."""
        self.state = snapshot(self.runner.state_dict())
        self.epoch = epoch

    def due(self, final: bool) -> bool:
        """Time to write: on the final epoch, or `every` seconds after the last write."""
        return final or time.perf_counter() - self.last_save >= self.every

    def save(self) -> str:
        """Write the last good state unless last.pt holds it already. Returns "" or, when the write
        fails (disk full, folder unwritable), the one-line message that fails the run."""
        if self.broken or self.saved_epoch == self.epoch or self.epoch <= 0:
            return ""
        try:
            self.writer.save_checkpoint({"epoch": self.epoch, "runner": self.state, "history": self.history})
        except OSError as exc:
            self.broken = True
            kept = (f"the checkpoint of epoch {self.saved_epoch} is kept" if self.saved_epoch > 0
                    else "no earlier checkpoint exists")
            return (f"could not save the checkpoint of epoch {self.epoch} in "
                    f"{self.writer.run_dir / 'checkpoints'}: {exc.strerror or exc} ({kept})")
        self.saved_epoch = self.epoch
        self.last_save = time.perf_counter()
        return ""
