"""A cache of cleaned run.json objects kept beside the runs (<runs_dir>/.index.json) and in memory, so
that listing thousands of runs reads one file (or, in a process that listed before, none) instead of
thousands.

The run folders stay the truth: an entry is used only while the stat of its run.json (mtime, ctime, size,
inode) is unchanged, and a run.json changed within the last seconds is never cached (a same-size rewrite
inside one timestamp tick would look unchanged). An entry holds the object as clean_run_json made it, and
is used only if is_clean accepts it (the file is as untrusted as the runs); whether a running run has
crashed is decided each time it is listed, from what effective_status reads of its run.json. An index file
that is damaged, of another format, or copied from another folder is ignored and rebuilt; one that cannot
be written is simply not saved.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from engine.store.files import atomic_write_bytes, read_regular
from engine.store.liveness import effective_status
from engine.store.records import RunRecord, is_clean

INDEX_NAME = ".index.json"
FORMAT = "nnlab-run-index/3"  # 3: status "pruned"
MAX_INDEX_BYTES = 512 * 1024 * 1024
SETTLE_NS = 3 * 10**9  # a run.json changed more recently than this is read from disk, not cached

StatKey = tuple[int, int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _folder_id(root: Path) -> list[int] | None:
    try:
        st = os.stat(root)
    except OSError:
        return None
    return [st.st_dev, st.st_ino]


class Entry(NamedTuple):
    key: StatKey | None  # stat of run.json, taken before it was read (None: unknown, never cached)
    clean: dict[str, Any]  # the run.json object as clean_run_json made it (with the status the file says)
    live: dict[str, Any] | None  # for a running run, what effective_status reads of its run.json (liveness)
    record: RunRecord | None = None  # the last record built from it (reused while its status holds)

    def status(self) -> str:
        """The run's effective status now."""
        return effective_status(self.live) if self.live is not None else self.clean["status"]


def _entry(name: str, item: Any) -> Entry | None:
    """An entry of the index file, or None where it is not one clean_run_json and liveness could have made."""
    if type(item) is not list or not 2 <= len(item) <= 3:
        return None
    key, clean, live = item[0], item[1], item[2] if len(item) == 3 else None
    if type(key) is not list or len(key) != 4 or not all(type(k) is int for k in key) \
            or type(clean) is not dict or not is_clean(clean, name):
        return None
    if clean["status"] == "running":
        if type(live) is not dict or live.get("status") != "running":
            return None
    elif live is not None:
        return None
    return Entry((key[0], key[1], key[2], key[3]), clean, live)


class RunIndex:
    """Entries by run folder name. `lock` serializes the listings of one folder within a process."""

    def __init__(self, root: Path, entries: dict[str, Entry], folder: list[int] | None):
        self.root = root
        self.folder = folder
        self.lock = threading.Lock()
        self._saved = entries  # what the index file holds (or would, had it been written)
        self._seen: dict[str, Entry] = {}  # the entries of the listing under way

    @classmethod
    def load(cls, root: Path) -> RunIndex:
        """The index file of `root`, or an empty index when it is missing, damaged or not this folder's."""
        folder = _folder_id(root)
        entries: dict[str, Entry] = {}
        try:
            data = read_regular(root / INDEX_NAME, MAX_INDEX_BYTES)
            raw = json.loads(data.decode("utf-8")) if len(data) <= MAX_INDEX_BYTES else None
        except (OSError, ValueError, RecursionError):
            raw = None
        if isinstance(raw, dict) and raw.get("format") == FORMAT and folder is not None \
                and raw.get("folder") == folder and isinstance(raw.get("runs"), dict):
            for name, item in raw["runs"].items():
                entry = _entry(name, item)
                if entry is not None:
                    entries[name] = entry
        return cls(root, entries, folder)

    def begin(self) -> None:
        """Start a listing: entries not seen by its end are dropped."""
        self._seen = {}

    def get(self, name: str, key: StatKey) -> Entry | None:
        """The entry of `name` if its run.json's stat key is unchanged."""
        entry = self._saved.get(name)
        if entry is None or entry.key != key:
            return None
        self._seen[name] = entry
        return entry

    def put(self, name: str, entry: Entry) -> None:
        """Remember a run.json read under the stat key taken before reading it (unless it changed too
        recently to be told apart from its next version), or the record last built from an entry."""
        if entry.key is not None and time.time_ns() - max(entry.key[0], entry.key[1]) > SETTLE_NS:
            self._seen[name] = entry

    def end(self) -> None:
        """End a listing: write the index file if its entries changed (not where the runs dir is
        read-only or full), and keep the entries for the next listing in this process."""
        old, self._saved = self._saved, self._seen
        if self.folder is None or (len(old) == len(self._seen) and all(
                name in old and old[name].clean is entry.clean for name, entry in self._seen.items())):
            return  # the same run.json objects: the file (if any) holds them already
        runs = {name: [list(entry.key or ()), entry.clean] + ([entry.live] if entry.live is not None else [])
                for name, entry in self._seen.items()}
        body = {"format": FORMAT, "folder": self.folder, "runs": runs}
        try:
            atomic_write_bytes(self.root / INDEX_NAME, json.dumps(body, separators=(",", ":")).encode())
        except (OSError, ValueError, TypeError):
            pass


_open: dict[str, RunIndex] = {}
_open_lock = threading.Lock()


def index_of(root: Path) -> RunIndex:
    """The index of a runs dir, loaded from its file once per process and kept in memory after."""
    with _open_lock:
        index = _open.get(os.fspath(root))
        if index is None or index.folder != _folder_id(root):
            index = _open[os.fspath(root)] = RunIndex.load(root)
        return index


def forget_indexes() -> None:
    """Drop the indexes kept in memory: the next listing starts from the index file, as a new process does."""
    with _open_lock:
        _open.clear()
