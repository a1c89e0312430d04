"""One trial of a study: a normal nnlab run (engine.train.train, in this process) tagged with the study
and `trial:N`, which reports its metric at epoch ends to the study (trial.report), is stopped by the pruner
(status `pruned`), and leaves in the study its run id, host, pid, config, per-epoch curve and how it ended,
so that any machine with the storage sees it without the run folder.

A trial reports about HEAD + REPORTS values while it runs (reported()): each of its first HEAD epochs, where
a pruner makes most of its decisions, then every k-th epoch with k = ceil(epochs / REPORTS) (the same k for
every trial of the study, from the study's epochs, so that a pruner compares trials at the same steps), and
the last one. Each report is a journal append or a database transaction, and the pruner's question reads
what the other workers wrote: on a run of short epochs (circles,
3 ms an epoch, 300 epochs) reporting every epoch cost 16 % of the trial, 50 evenly spaced reports 5 %, 25 of
them 3 % (of which 1.7 % is the trial's fixed bookkeeping); with only those 25 the median pruner decided late
and ran 63 % of the epochs of bench/sweep_scaling.py's lr sweep instead of 55 %, hence the dense head. The
whole per-epoch curve is stored in the study when the trial ends (user attr "curve").

Study state of each outcome: finished -> COMPLETE (value: the metric at the last epoch); pruned -> PRUNED;
diverged, failed, bad input -> FAIL (the search goes on); interrupted -> FAIL and queued again.
"""
from __future__ import annotations

import math
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from optuna.exceptions import UpdateFinishedTrialError

from engine.config import ConfigError
from engine.events import EpochEnd, RunStarted
from engine.stages import resolve_config
from engine.store.liveness import proc_start
from engine.study.space import raw_value, suggest
from engine.study.storage import retry_trial

HOST = socket.gethostname()
HEAD = 10  # the first epochs, each reported
REPORTS = 25  # then about this many, evenly spaced


def report_every(epochs: Any) -> int:
    """The step between two reported epochs after the first HEAD, in a run of `epochs` epochs."""
    return max(1, math.ceil(int(epochs) / REPORTS)) if isinstance(epochs, int) and epochs > 0 else 1


def reported(epoch: int, every: int, last: Any) -> bool:
    """Whether a trial reports this epoch to its study."""
    return epoch <= HEAD or epoch % every == 0 or epoch == last


class TrialStop:
    """should_stop for one trial's run: the worker's stop flag (Ctrl-C), or "pruned" once the pruner says so."""

    def __init__(self, interrupted: Callable[[], bool]) -> None:
        self.interrupted = interrupted
        self.pruned = False

    def __call__(self) -> bool | str:
        if self.pruned:
            return "pruned"
        return bool(self.interrupted())


class Heartbeat:
    """Records the trial's heartbeat while it runs, for storages that have one (PostgreSQL)."""

    def __init__(self, storage: Any, trial_id: int) -> None:
        self.storage, self.trial_id = storage, trial_id
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        interval = self.storage.get_heartbeat_interval() if hasattr(self.storage, "get_heartbeat_interval") else None
        if interval:
            self.storage.record_heartbeat(self.trial_id)
            self.thread = threading.Thread(target=self._beat, args=(interval,), daemon=True, name="nnlab-heartbeat")
            self.thread.start()
        return self

    def _beat(self, interval: float) -> None:
        while not self.done.wait(interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # noqa: BLE001 - a lost connection: the next beat tries again
                pass

    def __exit__(self, *exc: Any) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join(timeout=5)


class Reporter:
    """Reports the values it is given to the study (trial.report) and asks the pruner, in a thread of its own:
    a journal or database write costs about as much as a short epoch, and the training thread must not
    wait for it. Every value given is reported, in order; a pruning decision reaches the run at its next
    batch. An error of the storage is kept and raised in the training thread by `check`."""

    def __init__(self, trial: Any, stop: TrialStop, prune: bool) -> None:
        self.trial, self.stop, self.prune = trial, stop, prune
        self.error: BaseException | None = None
        self.items: list[tuple[float, int] | None] = []
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True, name="nnlab-report")
        self.thread.start()

    def put(self, value: float, epoch: int) -> None:
        with self.ready:
            self.items.append((value, epoch))
            self.ready.notify()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.items:
                    self.ready.wait()
                item = self.items.pop(0)
            if item is None:
                return
            if self.error is not None:
                continue
            try:
                self.trial.report(*item)
                if self.prune and not self.stop.pruned and self.trial.should_prune():
                    self.stop.pruned = True
            except Exception as exc:  # noqa: BLE001 - raised in the training thread by check()
                self.error = exc

    def close(self, timeout: float = 120.0) -> None:
        """Waits until every value is reported."""
        with self.ready:
            self.items.append(None)
            self.ready.notify()
        self.thread.join(timeout=timeout)


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _tell(study: Any, trial: Any, status: str, final: dict[str, Any], curve: list[float | None], metric: str) -> None:
    from optuna.trial import TrialState

    trial.set_user_attr("curve", curve)
    trial.set_user_attr("status", status)
    trial.set_user_attr("final", final)
    value = _finite(final.get(metric)) if status == "finished" else None
    if status == "finished" and value is not None:
        study.tell(trial, value)
    elif status == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)
        if status == "interrupted":  # not a result: it runs again when a worker joins the study
            retry_trial(study, study._storage.get_trial(trial._trial_id))


