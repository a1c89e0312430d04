"""Load a course .mat file (circles.mat, mnist.mat): keys Xtrain, Ytrain, Xtest, Ytest.

X is N x n_x; Y is either one-hot N x n_y (the course's format) or a vector of
integer labels 0..n_y-1. X stored as uint8 is scaled to [0, 1]; anything else is
used as is. Every problem is a ConfigError naming the `dataset` key.
"""
from __future__ import annotations

import os

import numpy as np

from engine.config import ConfigError
from engine.data.dataset import Dataset, numbered

KEYS = ("Xtrain", "Ytrain", "Xtest", "Ytest")
EXPECTED = "expected a course .mat file with Xtrain, Ytrain, Xtest, Ytest"


def _fail(path: str, why: str) -> ConfigError:
    why = " ".join(str(why).split())[:160]  # one line
    return ConfigError(f"invalid value for dataset: {path!r} ({why}; {EXPECTED})")


def _features(path: str, key: str, value: np.ndarray) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.ndim != 2 or value.shape[0] == 0 \
            or value.dtype.kind not in "biuf":
        raise _fail(path, f"{key} must be a non-empty numeric N x n_x matrix")
    x = value.astype(np.float64) / 255.0 if value.dtype == np.uint8 else value.astype(np.float64)
    if not np.isfinite(x).all():
        raise _fail(path, f"{key} has non-finite values")
    return x


def _labels(path: str, key: str, value: np.ndarray, n: int) -> tuple[np.ndarray, int | None]:
    """-> (int64 labels, n_y if one-hot else None)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf" or value.size == 0:
        raise _fail(path, f"{key} must be numeric")
    if value.ndim == 2 and value.shape[0] == n and value.shape[1] > 1:  # one-hot
        ok = np.isin(value, (0, 1)).all() and (value.sum(axis=1) == 1).all()
        if not ok:
            raise _fail(path, f"{key} must be one-hot (one 1 per row)")
        return value.argmax(axis=1).astype(np.int64), value.shape[1]
    flat = value.reshape(-1)
    if value.ndim > 2 or flat.shape[0] != n:
        raise _fail(path, f"{key} has {flat.shape[0] if value.ndim <= 2 else value.shape} labels "
                          f"for {n} rows of X")
    if (flat < 0).any() or (flat != np.round(flat)).any():
        raise _fail(path, f"{key} labels must be integers >= 0")
    return flat.astype(np.int64), None


def load_mat(path: str) -> Dataset:
    """x float64, y int64; the data set's name is the path."""
    import scipy.io

    if not os.path.isfile(path):
        raise _fail(path, "file not found" if not os.path.exists(path) else "not a file")
    try:
        data = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises many kinds (MatReadError, ValueError, ...)
        raise _fail(path, f"not a readable MATLAB .mat file: {exc}") from None
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise _fail(path, "missing key" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    x_train = _features(path, "Xtrain", data["Xtrain"])
    x_test = _features(path, "Xtest", data["Xtest"])
    if x_train.shape[1] != x_test.shape[1]:
        raise _fail(path, f"Xtrain has {x_train.shape[1]} columns but Xtest {x_test.shape[1]}")
    y_train, ny_train = _labels(path, "Ytrain", data["Ytrain"], x_train.shape[0])
    y_test, ny_test = _labels(path, "Ytest", data["Ytest"], x_test.shape[0])
    if ny_train is not None and ny_test is not None and ny_train != ny_test:
        raise _fail(path, f"Ytrain has {ny_train} classes but Ytest {ny_test}")
    n_classes = max(ny_train or 0, ny_test or 0, int(y_train.max()) + 1, int(y_test.max()) + 1)
    if n_classes < 2:
        raise _fail(path, "the labels must name at least 2 classes")
    return Dataset(path, x_train, y_train, x_test, y_test, numbered(n_classes))
