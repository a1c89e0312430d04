"""Events the engine emits while a run goes on.

Front ends (the headless printer, the TUI) only ever see these objects; they
hold plain Python values (no tensors), so they can cross threads freely.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOSS_ACC = ("train_loss", "train_acc", "test_loss", "test_acc")  # an epoch's (or a run's final) scores
METRIC_COLUMNS = ("epoch", *LOSS_ACC, "lr", "wall_time")


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    run_dir: str
    stage: str
    config: dict[str, Any]
    epochs: int  # total epochs the run will reach
    start_epoch: int  # first epoch this process trains (1, or later when resumed)
    batches_per_epoch: int
    device: str
    history: tuple[dict[str, Any], ...] = ()  # rows already done (resume)


@dataclass(frozen=True)
class BatchEnd:
    """A batch finished. Carries no loss: reading it would sync the device."""

    epoch: int
    batch: int  # 1-based
    batches: int


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    metrics: dict[str, float]  # the metrics.csv row (METRIC_COLUMNS)
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> JSON-able payload
    best: dict[str, Any] = field(default_factory=dict)  # {"test_acc": x, "epoch": n}


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    run_dir: str
    stage: str
    status: str  # finished | diverged | interrupted | failed
    epochs_done: int
    final: dict[str, float]
    best: dict[str, Any]
    message: str = ""


Event = RunStarted | BatchEnd | EpochEnd | RunFinished
Emit = Callable[[Event], None]
