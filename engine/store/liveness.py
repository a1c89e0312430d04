"""Is a run's process still alive? The one reader of /proc in the store."""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

_START_FIELD = 19  # starttime, counted from the state field (field 3 of /proc/<pid>/stat)


def _proc_stat(pid: int | str) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name (state first), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
        return raw.rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_start(pid: int | str) -> str | None:
    """Start time of a process in clock ticks since boot (guards against pid reuse), None where unknown."""
    fields = _proc_stat(pid)
    return fields[_START_FIELD] if fields and len(fields) > _START_FIELD else None


def process_age_s() -> float | None:
    """Seconds since this process started, None where /proc does not say."""
    ticks = proc_start("self")
    if ticks is None:
        return None
    try:
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - int(ticks) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: Any, start: Any = None) -> bool:
    """True while process `pid` exists and is not a zombie; with `start` (proc_start at launch), False once
    the pid belongs to another process."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OverflowError:
        return False
    fields = _proc_stat(pid)
    if fields:
        if fields[0] in ("Z", "X"):  # killed, not yet reaped by its parent: gone all the same
            return False
        if start is not None and len(fields) > _START_FIELD and fields[_START_FIELD] != start:
            return False  # the pid was reused by another process
    return True


LIVENESS_FIELDS = ("status", "host", "pid", "pid_start")  # all that effective_status reads of a run.json


def liveness(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """What effective_status needs of a run.json, for a running run: None where its status says it all."""
    if record.get("status") != "running":
        return None
    return {key: record.get(key) for key in LIVENESS_FIELDS}


def effective_status(record: Mapping[str, Any]) -> str:
    """A run.json's status, except that running with its process gone (on this host) reads as crashed."""
    status = record.get("status")
    here = record.get("host") == socket.gethostname()
    if status == "running" and here and not pid_alive(record.get("pid"), record.get("pid_start")):
        return "crashed"
    return status if isinstance(status, str) else "damaged"
