"""The one training loop every stage and every front end shares.

    train(config, runs_dir=..., data_dir=..., emit=..., should_stop=...) -> RunFinished

It builds the stage's runner (bad input raises ConfigError before any folder
exists), creates the run folder, and for each epoch trains, evaluates, saves
artifacts, appends the metrics row and keeps a checkpoint. Stops cleanly on
should_stop() (checked between batches), on a non-finite loss (diverged) and
on errors (failed), always leaving a readable run.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Callable

from engine.config import ConfigError
from engine.events import BatchEnd, Emit, EpochEnd, RunFinished, RunStarted
from engine.runner import StageRunner, StopRequested
from engine.stages import get_stage, revalidate
from engine.store import RunWriter, load_checkpoint, read_config, summarize, utc_now

CHECKPOINT_EVERY_S = 5.0  # at most this long of training is redone after a kill -9
RECORD_EVERY_S = 1.0  # run.json summary refresh while running
CHECKPOINT_ENV = "NNLAB_CHECKPOINT_EVERY_S"  # overrides CHECKPOINT_EVERY_S (tests: 0 = every epoch)


def checkpoint_every() -> float:
    """Seconds between checkpoints: $NNLAB_CHECKPOINT_EVERY_S when it is a number >= 0, else the default."""
    raw = os.environ.get(CHECKPOINT_ENV, "").strip()
    try:
        value = float(raw)
    except ValueError:
        return CHECKPOINT_EVERY_S
    return value if math.isfinite(value) and value >= 0 else CHECKPOINT_EVERY_S


def prepare(config: dict[str, Any], data_dir: str) -> StageRunner:
    """Load data and build the model; raises ConfigError on bad input (no folder is made)."""
    return get_stage(config["stage"]).build_runner(config, str(data_dir))


def _snapshot(state: Any) -> Any:
    """A detached copy of a runner state (tensors cloned) to write later if the run stops."""
    import torch

    if isinstance(state, torch.Tensor):
        return state.detach().clone()
    if isinstance(state, dict):
        return {k: _snapshot(v) for k, v in state.items()}
    if isinstance(state, list):
        return [_snapshot(v) for v in state]
    if isinstance(state, tuple):
        return tuple(_snapshot(v) for v in state)
    return state


def train(config: dict[str, Any], *, runs_dir: str, data_dir: str, emit: Emit | None = None,
          should_stop: Callable[[], bool] | None = None, name: str | None = None,
          tags: list[str] | None = None, runner: StageRunner | None = None,
          resume_from: str | Path | None = None, _checkpoint: dict[str, Any] | None = None) -> RunFinished:
    """Run one stage to the end (or until stopped). See the module docstring."""
    emit = emit or (lambda event: None)
    should_stop = should_stop or (lambda: False)
    history: list[dict[str, Any]] = []
    checkpoint: dict[str, Any] | None = None
    source: Path | None = None
    if resume_from is not None:
        source = Path(resume_from)
        checkpoint = _checkpoint or load_checkpoint(source)
        history = [dict(r) for r in checkpoint["history"][: checkpoint["epoch"]]]
    if runner is None:
        runner = prepare(config, data_dir)
    if checkpoint is not None:
        try:
            runner.load_state_dict(checkpoint["runner"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
            detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            raise ConfigError(f"run {source.name}: its checkpoint does not fit stage {config['stage']} "
                              f"({type(exc).__name__}{': ' + detail if detail else ''})") from None
    total = int(config.get("epochs", 1))
    start_epoch = len(history) + 1
    writer = RunWriter.create(runs_dir, config, device=runner.device, name=name, tags=tags,
                              resumed_from=source.name if source else None, history=history,
                              artifacts_from=source / "artifacts" if source else None)
    run_id, run_dir = writer.record["id"], str(writer.run_dir)
    time_offset = float(history[-1].get("wall_time") or 0.0) if history else 0.0
    started = time.perf_counter()
    status, message = "finished", ""
    # good_state: the end of the last finished epoch (what a checkpoint holds); history == its history
    good_state = {"epoch": len(history), "runner": _snapshot(runner.state_dict()), "history": list(history)}
    saved = {"epoch": -1}  # the epoch this run's checkpoints/last.pt holds
    every = checkpoint_every()
    ckpt_broken = False
    last_ckpt = last_record = time.perf_counter()
    bpe = runner.batches_per_epoch
    epoch = start_epoch

    def on_batch(batch: int) -> bool:
        emit(BatchEnd(epoch, batch, bpe))
        return should_stop()

    def save_good() -> None:
        nonlocal last_ckpt
        if saved["epoch"] != good_state["epoch"] and good_state["epoch"] > 0:
            writer.save_checkpoint(good_state)
            saved["epoch"] = good_state["epoch"]
            last_ckpt = time.perf_counter()

    def checkpoint_failed(exc: OSError) -> str:
        kept = (f"the checkpoint of epoch {saved['epoch']} is kept" if saved["epoch"] > 0
                else "no earlier checkpoint exists")
        return (f"could not save the checkpoint of epoch {good_state['epoch']} in "
                f"{writer.run_dir / 'checkpoints'}: {exc.strerror or exc} ({kept})")

    try:
        emit(RunStarted(run_id, run_dir, config["stage"], dict(config), total, start_epoch, bpe,
                        runner.device, tuple(history)))
        for epoch in range(start_epoch, total + 1):
            if should_stop():
                raise StopRequested
            train_m = runner.train_epoch(epoch, on_batch)
            test_m = runner.evaluate()
            row = {"epoch": epoch, **{k: float(v) for k, v in train_m.items()},
                   **{k: float(v) for k, v in test_m.items()}, "lr": float(runner.current_lr()),
                   "wall_time": round(time_offset + time.perf_counter() - started, 4)}
            if not all(math.isfinite(row[k]) for k in ("train_loss", "test_loss")):
                history = history + [row]  # kept in metrics.csv; the checkpoint stays at the last good epoch
                writer.append_metrics(row)
                status, message = "diverged", f"non-finite loss at epoch {epoch} (try a smaller lr)"
                break
            runner.end_epoch(epoch)
            artifacts = runner.artifacts(epoch, last=epoch == total)
            for stem, payload in artifacts.items():
                writer.save_artifact(stem, payload)
            # commit the epoch: state first, then the row (a stop between the two loses nothing)
            good_state = {"epoch": epoch, "runner": _snapshot(runner.state_dict()), "history": history + [row]}
            history = good_state["history"]
            writer.append_metrics(row)
            now = time.perf_counter()
            if epoch == total or now - last_ckpt >= every:
                try:
                    save_good()
                except OSError as exc:  # disk full, folder unwritable: last.pt is still the previous one
                    status, message, ckpt_broken = "failed", checkpoint_failed(exc), True
                    break
            if now - last_record >= RECORD_EVERY_S:
                writer.update(summary=summarize(history), duration_s=round(now - started, 3))
                last_record = now
            best = _best(history)
            emit(EpochEnd(epoch, dict(row), artifacts, best))
    except (StopRequested, KeyboardInterrupt):
        status, message = "interrupted", "stopped by the user"
    except ConfigError:
        history = good_state["history"]
        _finish(writer, history, "failed", started, "bad input", save_good, checkpoint_failed)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is recorded in the run
        status, message = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    if status != "diverged":
        history = good_state["history"]  # metrics rows == the checkpoint's epochs
    status, message = _finish(writer, history, status, started, message,
                              None if ckpt_broken else save_good, checkpoint_failed)
    final = {k: history[-1][k] for k in ("train_loss", "train_acc", "test_loss", "test_acc")} if history else {}
    event = RunFinished(run_id, run_dir, config["stage"], status, len(history), final, _best(history), message)
    emit(event)
    return event


def _finish(writer: RunWriter, history: list[dict[str, Any]], status: str, started: float, message: str,
            save_good: Callable[[], None] | None, checkpoint_failed: Callable[[OSError], str]) -> tuple[str, str]:
    """Write the last good checkpoint, any metrics rows not yet written and the final run.json.
    A failure here fails the run; a further Ctrl-C here is ignored (each step takes milliseconds)."""
    def steady(step: Callable[[], None]) -> None:
        for attempt in range(5):
            try:
                step()
                return
            except KeyboardInterrupt:
                if attempt == 4:
                    raise

    if save_good is not None:
        try:
            steady(save_good)
        except OSError as exc:
            status, message = "failed", checkpoint_failed(exc)
    try:
        steady(lambda: writer.append_missing(history))
    except OSError as exc:
        status, message = "failed", f"could not write metrics.csv: {exc.strerror or exc}"
    try:
        steady(lambda: writer.update(final=True, status=status, ended=utc_now(),
                                     duration_s=round(time.perf_counter() - started, 3),
                                     summary=summarize(history), message=message))
    except OSError as exc:
        status = "failed"
        message = f"could not write run.json: {exc.strerror or exc}" + (f" (after: {message})" if message else "")
    writer.close()
    return status, message


def _best(history: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [r for r in history if isinstance(r.get("test_acc"), float) and math.isfinite(r["test_acc"])]
    if not rows:
        return {}
    row = max(rows, key=lambda r: r["test_acc"])
    return {"test_acc": row["test_acc"], "epoch": row["epoch"]}


def resume_config(config: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A saved config.json plus resume overrides (only epochs and device), validated again."""
    overrides = dict(overrides or {})
    bad = set(overrides) - {"epochs", "device"}
    if bad:
        raise ConfigError(f"resume accepts only epochs and device, not {', '.join(sorted(bad))} "
                          "(start a new run to change other keys)")
    return revalidate(config, overrides)


def resume(run_dir: str | Path, overrides: dict[str, Any] | None = None, **kwargs: Any) -> RunFinished:
    """Continue a run from its last checkpoint into a new run folder (resumed_from names the old one).
    overrides may only extend the run (epochs=N) or change the device."""
    run_dir = Path(run_dir)
    merged = resume_config(read_config(run_dir), overrides)
    checkpoint = load_checkpoint(run_dir)
    ckpt_epoch = checkpoint["epoch"]
    if merged.get("epochs", 1) <= ckpt_epoch:
        raise ConfigError(f"invalid value for epochs: {merged.get('epochs')!r} (allowed: more than the "
                          f"{ckpt_epoch} epochs already done; e.g. epochs={ckpt_epoch + 10})")
    return train(merged, resume_from=run_dir, _checkpoint=checkpoint, **kwargs)
