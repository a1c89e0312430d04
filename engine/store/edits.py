"""Changes a user makes to saved runs: edit name/tags/notes, move to the trash and back."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.config import ConfigError
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


MAX_NAME = 120
MAX_TAG = 40


def clean_name(text: str) -> str:
    """A run's new name, as History's `r` and `nnlab runs rename` take it: stripped, 1 to 120 printable
    characters on one line."""
    name = text.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ConfigError(f"invalid value for name: {text!r} (allowed: 1 to {MAX_NAME} printable characters)")
    return name


def clean_tag(text: str) -> str:
    """One tag: stripped, 1 to 40 printable characters, no comma (History's `t` splits on commas)."""
    tag = text.strip()
    if not tag or len(tag) > MAX_TAG or "," in tag or not tag.isprintable():
        raise ConfigError(f"invalid value for tag: {text!r} (allowed: 1 to {MAX_TAG} printable characters, "
                          "no comma)")
    return tag


def split_tags(text: str) -> list[str]:
    """History's tag prompt: comma-separated tags, empty ones dropped, each checked, duplicates once."""
    out: list[str] = []
    for part in text.split(","):
        if part.strip():
            tag = clean_tag(part)
            if tag not in out:
                out.append(tag)
    return out


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
