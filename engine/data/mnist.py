"""MNIST (torchvision, downloaded into the data dir) as flat features: x float32 in [0, 1]
(784 per image), y int64, and the uint8 28 x 28 test images for the sample predictions."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.data.dataset import Dataset, numbered
from engine.data.network import DOWNLOAD_URLS, probe

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _mnist_split(root: str, train: bool, download: bool) -> Any:
    from torchvision.datasets import MNIST

    # torchvision reports download progress on stdout, which `--json` keeps for its one object.
    with contextlib.redirect_stdout(sys.stderr):
        return MNIST(root=root, train=train, download=download)


def _missing_mnist(data_dir: str, why: str) -> ConfigError:
    raw = os.path.join(os.path.abspath(data_dir), "MNIST", "raw")
    lines = [line.strip() for line in why.splitlines() if line.strip()]
    why = (lines[-1] if lines else "unknown error")[:120]
    return ConfigError(
        f"invalid value for dataset: 'mnist' (MNIST is not in {raw} and could not be downloaded: {why}; "
        f"put {', '.join(MNIST_FILES)} (or their .gz) there, or use dataset=digits, which works offline)"
    )


def _gz_present(data_dir: str) -> bool:
    """All four .gz files are in MNIST/raw: torchvision's "download" only unpacks them, no network needed."""
    raw = os.path.join(data_dir, "MNIST", "raw")
    return all(os.path.isfile(os.path.join(raw, f"{name}.gz")) for name in MNIST_FILES)


def load_mnist(data_dir: str) -> Dataset:
    """The files under <data_dir>/MNIST/raw when present, else torchvision's download."""
    splits = {}
    for train in (True, False):
        try:
            splits[train] = _mnist_split(data_dir, train, download=False)
        except RuntimeError:  # "Dataset not found": try the download (also unpacks present .gz files)
            if not _gz_present(data_dir):
                reached, tried = probe(DOWNLOAD_URLS["mnist"])
                if reached is None:  # offline: say so in 2 s, not after torchvision's 18-20 s of retries
                    raise _missing_mnist(data_dir, "no download host answered; `nnlab data import` takes a pack "
                                                   "or the official files") from None
            try:
                splits[train] = _mnist_split(data_dir, train, download=True)
            except Exception as exc:  # URLError, RuntimeError, OSError, md5 mismatch ...
                raise _missing_mnist(data_dir, str(exc) or type(exc).__name__) from None
    train_images = splits[True].data.numpy()
    test_images = splits[False].data.numpy()
    return Dataset(
        "mnist",
        train_images.reshape(len(train_images), -1).astype(np.float32) / 255.0,
        splits[True].targets.numpy().astype(np.int64),
        test_images.reshape(len(test_images), -1).astype(np.float32) / 255.0,
        splits[False].targets.numpy().astype(np.int64),
        numbered(10), test_images=test_images.astype(np.uint8),
    )
