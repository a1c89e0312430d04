"""The contract between the generic training loop (engine.train) and a stage.

A stage's factory (Stage.runner, "module:function") is called as
``build(config, data_dir) -> StageRunner``. It loads the data and builds the
model; any bad input (missing dataset, wrong .mat file, batch_size larger than
the training set, device=cuda without CUDA) raises engine.config.ConfigError
*before* any run folder exists. The loop then owns everything else: the run
folder, events, metrics, checkpoints, signals, divergence and resume.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class StopRequested(Exception):
    """Raised inside train_epoch when on_batch asks to stop: the epoch is abandoned."""


class StageRunner(Protocol):
    device: str  # the resolved device, e.g. "cpu" or "cuda:0"
    batches_per_epoch: int
    n_train: int
    n_test: int

    def train_epoch(self, epoch: int, on_batch: Callable[[int], bool]) -> dict[str, float]:
        """Train one epoch (1-based). Call on_batch(batch_index_1_based) after each batch;
        when it returns True raise StopRequested at once. Return
        {"train_loss": mean loss per example, "train_acc": fraction}. Read metrics from the
        device once per epoch, not per batch."""

    def evaluate(self) -> dict[str, float]:
        """{"test_loss": mean loss per example, "test_acc": fraction} on the test set."""

    # optional: initial_metrics() -> {"train_loss", "train_acc", "test_loss", "test_acc"} of the model before
    # its first update (engine.train records them as artifacts/initial.json; the SVM, fitted once, has none)

    def current_lr(self) -> float:
        """The learning rate the *next* epoch trains with (metrics.csv lr column of this epoch
        is read before end_epoch)."""

    def end_epoch(self, epoch: int) -> None:
        """After evaluation: step the scheduler, if any."""

    def artifacts(self, epoch: int, last: bool) -> dict[str, dict[str, Any]]:
        """Stage extras for this epoch: {file_stem: JSON-able dict with a "kind" key}. Saved as
        artifacts/<file_stem>.json and passed to front ends in EpochEnd. last=True on the final
        epoch of the run (also when the run stops early)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything to resume exactly: model, optimizer, scheduler, RNG states (torch tensors,
        plain Python numbers/strings/lists/dicts only, so torch.load(weights_only=True) works)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of state_dict: after it, training epoch k+1 gives exactly what an
        uninterrupted run would."""
