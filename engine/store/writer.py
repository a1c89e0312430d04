"""Writing one run folder: created complete under a temp name and renamed into place, then appended to.

Layout: <runs_dir>/<run_id>/{run.json, config.json, metrics.csv, artifacts/, checkpoints/last.pt}.
metrics.csv is append-only and flushed per row; run.json is rewritten atomically, keeping what a user
edited meanwhile. torch is imported only to save a checkpoint.
"""
from __future__ import annotations

import csv
import errno
import io
import os
import re
import secrets
import shutil
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import __version__
from engine.config import ConfigError
from engine.events import METRIC_COLUMNS
from engine.store.files import atomic_write_bytes, atomic_write_json, fsync_dir, locked, read_json
from engine.store.liveness import proc_start
from engine.store.records import RUN_ID_RE, USER_FIELDS, Summary

RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 64 * 1024


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(stage: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return f"{stamp:%Y%m%d-%H%M%S}-{stage}-{secrets.token_hex(2)}"


def versions() -> dict[str, str]:
    """Versions recorded in run.json (torch only when this process has loaded it)."""
    out = {"python": sys.version.split()[0], "nnlab": __version__}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.__version__
    return out


def check_runs_dir(runs_dir: str | os.PathLike) -> Path:
    """Create the runs dir if needed and prove it writable; ConfigError otherwise."""
    path = Path(runs_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}-{secrets.token_hex(3)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"invalid value for --runs-dir: {str(path)!r} ({reason}; allowed: a writable "
                          "folder)") from None
    return path


def check_readable_runs_dir(runs_dir: str | os.PathLike, must_exist: bool) -> Path:
    """A runs dir to read (list, browse): a folder, or absent where that is allowed (nothing saved yet);
    ConfigError, with the line `nnlab run` gives, for a file or a folder that does not exist when it must."""
    path = Path(runs_dir)
    if path.exists() and not path.is_dir():
        reason = "not a folder"
    elif not path.exists() and must_exist:
        reason = "no such folder"
    else:
        return path
    raise ConfigError(f"invalid value for --runs-dir: {str(path)!r} ({reason}; allowed: a writable folder)")


def _make_reserve(path: Path) -> None:
    """Space set aside while a run is live, so that a disk filled by anyone still lets the run record how it
    ended (run.json is rewritten on release). Best effort: no reserve on a filesystem that cannot hold one."""
    try:
        with open(path, "wb") as fh:
            try:
                os.posix_fallocate(fh.fileno(), 0, RESERVE_BYTES)
            except (AttributeError, OSError):
                fh.write(b"\0" * RESERVE_BYTES)
    except OSError:
        try:
            path.unlink()
        except OSError:
            pass


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


class RunWriter:
    """Writes one run folder. Created complete (config, run.json, header) then renamed into place."""

    def __init__(self, run_dir: Path, record: dict[str, Any]):
        self.run_dir = run_dir
        self.record = record
        self.rows_written = 0  # metrics rows written by this writer or create() (header excluded)
        self._metrics = open(run_dir / "metrics.csv", "a", newline="")
        self._csv = csv.writer(self._metrics, lineterminator="\n")

    @classmethod
    def create(cls, runs_dir: str | os.PathLike, config: dict[str, Any], *, device: str, name: str | None = None,
               resumed_from: str | None = None, tags: list[str] | None = None,
               history: list[dict[str, Any]] | None = None, artifacts_from: Path | None = None,
               run_id: str | None = None) -> RunWriter:
        """A new run folder; `run_id`: the id chosen beforehand (a detached run's, printed when it was started),
        else a new one."""
        root = check_runs_dir(runs_dir)
        stage = config["stage"]
        if run_id is not None and not RUN_ID_RE.fullmatch(run_id):
            raise ConfigError(f"invalid value for the run id: {run_id!r} (allowed: {RUN_ID_RE.pattern})")
        chosen = run_id
        for _ in range(50):
            run_id = chosen or new_run_id(stage)
            if os.path.lexists(root / run_id):
                continue
            try:
                writer = cls._create(root, run_id, config, device=device, name=name, resumed_from=resumed_from,
                                     tags=tags, history=history, artifacts_from=artifacts_from)
            except FileExistsError:  # another process took the same id meanwhile
                if chosen is not None:
                    raise OSError(errno.EEXIST, "the run id chosen for this run is taken", chosen) from None
                continue
            writer.rows_written = len(history or [])
            return writer
        raise OSError(errno.EEXIST, "could not find a free run id", str(root))

    @classmethod
    def _create(cls, root: Path, run_id: str, config: dict[str, Any], *, device: str, name: str | None,
                resumed_from: str | None, tags: list[str] | None, history: list[dict[str, Any]] | None,
                artifacts_from: Path | None) -> RunWriter:
        stage = config["stage"]
        record = {
            "id": run_id, "stage": stage, "name": name or run_id, "status": "running",
            "created": utc_now(), "ended": None, "duration_s": 0.0,
            "pid": os.getpid(), "pid_start": proc_start(os.getpid()), "host": socket.gethostname(),
            "versions": versions(), "device": device, "seed": config.get("seed"),
            "resumed_from": resumed_from, "tags": list(tags or []), "notes": "",
            "epochs": config.get("epochs", 1), "summary": Summary.from_history(history or []).to_json(),
        }
        tmp = root / f".tmp-{run_id}-{os.getpid()}-{secrets.token_hex(2)}"
        try:
            (tmp / "artifacts").mkdir(parents=True)
            (tmp / "checkpoints").mkdir()
            if artifacts_from is not None and not artifacts_from.is_symlink() and artifacts_from.is_dir():
                for item in artifacts_from.iterdir():
                    if item.is_file() and not item.is_symlink() and item.suffix == ".json":
                        shutil.copyfile(item, tmp / "artifacts" / item.name)
            atomic_write_json(tmp / "config.json", config)
            atomic_write_json(tmp / "run.json", record)
            _make_reserve(tmp / RESERVE_NAME)
            with open(tmp / "metrics.csv", "w", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(METRIC_COLUMNS)
                for row in history or []:
                    writer.writerow([_cell(row.get(c)) for c in METRIC_COLUMNS])
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.rename(tmp, root / run_id)  # fails on a non-empty folder of the same name
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR) or os.path.lexists(root / run_id):
                    raise FileExistsError(errno.EEXIST, "run id taken", str(root / run_id)) from None
                raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        fsync_dir(root)
        return cls(root / run_id, record)

    def append_metrics(self, row: dict[str, Any]) -> None:
        self._csv.writerow([_cell(row.get(c)) for c in METRIC_COLUMNS])
        self.rows_written += 1
        self._metrics.flush()

    def append_missing(self, history: list[dict[str, Any]]) -> None:
        """Rows of history not yet in metrics.csv (after a stop between commit and write)."""
        for row in history[self.rows_written:]:
            self.append_metrics(row)
        self._metrics.flush()

    def save_artifact(self, stem: str, payload: dict[str, Any]) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", stem) or stem.startswith("."):
            raise ValueError(f"bad artifact name {stem!r}")
        atomic_write_json(self.run_dir / "artifacts" / f"{stem}.json", payload, compact=True)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """torch.save to a temp file, fsync, replace: last.pt is always a whole checkpoint."""
        import torch

        path = self.run_dir / "checkpoints" / "last.pt"
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())

    def update(self, *, final: bool = False, **fields: Any) -> None:
        """Rewrite run.json, keeping what a user edited meanwhile (name, tags, notes). The final write of a
        run may use the space reserve when the disk is full."""
        with locked(self.run_dir):
            try:
                on_disk = read_json(self.run_dir / "run.json")
                for key in USER_FIELDS:
                    if key in on_disk:
                        self.record[key] = on_disk[key]
            except (OSError, ValueError):
                pass
            self.record.update(fields)
            try:
                atomic_write_json(self.run_dir / "run.json", self.record)
            except OSError as exc:
                if not final or exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not self.release_reserve():
                    raise
                atomic_write_json(self.run_dir / "run.json", self.record)  # room made: once more

    def release_reserve(self) -> bool:
        """Give back the space set aside at creation; True if there was any to give."""
        try:
            (self.run_dir / RESERVE_NAME).unlink()
            return True
        except OSError:
            return False

    def close(self) -> None:
        try:
            self._metrics.close()
        except OSError:
            pass
        self.release_reserve()
