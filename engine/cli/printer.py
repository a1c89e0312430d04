"""The headless view of a run: one plain line per epoch, or a rich progress bar on a terminal."""
from __future__ import annotations

import sys
import time
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column

from engine.events import BatchEnd, EpochEnd, Event, RunFinished, RunStarted


class BatchPace:
    """Which BatchEnd events the progress bar shows: at most one every `every_s` seconds, and the last batch of
    each epoch. A batch can take microseconds (circles); a progress display needs a few updates a second."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self.last = float("-inf")

    def __call__(self, event: BatchEnd) -> bool:
        now = time.monotonic()
        if now - self.last < self.every_s and event.batch != event.batches:
            return False
        self.last = now
        return True


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
    """A rich progress bar over all the run's batches (its ETA is the run's), with the batch counter of the
    epoch under way and the last epoch's metrics. The counters and times are never cut: the bar takes the
    width that is left, and the metrics are shortened (or left out) on a narrow terminal."""

    TIME_WIDTH = 7  # "0:00:00" (rich's elapsed and remaining columns)
    MIN_BAR = 6

    def __init__(self, stream: IO[str]):
        self.console = Console(file=stream)
        self.progress = Progress(
            TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None, table_column=Column(ratio=1, no_wrap=True)),
            TextColumn("{task.fields[batch]}", justify="right", table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[metrics]}", table_column=Column(no_wrap=True)),
            TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.console, transient=False, refresh_per_second=8, expand=True,
        )
        self.task: TaskID | None = None
        self.total = 0
        self.bpe = 1
        self.batch_pace = BatchPace(0.1)

    def _description(self, epoch: int) -> str:
        return f"epoch {epoch:>{len(str(self.total))}}/{self.total}"

    def _batch(self, batch: int) -> str:
        return f"{batch:>{len(str(self.bpe))}}/{self.bpe}"

    def metrics_text(self, m: dict[str, Any]) -> str:
        """The longest form of the epoch's metrics that leaves the counters, the times and a bar whole."""
        fixed = len(self._description(self.total)) + len(self._batch(self.bpe)) + 2 * self.TIME_WIDTH + 5
        room = self.console.width - fixed - self.MIN_BAR - 1
        forms = [f"loss {m['train_loss']:.4f} acc {m['train_acc']:.3f} | test {m['test_acc']:.3f}",
                 f"loss {m['train_loss']:.3f} test {m['test_acc']:.3f}", f"test {m['test_acc']:.3f}"]
        return next((form for form in forms if len(form) <= room), "")

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.total, self.bpe = event.epochs, max(1, event.batches_per_epoch)
            self.console.print(f"run {event.run_id} ({event.stage}, device {event.device})", highlight=False)
            self.progress.start()
            self.task = self.progress.add_task(
                self._description(event.start_epoch), total=event.epochs * self.bpe,
                completed=(event.start_epoch - 1) * self.bpe, metrics="", batch=self._batch(0))
        elif isinstance(event, BatchEnd) and self.task is not None:
            if self.batch_pace(event):
                self.progress.update(self.task, completed=(event.epoch - 1) * self.bpe + event.batch,
                                     description=self._description(event.epoch), batch=self._batch(event.batch))
        elif isinstance(event, EpochEnd) and self.task is not None:
            self.progress.update(self.task, completed=event.epoch * self.bpe, batch=self._batch(self.bpe),
                                 description=self._description(event.epoch),
                                 metrics=self.metrics_text(event.metrics))
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
