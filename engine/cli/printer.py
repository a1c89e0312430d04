"""The headless view of a run: one plain line per epoch, or a rich progress bar on a terminal."""
from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from engine.events import BatchEnd, EpochEnd, Event, RunFinished, RunStarted


def format_epoch(epoch: int, total: int, metrics: dict[str, Any]) -> str:
    def f(key: str, spec: str) -> str:
        value = metrics.get(key)
        return format(value, spec) if isinstance(value, (int, float)) else "-"

    width = len(str(total))
    return (f"epoch {epoch:>{width}}/{total}  train_loss {f('train_loss', '.4f')}  train_acc {f('train_acc', '.4f')}"
            f"  test_loss {f('test_loss', '.4f')}  test_acc {f('test_acc', '.4f')}  lr {f('lr', '.4g')}"
            f"  {f('wall_time', '.1f')}s")


def format_finished(event: RunFinished) -> str:
    best = event.best
    text = f"{event.status}: {event.run_id} after {event.epochs_done} epochs"
    if event.final:
        text += f"; test_acc {event.final['test_acc']:.4f}"
    if best:
        text += f" (best {best['test_acc']:.4f} at epoch {best['epoch']})"
    if event.message and event.status != "finished":
        text += f" - {event.message}"
    return text + f"\n  saved in {event.run_dir}"


class LinePrinter:
    """One line per epoch, no control characters (for pipes, logs and CI)."""

    def __init__(self, stream: IO[str]):
        self.stream = stream
        self.total = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.total = event.epochs
            resumed = f", resuming at epoch {event.start_epoch}" if event.start_epoch > 1 else ""
            self._line(f"run {event.run_id} ({event.stage}, device {event.device}{resumed})")
        elif isinstance(event, EpochEnd):
            self._line(format_epoch(event.epoch, self.total, event.metrics))
        elif isinstance(event, RunFinished):
            self._line(format_finished(event))

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class ProgressPrinter:
    """A rich progress bar over all the run's batches, with the last epoch's metrics."""

    def __init__(self, stream: IO[str]):
        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[metrics]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=False, refresh_per_second=8,
        )
        self.task: TaskID | None = None
        self.total = 0
        self.bpe = 1
        self.last_update = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.total, self.bpe = event.epochs, max(1, event.batches_per_epoch)
            self.console.print(f"run {event.run_id} ({event.stage}, device {event.device})", highlight=False)
            self.progress.start()
            self.task = self.progress.add_task(
                f"epoch {event.start_epoch}/{event.epochs}", total=event.epochs * self.bpe,
                completed=(event.start_epoch - 1) * self.bpe, metrics="")
        elif isinstance(event, BatchEnd) and self.task is not None:
            now = time.monotonic()
            if now - self.last_update > 0.1 or event.batch == event.batches:
                self.progress.update(self.task, completed=(event.epoch - 1) * self.bpe + event.batch)
                self.last_update = now
        elif isinstance(event, EpochEnd) and self.task is not None:
            m = event.metrics
            self.progress.update(
                self.task, completed=event.epoch * self.bpe, description=f"epoch {event.epoch}/{self.total}",
                metrics=f"loss {m['train_loss']:.4f} acc {m['train_acc']:.3f} | test {m['test_acc']:.3f}")
        elif isinstance(event, RunFinished):
            self.close()
            self.console.print(format_finished(event), highlight=False)

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


def make_printer(stream: IO[str] | None = None):
    stream = stream or sys.stdout
    return ProgressPrinter(stream) if stream.isatty() else LinePrinter(stream)
