"""The search space of a sweep, parsed from KEY=VALUE arguments and checked before anything runs.

    KEY=V1,V2,...       a list: a grid axis (one value alone: a fixed value for every trial)
    KEY=LOW..HIGH[:log] a range of a number key (an integer key gives integers)
    KEY=a|b|c           a choice

Lists alone make a grid (every combination once); any range or choice makes a search. Every value is
checked through engine.stages.resolve_config, so a bad value is the same one-line error as `nnlab run`'s.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from engine.config import ConfigError, split_assignment
from engine.stages import get_stage, resolve_config

PRIMITIVE = (str, int, float, bool, type(None))


@dataclass
class Space:
    stage: str
    fixed: dict[str, str] = field(default_factory=dict)  # key -> raw value, the same in every trial
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> spec (JSON-able)

    @property
    def kind(self) -> str:
        return "grid" if all(p["type"] == "grid" for p in self.params.values()) else "search"

    def to_json(self) -> dict[str, Any]:
        return {"fixed": dict(self.fixed), "params": {k: dict(v) for k, v in self.params.items()}}

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of the grid axes as {key: typed value}, in the order the lists give."""
        keys = [k for k, p in self.params.items() if p["type"] == "grid"]
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.params[k]["values"] for k in keys))]

    def as_choices(self) -> None:
        """Lists searched by a sampler (--sampler random|tpe on lists alone) are choices."""
        for spec in self.params.values():
            if spec["type"] == "grid":
                spec["type"] = "choice"


def _typed(stage: str, fixed: dict[str, str], key: str, raw: str) -> Any:
    value = resolve_config(stage, {**fixed, key: raw})[key]
    return value if isinstance(value, PRIMITIVE) else raw


def _number(text: str, integer: bool) -> float | int | None:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        return None


def _range(stage: str, fixed: dict[str, str], key: str, kind: str, value: str) -> dict[str, Any]:
    body, _, option = value.partition(":")
    low_text, _, high_text = body.partition("..")
    integer = kind == "int"
    low, high = _number(low_text.strip(), integer), _number(high_text.strip(), integer)
    bad = low is None or high is None or option.strip() not in ("", "log")
    if low is not None and high is not None and not bad:
        bad = not (math.isfinite(low) and math.isfinite(high) and low < high) or (option.strip() == "log" and low <= 0)
    if bad:
        what = "integers" if integer else "numbers"
        raise ConfigError(f"invalid range for {key}: {value!r} (allowed: LOW..HIGH or LOW..HIGH:log, {what} with "
                          "LOW < HIGH, LOW > 0 for :log; e.g. " + ("epochs=5..20" if integer else "lr=0.001..1:log")
                          + ")")
    for end in (low_text.strip(), high_text.strip()):
        resolve_config(stage, {**fixed, key: end})
    return {"type": kind, "low": low, "high": high, "log": option.strip() == "log"}


def parse_space(stage: str, items: list[str]) -> Space:
    """Parse and check KEY=... arguments; ConfigError (one line) on anything wrong, before any run."""
    spec_keys = get_stage(stage).keys
    raw: dict[str, str] = {}
    for item in items:
        key, value = split_assignment(item)
        if key in raw:
            raise ConfigError(f"key {key} is given twice in the sweep (give each key once, e.g. {key}=a,b)")
        if key not in spec_keys:
            resolve_config(stage, {key: value})  # the usual one-line "unknown key" error
        raw[key] = value.strip()
    space = Space(stage)
    for key, value in raw.items():  # single values first: every other value is checked together with them
        a_range = ".." in value and spec_keys[key].kind in ("int", "float")
        if not any(mark in value for mark in (",", "|")) and not a_range:
            space.fixed[key] = value
    resolve_config(stage, space.fixed)
    for key, value in raw.items():
        if key in space.fixed:
            continue
        kind = spec_keys[key].kind
        if "|" in value:
            parts = [p.strip() for p in value.split("|")]
            if any(not p for p in parts) or len(set(parts)) != len(parts):
                raise ConfigError(f"invalid choice for {key}: {value!r} (allowed: distinct values joined by '|', "
                                  f"e.g. {key}=a|b|c)")
            space.params[key] = {"type": "choice", "values": [_typed(stage, space.fixed, key, p) for p in parts],
                                 "raw": parts}
        elif ".." in value and kind in ("int", "float") and "," not in value:
            space.params[key] = _range(stage, space.fixed, key, kind, value)
        else:
            parts = [p.strip() for p in value.split(",")]
            if any(not p for p in parts):
                raise ConfigError(f"invalid value for {key}: {value!r} (allowed: comma-separated values, "
                                  f"e.g. {key}=a,b)")
            space.params[key] = {"type": "grid", "values": [_typed(stage, space.fixed, key, p) for p in parts],
                                 "raw": parts}
    if space.kind == "grid":  # every combination is checked as a whole (e.g. cross-key rules)
        for point in space.grid_points():
            resolve_config(stage, {**space.fixed, **point})
    return space


def raw_value(spec: dict[str, Any], value: Any) -> str:
    """How a parameter value is written in a run's name: as the user typed it for lists and choices."""
    if "raw" in spec and value in spec["values"]:
        return str(spec["raw"][spec["values"].index(value)])
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def suggest(trial: Any, space_json: dict[str, Any]) -> dict[str, Any]:
    """Ask the trial for each parameter (an enqueued grid point or a retried trial gives its fixed values)."""
    params: dict[str, Any] = {}
    for key, spec in space_json["params"].items():
        if spec["type"] in ("grid", "choice"):
            params[key] = trial.suggest_categorical(key, spec["values"])
        elif spec["type"] == "int":
            params[key] = trial.suggest_int(key, int(spec["low"]), int(spec["high"]), log=bool(spec["log"]))
        else:
            params[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]), log=bool(spec["log"]))
    return params
