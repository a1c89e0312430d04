"""A cache of validated run.json objects kept beside the runs (<runs_dir>/.index.json) and in memory, so
that listing thousands of runs reads one file (or, in a process that listed before, none) instead of
thousands.

The run folders stay the truth: an entry is used only while the stat of its run.json (mtime, ctime, size,
inode) is unchanged, and a run.json changed within the last seconds is never cached (a same-size rewrite
inside one timestamp tick would look unchanged). Only what the file says is kept; whether a running run
has crashed is decided each time it is listed. An index file that is damaged, of another format, or copied
from another folder is ignored and rebuilt; one that cannot be written is simply not saved.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

from engine.store.files import atomic_write_bytes, read_regular
from engine.store.records import STATUSES, RunRecord

INDEX_NAME = ".index.json"
FORMAT = "nnlab-run-index/1"
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
    key: StatKey  # stat of run.json, taken before it was read
    raw: dict[str, Any]  # the validated run.json object
    record: RunRecord | None = None  # the last record built from it (reused while its status holds)


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
                key, record = (item[0], item[1]) if isinstance(item, list) and len(item) == 2 else (None, None)
                if isinstance(key, list) and len(key) == 4 and all(type(k) is int for k in key) \
                        and isinstance(record, dict) and record.get("status") in STATUSES:
                    entries[name] = Entry((key[0], key[1], key[2], key[3]), record)
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

    def put(self, name: str, key: StatKey, raw: dict[str, Any], record: RunRecord | None = None) -> None:
        """Remember a run.json read under the stat key taken before reading it (unless it changed too
        recently to be told apart from its next version), or the record last built from an entry."""
        if time.time_ns() - max(key[0], key[1]) > SETTLE_NS:
            self._seen[name] = Entry(key, raw, record)

    def end(self) -> None:
        """End a listing: write the index file if its entries changed (not where the runs dir is
        read-only or full), and keep the entries for the next listing in this process."""
        old, self._saved = self._saved, self._seen
        if self.folder is None or (len(old) == len(self._seen) and all(
                name in old and old[name].raw is entry.raw for name, entry in self._seen.items())):
            return  # the same run.json objects: the file (if any) holds them already
        body = {"format": FORMAT, "folder": self.folder,
                "runs": {name: [list(entry.key), entry.raw] for name, entry in self._seen.items()}}
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