def run_trial(study: Any, trial: Any, meta: dict[str, Any], *, runs_dir: str, data_dir: str,
              interrupted: Callable[[], bool], log: Callable[[str], None] | None = None) -> str:
    """Run one popped (RUNNING) trial to its end and tell the study; returns the run's status
    (or "bad input" when the suggested point is not a valid config)."""
    from optuna.trial import TrialState

    from engine.train import train

    metric, study_name = meta["metric"], study.study_name
    trial.set_user_attr("host", HOST)
    trial.set_user_attr("pid", os.getpid())
    trial.set_user_attr("pid_start", proc_start(os.getpid()))
    stop = TrialStop(interrupted)
    curve: list[float | None] = []
    prune = meta.get("prune", "none") != "none"
    status, final = "failed", {}
    with Heartbeat(study._storage, trial._trial_id):
        try:
            params = suggest(trial, meta["space"])
            config = resolve_config(meta["stage"], {**meta["space"]["fixed"], **params})
        except ConfigError as exc:
            trial.set_user_attr("status", "bad input")
            trial.set_user_attr("message", str(exc)[:300])
            study.tell(trial, state=TrialState.FAIL)
            return "bad input"
        name = f"{study_name} " + " ".join(
            f"{k}={raw_value(meta['space']['params'][k], v)}" for k, v in params.items())

        reporter = Reporter(trial, stop, prune)
        every = report_every(meta.get("epochs") or config.get("epochs"))
        last = config.get("epochs")

        def emit(event: Any) -> None:
            reporter.check()
            if isinstance(event, RunStarted):
                trial.set_user_attr("run_id", event.run_id)
                trial.set_user_attr("config", dict(event.config))
            elif isinstance(event, EpochEnd):
                value = _finite(event.metrics.get(metric))
                curve.append(value)
                if value is not None and reported(event.epoch, every, last):
                    reporter.put(value, event.epoch)

        try:
            result = train(config, runs_dir=runs_dir, data_dir=data_dir, emit=emit, should_stop=stop,
                           name=name, tags=[study_name, f"trial:{trial.number}"])
            status, final = result.status, dict(result.final)
        except KeyboardInterrupt:
            status = "interrupted"
        except ConfigError as exc:  # e.g. a dataset that cannot load: a result of this point, not of the study
            status = "bad input"
            trial.set_user_attr("message", str(exc)[:300])
        finally:
            reporter.close()
            try:
                _tell(study, trial, status, final, curve, metric)
            except UpdateFinishedTrialError:  # failed meanwhile by another worker (no heartbeat for too long)
                status = "lost"
    if log:
        shown = " ".join(f"{k}={raw_value(meta['space']['params'][k], v)}" for k, v in trial.params.items())
        value = _finite(final.get(metric)) if final else None
        log(f"trial {trial.number} {shown}: {status}" + (f" {metric} {value:.4f}" if value is not None else ""))
    return status
