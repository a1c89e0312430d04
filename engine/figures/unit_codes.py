"""The format of a units-eNNNN artifact's maps (written by engine.mlp.runner._units), read back: numpy only,
so the TUI reads it without loading matplotlib."""
from __future__ import annotations

from typing import Any

import numpy as np


def unit_maps(artifact: dict[str, Any]) -> np.ndarray:
    """n_h x n x n tanh outputs (rows = y) from the artifact's hex strings: two hex digits a point, the value
    round(scale * tanh) + scale."""
    n, scale = int(artifact.get("n", 20)), float(artifact.get("scale", 100))
    maps = [np.frombuffer(bytes.fromhex(code), dtype=np.uint8).astype(np.float64) for code in artifact["maps"]]
    return (np.stack(maps).reshape(len(maps), n, n) - scale) / scale


def by_weight(artifact: dict[str, Any]) -> list[int]:
    """The units, the largest output weight (|w_y|) first; in index order when the weights are missing."""
    count = len(artifact["maps"])
    weight = np.asarray(artifact.get("out_weight") or [], dtype=float)
    if len(weight) != count:
        return list(range(count))
    return np.argsort(-weight, kind="stable").tolist()
