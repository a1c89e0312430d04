"""A queue per device, in the run store, with no daemon: `nnlab run ... --queue` starts after the runs queued
before it on the same device have ended, in the order they were queued.

Each queued run is a detached process (engine.detached) that waits for its turn itself:

    <runs dir>/.queue/<device>/<ticket>.json   one per waiting run: its id, stage, pid, argv; the ticket's name
                                               sorts in queue order (the time it was queued, in ns, then the id)
    <runs dir>/.queue/<device>/slot-<k>.lock   a run holds one slot (flock) from its turn to its exit
    <runs dir>/.queue/<device>/slots           how many runs may train at once on the device (default 1)

A waiting process takes its turn when fewer older tickets than free slots belong to live processes, and it
gets a slot's lock; then it trains, and its ticket goes once its run folder exists. A run started without
--queue (`nnlab run`, the TUI's ctrl+r) never waits, but the queue waits for it as for any run ahead: it
takes a free slot if its device has a queue folder (occupy), and a queued run also counts the runs training
on its device that hold no slot (_unslotted, read from the store just before it takes a turn). Why this holds
with no process in charge:
- the kernel releases a slot's flock when its holder exits in any way (an end, a crash, a divergence, kill -9),
  so the next run starts however the one before it ended;
- a ticket whose process is gone (kill -9 of a waiting run) no longer counts: the others keep their order;
- the queue is files in the store: it survives the TUI, an SSH drop, and any one process's death.
Waiting costs a poll of the folder every WAIT_S seconds. Across machines, use a study and `nnlab worker`.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import ConfigError

QUEUE_DIR = ".queue"
WAIT_S = 0.5
DEFAULT_SLOTS = 1  # on a GPU and on the CPU alike: two runs on one device mostly slow each other down


def queue_key(device: str) -> str:
    """The folder of a device's queue (the device as the config gives it: auto, cpu, cuda, cuda:1, mps)."""
    if not re.fullmatch(r"[a-z]+(:\d{1,3})?", device):
        raise ConfigError(f"invalid value for device: {device!r} (allowed: auto, cpu, cuda, cuda:N, mps)")
    return device.replace(":", "-")


def queue_dir(runs_dir: str | os.PathLike, device: str) -> Path:
    return Path(runs_dir) / QUEUE_DIR / queue_key(device)


@dataclass(frozen=True)
class Ticket:
    path: Path
    run_id: str
    stage: str
    device: str
    pid: int | None
    queued_at: float  # epoch seconds
    starting: bool = False  # its turn came: it loads its data, and its folder appears in a moment
    failed: str | None = None  # its turn came but it could not start: why (listed as failed until cancelled)

    @property
    def status(self) -> str:
        return "failed" if self.failed is not None else "starting" if self.starting else "queued"

    def to_json(self, position: int) -> dict[str, Any]:
        out = {"id": self.run_id, "stage": self.stage, "status": self.status, "device": self.device,
               "position": position, "pid": self.pid, "queued_at": self.queued_at}
        if self.failed is not None:
            out["message"] = self.failed
        return out


def slots(runs_dir: str | os.PathLike, device: str) -> int:
    try:
        n = int((queue_dir(runs_dir, device) / "slots").read_text().strip())
    except (OSError, ValueError):
        return DEFAULT_SLOTS
    return n if n >= 1 else DEFAULT_SLOTS


def set_slots(runs_dir: str | os.PathLike, device: str, n: int) -> None:
    if n < 1 or n > 64:
        raise ConfigError(f"invalid value for --slots: {n!r} (allowed: an integer from 1 to 64)")
    folder = queue_dir(runs_dir, device)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".slots-{os.getpid()}"
    tmp.write_text(f"{n}\n")
    os.replace(tmp, folder / "slots")


def enqueue(runs_dir: str | os.PathLike, device: str, run_id: str, stage: str, pid: int | None) -> Path:
    """Write the ticket of a run queued now (atomically: a listing never sees half of one)."""
    folder = queue_dir(runs_dir, device)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{time.time_ns():020d}-{run_id}.json"
    tmp = folder / f".tmp-{run_id}"
    tmp.write_bytes(_padded({"id": run_id, "stage": stage, "device": device, "pid": pid, "queued_at": time.time()}))
    os.replace(tmp, path)
    return path


