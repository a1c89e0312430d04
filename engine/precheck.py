"""Cheap checks of a resolved config against its data, before anything starts (no torch, no data loaded):
a course .mat file exists and is a readable MATLAB file with the four arrays; the batch size fits the
training set. Each problem is the ConfigError, word for word, that starting the run would raise later (after
seconds of loading), so a front end can say it at once: the Lab form as you type, the CLI before it loads.

    precheck(config) -> None        raises ConfigError
    train_size(config) -> int|None  the training-set size, when it is known without loading the data
"""
from __future__ import annotations

import os
from typing import Any

from engine.config import ConfigError

# training-set sizes of the built-in data sets (fixed splits; tests/test_precheck checks them against the loaders)
TRAIN_SIZES = {"circles": 200, "mnist": 60_000, "cifar10": 50_000}
DIGITS_TRAIN = {"features": 1_347, "images": 1_348}  # the flat 8x8 digits (MLP, SVM) / the 32x32 ones (CNN)


def is_cnn(config: dict[str, Any]) -> bool:
    return str(config.get("stage", "")).startswith("cifar")


def mat_rows(path: str) -> int:
    """Rows of Xtrain in a course .mat file, read from its header; raises the loader's ConfigError."""
    # the loader's own messages; it imports numpy and scipy, which a front end loads only for a .mat path
    import scipy.io

    from engine.data.mat import KEYS, _fail

    if not os.path.isfile(path):
        raise _fail(path, "file not found" if not os.path.exists(path) else "not a file")
    try:
        shapes = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
    except Exception as exc:  # scipy raises many kinds (MatReadError, ValueError, IndexError ...)
        raise _fail(path, f"not a readable MATLAB .mat file: {exc}") from None
    missing = [k for k in KEYS if k not in shapes]
    if missing:
        raise _fail(path, "missing key" + ("s " if len(missing) > 1 else " ") + ", ".join(missing))
    rows = shapes["Xtrain"]
    return int(rows[0]) if rows else 0


def train_size(config: dict[str, Any]) -> int | None:
    """Training examples the run will have (after limit_train), or None when only loading would tell."""
    dataset = str(config.get("dataset", ""))
    if dataset.lower().endswith(".mat"):
        n: int | None = mat_rows(dataset)
    elif dataset == "digits":
        n = DIGITS_TRAIN["images" if is_cnn(config) else "features"]
    else:
        n = TRAIN_SIZES.get(dataset)
    limit = int(config.get("limit_train", 0) or 0)
    if n is not None and limit:
        n = min(n, limit)
    return n


def batch_size_error(batch_size: int, n_train: int, cnn: bool) -> ConfigError:
    """What the stage's runner says of a batch larger than the training set (engine.mlp.runner, engine.cnn.runner)."""
    if cnn:
        return ConfigError(f"invalid value for batch_size: {batch_size} is larger than the "
                           f"training set ({n_train} examples; allowed: 1 to {n_train})")
    return ConfigError(f"invalid value for batch_size: '{batch_size}' (allowed: an integer >= 1 and "
                       f"<= {n_train}, the training-set size)")


def precheck(config: dict[str, Any]) -> None:
    """Raise the ConfigError that starting this (already resolved) config would raise over its data, if any
    of the cheap checks finds one."""
    n = train_size(config)
    batch = config.get("batch_size")
    if n is not None and isinstance(batch, int) and not isinstance(batch, bool) and batch > n:
        raise batch_size_error(batch, n, is_cnn(config))
