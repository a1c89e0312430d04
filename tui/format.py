"""Small text formatters shared by the screens (pure)."""
from __future__ import annotations

import math
from typing import Any


def pct(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{100 * value:.1f}%"
    return "-"


def num(value: Any, spec: str = ".4f") -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return format(value, spec)
    return str(value)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def date(created: Any) -> str:
    """'2026-01-02T03:04:05Z' -> '2026-01-02 03:04' (UTC, as stored)."""
    if not isinstance(created, str) or len(created) < 16:
        return "-"
    return created[:10] + " " + created[11:16]


def short_date(created: Any) -> str:
    """'2026-01-02T03:04:05Z' -> '01-02 03:04' (UTC, no year: for narrow tables)."""
    if not isinstance(created, str) or len(created) < 16:
        return "-"
    return created[5:10] + " " + created[11:16]


def value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if v is None:
        return "-"
    return str(v)


def short_name(record: dict[str, Any]) -> str:
    """The run's name, or 'stage abcd' (its id's tail) when it was never named."""
    name = str(record.get("name") or "")
    rid = str(record.get("id") or "")
    if not name or name == rid:
        return f"{record.get('stage', '?')} {rid[-4:]}"
    return name
