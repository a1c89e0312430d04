"""Causal smoothing of curves (pure, no UI): what Compare draws over the raw curve."""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def ema(values: Iterable[float | None], weight: float) -> list[float | None]:
    """Causal exponential moving average with TensorBoard's debiasing.

    weight 0 returns the values unchanged; 0.9 is heavy smoothing. Point i depends only on
    points 0..i (causal). Non-finite or missing values stay None and are skipped.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError("weight must be in [0, 1)")
    out: list[float | None] = []
    acc = 0.0
    n = 0
    for v in values:
        if v is None or not isinstance(v, (int, float)) or not math.isfinite(v):
            out.append(None)
            continue
        n += 1
        acc = acc * weight + (1.0 - weight) * float(v)
        out.append(acc / (1.0 - weight ** n) if weight > 0 else float(v))
    return out


def finite_points(xs: Sequence[float], ys: Sequence[float | None], positive: bool = False) -> tuple[list, list]:
    """Pairs whose y is a finite number (and > 0 when positive, for a log axis)."""
    px, py = [], []
    for x, y in zip(xs, ys):
        if y is None or not isinstance(y, (int, float)) or not math.isfinite(y) or (positive and y <= 0):
            continue
        px.append(x)
        py.append(float(y))
    return px, py
