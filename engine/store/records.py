"""Typed records of saved runs: what a reader of the store (CLI tables, the TUI, comparisons) works with.

A run.json is untrusted text on disk; `clean_run_json` turns it into the cleaned JSON object that `nnlab
runs list --json` prints (the saved-run contract), `is_clean` tells such an object from anything else
(the listing index keeps them), and `RunRecord.from_clean` / `from_json` (called only by the store's
reader) make a record whose every field has the type it says. `Summary` is the one place that knows how a
history becomes "last" and "best of each metric, with its epoch".
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeGuard

from engine.events import METRIC_COLUMNS
from engine.store.status import WRITTEN

RUN_ID_RE = re.compile(r"^\d{8}-\d{6}-[a-z0-9][a-z0-9-]{0,40}-[0-9a-f]{4}$")
STATUSES = WRITTEN  # what run.json may say (engine.store.status)
USER_FIELDS = ("name", "tags", "notes")  # edited by users while a run may be writing
# the metrics of a summary's "best", and whether higher is better
BEST_OF = (("test_acc", True), ("train_acc", True), ("test_loss", False), ("train_loss", False))
SUMMARY_METRICS = METRIC_COLUMNS
_SUMMARY_KEYS = frozenset(SUMMARY_METRICS)
_SUMMARY_PARTS = ("epochs_done", "last", "best")  # the keys of a summary as to_json writes them, in order
_BEST_PARTS = ("value", "epoch")
TEXT_FIELDS = ("stage", "name", "created", "ended", "device", "host", "resumed_from", "message", "pid_start")
NUMBER_FIELDS = ("duration_s", "epochs", "seed", "pid")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NUMBER_TYPES = (int, float)
_NUMBER_OR_NONE = frozenset((int, float, type(None)))


def safe_text(value: Any, keep_newlines: bool = False, limit: int = 2000) -> str:
    """A string safe to print on a terminal: control characters (escape sequences) become '?'."""
    if isinstance(value, str) and len(value) <= limit \
            and not (_CONTROL if keep_newlines else _CONTROL_OR_BREAK).search(value):
        return value  # already safe (the common case)
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = _CONTROL.sub("?", text[:limit])
    return text if keep_newlines else text.replace("\n", " ").replace("\t", " ")


def is_number(value: Any) -> bool:
    """An int or float, not a bool."""
    return type(value) in _NUMBER_TYPES or (isinstance(value, (int, float)) and not isinstance(value, bool))


def is_finite(value: Any) -> TypeGuard[float]:
    """A number (is_number) that is neither NaN nor infinite."""
    return is_number(value) and math.isfinite(value)


def _all_safe(values: Collection[Any], limit: int) -> bool:
    """True when every value is a string of at most `limit` characters that safe_text would keep as it is
    (checked in one pass: most records need no cleaning; printable text has no control characters)."""
    try:
        joined = "".join(values)
    except TypeError:
        return False
    return (len(joined) <= limit or max(map(len, values)) <= limit) \
        and (joined.isprintable() or not _CONTROL_OR_BREAK.search(joined))


@dataclass(frozen=True, slots=True)
class Best:
    """The best value a metric reached, and the epoch it reached it at."""

    value: float
    epoch: int | None

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "epoch": self.epoch}


@dataclass(frozen=True, slots=True)
class Summary:
    """run.json's summary: epochs done, the last metrics row, the best of each metric with its epoch."""

    epochs_done: int = 0
    last: Mapping[str, float | None] = field(default_factory=dict)
    best: Mapping[str, Best] = field(default_factory=dict)

    @classmethod
    def from_history(cls, history: Sequence[Mapping[str, Any]]) -> Summary:
        """The summary of a metrics history: the best of a metric is its first epoch among equals, and
        non-finite values never count."""
        best: dict[str, Best] = {}
        for metric, higher in BEST_OF:
            rows = [r for r in history if is_finite(r.get(metric))]
            if rows:
                row = (max if higher else min)(rows, key=itemgetter(metric))  # the first epoch among equals
                best[metric] = Best(row[metric], row["epoch"])
        return cls(len(history), dict(history[-1]) if history else {}, best)

    def add(self, row: Mapping[str, Any]) -> Summary:
        """The summary of this one's history followed by `row`, in constant time: equal to from_history
        of the longer history when this one is from_history of the shorter."""
        best: dict[str, Best] = {}
        for metric, higher in BEST_OF:
            old, value = self.best.get(metric), row.get(metric)
            if is_finite(value) and (old is None or (value > old.value if higher else value < old.value)):
                best[metric] = Best(value, row["epoch"])
            elif old is not None:
                best[metric] = old
        return Summary(self.epochs_done + 1, dict(row), best)

    @staticmethod
    def is_clean(raw: Any) -> bool:
        """True when `raw` is a summary as to_json writes it, which from_json keeps as it is."""
        if type(raw) is not dict or tuple(raw) != _SUMMARY_PARTS:
            return False
        done, last, best = raw["epochs_done"], raw["last"], raw["best"]
        if not (type(done) is int and done >= 0 and type(last) is dict and last.keys() <= _SUMMARY_KEYS
                and _NUMBER_OR_NONE.issuperset(map(type, last.values()))
                and type(best) is dict and best.keys() <= _SUMMARY_KEYS):
            return False
        for b in best.values():
            if type(b) is not dict or tuple(b) != _BEST_PARTS or type(b["value"]) not in _NUMBER_TYPES \
                    or type(b["epoch"]) not in _NUMBER_OR_NONE:
                return False
        return True

    @classmethod
    def from_clean(cls, raw: Mapping[str, Any]) -> Summary:
        """A summary from a dict that is_clean accepts (its `last` is shared, not copied)."""
        return cls(raw["epochs_done"], raw["last"], {k: Best(b["value"], b["epoch"]) for k, b in raw["best"].items()})

    @classmethod
    def from_json(cls, raw: Any) -> Summary:
        """A summary as read from disk: anything without the expected shape is dropped."""
        if cls.is_clean(raw):
            return cls.from_clean(raw)
        if not isinstance(raw, dict):
            raw = {}
        done = raw.get("epochs_done")
        last = raw.get("last") if isinstance(raw.get("last"), dict) else {}
        best = raw.get("best") if isinstance(raw.get("best"), dict) else {}
        return cls(
            epochs_done=done if isinstance(done, int) and not isinstance(done, bool) and done >= 0 else 0,
            last={k: v for k, v in last.items() if k in SUMMARY_METRICS and (v is None or is_number(v))},
            best={k: Best(v["value"], v.get("epoch") if is_number(v.get("epoch")) else None)
                  for k, v in best.items()
                  if k in SUMMARY_METRICS and isinstance(v, dict) and is_number(v.get("value"))},
        )

    def to_json(self) -> dict[str, Any]:
        return {"epochs_done": self.epochs_done, "last": dict(self.last),
                "best": {k: b.to_json() for k, b in self.best.items()}}

    def best_of(self, metric: str) -> Best | None:
        return self.best.get(metric)

    @property
    def best_test_acc(self) -> Best | None:
        return self.best.get("test_acc")

    def last_of(self, metric: str) -> float | None:
        value = self.last.get(metric)
        return value if is_number(value) else None


