"""Text formatters of the screens (pure): percentages, durations, dates, run names. Numbers in
tables use engine.text.fmt_number."""
from __future__ import annotations

import math
from typing import Any

from engine.store import RunRecord


def pct(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return f"{100 * value:.1f}%"
    return "-"


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


def run_label(record: RunRecord, assignments: dict[str, str] | None) -> str:
    """What tells a run apart in a list: its name (without the sweep tag a sweep puts first), else '#abcd'
    (its short id), then each of its config values that differs from the stage's preset and is not in the
    name already (`assignments`: key -> value text, engine.command_line.differing_assignments)."""
    if record.has_name:
        name = record.name
        first, _, rest = name.partition(" ")
        if rest and first in record.tags:  # "sweep-2026... lr=0.3": the sweep is in the tags column
            name = rest
    else:
        name = f"#{record.short_id}"
    words = set(name.split())
    extra = [f"{k}={v}" for k, v in (assignments or {}).items() if f"{k}={v}" not in words]
    return " ".join([name, *extra])


def short_name(record: RunRecord) -> str:
    """The run's name, or 'stage abcd' (its id's tail) when it was never named."""
    return record.name if record.has_name else f"{record.stage or '?'} {record.short_id}"