TICKET_BYTES = 2048  # a ticket is padded to this size, so that it can be rewritten in place on a full disk


def _padded(data: dict[str, Any]) -> bytes:
    text = json.dumps(data).encode()
    return text + b" " * max(0, TICKET_BYTES - len(text))


def mark_failed(ticket: Path, reason: str) -> None:
    """A queued run whose turn came but which could not start (a full disk, data it could not load): its ticket
    says so, rewritten in place (no new block is needed on a full disk), and stays listed as `failed` with the
    reason until `nnlab runs cancel` (or History's d) removes it."""
    try:
        _update(ticket, status="failed", reason=reason[:400], starting=False)
    except (OSError, ValueError):
        pass  # the ticket is gone (cancelled) or unreadable: nothing to record


def _update(ticket: Path, **fields: Any) -> None:
    """Rewrite a ticket in place, padded to TICKET_BYTES: no new block, so it works on a full disk (a reader
    that catches it half-written skips it for one poll: _read_ticket gives None)."""
    data = json.loads(ticket.read_text())
    data.update(fields)
    with open(ticket, "r+b") as fh:
        fh.write(_padded(data))
        fh.truncate()


def set_ticket_pid(ticket: Path, pid: int) -> None:
    _update(ticket, pid=pid)


def _read_ticket(path: Path) -> Ticket | None:
    try:
        data = json.loads(path.read_text())
        return Ticket(path, str(data["id"]), str(data.get("stage", "")), str(data.get("device", "")),
                      data.get("pid") if isinstance(data.get("pid"), int) else None, float(data.get("queued_at", 0)),
                      data.get("starting") is True,
                      str(data.get("reason") or "unknown") if data.get("status") == "failed" else None)
    except (OSError, ValueError, KeyError, TypeError):
        return None


STARTING_S = 60.0  # a ticket whose process is not started yet (no pid) counts this long


def _alive(ticket: Ticket) -> bool:
    from engine.store.liveness import pid_alive

    if ticket.pid is None:
        return time.time() - ticket.queued_at < STARTING_S
    return pid_alive(ticket.pid)


def waiting(runs_dir: str | os.PathLike, device: str | None = None, with_failed: bool = False) -> list[Ticket]:
    """The runs waiting in a device's queue (every device's when None), in queue order; tickets of processes
    that are gone are left out (and removed). with_failed: also the queued runs that could not start
    (mark_failed), which stay listed until cancelled."""
    root = Path(runs_dir) / QUEUE_DIR
    folders = [queue_dir(runs_dir, device)] if device is not None else sorted(p for p in _dirs(root))
    out = []
    for folder in folders:
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
        except OSError:
            continue
        for name in names:
            ticket = _read_ticket(folder / name)
            if ticket is None:
                continue
            if ticket.failed is not None:
                if with_failed:
                    out.append(ticket)
            elif _alive(ticket):
                out.append(ticket)
            else:
                _remove(ticket.path)
    return out


def _dirs(root: Path) -> Iterator[Path]:
    try:
        yield from (p for p in root.iterdir() if p.is_dir())
    except OSError:
        return


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


class Turn:
    """The slot a run holds from its turn to the end of its process (the lock goes with the process). Its
    ticket stays, listed as first in the queue, until `started()`: the run's folder then exists and lists it."""

    def __init__(self, fd: int, ticket: Path) -> None:
        self.fd = fd
        self.ticket = ticket
        self.is_started = False

    def started(self) -> None:
        self.is_started = True
        _remove(self.ticket)


