"""The embedded "Circles" data set and the course's decision-boundary grid.

The course ships circles.mat; nnlab generates its own copy with the same
statistics: 200 train and 200 test points, 100 per class per split.
Class 0 is an outer ring, radius ~ N(1.02, 0.20) clipped to [0.50, 1.73];
class 1 an inner disc, radius ~ N(0.39, 0.17) clipped to [0.01, 0.91]; the
angle is uniform. The seed is fixed and independent of the run's seed: the
embedded data set is always the same points.
"""
from __future__ import annotations

import numpy as np

from engine.data.dataset import Dataset, numbered

CIRCLES_SEED = 0  # fixed: the embedded data set never changes
PER_CLASS = 100
RING = (1.02, 0.20, 0.50, 1.73)  # class 0: mean, sd, min, max of the radius
DISC = (0.39, 0.17, 0.01, 0.91)  # class 1

GRID_LO, GRID_HI, GRID_N = -2.0, 2.0, 40  # x, y = -2 + 0.1 * i, i = 0..39


def _class_points(rng: np.random.Generator, radius: tuple[float, float, float, float], n: int) -> np.ndarray:
    mean, sd, lo, hi = radius
    r = np.clip(rng.normal(mean, sd, n), lo, hi)
    theta = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def _split(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([_class_points(rng, RING, PER_CLASS), _class_points(rng, DISC, PER_CLASS)])
    y = np.repeat(np.arange(2, dtype=np.int64), PER_CLASS)
    return x, y


def make_circles() -> Dataset:
    """The embedded data set: x float64 N x 2, y int64 labels, ordered by class like the course file."""
    rng = np.random.default_rng(CIRCLES_SEED)
    x_train, y_train = _split(rng)
    x_test, y_test = _split(rng)
    return Dataset("circles", x_train, y_train, x_test, y_test, numbered(2))


def course_grid() -> np.ndarray:
    """The 40 x 40 grid over [-2, 2)^2 as (1600, 2) points, y-major: point k is
    (x[k % 40], y[k // 40]), so a reshape to (40, 40) gives rows = y, cols = x."""
    ticks = GRID_LO + (GRID_HI - GRID_LO) / GRID_N * np.arange(GRID_N)
    gx, gy = np.meshgrid(ticks, ticks)  # gx[row, col] = ticks[col], gy[row, col] = ticks[row]
    return np.stack([gx.ravel(), gy.ravel()], axis=1)
