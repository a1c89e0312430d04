"""Runs that belong to the machine, not to the terminal: `nnlab run|resume ... --detach`, and every run the TUI starts.

The command checks its input in the caller's process (bad input: one line, exit 2, nothing started), picks the
new run's id, and starts `nnlab run|resume` again, without --detach, as a child in a session of its own
(setsid: no SIGHUP when the terminal or the SSH connection goes, no Ctrl-C from the terminal's process group),
with stdin from /dev/null and stdout and stderr to a file. It prints the id and returns at once; the child
trains to the end whatever happens to the shell that started it.

The child gets the id in NNLAB_RUN_ID and creates its run folder under it. Until the folder exists (the child
imports torch, loads the data), its output goes to `<runs dir>/.detached-<id>.log`; when the run starts the
child moves that file into the run folder as `output.log`, where its open descriptor keeps writing. A child that
fails before its run exists leaves the log where it was, and `nnlab runs attach ID` prints it.

A file, not a pipe: nothing the child writes can block it when nobody reads, and a write that fails (a full
disk) is dropped by DroppingWriter instead of failing the run.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

RUN_ID_ENV = "NNLAB_RUN_ID"
QUEUE_TICKET_ENV = "NNLAB_QUEUE_TICKET"
OUTPUT_NAME = "output.log"


def early_log(runs_dir: str | os.PathLike, run_id: str) -> Path:
    """Where a detached run writes before its run folder exists (a dot file: listings skip it)."""
    return Path(runs_dir) / f".detached-{run_id}.log"


def early_pid_file(runs_dir: str | os.PathLike, run_id: str) -> Path:
    """The detached process's pid, until its run folder exists (attach tells a start from a failure by it)."""
    return Path(runs_dir) / f".detached-{run_id}.pid"


def free_run_id(runs_dir: str | os.PathLike, stage: str) -> str:
    from engine.store import new_run_id

    root = Path(runs_dir)
    while True:
        run_id = new_run_id(stage)
        if not os.path.lexists(root / run_id) and not early_log(root, run_id).exists():
            return run_id


def without_detach(argv: list[str]) -> list[str]:
    """argv less --detach, --queue and --slots N: the child trains (after its turn, if queued)."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--detach", "--queue"):
            continue
        elif a == "--slots":
            skip = True
        elif not a.startswith("--slots="):
            out.append(a)
    return out


def hear_sigint() -> None:
    """A process started with SIGINT ignored (a script's background job) passes that on to its children, and a
    child ignores a stop sent before it sets its own handler. Where this process ignores SIGINT, it hears it
    again (KeyboardInterrupt), so the runs it starts begin with SIGINT at its default (main thread only)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def start_detached(argv: list[str], runs_dir: str, data_dir: str, stage: str, queue_on: str | None = None) -> str:
    """Start `nnlab <argv>` (argv without --detach and --queue) in a session of its own; returns the new run's
    id. With `queue_on` (a device), the run is queued there first (engine.run_queue): it trains when its turn
    comes."""
    run_id = free_run_id(runs_dir, stage)
    log = early_log(runs_dir, run_id)
    env = dict(os.environ, NNLAB_RUNS_DIR=str(runs_dir), NNLAB_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env[RUN_ID_ENV] = run_id
    ticket = None
    if queue_on is not None:
        from engine.run_queue import enqueue

        ticket = enqueue(runs_dir, queue_on, run_id, stage, None)
        env[QUEUE_TICKET_ENV] = f"{queue_on}\n{ticket}"
    hear_sigint()
    with open(log, "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "engine", *without_detach(argv)], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
                                 env=env)
    try:
        early_pid_file(runs_dir, run_id).write_text(f"{child.pid}\n")
        if ticket is not None:
            from engine.run_queue import set_ticket_pid

            set_ticket_pid(ticket, child.pid)
    except OSError:
        pass  # attach then waits on the log alone; the ticket counts for a minute without its pid
    return run_id


def queued_turn() -> tuple[str, Path] | None:
    """(device, ticket) of a run started by --queue; None otherwise. Taken once."""
    value = os.environ.pop(QUEUE_TICKET_ENV, None)
    if not value or "\n" not in value:
        return None
    device, ticket = value.split("\n", 1)
    return device, Path(ticket)


def detached_run_id() -> str | None:
    """The id this process was given by `--detach` (None when it was started otherwise); taken once."""
    return os.environ.pop(RUN_ID_ENV, None) or None


class DroppingWriter:
    """stdout/stderr of a detached run: what cannot be written (a full disk, a closed file) is dropped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def keep_output_with_the_run(runs_dir: str, run_id: str, run_dir: str) -> None:
    """The run folder exists: move the early log into it (the open descriptors follow the file)."""
    try:
        os.replace(early_log(runs_dir, run_id), Path(run_dir) / OUTPUT_NAME)
    except OSError:
        pass  # the output stays beside the folder; the run is not worse for it
    try:
        early_pid_file(runs_dir, run_id).unlink()
    except OSError:
        pass


def run_argv(config: dict[str, Any], name: str | None = None, tags: list[str] | None = None) -> list[str]:
    """`run STAGE key=value ... [--name N] [--tag T ...]`: the command line that trains this resolved config
    (every settable key written, so the preset's later defaults cannot change it)."""
    from engine.command_line import differing_assignments

    argv = ["run", str(config["stage"])]
    argv += [f"{k}={v}" for k, v in differing_assignments(config, every_key=True).items()]
    if name:
        argv += ["--name", name]
    for tag in tags or []:
        argv += ["--tag", tag]
    return argv


def starting_pid(runs_dir: str | os.PathLike, run_id: str) -> int | None:
    """The pid of a detached run whose folder does not exist yet, while that process lives; else None."""
    from engine.store.liveness import pid_alive

    try:
        pid = int(early_pid_file(runs_dir, run_id).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def early_output(runs_dir: str | os.PathLike, run_id: str, lines: int = 20) -> str:
    """The last lines a detached run wrote before its folder existed ('' when there are none)."""
    try:
        text = early_log(runs_dir, run_id).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def interrupt(pid: int) -> bool:
    """SIGINT to a run's process, as Ctrl-C in its own terminal: it ends interrupted, with its checkpoint.
    False when the process is gone."""
    import signal

    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    return True


def cancel_queued(ticket: Any) -> None:
    """A queued run out of its queue (engine.run_queue.cancel), and what it wrote beside the runs while it
    waited."""
    from engine.run_queue import cancel

    cancel(ticket)
    runs_dir = ticket.path.parents[2]
    for leftover in (early_log(runs_dir, ticket.run_id), early_pid_file(runs_dir, ticket.run_id)):
        try:
            leftover.unlink()
        except OSError:
            pass
