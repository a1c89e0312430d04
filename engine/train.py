"""The one training loop every stage and every front end shares.

    train(config, runs_dir=..., data_dir=..., emit=..., should_stop=...) -> RunFinished

It builds the stage's runner (bad input raises ConfigError before any folder
exists), creates the run folder, and for each epoch trains, evaluates, saves
artifacts, appends the metrics row and keeps a checkpoint. Stops cleanly on
should_stop() (checked between batches), on a non-finite loss (diverged) and
on errors (failed), always leaving a readable run.
"""
from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.allocator import keep_freed_memory
from engine.checkpointer import Checkpointer
from engine.config import ConfigError
from engine.events import LOSS_ACC, BatchEnd, Emit, EpochEnd, RunFinished, RunStarted
from engine.runner import StageRunner, StopRequested
from engine.stages import get_stage, revalidate
from engine.store import RunWriter, Summary, load_checkpoint, read_config, utc_now
from engine.store.progress import ProgressFile
from engine.store.reader import checkpoint_source

RECORD_EVERY_S = 1.0  # run.json summary refresh while running
FINAL_KEYS = LOSS_ACC


def prepare(config: dict[str, Any], data_dir: str) -> StageRunner:
    """Load data and build the model; raises ConfigError on bad input (no folder is made)."""
    return get_stage(config["stage"]).build_runner(config, str(data_dir))


def best_test_acc(summary: Summary) -> dict[str, Any]:
    """The events' best: {"test_acc": x, "epoch": n}, or {} before any finite test accuracy."""
    best = summary.best_test_acc
    return {"test_acc": best.value, "epoch": best.epoch} if best is not None else {}


def train(config: dict[str, Any], *, runs_dir: str, data_dir: str, emit: Emit | None = None,
          should_stop: Callable[[], bool | str] | None = None, name: str | None = None,
          tags: list[str] | None = None, runner: StageRunner | None = None,
          resume_from: str | Path | None = None, _checkpoint: dict[str, Any] | None = None,
          continues: str | Path | None = None, run_id: str | None = None) -> RunFinished:
    """Run one stage to the end (or until stopped). See the module docstring. `continues`: the run this one
    continues (its resumed_from) where that is not the run of the checkpoint it starts from, if any (a
    resumed run that stopped before its own first checkpoint). `run_id`: the id its folder takes, chosen by
    whoever started this process (`--detach` prints it before the run exists); None: a new one."""
    emit = emit or (lambda event: None)
    should_stop = should_stop or (lambda: False)
    keep_freed_memory()  # the same malloc settings for every front end (see engine.allocator)
    history: list[dict[str, Any]] = []
    source = Path(resume_from) if resume_from is not None else None
    checkpoint = (_checkpoint or load_checkpoint(source)) if source is not None else None
    if checkpoint is not None:
        history = [dict(r) for r in checkpoint["history"][: checkpoint["epoch"]]]
    if runner is None:
        runner = prepare(config, data_dir)
    if checkpoint is not None and source is not None:
        _load_runner_state(runner, checkpoint, source, config["stage"])
    total = int(config.get("epochs", 1))
    start_epoch = len(history) + 1
    writer = RunWriter.create(runs_dir, config, device=runner.device, name=name, tags=tags,
                              resumed_from=Path(continues).name if continues else source.name if source else None,
                              history=history,
                              artifacts_from=source / "artifacts" if source else None, run_id=run_id)
    run_id, run_dir = writer.record["id"], str(writer.run_dir)
    time_offset = float(history[-1].get("wall_time") or 0.0) if history else 0.0
    started = last_record = time.perf_counter()
    status, message = "finished", ""
    checkpointer = Checkpointer(writer, runner, history)
    batches = runner.batches_per_epoch
    epoch = start_epoch
    summary = Summary.from_history(history)  # then one row at a time (Summary.add)

    progress = ProgressFile(run_dir, start_epoch, batches)  # the latest batch, for a TUI following this run

    def on_batch(batch: int) -> bool:
        emit(BatchEnd(epoch, batch, batches))
        progress.batch(epoch, batch, batches)
        return bool(should_stop())

    # What exists now (the front end, torch, the data, the model) stays out of the cyclic GC's sight while the
    # epochs run: a full collection walks every tracked object, and in a process holding a TUI (half a million
    # of them) one took 0.3 s of a 3 s run, holding the GIL. Objects made while training are collected as usual;
    # unfreeze hands the rest back at the end, so a long-lived worker does not keep a run's cyclic garbage.
    gc.freeze()
    try:
        try:
            emit(RunStarted(run_id, run_dir, config["stage"], dict(config), total, start_epoch, batches,
                            runner.device, tuple(history)))
            if start_epoch == 1 and hasattr(runner, "initial_metrics"):  # a resumed run has its source's
                scoring = time.perf_counter()
                initial = {k: float(v) for k, v in runner.initial_metrics().items()}
                writer.save_artifact("initial", {"kind": "initial", "epoch": 0, **initial})
                started += time.perf_counter() - scoring  # wall_time counts training, as before
            for epoch in range(start_epoch, total + 1):
                if should_stop():
                    raise StopRequested
                train_metrics = runner.train_epoch(epoch, on_batch)
                test_metrics = runner.evaluate()
                row = {"epoch": epoch, **{k: float(v) for k, v in train_metrics.items()},
                       **{k: float(v) for k, v in test_metrics.items()}, "lr": float(runner.current_lr()),
                       "wall_time": round(time_offset + time.perf_counter() - started, 4)}
                if not all(math.isfinite(row[k]) for k in ("train_loss", "test_loss")):
                    # kept in metrics.csv; the checkpointer's good state stays at the last good epoch
                    history.append(row)
                    writer.append_metrics(row)
                    status, message = "diverged", f"non-finite loss at epoch {epoch} (try a smaller lr)"
                    break
                runner.end_epoch(epoch)
                artifacts = runner.artifacts(epoch, last=epoch == total)
                for stem, payload in artifacts.items():
                    writer.save_artifact(stem, payload)
                # commit the epoch: state first, then the row (a stop between the two loses nothing)
                history.append(row)
                summary = summary.add(row)
                checkpointer.commit(epoch)
                writer.append_metrics(row)
                if checkpointer.due(final=epoch == total):
                    failure = checkpointer.save()
                    if failure:  # last.pt is still the previous one
                        status, message = "failed", failure
                        break
                now = time.perf_counter()
                if now - last_record >= RECORD_EVERY_S:
                    writer.update(summary=summary.to_json(), duration_s=round(now - started, 3))
                    last_record = now
                emit(EpochEnd(epoch, dict(row), artifacts, best_test_acc(summary)))
        except (StopRequested, KeyboardInterrupt):
            status, message = "interrupted", "stopped by the user"
            if should_stop() == "pruned":  # a study's pruner stopped it (engine.study.trial)
                status, message = "pruned", "stopped early by the study's pruner"
        except ConfigError:
            _finish(writer, checkpointer, checkpointer.history, "failed", started, "bad input")
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is recorded in the run
            status, message = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    finally:
        gc.unfreeze()
        progress.close()
    if status != "diverged":
        history = checkpointer.history  # metrics rows == the checkpoint's epochs
    status, message = _finish(writer, checkpointer, history, status, started, message)
    final = {k: history[-1][k] for k in FINAL_KEYS} if history else {}
    event = RunFinished(run_id, run_dir, config["stage"], status, len(history), final,
                        best_test_acc(Summary.from_history(history)), message)
    emit(event)
    return event


