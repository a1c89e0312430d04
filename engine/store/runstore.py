"""The saved-run store: one folder per run, written crash-safely.

Layout (DESIGN.md): <runs_dir>/<run_id>/{run.json, config.json, metrics.csv,
artifacts/, checkpoints/last.pt}. JSON files are replaced atomically; metrics.csv
is append-only, flushed per row; readers skip a torn last line. Listing reads
run.json files only. Nothing here imports torch at module level.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from engine.config import ConfigError
from engine.events import METRIC_COLUMNS

RUN_ID_RE = re.compile(r"^\d{8}-\d{6}-[a-z0-9][a-z0-9-]{0,40}-[0-9a-f]{4}$")
STATUSES = ("running", "finished", "diverged", "interrupted", "failed")
USER_FIELDS = ("name", "tags", "notes")  # edited by users while a run may be writing
TRASH = ".trash"
MAX_JSON_BYTES = 16 * 1024 * 1024


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id(stage: str, now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
    return f"{stamp:%Y%m%d-%H%M%S}-{stage}-{secrets.token_hex(2)}"


# ---------------------------------------------------------------- atomic files

def _fsync_dir(path: Path) -> None:
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


RESERVE_NAME = ".space-reserve"
RESERVE_BYTES = 64 * 1024


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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Temp file in the same folder, flush, fsync, os.replace: readers see old or new, never half."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
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


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(clean_json(obj), indent=1, allow_nan=False) + "\n").encode())


def _read_regular(path: Path, limit: int) -> bytes:
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
    data = _read_regular(path, MAX_JSON_BYTES)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError("file too large")
    return json.loads(data.decode("utf-8"))


@contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """Serialize read-modify-write of run.json between processes (the run and a front end)."""
    import fcntl

    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------- process state

def _proc_stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields after the command name (state first), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
        return raw.rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _proc_start(pid: int) -> str | None:
    """Start time of a process (guards against pid reuse), None where unknown."""
    fields = _proc_stat(pid)
    return fields[19] if fields and len(fields) > 19 else None


def pid_alive(pid: Any, start: Any = None) -> bool:
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
        if start is not None and len(fields) > 19 and fields[19] != start:
            return False  # the pid was reused by another process
    return True


def effective_status(record: dict[str, Any]) -> str:
    """running with its process gone (on this host) reads as crashed."""
    status = record.get("status")
    if status == "running":
        if record.get("host") == socket.gethostname() and not pid_alive(record.get("pid"), record.get("pid_start")):
            return "crashed"
    return status if isinstance(status, str) else "damaged"


# ---------------------------------------------------------------- writing a run

def versions() -> dict[str, str]:
    from engine import __version__

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
        raise ConfigError(f"invalid value for --runs-dir: {str(path)!r} ({reason}; allowed: a writable folder)") from None
    return path


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
               history: list[dict[str, Any]] | None = None, artifacts_from: Path | None = None) -> "RunWriter":
        root = check_runs_dir(runs_dir)
        stage = config["stage"]
        for _ in range(50):
            run_id = new_run_id(stage)
            if os.path.lexists(root / run_id):
                continue
            try:
                writer = cls._create(root, run_id, config, device=device, name=name, resumed_from=resumed_from,
                                     tags=tags, history=history, artifacts_from=artifacts_from)
            except FileExistsError:  # another process took the same id meanwhile
                continue
            writer.rows_written = len(history or [])
            return writer
        raise OSError(errno.EEXIST, "could not find a free run id", str(root))

    @classmethod
    def _create(cls, root: Path, run_id: str, config: dict[str, Any], *, device: str, name: str | None,
                resumed_from: str | None, tags: list[str] | None, history: list[dict[str, Any]] | None,
                artifacts_from: Path | None) -> "RunWriter":
        stage = config["stage"]
        record = {
            "id": run_id, "stage": stage, "name": name or run_id, "status": "running",
            "created": utc_now(), "ended": None, "duration_s": 0.0,
            "pid": os.getpid(), "pid_start": _proc_start(os.getpid()), "host": socket.gethostname(),
            "versions": versions(), "device": device, "seed": config.get("seed"),
            "resumed_from": resumed_from, "tags": list(tags or []), "notes": "",
            "epochs": config.get("epochs", 1), "summary": summarize(history or []),
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
        _fsync_dir(root)
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
        atomic_write_json(self.run_dir / "artifacts" / f"{stem}.json", payload)

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
        with _locked(self.run_dir):
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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def summarize(history: list[dict[str, Any]]) -> dict[str, Any]:
    """run.json summary: last row, best of each metric with its epoch."""
    out: dict[str, Any] = {"epochs_done": len(history), "last": dict(history[-1]) if history else {}}
    best: dict[str, Any] = {}
    for metric, better in (("test_acc", max), ("train_acc", max), ("test_loss", min), ("train_loss", min)):
        rows = [r for r in history if _finite(r.get(metric))]
        if rows:
            row = better(rows, key=lambda r: r[metric])
            best[metric] = {"value": row[metric], "epoch": row["epoch"]}
    out["best"] = best
    return out


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# ---------------------------------------------------------------- reading runs

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TEXT_FIELDS = ("stage", "name", "created", "ended", "device", "host", "resumed_from", "message", "pid_start")
NUMBER_FIELDS = ("duration_s", "epochs", "seed", "pid")
SUMMARY_METRICS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "wall_time")


def _text(value: Any, keep_newlines: bool = False, limit: int = 2000) -> str:
    """A string safe to print on a terminal: control characters (escape sequences) become '?'."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = _CONTROL.sub("?", text[:limit])
    return text if keep_newlines else text.replace("\n", " ").replace("\t", " ")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _clean_summary(summary: Any) -> dict[str, Any]:
    """run.json summary with the shapes readers rely on; anything else is dropped."""
    if not isinstance(summary, dict):
        summary = {}
    done = summary.get("epochs_done")
    last = summary.get("last") if isinstance(summary.get("last"), dict) else {}
    best = summary.get("best") if isinstance(summary.get("best"), dict) else {}
    return {
        "epochs_done": done if isinstance(done, int) and not isinstance(done, bool) and done >= 0 else 0,
        "last": {k: v for k, v in last.items() if k in SUMMARY_METRICS and (v is None or _number(v))},
        "best": {k: {"value": v["value"], "epoch": v.get("epoch") if _number(v.get("epoch")) else None}
                 for k, v in best.items()
                 if k in SUMMARY_METRICS and isinstance(v, dict) and _number(v.get("value"))},
    }