def clean_run_json(run_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """A run.json object (a dict with a valid status) as `runs list --json` prints it: its id is the folder's
    name, `run_dir` the folder, every known field has the type it says and its text is safe to print (other
    keys are kept: JSON output escapes them). Cleaning the result again changes nothing (is_clean)."""
    out: dict[str, Any] = dict(record)
    out["id"] = run_dir.name
    out["run_dir"] = str(run_dir)
    texts = [out[key] for key in TEXT_FIELDS if out.get(key) is not None]
    if not _all_safe(texts, 2000):
        for key in TEXT_FIELDS:
            if out.get(key) is not None:
                out[key] = safe_text(out[key])
    if out.get("name") in (None, ""):
        out["name"] = out["id"]
    out["notes"] = safe_text(out["notes"], keep_newlines=True, limit=20000) if out.get("notes") is not None else ""
    for key in NUMBER_FIELDS:
        if key in out and type(out[key]) not in _NUMBER_OR_NONE and not is_number(out[key]):
            out[key] = None
    tags = out.get("tags")
    if not isinstance(tags, list):
        out["tags"] = []
    elif len(tags) <= 200 and _all_safe(tags, 200):
        out["tags"] = list(tags)
    else:
        out["tags"] = [safe_text(t, limit=200) for t in tags[:200]]
    versions = out.get("versions")
    if not isinstance(versions, dict):
        out["versions"] = {}
    elif _all_safe(versions, 50) and _all_safe(versions.values(), 200):
        out["versions"] = dict(versions)
    else:
        out["versions"] = {safe_text(k, limit=50): safe_text(v, limit=200) for k, v in versions.items()}
    summary = out.get("summary")
    out["summary"] = summary if Summary.is_clean(summary) else Summary.from_json(summary).to_json()
    return out


def is_clean(record: Mapping[str, Any], run_id: str) -> bool:
    """True when `record` is what clean_run_json makes of a run.json in folder `run_id`: a record is built
    from it with no cleaning (how the index's entries, read from a file anyone may edit, are checked)."""
    get = record.get
    name, notes, tags, versions = get("name"), get("notes"), get("tags"), get("versions")
    return get("id") == run_id and type(get("run_dir")) is str and get("status") in STATUSES \
        and _all_safe([value for key in TEXT_FIELDS if (value := get(key)) is not None], 2000) \
        and type(name) is str and name != "" \
        and type(notes) is str and len(notes) <= 20000 and not _CONTROL.search(notes) \
        and all(type(get(key)) in _NUMBER_OR_NONE for key in NUMBER_FIELDS) \
        and type(tags) is list and len(tags) <= 200 and _all_safe(tags, 200) \
        and type(versions) is dict and _all_safe(versions, 50) and _all_safe(versions.values(), 200) \
        and Summary.is_clean(get("summary"))


def as_listed(clean: dict[str, Any], run_dir: str, status: str) -> dict[str, Any]:
    """A cleaned run.json object as listed from folder `run_dir` with effective status `status`: the object
    itself where it says both already (the common case), else a copy saying them."""
    if clean["status"] == status and clean["run_dir"] == run_dir:
        return clean
    return {**clean, "run_dir": run_dir, "status": status}


def _whole(value: Any) -> int | None:
    if type(value) is int:
        return value
    return int(value) if is_finite(value) else None  # NaN or infinity (JSON allows them): none


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One saved run as the store reads it (effective status: a running run whose process is gone is
    `crashed`; an unreadable folder is `damaged`, with the reason). `raw` is the cleaned run.json object."""

    id: str
    run_dir: Path
    status: str
    stage: str | None = None
    name: str = ""
    created: str | None = None
    ended: str | None = None
    duration_s: float | None = None
    epochs: int | None = None
    seed: int | None = None
    device: str | None = None
    host: str | None = None
    pid: int | None = None
    resumed_from: str | None = None
    tags: tuple[str, ...] = ()
    notes: str = ""
    message: str | None = None
    reason: str | None = None  # why a damaged run is damaged
    summary: Summary = field(default_factory=Summary)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def damaged(cls, run_dir: Path, reason: str) -> RunRecord:
        name = run_dir.name
        raw = {"id": name, "run_dir": str(run_dir), "name": safe_text(name), "tags": [],
               "summary": Summary().to_json(), "status": "damaged", "reason": reason}
        return cls(id=name, run_dir=run_dir, status="damaged", name=safe_text(name), reason=reason, raw=raw)

    @classmethod
    def from_json(cls, run_dir: Path, record: Mapping[str, Any], status: str) -> RunRecord:
        """A run.json object (already known to be a dict with a valid status) -> a clean record. The folder
        name is the run's id; `status` is the effective one."""
        return cls.from_clean(run_dir, clean_run_json(run_dir, record), status)

    @classmethod
    def from_clean(cls, run_dir: Path, clean: dict[str, Any], status: str) -> RunRecord:
        """The record of an object clean_run_json made (or is_clean accepted) for the run in `run_dir`,
        with its effective status; the object (see as_listed) becomes the record's `raw`."""
        clean = as_listed(clean, str(run_dir), status)
        get = clean.get
        return cls(id=clean["id"], run_dir=run_dir, status=status, stage=get("stage"), name=clean["name"],
                   created=get("created"), ended=get("ended"), duration_s=get("duration_s"),
                   epochs=_whole(get("epochs")), seed=_whole(get("seed")), device=get("device"), host=get("host"),
                   pid=_whole(get("pid")), resumed_from=get("resumed_from"), tags=tuple(clean["tags"]),
                   notes=clean["notes"], message=get("message"), summary=Summary.from_clean(clean["summary"]),
                   raw=clean)

    def to_json(self) -> dict[str, Any]:
        """The cleaned run.json object, as `runs list --json` prints it."""
        return dict(self.raw)

    @property
    def is_damaged(self) -> bool:
        return self.status == "damaged"

    @property
    def short_id(self) -> str:
        return self.id[-4:]

    @property
    def has_name(self) -> bool:
        """True when a user named the run (its name is not just its id)."""
        return bool(self.name) and self.name != self.id

    @property
    def epochs_done(self) -> int:
        return self.summary.epochs_done

    @property
    def best(self) -> Best | None:
        """Best test accuracy and its epoch."""
        return self.summary.best_test_acc

    @property
    def last(self) -> Mapping[str, float | None]:
        return self.summary.last