def _load_runner_state(runner: StageRunner, checkpoint: dict[str, Any], source: Path, stage: str) -> None:
    try:
        runner.load_state_dict(checkpoint["runner"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise ConfigError(f"run {source.name}: its checkpoint does not fit stage {stage} "
                          f"({type(exc).__name__}{': ' + detail if detail else ''})") from None


def _steady(step: Callable[[], Any]) -> Any:
    """step(), run again when a Ctrl-C interrupts it (each step takes milliseconds); a fifth one stops."""
    for attempt in range(5):
        try:
            return step()
        except KeyboardInterrupt:
            if attempt == 4:
                raise
    return None


def _finish(writer: RunWriter, checkpointer: Checkpointer, history: list[dict[str, Any]], status: str,
            started: float, message: str) -> tuple[str, str]:
    """Write the last good checkpoint, any metrics rows not yet written and the final run.json.
    A failure here fails the run."""
    failure = _steady(checkpointer.save)
    if failure:
        status, message = "failed", failure
    try:
        _steady(lambda: writer.append_missing(history))
    except OSError as exc:
        status, message = "failed", f"could not write metrics.csv: {exc.strerror or exc}"
    try:
        _steady(lambda: writer.update(final=True, status=status, ended=utc_now(),
                                      duration_s=round(time.perf_counter() - started, 3),
                                      summary=Summary.from_history(history).to_json(), message=message))
    except OSError as exc:
        status = "failed"
        message = f"could not write run.json: {exc.strerror or exc}" + (f" (after: {message})" if message else "")
    writer.close()
    return status, message


def resume_config(config: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A saved config.json plus resume overrides (only epochs and device), validated again."""
    overrides = dict(overrides or {})
    bad = set(overrides) - {"epochs", "device"}
    if bad:
        raise ConfigError(f"resume accepts only epochs and device, not {', '.join(sorted(bad))} "
                          "(start a new run to change other keys)")
    return revalidate(config, overrides)


def resume(run_dir: str | Path, overrides: dict[str, Any] | None = None, **kwargs: Any) -> RunFinished:
    """Continue a run from its last checkpoint into a new run folder (resumed_from names the old one); a
    run with no checkpoint yet is trained again from epoch 1 with its saved config and seed (the same
    computation). overrides may only extend the run (epochs=N) or change the device."""
    run_dir = Path(run_dir)
    merged = resume_config(read_config(run_dir), overrides)
    source = checkpoint_source(run_dir)  # the run itself, or the run it was resumed from (no checkpoint yet)
    if source is None:  # stopped before any checkpoint: train it again from epoch 1, same config and seed
        return train(merged, continues=run_dir, **kwargs)
    checkpoint = load_checkpoint(source)
    ckpt_epoch = checkpoint["epoch"]
    if merged.get("epochs", 1) <= ckpt_epoch:
        if "epochs" not in (overrides or {}):  # nothing left to train and no more epochs asked for
            raise ConfigError(f"run {run_dir.name} has done all its {ckpt_epoch} epochs: nothing to resume; to "
                              f"train it longer, ask for more: nnlab resume {run_dir.name} epochs={ckpt_epoch + 10}")
        raise ConfigError(f"invalid value for epochs: {merged.get('epochs')!r} (allowed: more than the "
                          f"{ckpt_epoch} epochs already done; e.g. epochs={ckpt_epoch + 10})")
    return train(merged, resume_from=source, _checkpoint=checkpoint, continues=run_dir, **kwargs)