def wait_for_turn(runs_dir: str | os.PathLike, device: str, ticket: Path) -> Turn:
    """Block until it is this ticket's turn (see the module docstring) and take a slot."""
    folder = queue_dir(runs_dir, device)
    while True:
        ahead = [t for t in waiting(runs_dir, device) if t.path.name < ticket.name and not _starting(t)]
        n = slots(runs_dir, device)
        free = [k for k in range(n) if not _held(folder / f"slot-{k}.lock")]
        if len(ahead) < len(free) and len(ahead) + _unslotted(runs_dir, device, folder) < len(free):
            for k in free:
                fd = _try_lock(folder / f"slot-{k}.lock")
                if fd is not None:
                    os.write(fd, f"{os.getpid()}\n".encode())
                    _mark_starting(ticket)
                    return Turn(fd, ticket)
        time.sleep(WAIT_S)


def occupy(runs_dir: str | os.PathLike, device: str) -> int | None:
    """A run started without --queue takes a free slot of its device if that device has a queue folder (runs
    were queued there before), so that the runs queued there wait for it too; it never waits (with every slot
    taken, it trains beside them). The slot is held until the process exits. Where no queue folder exists,
    nothing is written: a run queued later finds such runs in the store instead (_unslotted)."""
    try:
        folder = queue_dir(runs_dir, device)
        if not folder.is_dir():
            return None
        for k in range(slots(runs_dir, device)):
            fd = _try_lock(folder / f"slot-{k}.lock")
            if fd is not None:
                os.write(fd, f"{os.getpid()}\n".encode())
                return fd
    except (OSError, ConfigError):
        pass  # a read-only or full store: the run is not worse for it
    return None


def _slot_pids(folder: Path) -> set[int]:
    pids = set()
    for path in folder.glob("slot-*.lock"):
        try:
            pids.add(int(path.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _unslotted(runs_dir: str | os.PathLike, device: str, folder: Path) -> int:
    """Runs training on this device (as their config names it) on this host that hold no slot: started
    before the device had a queue folder. A queued run waits for them too."""
    import socket

    from engine.store import list_runs, read_config

    holders = _slot_pids(folder)
    host = socket.gethostname()
    n = 0
    for record in list_runs(runs_dir):
        if record.status != "running" or record.host != host or record.pid in holders or record.pid == os.getpid():
            continue
        try:
            if str(read_config(record.run_dir).get("device", "auto")) == device:
                n += 1
        except ConfigError:
            continue
    return n


def _mark_starting(ticket: Path) -> None:
    """Its turn came: it holds a slot and loads its data (its ticket no longer counts as waiting ahead)."""
    try:
        _update(ticket, starting=True)
    except (OSError, ValueError, KeyError):
        pass


def _starting(ticket: Ticket) -> bool:
    return ticket.starting


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _held(path: Path) -> bool:
    fd = _try_lock(path)
    if fd is None:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    return False


def find_ticket(runs_dir: str | os.PathLike, ref: str) -> Ticket | None:
    """A waiting run by id, id prefix or short id (its last 4 hex digits)."""
    matches = [t for t in waiting(runs_dir, with_failed=True) if t.run_id == ref or t.run_id.startswith(ref)
               or t.run_id.endswith("-" + ref)]
    return matches[0] if len(matches) == 1 else None


def cancel(ticket: Ticket) -> None:
    """Take a waiting run out of its queue: its ticket goes and its waiting process ends (SIGTERM). It has no
    run folder: nothing else changes (engine.detached.cancel_queued also removes its early output)."""
    import signal

    _remove(ticket.path)
    if ticket.pid is not None:
        try:
            os.kill(ticket.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def queued_records(runs_dir: str | os.PathLike) -> list[Any]:
    """The waiting runs as RunRecords (status queued or starting; name `#position on device`), every device's
    queue in order, for listings that show them beside the saved runs."""
    from engine.store.records import RunRecord

    out = []
    for device in sorted({t.device for t in waiting(runs_dir, with_failed=True)}):
        for i, t in enumerate(waiting(runs_dir, device, with_failed=True), 1):
            out.append(RunRecord(id=t.run_id, run_dir=Path(runs_dir) / t.run_id, status=t.status, stage=t.stage,
                                 name=f"#{i} on {device}" if t.failed is None else f"could not start on {device}",
                                 device=device, pid=t.pid, message=t.failed))
    return out
