"""What the Studies screen shows of a study report (pure, no UI): the storage with its password hidden,
trial values, the parameter groups that colour the curves, the axis scale and a rank correlation.

A report is the dict of `nnlab studies show --json` (engine.study.report.study_report).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.study.storage import redact, redact_text
from engine.text import fmt_number, one_line
from tui.format import pct

RGB = tuple[int, int, int]

# a series is told apart by its marker as well as its colour (NO_COLOR, 16-colour terminals, colour blindness);
# the colours run from low to high values of the parameter (blue ... red)
GROUP_MARKERS = ("o", "x", "+", "=", "%", "@")
GROUP_COLOURS: tuple[RGB, ...] = ((66, 135, 245), (70, 200, 200), (60, 180, 75), (240, 200, 40), (245, 130, 48),
                                  (230, 25, 75))
BEST_MARKER = "*"
BEST_COLOUR: RGB = (200, 60, 220)
STATES = ("complete", "pruned", "fail", "running", "waiting")


# ---------------------------------------------------------------------- storage, errors
def safe_storage(url: str | None, runs_dir: str = "") -> str:
    """The storage as shown: a URL with its password replaced by ***, or where the default journal lives."""
    if not url:
        return f"journal file in {runs_dir.rstrip('/') or '.'}/.studies"
    return one_line(redact(url))


def safe_text(text: Any, storage: str | None) -> str:
    """One line of any text (an error message ...) with the storage's password hidden wherever it appears."""
    return one_line(redact_text(str(text), storage))


# ---------------------------------------------------------------------- values
def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_text(metric: str, value: Any) -> str:
    """An accuracy as a percentage, anything else as a short number."""
    if not is_number(value):
        return "-"
    if metric.endswith("acc"):
        return pct(value)
    return fmt_number(float(value), ".4g")


def param_text(value: Any) -> str:
    if isinstance(value, float):
        return fmt_number(value, ".3g")
    return fmt_number(value)


def param_keys(trials: Sequence[dict[str, Any]]) -> list[str]:
    """Every parameter any trial has, in the order they first appear."""
    keys: list[str] = []
    for t in trials:
        for k in t.get("params") or {}:
            if k not in keys:
                keys.append(k)
    return keys


def last_value(curve: Any) -> float | None:
    for v in reversed(list(curve or [])):
        if is_number(v):
            return float(v)
    return None


def trial_value(trial: dict[str, Any]) -> float | None:
    """A trial's value for the parameter-vs-metric view: its study value, else the last epoch it reported."""
    value = trial.get("value")
    return float(value) if is_number(value) else last_value(trial.get("curve"))


def state_counts(trials: Sequence[dict[str, Any]]) -> dict[str, int]:
    counts = {s: 0 for s in STATES}
    for t in trials:
        state = str(t.get("state"))
        counts[state] = counts.get(state, 0) + 1
    return {s: n for s, n in counts.items() if n}


# ---------------------------------------------------------------------- axes, groups
def numeric_values(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if is_number(v)]


def wants_log(values: Sequence[Any]) -> bool:
    """A log axis for numbers that are all positive and span at least a factor 20 (lr 0.001..1)."""
    numbers = numeric_values(values)
    return (len(numbers) == len([v for v in values if v is not None]) and len(numbers) >= 2
            and min(numbers) > 0 and max(numbers) / min(numbers) >= 20)


@dataclass(frozen=True)
class Group:
    """Trials drawn alike: one colour, one marker, one legend entry."""

    label: str
    marker: str
    colour: RGB
    numbers: tuple[int, ...]


def _sort_key(value: Any) -> tuple:
    return (0, float(value), "") if is_number(value) else (1, 0.0, str(value))


def groups_by(trials: Sequence[dict[str, Any]], key: str, log: bool | None = None,
              most: int = len(GROUP_MARKERS)) -> list[Group]:
    """The trials grouped by the value of `key`: one group per value when there are few, else ranges of
    numbers (log-spaced for a log parameter), each group with its own marker and colour, low to high."""
    value_of = {int(t["number"]): (t.get("params") or {}).get(key) for t in trials}
    distinct = sorted({v for v in value_of.values() if v is not None}, key=_sort_key)
    buckets: list[tuple[str, list[int]]] = []
    numbers = numeric_values(distinct)
    if len(distinct) <= most:
        for v in distinct:
            buckets.append((f"{key}={param_text(v)}", [n for n, x in value_of.items() if x == v]))
    elif len(numbers) == len(distinct):
        log = wants_log(distinct) if log is None else (log and min(numbers) > 0)
        scale = math.log10 if log else float
        lo, hi = scale(min(numbers)), scale(max(numbers))
        bins: dict[int, list[int]] = {}
        for n, x in value_of.items():
            if x is not None:  # the bin of x among `most` equal ones (equal on a log scale for a log parameter)
                bins.setdefault(min(int((scale(float(x)) - lo) / (hi - lo) * most), most - 1), []).append(n)
        for _, members in sorted(bins.items()):
            inside = [float(value_of[n]) for n in members]
            low, high = min(inside), max(inside)
            span = param_text(low) if low == high else f"{param_text(low)}-{param_text(high)}"
            buckets.append((f"{key} {span}", members))
    else:
        for v in distinct[:most - 1]:
            buckets.append((f"{key}={param_text(v)}", [n for n, x in value_of.items() if x == v]))
        rest = {v for v in distinct[most - 1:]}
        buckets.append((f"{key}=other", [n for n, x in value_of.items() if x in rest]))
    unset = [n for n, x in value_of.items() if x is None]
    if unset:
        buckets.append((f"{key} unset", unset))
    return [Group(label, GROUP_MARKERS[i % len(GROUP_MARKERS)], GROUP_COLOURS[i % len(GROUP_COLOURS)],
                  tuple(sorted(members)))
            for i, (label, members) in enumerate(buckets[:len(GROUP_MARKERS)])]


def category_positions(values: Sequence[Any]) -> dict[Any, int]:
    """x positions of the values of a non-numeric parameter (in sorted order)."""
    return {v: i for i, v in enumerate(sorted({v for v in values if v is not None}, key=_sort_key))}


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def rank_correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation of two equally long lists (None with under 3 points or a constant list)."""
    if len(xs) < 3 or len(xs) != len(ys):
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)
