"""What the Train screen shows, folded from what a run's folder says (pure: no UI, no clock of its own).

Every run trains in a process of its own (engine.detached), whoever started it; the app follows the shown
run's folder (engine.store.follow) and folds each poll in here with `follow_update`. The Train screen redraws
from it on a timer. `apply` folds engine events, for views built from canned events.
"""
from __future__ import annotations

import math
import socket
from dataclasses import dataclass, field
from typing import Any

from engine.events import BatchEnd, EpochEnd, RunFinished, RunStarted
from engine.store.follow import FollowUpdate


@dataclass
class RunState:
    config: dict[str, Any] = field(default_factory=dict)
    stage: str = ""
    run_id: str = ""
    run_dir: str = ""
    device: str = ""
    status: str = "idle"  # idle | queued | preparing | running | stopping | finished | diverged | interrupted | failed
    message: str = ""
    epochs: int = 0
    start_epoch: int = 1
    batches: int = 0
    epoch: int = 0  # epoch in progress (batch events) or last done
    batch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest payload per kind
    best: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None  # clock() when RunStarted reached the UI
    ended_at: float | None = None
    version: int = 0  # bumped on every change: the screen redraws when it moved
    external: bool = False  # a run this app did not start (opened from History, or found training at start)
    pid: int | None = None  # the process that trains it, while it is live (on this host)
    host: str = ""  # the host it trains on

    def prepare(self, config: dict[str, Any], now: float) -> None:
        self.__init__()  # type: ignore[misc]
        self.config = dict(config)
        self.stage = str(config.get("stage", ""))
        self.epochs = int(config.get("epochs", 1) or 1)
        self.status = "preparing"
        self.started_at = now
        self.version += 1

    def apply(self, event: Any, now: float) -> None:
        if isinstance(event, RunStarted):
            self.run_id, self.run_dir, self.stage = event.run_id, event.run_dir, event.stage
            self.config = dict(event.config)
            self.epochs, self.start_epoch = event.epochs, event.start_epoch
            self.batches, self.device = event.batches_per_epoch, event.device
            self.history = [dict(r) for r in event.history]
            self.epoch = event.start_epoch
            self.status = "running"
            self.started_at = now
        elif isinstance(event, BatchEnd):
            self.epoch, self.batch, self.batches = event.epoch, event.batch, event.batches
        elif isinstance(event, EpochEnd):
            self.history.append(dict(event.metrics))
            self.epoch, self.batch = event.epoch, self.batches
            self.best = dict(event.best)
            for stem, payload in event.artifacts.items():
                kind = payload.get("kind", stem) if isinstance(payload, dict) else stem
                self.artifacts[kind] = payload
        elif isinstance(event, RunFinished):
            self.status = event.status
            self.message = event.message
            self.best = dict(event.best) or self.best
            self.run_id = event.run_id or self.run_id
            self.run_dir = event.run_dir or self.run_dir
            self.ended_at = now
        self.version += 1

    def started(self, config: dict[str, Any], run_id: str, run_dir: str, pid: int | None, now: float,
                queued: bool = False) -> None:
        """This app has just started a run (its process imports torch and loads the data: `preparing`), or
        queued one (`queued` until its turn)."""
        self.prepare(config, now)
        self.run_id, self.run_dir, self.pid = run_id, run_dir, pid
        if queued:
            self.status = "queued"

    def follow_update(self, update: FollowUpdate, now: float) -> None:
        """What a poll of the run's folder found: new epochs, newer artifacts, its record, its latest batch."""
        changed = bool(update.rows or update.artifacts)
        if update.rows:
            self.history.extend(dict(r) for r in update.rows)
            finite = [r for r in update.rows if isinstance(r.get("test_acc"), (int, float))
                      and math.isfinite(r["test_acc"])]
            top = max(finite, key=lambda r: r["test_acc"], default=None)
            if top is not None and (not self.best or top["test_acc"] > self.best.get("test_acc", -1.0)):
                self.best = {"test_acc": top["test_acc"], "epoch": top["epoch"]}
            self.epoch, self.batch = len(self.history), self.batches
        for stem in sorted(update.artifacts):
            payload = update.artifacts[stem]
            self.artifacts[payload.get("kind", stem) if isinstance(payload, dict) else stem] = payload
        record = update.record
        if record is not None and not record.is_damaged:
            status = record.status
            if self.status == "stopping" and status == "running":
                status = "stopping"  # asked to stop: it stops at the end of its batch
            if status != self.status or record.device != (self.device or None):
                changed = True
            if self.status in ("queued", "preparing") and status in ("running", "stopping"):
                self.started_at = now  # the elapsed time and ETA count from its first epoch's start
            self.status, self.message = status, record.message or ""
            self.device = record.device or self.device
            self.epochs = record.epochs or self.epochs
            here = record.host == socket.gethostname()  # a pid means nothing on another host
            self.pid = record.pid if status in ("running", "stopping") and here else None
            self.host = record.host or ""
            if status not in ("running", "stopping") and self.ended_at is None:
                self.ended_at = now
        progress = update.progress
        if progress is not None:
            epoch, batch, batches, start_epoch = progress
            if start_epoch != self.start_epoch or batches != self.batches:
                self.start_epoch, self.batches = start_epoch, batches
                changed = True
            if self.active and (epoch, batch) > (self.epoch or 0, self.batch):
                self.epoch, self.batch = epoch, batch
                changed = True
        if changed:
            self.version += 1

    def stopping(self) -> None:
        if self.status == "running":
            self.status = "stopping"
            self.version += 1

    def newer_batch(self, event: BatchEnd) -> bool:
        """A batch read from the trainer's mailbox moves the progress on: it is later than the last epoch
        taken (the trainer may have ended that epoch, or begun the next, since it left the batch)."""
        return (event.epoch, event.batch) > (self.epoch or 0, self.batch)

    def show_saved(self, *, run_id: str, run_dir: str, config: dict[str, Any], history: list[dict[str, Any]],
                   artifacts: dict[str, dict[str, Any]], status: str, message: str, device: str,
                   now: float) -> None:
        """Show a saved run read from its folder (History's Enter): its rows and latest artifacts. While
        another process runs it, `follow` adds what that process writes."""
        self.__init__()  # type: ignore[misc]
        self.external = True
        self.run_id, self.run_dir, self.config = run_id, run_dir, dict(config)
        self.stage = str(config.get("stage", ""))
        self.epochs = int(config.get("epochs", 1) or 1)
        self.device = device
        self.started_at = now
        self.follow(history, artifacts, status, message, now)

    def follow(self, history: list[dict[str, Any]], artifacts: dict[str, dict[str, Any]], status: str,
               message: str, now: float) -> None:
        """The saved run as its folder says now (more rows, newer artifacts, its status)."""
        changed = len(history) != len(self.history) or status != self.status
        self.history = [dict(r) for r in history]
        for stem in sorted(artifacts):  # stems sort by epoch (boundary-e0010 after boundary-e0001)
            payload = artifacts[stem]
            self.artifacts[payload.get("kind", stem) if isinstance(payload, dict) else stem] = payload
        self.epoch = len(self.history)
        finite = [r for r in self.history if isinstance(r.get("test_acc"), (int, float))
                  and math.isfinite(r["test_acc"])]
        top = max(finite, key=lambda r: r["test_acc"], default=None)
        self.best = {"test_acc": top["test_acc"], "epoch": top["epoch"]} if top else {}
        self.status, self.message = status, message or ""
        if status != "running" and self.ended_at is None:
            self.ended_at = now
        if changed:
            self.version += 1

    def fail(self, message: str, now: float) -> None:
        self.status, self.message, self.ended_at = "failed", message, now
        self.version += 1

    # -------------------------------------------------------------- derived values
    @property
    def active(self) -> bool:
        """The run shown is going (started here or elsewhere: either way it can be stopped from here)."""
        return self.status in ("queued", "preparing", "running", "stopping")

    @property
    def live_elsewhere(self) -> bool:
        """Going, and started by another process (another TUI, `nnlab run`, a sweep)."""
        return self.external and self.active

    def fraction(self) -> float:
        """Share of this process's epochs done, counting the batches of the epoch in progress."""
        todo = max(1, self.epochs - self.start_epoch + 1)
        done = len(self.history) - (self.start_epoch - 1)
        if self.active and self.batches and self.epoch == len(self.history) + 1:
            done += min(self.batch, self.batches) / self.batches
        return min(1.0, max(0.0, done / todo))

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        end = now if self.ended_at is None else self.ended_at
        return max(0.0, end - self.started_at)

    def eta(self, now: float) -> float | None:
        frac = self.fraction()
        if not self.active or frac <= 0:
            return None
        return self.elapsed(now) * (1 - frac) / frac

    def lr(self) -> float | None:
        return self.history[-1].get("lr") if self.history else self.config.get("lr")

    def blown_up(self) -> tuple[float, float] | None:
        """(last, lowest) training loss when the loss exploded (see blew_up), else None."""
        losses = [r.get("train_loss") for r in self.history]
        losses = [x for x in losses if isinstance(x, (int, float)) and math.isfinite(x)]
        if not losses or not blew_up(losses[-1], min(losses)):
            return None
        return losses[-1], min(losses)

    def diverged(self) -> bool:
        if self.status == "diverged":
            return True
        return any(isinstance(r.get(k), float) and not math.isfinite(r[k])
                   for r in self.history for k in ("train_loss", "test_loss"))


BLOWUP_LOSS = 25.0  # per example: a classifier that guesses scores about ln(classes), 0.7 to 2.3


def blew_up(last: Any, lowest: Any = None) -> bool:
    """The training loss exploded without becoming non-finite (a too-large lr with tanh or ReLU nets
    often does: the run 'finishes' near chance accuracy with a loss in the hundreds)."""
    if not isinstance(last, (int, float)) or isinstance(last, bool) or not math.isfinite(last):
        return False
    if last > BLOWUP_LOSS:
        return True
    return (isinstance(lowest, (int, float)) and not isinstance(lowest, bool) and math.isfinite(lowest)
            and lowest > 0 and last > 1.0 and last > 10 * lowest)
