"""Reading saved runs back: records, metrics, config, artifacts and checkpoints.

Nothing here raises for what is inside a run folder (a damaged run reads as a record with status
`damaged` and a reason), follows a symlink out of the store, or blocks on a FIFO. Listing reads run.json
files only, through the index of cleaned run.json objects (engine.store.index). torch is imported only to
load a checkpoint.
"""
from __future__ import annotations

import errno
import gc
import math
import os
import pickle
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from engine.config import ConfigError
from engine.events import LOSS_ACC, METRIC_COLUMNS
from engine.store.files import read_json, read_regular
from engine.store.index import Entry, RunIndex, StatKey, index_of, stat_key
from engine.store.liveness import effective_status, liveness
from engine.store.records import (
    RUN_ID_RE,
    STATUSES,
    RunRecord,
    Summary,
    as_listed,
    clean_run_json,
    is_finite,
    is_number,
    safe_text,
)

MAX_METRICS_BYTES = 64 * 1024 * 1024


def _run_json(run_dir: Path) -> dict[str, Any] | str:
    """The validated run.json object of a run folder (a dict with a valid status), or why there is none."""
    try:
        if run_dir.is_symlink():
            return "run folder is a symlink (not followed)"
    except OSError:
        pass
    if not RUN_ID_RE.match(run_dir.name):
        return "folder name is not a run id"
    try:
        record = read_json(run_dir / "run.json")
    except FileNotFoundError:
        return "run.json is missing"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "run.json is a symlink (not followed)"
        return f"run.json unreadable: {exc.strerror or type(exc).__name__}"
    except UnicodeDecodeError:
        return "run.json unreadable: not UTF-8 text"
    except (ValueError, RecursionError) as exc:
        what = "too large" if str(exc) == "file too large" else "not valid JSON (truncated or garbage)"
        return f"run.json unreadable: {what}"
    if not isinstance(record, dict):
        return "run.json is not an object"
    if record.get("status") not in STATUSES:
        return f"run.json has no valid status ({safe_text(record.get('status'), limit=20)!r})"
    return record


def _record(run_dir: Path, raw: dict[str, Any] | str) -> RunRecord:
    if isinstance(raw, str):
        return RunRecord.damaged(run_dir, raw)
    status = effective_status(raw)
    if status == "crashed":
        return RunRecord.from_clean(run_dir, as_crashed(clean_run_json(run_dir, raw), str(run_dir)), status)
    return RunRecord.from_json(run_dir, raw, status)


# run folder -> (stat of its metrics.csv, the cleaned run.json it was read for, that run.json as its rows say)
_crashed: dict[str, tuple[StatKey, dict[str, Any], dict[str, Any]]] = {}


