"""The command that reproduces a run: `nnlab run STAGE key=value ...` built from its saved config.

Only the keys that differ from the stage's preset are written (the preset supplies the rest), unless
`every_key` asks for all of them. Values are written so that the config parser reads back exactly the
saved value (floats by repr, booleans as true/false), and quoted for a POSIX shell where needed.
"""
from __future__ import annotations

import shlex
from typing import Any

from engine.config import inapplicable
from engine.stages import get_stage


def format_value(value: Any) -> str:
    """A config value as the command line writes it; the parser reads it back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def differing_assignments(config: dict[str, Any], every_key: bool = False) -> dict[str, str]:
    """key -> value text of the config's settable keys that differ from the stage's preset (or all: the
    exact config, for the process that trains it). Without every_key, a key that does nothing in this config
    (engine.config.inapplicable: momentum with optimizer=sgd) is left out."""
    stage = get_stage(str(config["stage"]))
    skip = {} if every_key else inapplicable(config)
    out: dict[str, str] = {}
    for key in stage.keys:
        if key not in config or key in skip:
            continue
        value = config[key]
        if every_key or key not in stage.defaults or stage.defaults[key] != value:
            out[key] = format_value(value)
    return out


def reproduce_command(config: dict[str, Any], every_key: bool = False, program: str = "nnlab") -> str:
    """`nnlab run STAGE key=value ...`: running it trains the same computation as the saved run."""
    parts = [program, "run", str(config["stage"])]
    parts += [shlex.quote(f"{k}={v}") for k, v in differing_assignments(config, every_key).items()]
    return " ".join(parts)
