"""A run's status: one vocabulary for every module. A StrEnum, so that run.json, the JSON output and every
comparison with a plain string stay as they were ("finished" == Status.FINISHED)."""
from __future__ import annotations

from enum import StrEnum

from engine.exits import EXIT_DIVERGED, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK


class Status(StrEnum):
    # what run.json may hold
    RUNNING = "running"
    FINISHED = "finished"
    DIVERGED = "diverged"  # a non-finite loss: a result (lr too high), not a failure
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, a stop from any terminal
    FAILED = "failed"
    PRUNED = "pruned"  # stopped early by a study's pruner
    # what readers show, never written
    CRASHED = "crashed"  # says running, its process is gone
    QUEUED = "queued"  # waits for its turn on its device (engine.run_queue)
    STARTING = "starting"  # its process is starting (--detach), no folder yet
    DAMAGED = "damaged"  # run.json unreadable


WRITTEN = (Status.RUNNING, Status.FINISHED, Status.DIVERGED, Status.INTERRUPTED, Status.FAILED, Status.PRUNED)
RESUMABLE = frozenset({Status.INTERRUPTED, Status.CRASHED})  # `nnlab resume`, the TUI's R
REUSABLE = frozenset({Status.FINISHED, Status.DIVERGED})  # `nnlab reproduce` takes such a run as the experiment's
# the exit code of `nnlab run`, `resume` and `runs attach` for the status a run ended with (any other: EXIT_ERROR)
EXIT_CODE: dict[str, int] = {
    Status.FINISHED: EXIT_OK, Status.DIVERGED: EXIT_DIVERGED, Status.INTERRUPTED: EXIT_INTERRUPTED,
    Status.FAILED: EXIT_ERROR, Status.PRUNED: EXIT_OK}  # pruned: a result of the study, not an error