def _clean_record(record: dict[str, Any]) -> dict[str, Any]:
    """Every field a reader (CLI tables, the TUI) uses, with the type it expects."""
    out = dict(record)
    for key in TEXT_FIELDS:
        if out.get(key) is not None:
            out[key] = _text(out[key])
    if out.get("name") in (None, ""):
        out["name"] = out["id"]
    out["notes"] = _text(out["notes"], keep_newlines=True, limit=20000) if out.get("notes") is not None else ""
    for key in NUMBER_FIELDS:
        if key in out and not (out[key] is None or _number(out[key])):
            out[key] = None
    tags = out.get("tags")
    out["tags"] = [_text(t, limit=200) for t in tags[:200]] if isinstance(tags, list) else []
    versions = out.get("versions")
    out["versions"] = {_text(k, limit=50): _text(v, limit=200) for k, v in versions.items()} \
        if isinstance(versions, dict) else {}
    out["summary"] = _clean_summary(out.get("summary"))
    return out


def read_record(run_dir: Path) -> dict[str, Any]:
    """run.json of one folder, with effective status; a damaged one gets status 'damaged' and a reason.
    Never raises for what is inside a run folder, never follows a symlink, never blocks on a FIFO."""
    name = run_dir.name
    base = {"id": name, "run_dir": str(run_dir), "name": _text(name), "tags": [], "summary": _clean_summary(None)}
    try:
        if run_dir.is_symlink():
            return {**base, "status": "damaged", "reason": "run folder is a symlink (not followed)"}
    except OSError:
        pass
    if not RUN_ID_RE.match(name):
        return {**base, "status": "damaged", "reason": "folder name is not a run id"}
    path = run_dir / "run.json"
    try:
        record = read_json(path)
    except FileNotFoundError:
        return {**base, "status": "damaged", "reason": "run.json is missing"}
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return {**base, "status": "damaged", "reason": "run.json is a symlink (not followed)"}
        return {**base, "status": "damaged", "reason": f"run.json unreadable: {exc.strerror or type(exc).__name__}"}
    except UnicodeDecodeError:
        return {**base, "status": "damaged", "reason": "run.json unreadable: not UTF-8 text"}
    except (ValueError, RecursionError) as exc:
        what = "too large" if str(exc) == "file too large" else "not valid JSON (truncated or garbage)"
        return {**base, "status": "damaged", "reason": f"run.json unreadable: {what}"}
    if not isinstance(record, dict):
        return {**base, "status": "damaged", "reason": "run.json is not an object"}
    if record.get("status") not in STATUSES:
        return {**base, "status": "damaged",
                "reason": f"run.json has no valid status ({_text(record.get('status'), limit=20)!r})"}
    record = dict(record)
    record["id"] = name  # the folder name is the truth
    record["run_dir"] = str(run_dir)
    record["status"] = effective_status(record)
    return _clean_record(record)


