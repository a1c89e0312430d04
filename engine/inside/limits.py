"""How the recordings are read: the quantile levels, the saturation of tanh and the thresholds of the gradient
flow's flags, with flag() itself. No torch here: the TUI and the figures import it."""
from __future__ import annotations

from collections.abc import Sequence

QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
SATURATED = 0.97  # |tanh| above this: the unit's gradient (1 - tanh^2) is below 0.06
VANISHING = 1e-6  # an update this small against the weights: the layer has stopped learning
EXPLODING = 0.3  # a single step moving the weights by this much of their size: the layer is thrown around
FLAG_EPOCHS = 3  # flags read the median of the last few epochs, not one noisy step


def flag(ratios: Sequence[float]) -> str:
    """"vanishing", "exploding" or "" for a layer's update ratios over the epochs (the median of the last
    FLAG_EPOCHS; a non-finite value is exploding)."""
    recent = [float(r) for r in ratios[-FLAG_EPOCHS:]]
    if not recent:
        return ""
    if any(r != r or r in (float("inf"), float("-inf")) for r in recent):
        return "exploding"
    middle = sorted(recent)[len(recent) // 2]
    if middle < VANISHING:
        return "vanishing"
    if middle > EXPLODING:
        return "exploding"
    return ""