def as_crashed(clean: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """A crashed run's cleaned run.json, its summary and duration brought up to what it wrote: run.json is
    refreshed about once a second, metrics.csv at every epoch, so a kill -9 leaves metrics.csv ahead. Only
    crashed runs are read this way (a listing reads no other metrics file), each once while its metrics.csv
    is unchanged."""
    try:
        key: StatKey | None = stat_key(os.stat(run_dir + os.sep + "metrics.csv", follow_symlinks=False))
    except OSError:
        key = None
    hit = _crashed.get(run_dir)
    if hit is not None and hit[0] == key and hit[1] is clean:
        return hit[2]
    out = clean
    lines = _metrics_lines(Path(run_dir))
    done = clean["summary"]["epochs_done"]
    if len(lines) > done:
        # run.json's summary is that of the first `done` rows: only the rows after them are parsed
        then = _metrics_row(lines[done - 1]) if done > 0 else {"epoch": 0, "wall_time": 0.0}
        rows = [row for line in lines[done:] if (row := _metrics_row(line)) is not None]
        summary = Summary.from_clean(clean["summary"])
        following = list(range(done + 1, done + 1 + len(rows)))
        if then is None or then["epoch"] != done or [r["epoch"] for r in rows] != following:
            rows, summary = [], Summary.from_history(read_metrics(Path(run_dir)))  # not as written: all of them
        for row in rows:
            summary = summary.add(row)
        recorded = clean.get("duration_s")
        duration = float(recorded) if is_finite(recorded) else 0.0
        if rows and then is not None:
            duration += max(0.0, (rows[-1].get("wall_time") or 0.0) - (then.get("wall_time") or 0.0))
        last_wall = (rows[-1].get("wall_time") if rows else None) or 0.0
        duration = max(duration, last_wall)  # it ran at least as long as its last row says
        if summary.epochs_done > done:
            # rounded up to the ms, so that it never reads shorter than the last row's wall_time
            out = {**clean, "summary": summary.to_json(), "duration_s": math.ceil(duration * 1000) / 1000}
    if key is not None:
        _crashed[run_dir] = (key, clean, out)
    return out


def read_record(run_dir: Path) -> RunRecord:
    """The record of one run folder, with its effective status (running with its process gone: crashed);
    an unreadable one has status `damaged` and a reason."""
    run_dir = Path(run_dir)
    return _record(run_dir, _run_json(run_dir))


def list_runs(runs_dir: str | os.PathLike, limit: int | None = None) -> list[RunRecord]:
    """Every run, newest first (by folder name); damaged ones carry a reason. Hidden entries (.trash,
    .index.json, .tmp-* folders being created) are not runs; plain files are skipped. An unchanged run.json
    is taken from the index (engine.store.index), which is then saved if it changed. With a `limit`, the
    newest `limit` runs only, read from their folders (the index is neither loaded nor saved)."""
    return _list(Path(runs_dir), limit, _record_of)


def list_runs_json(runs_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """What `[r.to_json() for r in list_runs(runs_dir)]` gives, without building the records (`nnlab runs
    list --json`). The objects may be those the index keeps in memory: read them, do not change them."""
    return _list(Path(runs_dir), None, _json_of)


Found = Entry | RunRecord  # a run folder's index entry (clean run.json), or a damaged run's record
T = TypeVar("T")


def _list(root: Path, limit: int | None, build: Callable[[RunIndex | None, str, Found], T]) -> list[T]:
    """build(index, run_dir, found) for the runs of `root`, newest first (see list_runs)."""
    try:
        with os.scandir(root) as it:
            entries = sorted((e for e in it if e.name and not e.name.startswith(".")), key=lambda e: e.name,
                             reverse=True)
    except OSError:
        return []
    base = str(root / "-")[:-1]  # base + name == str(root / name), without a Path per run
    collecting = gc.isenabled()
    gc.disable()  # thousands of small objects without cycles: the collector would only rescan them
    try:
        if limit is not None:
            out: list[T] = []
            for entry in entries:
                if len(out) >= limit:
                    break
                if (found := _listed(None, base, entry)) is not None:
                    out.append(build(None, base + entry.name, found))
            return out
        index = index_of(root)
        with index.lock:
            index.begin()
            out = [build(index, base + entry.name, found) for entry in entries
                   if (found := _listed(index, base, entry)) is not None]
            index.end()
        return out
    finally:
        if collecting:
            gc.enable()


def _listed(index: RunIndex | None, base: str, entry: os.DirEntry[str]) -> Found | None:
    """One entry of the runs dir: the index entry of a run (kept by the index, if one is given, while its
    run.json is unchanged; else read now), a damaged run's record, or None for what is not a run folder
    (or is gone)."""
    try:
        if entry.is_symlink():
            return read_record(Path(base + entry.name))  # damaged: never followed
        if not entry.is_dir():
            return None
    except (OSError, ValueError):
        return None
    key = None
    if index is not None and RUN_ID_RE.match(entry.name):
        try:
            st = os.stat(entry.path + os.sep + "run.json", follow_symlinks=False)
            key = stat_key(st) if stat.S_ISREG(st.st_mode) else None
        except OSError:
            pass
    if index is not None and key is not None and (cached := index.get(entry.name, key)) is not None:
        return cached
    run_dir = Path(base + entry.name)
    raw = _run_json(run_dir)
    if isinstance(raw, str):
        return None if not os.path.lexists(run_dir) else RunRecord.damaged(run_dir, raw)  # gone: removed meanwhile
    found = Entry(key, clean_run_json(run_dir, raw), liveness(raw))
    if index is not None:
        index.put(entry.name, found)
    return found


def _record_of(index: RunIndex | None, run_dir: str, found: Found) -> RunRecord:
    """The record of a run found by _listed: the one built at an earlier listing while its status holds."""
    if isinstance(found, RunRecord):
        return found
    status = found.status()
    if status == "crashed":
        return RunRecord.from_clean(Path(run_dir), as_crashed(found.clean, run_dir), status)
    if found.record is not None and found.record.status == status:
        return found.record
    record = RunRecord.from_clean(Path(run_dir), found.clean, status)
    if index is not None:
        index.put(found.clean["id"], found._replace(record=record))
    return record


def _json_of(index: RunIndex | None, run_dir: str, found: Found) -> dict[str, Any]:
    """The cleaned run.json object of a run found by _listed, as RunRecord.to_json gives it."""
    if isinstance(found, RunRecord):
        return found.to_json()
    status = found.status()
    return as_listed(as_crashed(found.clean, run_dir) if status == "crashed" else found.clean, run_dir, status)


SHORT_ID_RE = re.compile(r"^[0-9a-f]{4}$")
RUN_REF_HELP = "a run id, a unique prefix of one, or the short id the TUI shows (its last 4 hex digits)"


def resolve_run(runs_dir: str | os.PathLike, ref: str) -> Path:
    """A run id, a unique prefix of one, or a short id (the id's last 4 hex digits, as the TUI shows it)
    -> its folder; ConfigError otherwise (an ambiguous one names the candidates)."""
    root = Path(runs_dir)
    if not ref or "/" in ref or "\\" in ref or ref.startswith("."):
        raise ConfigError(f"invalid run {ref!r} (allowed: {RUN_REF_HELP}; see `nnlab runs list`)")
    try:
        names = [n for n in os.listdir(root) if not n.startswith(".")]
    except OSError:
        names = []
    if ref in names:
        return root / ref
    hits = {n for n in names if n.startswith(ref)}
    if SHORT_ID_RE.match(ref.lower()):
        hits.update(n for n in names if n.endswith("-" + ref.lower()) and RUN_ID_RE.match(n))
    if len(hits) == 1:
        return root / hits.pop()
    if not hits:
        raise ConfigError(f"no run matches {ref!r} in {str(root)!r} (allowed: {RUN_REF_HELP}; "
                          "see `nnlab runs list`)")
    shown = sorted(hits, reverse=True)
    more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
    raise ConfigError(f"run {ref!r} is ambiguous: it matches {len(shown)} runs: {', '.join(shown[:10])}{more} "
                      "(give more of the id)")


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """metrics.csv rows as dicts of floats (epoch int); torn or garbage lines are skipped."""
    return [row for line in _metrics_lines(Path(run_dir)) if (row := _metrics_row(line)) is not None]


def _metrics_lines(run_dir: Path) -> list[str]:
    """The data lines of metrics.csv, unparsed (a torn last line left out); [] when it is unreadable or its
    header is not the fixed columns."""
    path = run_dir / "metrics.csv"
    try:
        if run_dir.is_symlink():
            return []
        raw = read_regular(path, MAX_METRICS_BYTES)[:MAX_METRICS_BYTES]
    except OSError:
        return []
    text = raw.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]  # a torn last line: the writer is mid-row or was killed there
    if not lines or [c.strip() for c in lines[0].split(",")] != list(METRIC_COLUMNS):
        return []
    return [line for line in lines[1:] if line]


def _metrics_row(line: str) -> dict[str, Any] | None:
    """One data line of metrics.csv as a row, None for garbage."""
    cells = line.split(",")
    if len(cells) != len(METRIC_COLUMNS):
        return None
    try:
        row: dict[str, Any] = {"epoch": int(cells[0])}
        for col, cell in zip(METRIC_COLUMNS[1:], cells[1:]):
            row[col] = float(cell) if cell.strip() else None
    except ValueError:
        return None
    return row


def _check_run_dir(run_dir: Path) -> str:
    """The run's printable name; ConfigError for a folder that is a symlink (it leads out of the store)."""
    run_dir = Path(run_dir)
    name = safe_text(run_dir.name, limit=100)
    if run_dir.is_symlink():
        raise ConfigError(f"run {name} is a symlink (refused: it may lead out of the run store)")
    return name


def read_config(run_dir: Path) -> dict[str, Any]:
    """config.json of a run, its text made safe to print; ConfigError naming the run when unreadable."""
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
    return {safe_text(k, limit=100): safe_text(v, limit=1000) if isinstance(v, str) else v for k, v in config.items()}


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


INITIAL_METRICS = LOSS_ACC


def read_initial(run_dir: Path) -> dict[str, float] | None:
    """The loss and accuracy before the first update (artifacts/initial.json, written by engine.train before
    epoch 1), or None: a run from before they were recorded, an SVM, a damaged file."""
    path = Path(run_dir) / "artifacts" / "initial.json"
    if Path(run_dir).is_symlink() or path.is_symlink():
        return None
    try:
        data = read_json(path)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(is_number(data.get(k)) for k in INITIAL_METRICS):
        return None
    return {k: float(data[k]) for k in INITIAL_METRICS}


class NoCheckpoint(ConfigError):
    """A run has no checkpoints/last.pt (yet): it stopped before its first checkpoint was written."""


def has_checkpoint(run_dir: Path) -> bool:
    """True when the run has a checkpoints/last.pt (whole or not: load_checkpoint says)."""
    return os.path.lexists(Path(run_dir) / "checkpoints" / "last.pt")


def checkpoint_source(run_dir: Path) -> Path | None:
    """The run whose checkpoint a resume of `run_dir` starts from: the run itself when it has one; else, for
    a run resumed from another and stopped before its own first checkpoint, the nearest run up its
    resumed_from chain that has one (the state it started from); None when no run has one (the run is then
    trained again from epoch 1)."""
    run_dir = Path(run_dir)
    current, seen = run_dir, {run_dir.name}
    while not has_checkpoint(current):
        earlier = read_record(current).resumed_from
        if not earlier or earlier in seen or not RUN_ID_RE.match(earlier):
            return None
        seen.add(earlier)
        current = run_dir.parent / earlier
        if current.is_symlink() or not current.is_dir():
            return None
    return current


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """checkpoints/last.pt with weights_only=True; NoCheckpoint when absent, ConfigError when hostile or
    damaged."""
    path = Path(run_dir) / "checkpoints" / "last.pt"
    name = _check_run_dir(run_dir)
    if path.is_symlink() or (Path(run_dir) / "checkpoints").is_symlink():
        raise ConfigError(f"run {name}: its checkpoint is a symlink (refused)")
    if not os.path.lexists(path):
        raise NoCheckpoint(f"run {name} has no checkpoint (it stopped before its first one was written)")
    if not path.is_file():
        raise ConfigError(f"run {name}: its checkpoint is damaged (checkpoints/last.pt is not a file)")
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
                          f"loaded ({safe_text(detail, limit=120)})") from None
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
        clean: dict[str, Any] = {"epoch": i}
        for col in METRIC_COLUMNS[1:]:
            value = row.get(col)
            if not (value is None or is_number(value)):
                raise damaged
            clean[col] = None if value is None else float(value)
        rows.append(clean)
    return {**state, "history": rows}


@dataclass(frozen=True)
class LoadedRun:
    """One readable run in full: its record, config and metrics history."""

    record: RunRecord
    config: dict[str, Any]
    history: list[dict[str, Any]]
    initial: dict[str, float] | None = None  # before the first update (read_initial); epoch 0 of the curves

    def to_json(self) -> dict[str, Any]:
        """The record with `config`, `history` and `initial`, as `runs show --json` prints it."""
        return {**self.record.to_json(), "config": self.config, "history": self.history, "initial": self.initial}


def load_run(run_dir: Path) -> LoadedRun:
    """Record + config + history of one run; ConfigError naming the run when it is damaged or its config
    is unreadable."""
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    if record.is_damaged:
        raise ConfigError(f"run {run_dir.name} is damaged: {record.reason}")
    return LoadedRun(record, read_config(run_dir), read_metrics(run_dir), read_initial(run_dir))