def list_runs(runs_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every run (newest first), reading run.json files only; damaged ones carry a reason.
    Hidden entries (.trash, .tmp-* folders being created) are not runs; plain files are skipped."""
    root = Path(runs_dir)
    try:
        names = sorted(os.listdir(root), reverse=True)
    except OSError:
        return []
    out = []
    for name in names:
        if not name or name.startswith("."):
            continue
        child = root / name
        try:
            if not (child.is_symlink() or child.is_dir()):
                continue
        except (OSError, ValueError):
            continue
        record = read_record(child)
        if record["status"] == "damaged" and not os.path.lexists(child):
            continue  # removed (runs rm) while we listed
        out.append(record)
    return out


def resolve_run(runs_dir: str | os.PathLike, ref: str) -> Path:
    """A run id or unique prefix -> its folder; ConfigError otherwise."""
    root = Path(runs_dir)
    if not ref or "/" in ref or "\\" in ref or ref.startswith("."):
        raise ConfigError(f"invalid run {ref!r} (allowed: a run id or a unique prefix of one; see `nnlab runs list`)")
    try:
        names = [n for n in os.listdir(root) if not n.startswith(".")]
    except OSError:
        names = []
    if ref in names:
        return root / ref
    hits = sorted(n for n in names if n.startswith(ref))
    if len(hits) == 1:
        return root / hits[0]
    if not hits:
        raise ConfigError(f"no run matches {ref!r} in {str(root)!r} (allowed: a run id or a unique prefix; see `nnlab runs list`)")
    raise ConfigError(f"run {ref!r} is ambiguous: it matches {', '.join(hits[:5])}{' ...' if len(hits) > 5 else ''}")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.csv rows as dicts of floats (epoch int); torn or garbage lines are skipped."""
    path = Path(run_dir) / "metrics.csv"
    try:
        if Path(run_dir).is_symlink():
            return []
        raw = _read_regular(path, 64 * 1024 * 1024)[: 64 * 1024 * 1024]
    except OSError:
        return []
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # a torn last line: the writer is mid-row or was killed there
    if not lines or [c.strip() for c in lines[0].split(",")] != list(METRIC_COLUMNS):
        return []
    rows: list[dict[str, Any]] = []
    for line in lines[1:]:
        cells = line.split(",")
        if len(cells) != len(METRIC_COLUMNS):
            continue
        try:
            row: dict[str, Any] = {"epoch": int(cells[0])}
            for col, cell in zip(METRIC_COLUMNS[1:], cells[1:]):
                row[col] = float(cell) if cell.strip() else None
        except ValueError:
            continue
        rows.append(row)
    return rows


def _check_run_dir(run_dir: Path) -> str:
    """The run's printable name; ConfigError for a folder that is a symlink (it leads out of the store)."""
    run_dir = Path(run_dir)
    name = _text(run_dir.name, limit=100)
    if run_dir.is_symlink():
        raise ConfigError(f"run {name} is a symlink (refused: it may lead out of the run store)")
    return name


def read_config(run_dir: Path) -> dict[str, Any]:
    name = _check_run_dir(run_dir)
    path = Path(run_dir) / "config.json"
    if path.is_symlink():
        raise ConfigError(f"config.json of {name} is a symlink (refused)")
    try:
        config = read_json(path)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        raise ConfigError(f"run {name} has no readable config.json") from None
    if not isinstance(config, dict) or not isinstance(config.get("stage"), str):
        raise ConfigError(f"run {name} has a damaged config.json")
    return {_text(k, limit=100): _text(v, limit=1000) if isinstance(v, str) else v for k, v in config.items()}


def read_artifacts(run_dir: Path) -> dict[str, dict[str, Any]]:
    """artifacts/*.json by stem; unreadable ones and symlinks are skipped."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(run_dir) / "artifacts"
    if Path(run_dir).is_symlink() or folder.is_symlink():
        return out
    try:
        items = sorted(folder.iterdir())
    except OSError:
        return out
    for item in items:
        if item.suffix != ".json" or item.is_symlink() or item.name.startswith("."):
            continue
        try:
            data = read_json(item)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(data, dict):
            out[item.stem] = data
    return out


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """checkpoints/last.pt with weights_only=True; ConfigError when absent, hostile or damaged."""
    import pickle
    import warnings

    path = Path(run_dir) / "checkpoints" / "last.pt"
    name = _check_run_dir(run_dir)
    if path.is_symlink() or (Path(run_dir) / "checkpoints").is_symlink():
        raise ConfigError(f"run {name}: its checkpoint is a symlink (refused)")
    if not path.is_file():
        raise ConfigError(f"run {name} has no checkpoint to resume from (it stopped before its first epoch ended)")
    import torch

    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": noise on stderr
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's text suggests weights_only=False: never. Keep only the line that says what was refused.
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "nsupported" in ln and not ln.startswith(("Please", "Check"))),
                      "not a weights-only checkpoint")
        raise ConfigError(f"run {name}: checkpoint refused, it holds more than plain weights and is not "
                          f"loaded ({_text(detail, limit=120)})") from None
    except Exception as exc:  # torch raises many kinds for truncated files
        raise ConfigError(f"run {name}: checkpoint is damaged ({type(exc).__name__})") from None
    damaged = ConfigError(f"run {name}: checkpoint is damaged (unexpected content)")
    if not isinstance(state, dict) or not isinstance(state.get("runner"), dict):
        raise damaged
    epoch, history = state.get("epoch"), state.get("history")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not isinstance(history, list) \
            or not 1 <= epoch <= len(history):
        raise damaged
    rows = []
    for i, row in enumerate(history[:epoch], 1):
        if not isinstance(row, dict) or row.get("epoch") != i:
            raise damaged
        clean = {"epoch": i}
        for col in METRIC_COLUMNS[1:]:
            value = row.get(col)
            if not (value is None or _number(value)):
                raise damaged
            clean[col] = None if value is None else float(value)
        rows.append(clean)
    return {**state, "history": rows}


def update_record(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """A user edit (name, tags, notes) of run.json, atomic and locked against the writer."""
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise ValueError(f"not user-editable: {sorted(unknown)}")
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        raise ValueError("the run folder is a symlink (refused)")
    with _locked(run_dir):
        record = read_json(run_dir / "run.json")
        if not isinstance(record, dict):
            raise ValueError("run.json is not an object")
        record.update(fields)
        atomic_write_json(run_dir / "run.json", record)
    return record


def move_to_trash(runs_dir: str | os.PathLike, run_dir: Path) -> Path:
    """rm: the folder moves to <runs_dir>/.trash/; returns where it went (undo moves it back)."""
    trash = Path(runs_dir) / TRASH
    trash.mkdir(exist_ok=True)
    target = trash / run_dir.name
    n = 1
    while target.exists():
        target = trash / f"{run_dir.name}.{n}"
        n += 1
    os.rename(run_dir, target)
    return target


def restore_from_trash(runs_dir: str | os.PathLike, trashed: Path) -> Path:
    name = trashed.name.split(".")[0]
    target = Path(runs_dir) / name
    if target.exists():
        raise FileExistsError(str(target))
    os.rename(trashed, target)
    return target
