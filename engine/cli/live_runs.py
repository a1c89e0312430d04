"""`nnlab runs attach RUN`, `nnlab runs stop RUN...`, `nnlab runs cancel RUN...`: a run going (or waiting in a
queue) in another process, from any terminal.

attach follows the run's folder (metrics.csv, written every epoch, and run.json) and prints a line per epoch, as
`nnlab run` does without a terminal; Ctrl-C detaches and leaves the run training. A detached run not yet in its
folder (importing torch, loading data) is waited for; one that failed before it began shows its output.

stop sends SIGINT to the run's process, as Ctrl-C in its own terminal would: it ends `interrupted`, with its
checkpoint, and resumes as any interrupted run. Every run named is checked before any is signalled. A queued run
named to stop is cancelled: cancel removes its ticket (the others keep their order) and ends its waiting process;
it has no run folder yet, so nothing else changes.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from engine.cli.printer import format_epoch
from engine.config import ConfigError
from engine.detached import cancel_queued, early_log, early_pid_file
from engine.exits import EXIT_ERROR, EXIT_OK
from engine.run_queue import Ticket, find_ticket
from engine.store import read_json, read_metrics, read_record, resolve_run
from engine.store.liveness import effective_status, pid_alive
from engine.store.status import EXIT_CODE

FOLLOW_S = 0.5  # how often attach reads the run's folder
STOP_WAIT_S = 60.0  # how long stop waits for the runs to record their end
SHOWN_AT_ATTACH = 5  # epochs already done that attach prints first (the last ones)


def _wait_for_folder(runs_dir: str, ref: str) -> Path | None:
    """A detached run still starting: its folder once it exists; None when its process ended without one."""
    log, pid_file = early_log(runs_dir, ref), early_pid_file(runs_dir, ref)
    if not log.exists():
        return None
    print(f"{ref}: starting (importing torch, loading its data) ...", flush=True)
    while True:
        folder = Path(runs_dir) / ref
        if (folder / "run.json").exists():
            return folder
        try:
            pid = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid is None or not pid_alive(pid):
            return folder if (folder / "run.json").exists() else None
        time.sleep(FOLLOW_S)


def cmd_attach(args: argparse.Namespace) -> int:
    runs_dir = str(args.runs_dir)
    try:
        run_dir = resolve_run(runs_dir, args.run)
    except ConfigError:
        log = early_log(runs_dir, args.run)
        if not log.exists():
            raise
        try:
            found = _wait_for_folder(runs_dir, args.run)
        except KeyboardInterrupt:
            print(f"detached: {args.run} keeps starting (nnlab runs attach {args.run})")
            return EXIT_OK
        if found is None:
            text = log.read_text(errors="replace").strip()
            print(f"nnlab: {args.run} ended before its run began; its output ({log}):\n{text}")
            return EXIT_ERROR
        run_dir = found
    try:
        return _follow(run_dir)
    except KeyboardInterrupt:
        print(f"\ndetached: {run_dir.name} keeps training (nnlab runs attach {run_dir.name}; "
              f"nnlab runs stop {run_dir.name})")
        return EXIT_OK


def _follow(run_dir: Path) -> int:
    record = read_record(run_dir)
    total = record.epochs or 0
    print(f"{record.id}: {record.stage} on {record.device or '?'}, {record.status}; "
          "Ctrl-C detaches (the run keeps training)", flush=True)
    rows = read_metrics(run_dir)
    shown = max(0, len(rows) - SHOWN_AT_ATTACH)
    while True:
        for row in rows[shown:]:
            print(format_epoch(int(row.get("epoch") or 0), total, row), flush=True)
        shown = len(rows)
        if record.status != "running":
            break
        time.sleep(FOLLOW_S)
        record = read_record(run_dir)
        rows = read_metrics(run_dir)
    best = record.best
    text = f"{record.status}: {record.id} after {record.epochs_done} epochs"
    if best is not None:
        text += f" (best test_acc {best.value:.4f} at epoch {best.epoch})"
    if record.message:
        text += f" - {record.message}"
    print(text, flush=True)
    return EXIT_CODE.get(record.status, EXIT_ERROR)


def _stoppable(run_dir: Path) -> dict[str, Any]:
    raw = read_json(run_dir / "run.json")
    status = effective_status(raw)
    if status != "running":
        raise ConfigError(f"invalid run {run_dir.name!r}: it is {status}, not running (nothing to stop; "
                          f"`nnlab resume {run_dir.name}` continues an interrupted or crashed run)")
    if raw.get("host") != socket.gethostname():
        raise ConfigError(f"invalid run {run_dir.name!r}: it runs on host {raw.get('host')!r}, not this one "
                          "(stop it there)")
    return raw


def cmd_cancel(args: argparse.Namespace) -> int:
    tickets = []
    for ref in args.runs:
        ticket = find_ticket(args.runs_dir, ref)
        if ticket is None:
            raise ConfigError(f"invalid run {ref!r}: no queued run matches (see `nnlab runs list`)")
        tickets.append(ticket)
    for ticket in tickets:
        _cancel(ticket)
    return EXIT_OK


def _cancel(ticket: Ticket) -> None:
    cancel_queued(ticket)
    print(f"{ticket.run_id}: cancelled (out of the {ticket.device} queue)", flush=True)


def cmd_stop(args: argparse.Namespace) -> int:
    tickets = {ref: find_ticket(args.runs_dir, ref) for ref in args.runs}
    folders = [resolve_run(args.runs_dir, ref) for ref, ticket in tickets.items() if ticket is None]
    records = [(folder, _stoppable(folder)) for folder in folders]  # all checked before any is signalled
    for ticket in tickets.values():
        if ticket is not None:
            _cancel(ticket)  # a queued run: out of its queue
    for folder, raw in records:
        try:
            os.kill(int(raw["pid"]), signal.SIGINT)
        except ProcessLookupError:
            pass  # it ended meanwhile: its record says how
        print(f"{folder.name}: stopping (SIGINT to pid {raw['pid']})", flush=True)
    end = time.monotonic() + STOP_WAIT_S
    code = EXIT_OK
    for folder, _raw in records:
        while (record := read_record(folder)).status == "running" and time.monotonic() < end:
            time.sleep(0.1)
        if record.status == "running":
            print(f"{folder.name}: still running after {STOP_WAIT_S:.0f} s (it stops at the end of its batch)")
            code = EXIT_ERROR
        else:
            print(f"{folder.name}: {record.status} after {record.epochs_done} epochs "
                  f"(nnlab resume {folder.name} continues it)")
    return code
