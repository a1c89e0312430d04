"""Writing figures: the format follows the file name (.png, .svg, .pdf); the file is written to a temp
file in the same folder and renamed over the target, so it is whole or absent."""
from __future__ import annotations

import io
import os
from pathlib import Path

from engine.config import ConfigError
from engine.figures.mpl import Figure
from engine.store.files import atomic_write_bytes

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
DPI = 120


def figure_format(path: str | os.PathLike) -> str:
    """png | svg | pdf from the file name; ConfigError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"invalid value for -o: {str(path)!r} (allowed: a file name ending in .png, .svg or .pdf)")
    return FORMATS[suffix]


def check_writable_dir(folder: str | os.PathLike, what: str = "-o") -> Path:
    """An existing folder we may write in; ConfigError naming it otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"invalid value for {what}: {str(folder)!r} is not an existing folder "
                          "(allowed: a path in a folder that exists and is writable)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"invalid value for {what}: {str(folder)!r} is not writable "
                          "(allowed: a path in a folder that exists and is writable)")
    return folder


def check_output(path: str | os.PathLike) -> Path:
    """A figure path whose format is known and whose folder is writable (checked before any drawing)."""
    path = Path(path)
    figure_format(path)
    if path.is_dir():
        raise ConfigError(f"invalid value for -o: {str(path)!r} is a folder (allowed: a .png, .svg or .pdf file)")
    check_writable_dir(path.parent if str(path.parent) else Path("."))
    return path


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write `fig` to `path` atomically (the store's temp file in the same folder, fsync, os.replace)."""
    path = check_output(path)
    fmt = figure_format(path)
    buffer = io.BytesIO()
    # SVG and PDF: a fixed date and no hash salt, so the same figure gives the same file
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
    atomic_write_bytes(path, buffer.getvalue())
    return path
