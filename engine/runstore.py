"""The saved-run store: one folder per run, written crash-safely.

Layout (DESIGN.md): <runs_dir>/<run_id>/{run.json, config.json, metrics.csv,
artifacts/, checkpoints/last.pt}. JSON files are replaced atomically; metrics.csv
is append-only, flushed per row; readers skip a torn last line. Listing reads
run.json files only. Nothing here imports torch at module level.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import secrets
import shutil
import socket
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


def read_json(path: Path) -> Any:
    with open(path, "rb") as fh:
        data = fh.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise ValueError("file too large")
    return json.loads(data.decode("utf-8"))


@contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """Serialize read-modify-write of run.json between processes (the run and a front end)."""
    import fcntl

    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------- process state

def _proc_start(pid: int) -> str | None:
    """Start time of a process (guards against pid reuse), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
        return raw.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


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
    if start is not None:
        now = _proc_start(pid)
        if now is not None and now != start:
            return False
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
        self._metrics = open(run_dir / "metrics.csv", "a", newline="")
        self._csv = csv.writer(self._metrics, lineterminator="\n")

    @classmethod
    def create(cls, runs_dir: str | os.PathLike, config: dict[str, Any], *, device: str, name: str | None = None,
               resumed_from: str | None = None, tags: list[str] | None = None,
               history: list[dict[str, Any]] | None = None, artifacts_from: Path | None = None) -> "RunWriter":
        root = check_runs_dir(runs_dir)
        stage = config["stage"]
        for _ in range(20):
            run_id = new_run_id(stage)
            if not (root / run_id).exists():
                break
        else:  # pragma: no cover - 65536 ids in one second
            raise OSError("could not find a free run id")
        record = {
            "id": run_id, "stage": stage, "name": name or run_id, "status": "running",
            "created": utc_now(), "ended": None, "duration_s": 0.0,
            "pid": os.getpid(), "pid_start": _proc_start(os.getpid()), "host": socket.gethostname(),
            "versions": versions(), "device": device, "seed": config.get("seed"),
            "resumed_from": resumed_from, "tags": list(tags or []), "notes": "",
            "epochs": config.get("epochs", 1), "summary": summarize(history or []),
        }
        tmp = root / f".tmp-{run_id}-{os.getpid()}"
        try:
            (tmp / "artifacts").mkdir(parents=True)
            (tmp / "checkpoints").mkdir()
            if artifacts_from is not None and artifacts_from.is_dir():
                for item in artifacts_from.iterdir():
                    if item.is_file() and not item.is_symlink() and item.suffix == ".json":
                        shutil.copyfile(item, tmp / "artifacts" / item.name)
            atomic_write_json(tmp / "config.json", config)
            atomic_write_json(tmp / "run.json", record)
            with open(tmp / "metrics.csv", "w", newline="") as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(METRIC_COLUMNS)
                for row in history or []:
                    writer.writerow([_cell(row.get(c)) for c in METRIC_COLUMNS])
                fh.flush()
                os.fsync(fh.fileno())
            os.rename(tmp, root / run_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(root)
        return cls(root / run_id, record)

    def append_metrics(self, row: dict[str, Any]) -> None:
        self._csv.writerow([_cell(row.get(c)) for c in METRIC_COLUMNS])
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

    def update(self, **fields: Any) -> None:
        """Rewrite run.json, keeping what a user edited meanwhile (name, tags, notes)."""
        with _locked(self.run_dir):
            try:
                on_disk = read_json(self.run_dir / "run.json")
                for key in USER_FIELDS:
                    if key in on_disk:
                        self.record[key] = on_disk[key]
            except (OSError, ValueError):
                pass
            self.record.update(fields)
            atomic_write_json(self.run_dir / "run.json", self.record)

    def close(self) -> None:
        try:
            self._metrics.close()
        except OSError:
            pass


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

def _safe_child(root: Path, name: str) -> Path | None:
    """A run folder directly under root, not a symlink, with a sane name."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or name in ("..", "."):
        return None
    return root / name


def read_record(run_dir: Path) -> dict[str, Any]:
    """run.json of one folder, with effective status; a damaged one gets status 'damaged' and a reason."""
    name = run_dir.name
    base = {"id": name, "run_dir": str(run_dir)}
    if run_dir.is_symlink():
        return {**base, "status": "damaged", "reason": "run folder is a symlink (not followed)"}
    if not RUN_ID_RE.match(name):
        return {**base, "status": "damaged", "reason": "folder name is not a run id"}
    path = run_dir / "run.json"
    if path.is_symlink():
        return {**base, "status": "damaged", "reason": "run.json is a symlink (not followed)"}
    try:
        record = read_json(path)
    except FileNotFoundError:
        return {**base, "status": "damaged", "reason": "run.json is missing"}
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        return {**base, "status": "damaged", "reason": f"run.json unreadable: {type(exc).__name__}"}
    if not isinstance(record, dict):
        return {**base, "status": "damaged", "reason": "run.json is not an object"}
    if record.get("status") not in STATUSES:
        return {**base, "status": "damaged", "reason": f"run.json has no valid status ({str(record.get('status'))[:20]!r})"}
    record = dict(record)
    record["id"] = name  # the folder name is the truth
    record["run_dir"] = str(run_dir)
    record["status"] = effective_status(record)
    if not isinstance(record.get("summary"), dict):
        record["summary"] = {}
    if not isinstance(record.get("tags"), list):
        record["tags"] = []
    return record


def list_runs(runs_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every run (newest first), reading run.json files only; damaged ones carry a reason."""
    root = Path(runs_dir)
    try:
        names = sorted(os.listdir(root), reverse=True)
    except OSError:
        return []
    out = []
    for name in names:
        child = _safe_child(root, name)
        if child is None:
            continue
        try:
            if not (child.is_dir() or child.is_symlink()):
                continue
        except OSError:
            continue
        out.append(read_record(child))
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
    if path.is_symlink():
        return []
    try:
        with open(path, "rb") as fh:
            raw = fh.read(64 * 1024 * 1024)
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


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.json"
    if path.is_symlink():
        raise ConfigError(f"config.json of {Path(run_dir).name} is a symlink (refused)")
    try:
        config = read_json(path)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        raise ConfigError(f"run {Path(run_dir).name} has no readable config.json") from None
    if not isinstance(config, dict) or not isinstance(config.get("stage"), str):
        raise ConfigError(f"run {Path(run_dir).name} has a damaged config.json")
    return config


def read_artifacts(run_dir: Path) -> dict[str, dict[str, Any]]:
    """artifacts/*.json by stem; unreadable ones and symlinks are skipped."""
    out: dict[str, dict[str, Any]] = {}
    folder = Path(run_dir) / "artifacts"
    if folder.is_symlink():
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

    import torch

    path = Path(run_dir) / "checkpoints" / "last.pt"
    name = Path(run_dir).name
    if path.is_symlink() or (Path(run_dir) / "checkpoints").is_symlink():
        raise ConfigError(f"run {name}: its checkpoint is a symlink (refused)")
    if not path.is_file():
        raise ConfigError(f"run {name} has no checkpoint to resume from (it stopped before its first epoch ended)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise ConfigError(f"run {name}: checkpoint refused, it is not plain weights ({first[:120]})") from None
    except Exception as exc:  # torch raises many kinds for truncated files
        raise ConfigError(f"run {name}: checkpoint is damaged ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not isinstance(state.get("epoch"), int) or "runner" not in state:
        raise ConfigError(f"run {name}: checkpoint is damaged (unexpected content)")
    return state


def update_record(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """A user edit (name, tags, notes) of run.json, atomic and locked against the writer."""
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise ValueError(f"not user-editable: {sorted(unknown)}")
    run_dir = Path(run_dir)
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
