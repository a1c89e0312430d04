"""Following a run's folder while another process writes it, at a cost that does not grow with the run.

Each poll reads only what is new: metrics.csv from where the last poll stopped (whole lines only), run.json
only when its size or mtime moved, the artifacts not read before (the newest of each kind) or, for those
rewritten in place (the ones without an epoch in their name: samples, confusion, gradients, activations), changed
since, and the latest batch (engine.store.progress). A 20,000-epoch run costs a poll what a 20-epoch one does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.events import METRIC_COLUMNS
from engine.store.progress import read_progress
from engine.store.reader import _metrics_row, read_record
from engine.store.records import RunRecord


@dataclass
class FollowUpdate:
    rows: list[dict[str, Any]] = field(default_factory=list)  # new metrics rows, oldest first
    record: RunRecord | None = None  # run.json, when it changed since the last poll
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # stem -> payload, new ones only
    progress: tuple[int, int, int, int] | None = None  # (epoch, batch, batches, start_epoch): the latest batch


def _artifact_kind(stem: str) -> str:
    return stem.rsplit("-e", 1)[0] if "-e" in stem else stem


class RunFollower:
    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.run_dir = Path(run_dir)
        self._offset = 0  # bytes of metrics.csv taken (header included)
        self._header_ok = False
        self._record_key: tuple[int, int] | None = None
        self._seen: dict[str, tuple[int, int] | None] = {}  # name -> (size, mtime) of a rewritten one, else None

    def poll(self, artifacts: bool = True) -> FollowUpdate:
        update = FollowUpdate(rows=self._new_rows(), progress=read_progress(self.run_dir))
        try:
            st = os.stat(self.run_dir / "run.json")
            key = (st.st_size, st.st_mtime_ns)
        except OSError:
            key = None
        if key != self._record_key or key is None:
            self._record_key = key
            update.record = read_record(self.run_dir)
        if artifacts:
            update.artifacts = self._new_artifacts()
        return update

    def _new_rows(self) -> list[dict[str, Any]]:
        try:
            with open(self.run_dir / "metrics.csv", "rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []  # no whole line yet (the writer is mid-row)
        self._offset += end + 1
        lines = chunk[: end + 1].decode("utf-8", errors="replace").split("\n")[:-1]
        if not self._header_ok:
            if not lines or [c.strip() for c in lines[0].split(",")] != list(METRIC_COLUMNS):
                self._offset = 0  # not a metrics file (yet): read it again from the start next time
                return []
            self._header_ok = True
            lines = lines[1:]
        return [row for line in lines if line and (row := _metrics_row(line)) is not None]

    def _new_artifacts(self) -> dict[str, dict[str, Any]]:
        from engine.store.files import read_json

        folder = self.run_dir / "artifacts"
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
        except OSError:
            return {}
        newest: dict[str, str] = {}
        for name in names:  # stems sort by epoch within a kind (boundary-e0010 after boundary-e0001)
            key = None
            if _artifact_kind(name[:-5]) == name[:-5]:  # rewritten in place: new when its size or mtime moved
                try:
                    st = os.stat(folder / name)
                    key = (st.st_size, st.st_mtime_ns)
                except OSError:
                    continue
            if name not in self._seen or (key is not None and self._seen[name] != key):
                newest[_artifact_kind(name[:-5])] = name
            self._seen[name] = key
        out: dict[str, dict[str, Any]] = {}
        for name in newest.values():
            path = folder / name
            if path.is_symlink():
                continue
            try:
                data = read_json(path)
            except (OSError, ValueError, UnicodeDecodeError, RecursionError):
                continue
            if isinstance(data, dict):
                out[name[:-5]] = data
        return out
