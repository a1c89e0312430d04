"""What the figures of a network's inside (engine.inside: gradients, activations, filters, features) share:
the artifact a kind needs (a run without it is one line, exit 2), the epochs chosen with `--epochs` among
those recorded, and the image chosen with `--image`."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from engine.config import ConfigError
from engine.store import LoadedRun

MAX_EPOCHS = 6  # snapshots drawn at once: more would shrink every tile below reading size

WHAT = {"gradients": "gradient flow", "activations": "activations", "filters": "conv1 filters",
        "features": "feature maps"}
MAPS = ("filters", "features")


def _runner(stage: str) -> str:
    from engine.stages import get_stage

    try:
        return get_stage(stage).runner
    except ConfigError:
        return ""


def missing(run: LoadedRun, kind: str) -> ConfigError:
    """The one-line error of a run that lacks what `--kind kind` draws, with the likely reason."""
    runner, inspect = _runner(str(run.record.stage)), run.config.get("inspect")
    if ".svm" in runner:
        why = "an SVM has no layers to record"
    elif kind in MAPS and runner and ".cnn" not in runner:
        why = "only the CNN stages record them"
    elif inspect == "off":
        why = "it ran with inspect=off"
    elif kind in MAPS and inspect == "light":
        why = "it ran with inspect=light, which keeps no maps"
    else:
        why = "it was made before they were recorded, or the artifact is damaged"
    allowed = ("runs of the cifar stages with inspect=full" if kind in MAPS
               else "runs of the MLP and CNN stages with inspect=full or light")
    return ConfigError(f"invalid value for --kind: {kind!r} for run {run.record.id}: it holds no {WHAT[kind]}, as "
                       f"{why} (allowed: {allowed})")


def series_artifact(run: LoadedRun, artifacts: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    """The run's gradients or activations artifact, checked for the fields the figures read."""
    art = artifacts.get(kind)
    if not isinstance(art, dict) or art.get("kind") != kind or not isinstance(art.get("epochs"), list) \
            or not art["epochs"] or not isinstance(art.get("layers"), list):
        raise missing(run, kind)
    return art


def snapshots(artifacts: dict[str, dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The run's <kind>-eNNNN artifacts (filters, features), by epoch."""
    found = [a for stem, a in artifacts.items() if stem.startswith(f"{kind}-e") and a.get("kind") == kind
             and isinstance(a.get("epoch"), int)]
    return sorted(found, key=lambda a: int(a["epoch"]))


def pick_epochs(text: str | None, recorded: Sequence[int], run_id: str, limit: int = MAX_EPOCHS) -> list[int]:
    """`--epochs` ("1,10,30": recorded epochs, comma-separated, at most `limit`) -> the epochs, ascending;
    None -> the first and the last recorded. ConfigError (one line) for anything else."""
    recorded = sorted(set(int(e) for e in recorded))
    if text is None:
        return sorted({recorded[0], recorded[-1]}) if recorded else []
    shown = ", ".join(str(e) for e in recorded)
    if len(recorded) > 12:
        shown = ", ".join(str(e) for e in recorded[:5]) + ", ..., " + ", ".join(str(e) for e in recorded[-3:])
    bad = ConfigError(f"invalid value for --epochs: {text!r} (allowed: up to {limit} of the epochs recorded for run "
                      f"{run_id}, comma-separated: {shown})")
    chosen = []
    for word in text.split(","):
        word = word.strip()
        if not (word.isascii() and word.isdigit()) or int(word) not in recorded:
            raise bad
        chosen.append(int(word))
    chosen = sorted(set(chosen))
    if not chosen or len(chosen) > limit:
        raise bad
    return chosen


def pick_image(text: str | None, count: int, run_id: str) -> int:
    """`--image N`: a position among the `count` images whose feature maps were recorded (default 0)."""
    if text is None:
        return 0
    word = str(text).strip()
    if not (word.isascii() and word.isdigit()) or int(word) >= count:
        raise ConfigError(f"invalid value for --image: {text!r} (allowed: 0 to {count - 1}, the position among the "
                          f"{count} images whose feature maps run {run_id} recorded)")
    return int(word)


def grid_shape(count: int, cols: int) -> tuple[int, int]:
    """(rows, cols) of a grid holding `count` tiles at most `cols` wide."""
    cols = max(1, min(cols, count))
    return math.ceil(count / cols), cols
