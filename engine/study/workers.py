"""Worker processes of a study: each pops a waiting trial, runs it (engine.study.trial), and goes on until
no trial is left or it is stopped.

A study's trials are queued when it is made (a grid: one per point; a search: --trials empty ones that the
sampler fills when they start), so each point runs exactly once and --trials is the total over all workers:
taking a waiting trial is atomic in every Optuna storage. With a database storage a worker also waits for
the trials others are running, since a dead worker's trial comes back (heartbeat) and must be run again.

start_workers runs one worker in this process; --jobs N runs it and N - 1 forked ones, the cores split
between them (OMP_NUM_THREADS, torch threads); --gpus starts one `nnlab worker --jobs 1` process per GPU, each
seeing only its own (CUDA_VISIBLE_DEVICES).
Ctrl-C or SIGTERM: running trials end `interrupted` (run store) and failed and queued again (study), exit 130.
A worker started by another (--jobs, --gpus) gets SIGTERM when that one dies, even by kill -9 (Linux:
PR_SET_PDEATHSIG): its trial ends `interrupted` instead of training on with nobody to stop it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from engine.config import ConfigError
from engine.exits import EXIT_INTERRUPTED, EXIT_OK
from engine.store.liveness import pid_alive
from engine.study.report import META_ATTR
from engine.study.storage import clear_cache, describe, exists, open_storage, retry_trial
from engine.study.trial import HOST, run_trial

POLL_S = 1.0
CHILD_STOP_WAIT_S = 120.0  # after Ctrl-C, how long worker processes get to record how their runs ended


class StopFlag:
    """SIGINT/SIGTERM set a flag that trials poll between batches; a second Ctrl-C stops at once."""

    def __init__(self, on_signal: Callable[[int], None] | None = None) -> None:
        self.stopped = False
        self.on_signal = on_signal

    def __call__(self) -> bool:
        return self.stopped

    def install(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            again = self.stopped
            self.stopped = True
            if self.on_signal is not None:
                self.on_signal(signum)
            if again and signum == signal.SIGINT and self.on_signal is None:
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def make_sampler(meta: dict[str, Any]) -> Any:
    import optuna

    if meta.get("sampler") == "random" or meta.get("kind") == "grid":  # a grid's points are all queued
        return optuna.samplers.RandomSampler()
    return optuna.samplers.TPESampler(n_startup_trials=min(10, max(2, int(meta.get("trials") or 10) // 3)))


def make_pruner(meta: dict[str, Any]) -> Any:
    import optuna

    prune = meta.get("prune", "none")
    epochs = int(meta.get("epochs") or 10)
    if prune == "median":  # not before 3 trials have ended, nor in a trial's first 5 % of epochs (they say little)
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 20))
    if prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(2, epochs), reduction_factor=3)
    return optuna.pruners.NopPruner()


def load(name: str, storage: str | None, runs_dir: str) -> tuple[Any, dict[str, Any]]:
    """The study and its nnlab description; ConfigError when there is no such study."""
    import optuna

    try:
        if not exists(storage, runs_dir):
            raise StopIteration
        store = open_storage(storage, runs_dir)
        frozen = next(s for s in store.get_all_studies() if s.study_name == name)
    except StopIteration:
        raise ConfigError(f"no study named {name!r} in {describe(storage, runs_dir)} "
                          "(start it with nnlab sweep ... --study NAME)") from None
    meta = frozen.user_attrs.get(META_ATTR)
    if not isinstance(meta, dict) or "space" not in meta:
        raise ConfigError(f"study {name!r} was not made by nnlab sweep (it has no stage nor search space)")
    study = optuna.load_study(study_name=name, storage=store, sampler=make_sampler(meta), pruner=make_pruner(meta))
    return study, meta


def fail_stale(study: Any) -> None:
    """Fail and queue again the trials whose worker is gone: by heartbeat (database storages), or, in a
    journal file, RUNNING trials recorded by a process of this host that is no longer alive."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    if hasattr(storage, "get_heartbeat_interval") and storage.get_heartbeat_interval():
        optuna.storages.fail_stale_trials(study)
        return
    for trial in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        attrs = trial.user_attrs
        if attrs.get("host") != HOST or not isinstance(attrs.get("pid"), int):
            continue
        if pid_alive(attrs["pid"], attrs.get("pid_start")):
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "status", "crashed")  # (a finished trial takes no attrs)
            if storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                retry_trial(study, storage.get_trial(trial._trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker got there first


def pop_waiting(study: Any) -> Any:
    """Take one waiting trial (atomic in the storage), or None when none is left."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    for frozen in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING):
                return optuna.trial.Trial(study, frozen._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _others_running(study: Any) -> bool:
    from optuna.trial import TrialState

    storage = study._storage
    if not (hasattr(storage, "get_heartbeat_interval") and storage.get_heartbeat_interval()):
        return False  # a journal file: a dead process's trial is failed by the next worker that starts
    return bool(storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.RUNNING,)))


def work(name: str, storage: str | None, runs_dir: str, data_dir: str, stop: Callable[[], bool],
         log: Callable[[str], None] | None = None) -> dict[str, int]:
    """One worker in this process: run waiting trials until none is left or stop(); returns status counts."""
    study, meta = load(name, storage, runs_dir)
    counts: dict[str, int] = {}
    while not stop():
        fail_stale(study)
        trial = pop_waiting(study)
        if trial is None:
            if not _others_running(study):
                break
            time.sleep(POLL_S)
            continue
        status = run_trial(study, trial, meta, runs_dir=runs_dir, data_dir=data_dir, interrupted=stop, log=log)
        counts[status] = counts.get(status, 0) + 1
    return counts


def check_gpus(text: str) -> list[str]:
    """--gpus 0,1,...: the GPU indices, each one that CUDA sees; ConfigError otherwise."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(not p.isdigit() for p in parts) or len(set(parts)) != len(parts):
        raise ConfigError(f"invalid value for --gpus: {text!r} (allowed: distinct GPU indices, e.g. --gpus 0,1)")
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise ConfigError(f"invalid value for --gpus: {text!r} (CUDA is not available on this machine; "
                          "use --jobs N for CPU workers)")
    missing = [p for p in parts if int(p) >= count]
    if missing:
        raise ConfigError(f"invalid value for --gpus: {text!r} (allowed: GPU indices 0..{count - 1} on this machine)")
    return parts


def gpu_envs(gpus: list[str]) -> list[dict[str, str]]:
    """The environment of each GPU worker process: it sees only its own GPU."""
    return [{**os.environ, "CUDA_VISIBLE_DEVICES": g} for g in gpus]


PARENT_ENV = "NNLAB_WORKER_PARENT"  # set for the `nnlab worker` processes that --gpus starts: the parent's pid


def stop_with_parent(parent_pid: int) -> None:
    """Ask Linux for SIGTERM to this process when its parent dies (the StopFlag then ends the running trial
    `interrupted`); where prctl is missing, nothing. Call after the StopFlag is installed."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGTERM, 0, 0, 0) != 0:  # 1: PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request: no signal will come
        os.kill(os.getpid(), signal.SIGTERM)


def _forked_worker(name: str, storage: str | None, runs_dir: str, data_dir: str, threads: int,
                   log: Callable[[str], None] | None, parent_pid: int) -> None:
    """A CPU worker forked by start_workers: its own storage connection, threads and signal handlers, and
    its own process group, so that a Ctrl-C in the terminal reaches it once, forwarded by the parent."""
    os.setpgid(0, 0)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    clear_cache()  # a database connection or file lock is not shared with the parent
    import torch

    torch.set_num_threads(threads)
    stop = StopFlag()
    stop.install()
    stop_with_parent(parent_pid)
    try:
        work(name, storage, runs_dir, data_dir, stop, log)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_INTERRUPTED if stop.stopped else EXIT_OK)


def _work_here(name: str, storage: str | None, runs_dir: str, data_dir: str, stop: StopFlag,
               log: Callable[[str], None] | None) -> int:
    try:
        work(name, storage, runs_dir, data_dir, stop, log)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_INTERRUPTED if stop.stopped else EXIT_OK


def _cpu_workers(name: str, storage: str | None, runs_dir: str, data_dir: str, jobs: int,
                 log: Callable[[str], None] | None) -> int:
    """jobs CPU workers: this process and jobs - 1 forked ones (no second start-up: they share what this
    process has imported), the cores split between them."""
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)
    ctx = multiprocessing.get_context("fork")
    procs: list[Any] = []

    def forward(signum: int) -> None:
        for proc in procs:
            if proc.exitcode is None and proc.pid is not None:
                try:
                    os.kill(proc.pid, signal.SIGINT)
                except OSError:
                    pass

    stop = StopFlag(on_signal=forward)
    stop.install()
    for _ in range(jobs - 1):
        proc = ctx.Process(target=_forked_worker, args=(name, storage, runs_dir, data_dir, threads, log, os.getpid()),
                           daemon=False)
        proc.start()
        procs.append(proc)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    code = _work_here(name, storage, runs_dir, data_dir, stop, log)
    deadline = None
    while any(p.exitcode is None for p in procs):
        if stop.stopped and deadline is None:
            deadline = time.monotonic() + CHILD_STOP_WAIT_S
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.exitcode is None:
                    p.kill()
        for p in procs:
            p.join(timeout=0.1)
    codes = [code] + [p.exitcode for p in procs]
    return EXIT_INTERRUPTED if stop.stopped or EXIT_INTERRUPTED in codes else EXIT_OK


def start_workers(name: str, storage: str | None, runs_dir: str, data_dir: str, *, jobs: int = 1,
                  gpus: list[str] | None = None, log: Callable[[str], None] | None = None) -> int:
    """Run the study's waiting trials with `jobs` CPU workers or one worker per GPU; exit code 0, or 130."""
    if not gpus and jobs <= 1:
        stop = StopFlag()
        stop.install()
        if os.environ.get(PARENT_ENV, "").isdigit():
            stop_with_parent(int(os.environ[PARENT_ENV]))
        return _work_here(name, storage, runs_dir, data_dir, stop, log)
    if not gpus:
        return _cpu_workers(name, storage, runs_dir, data_dir, jobs, log)
    # one process per GPU, started fresh so that each sees only its own GPU from the start
    procs: list[subprocess.Popen] = []

    def forward(signum: int) -> None:
        for proc in procs:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGINT)
                except OSError:
                    pass

    stop = StopFlag(on_signal=forward)
    stop.install()
    cmd = [sys.executable, "-m", "engine", "worker", "--study", name, "--jobs", "1",
           "--runs-dir", runs_dir, "--data-dir", data_dir]
    for env in gpu_envs(gpus):
        env[PARENT_ENV] = str(os.getpid())
        if storage:
            env["NNLAB_STORAGE"] = storage
        else:
            env.pop("NNLAB_STORAGE", None)
        if stop.stopped:
            break
        procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=None if log else subprocess.DEVNULL,
                                      process_group=0))  # Ctrl-C reaches it once, forwarded
    deadline = None
    while any(p.poll() is None for p in procs):
        if stop.stopped and deadline is None:
            deadline = time.monotonic() + CHILD_STOP_WAIT_S
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.1)
    codes = [p.wait() for p in procs]
    return EXIT_INTERRUPTED if stop.stopped or EXIT_INTERRUPTED in codes else EXIT_OK


def slurm_worker(name: str, storage: str | None, runs_dir: str, data_dir: str) -> dict[str, int]:
    """What a SLURM (submitit) job runs: one worker in the job's process."""
    stop = StopFlag()
    return work(name, storage, runs_dir, data_dir, stop)
