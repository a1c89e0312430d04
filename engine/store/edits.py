"""Changes a user makes to saved runs: edit name/tags/notes, move to the trash and back."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.store.files import atomic_write_json, locked, read_json
from engine.store.records import USER_FIELDS

TRASH = ".trash"


def update_record(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """A user edit (name, tags, notes) of run.json, atomic and locked against the writer."""
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise ValueError(f"not user-editable: {sorted(unknown)}")
    run_dir = Path(run_dir)
    if run_dir.is_symlink():
        raise ValueError("the run folder is a symlink (refused)")
    with locked(run_dir):
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
    """Undo of move_to_trash: the folder goes back under its run id; FileExistsError if that is taken."""
    name = trashed.name.split(".")[0]
    target = Path(runs_dir) / name
    if target.exists():
        raise FileExistsError(str(target))
    os.rename(trashed, target)
    return target
