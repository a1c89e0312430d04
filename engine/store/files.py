"""Files of the run store written crash-safely and read defensively.

JSON files are replaced atomically (temp file in the same folder, flush, fsync, os.replace): a reader sees
the old file or the new one, never half. Reads never follow a symlink in the last component, never block on
a FIFO or device, and stop at a size limit.
"""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 16 * 1024 * 1024


def fsync_dir(path: Path) -> None:
    """Make a rename or creation in a folder durable (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Temp file in the same folder, flush, fsync, os.replace: readers see old or new, never half. durable=False
    skips the fsync: still old or new after the process dies at any moment (the page cache outlives it), but a
    power cut may lose the file; for files drawn from what the run keeps elsewhere (its artifacts)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def clean_json(value: Any) -> Any:
    """JSON has no NaN/inf: store them as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value


def json_line(obj: Any) -> str:
    """obj as one line of JSON with NaN and infinities as null (clean_json), as the CLI prints it."""
    try:
        # the common case: nothing to clean, no copy made (and no check for cycles: what the CLI prints is a tree)
        return json.dumps(obj, allow_nan=False, check_circular=False)
    except ValueError:
        return json.dumps(clean_json(obj))


def atomic_write_json(path: Path, obj: Any, compact: bool = False) -> None:
    """obj as JSON (NaN and infinities as null), indented for a reader; compact=True: one line, not fsynced
    (see atomic_write_bytes), for the artifacts' many numbers."""
    text = json_line(obj) if compact else json.dumps(clean_json(obj), indent=1, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode(), durable=not compact)


def read_regular(path: Path, limit: int) -> bytes:
    """At most limit + 1 bytes of a regular file. Never follows a symlink in the last component and never
    blocks on a FIFO or device planted in a run folder (OSError instead)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_json(path: Path) -> Any:
    """A JSON file of at most MAX_JSON_BYTES (ValueError "file too large" beyond)."""
    data = read_regular(path, MAX_JSON_BYTES)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError("file too large")
    return json.loads(data.decode("utf-8"))


@contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Serialize read-modify-write of run.json between processes (the run and a front end)."""
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
