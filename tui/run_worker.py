"""The bridge from engine events (trainer thread) to the UI thread.

The trainer runs engine.train.train in a thread of its own, started for the run and ended with it
(in_own_thread). The run's start and end are messages (post_message: thread-safe, and it never waits
for the UI). Epochs and batches are not: the trainer leaves them in a Mailbox (every epoch, in order;
the latest batch), and the app collects them when the Train screen draws (twice a second) and before
it takes the run's end. A message wakes the UI thread, and a wake-up per epoch or batch (hundreds a
second for circles, whose epochs take milliseconds) took a core from the trainer.

Why a thread of its own, not the Textual worker's: Textual runs thread workers in asyncio's
executor, whose threads live as long as the app. With the OpenMP build of torch, every thread
that ever ran a parallel op keeps a team of OpenMP threads; once the process holds more of them
than there are cores, libgomp stops spin-waiting between parallel regions (its "throttled" spin
count), and the small, many, short regions of a CNN step then run at about one core's speed (half
the headless speed on two cores). A trainer thread that exits takes its team with it, so the
trainer's team is the only one, as in `nnlab run`.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from typing import Any, Callable

from textual.message import Message

from engine.config import ConfigError
from engine.events import BatchEnd, EpochEnd, RunFinished, RunStarted
from engine.train import resume, train


class RunEvent(Message):
    """A run's start or end (RunStarted, RunFinished) for the app."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class Mailbox:
    """What the trainer hands the UI between two draws: every EpochEnd, in order, and the latest BatchEnd.
    A deque's append and popleft are thread-safe, and the batch is one attribute replaced whole: the
    trainer never waits, and the UI is never woken for an epoch or a batch."""

    def __init__(self) -> None:
        self.epochs: deque[EpochEnd] = deque()
        self.batch: BatchEnd | None = None

    def put(self, event: EpochEnd | BatchEnd) -> None:
        if isinstance(event, BatchEnd):
            self.batch = event
        else:
            self.epochs.append(event)

    def take_epochs(self) -> list[EpochEnd]:
        """The epochs left since the last call, oldest first."""
        taken = []
        while self.epochs:
            taken.append(self.epochs.popleft())
        return taken


class AppFailed(Exception):
    """Raised into the trainer by its stop check when the app itself failed: the run ends `failed`
    with this reason, not `interrupted` as if the user had stopped it."""


class RunFailed(Message):
    """The run could not start (bad input found while loading data) or the worker broke."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def message_for(event: Any) -> Message:
    if isinstance(event, (RunStarted, RunFinished)):
        return RunEvent(event)
    raise TypeError(f"not a run's start or end: {event!r}")


TRAINER_NICE = 5


def lower_priority() -> None:
    """Give the trainer thread (and the torch threads it starts, which inherit it) a lower
    CPU priority than the UI thread, so keys get through while a CNN saturates every core.
    Linux applies setpriority to one thread given its id; elsewhere this does nothing."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), TRAINER_NICE)
    except (AttributeError, OSError):
        pass


def in_own_thread(target: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Call target(*args, **kwargs) in a new thread that ends with it, and wait for it; an exception
    it raised is raised here (see the module docstring for why the trainer never runs in a
    long-lived thread)."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            target(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=body, name="nnlab-trainer")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def run_training(config: dict[str, Any], *, runs_dir: str, data_dir: str, post: Callable[[Message], Any],
                 mailbox: Mailbox, stop: threading.Event, is_cancelled: Callable[[], bool] = lambda: False,
                 name: str | None = None, tags: list[str] | None = None,
                 app_failure: Callable[[], str | None] = lambda: None,
                 resume_from: str | None = None) -> None:
    """Call the engine's training loop (or engine.train.resume of the run in `resume_from`, with `config`
    as its overrides), posting its start and end and leaving its epochs and batches in `mailbox`; runs in
    the worker thread. When `app_failure()` says why the app failed, the run stops and is saved as failed
    with that reason."""

    def emit(event: Any) -> None:
        if isinstance(event, (EpochEnd, BatchEnd)):
            mailbox.put(event)
        else:
            post(message_for(event))

    lower_priority()

    def should_stop() -> bool:
        reason = app_failure()
        if reason:
            raise AppFailed(f"the TUI failed ({reason}); the run was stopped")
        return stop.is_set() or is_cancelled()

    try:
        if resume_from is not None:
            resume(resume_from, config, runs_dir=runs_dir, data_dir=data_dir, emit=emit, should_stop=should_stop)
        else:
            train(config, runs_dir=runs_dir, data_dir=data_dir, emit=emit, should_stop=should_stop, name=name,
                  tags=tags)
    except ConfigError as exc:
        post(RunFailed(str(exc)))
    except Exception as exc:  # noqa: BLE001 - shown to the user, never lost
        post(RunFailed(f"{type(exc).__name__}: {exc}".splitlines()[0][:300]))
