"""MNIST (torchvision, downloaded into the data dir) and its offline stand-in,
scikit-learn's bundled 8 x 8 digits.

Both return {"x_train", "y_train", "x_test", "y_test", "n_classes",
"image_shape", "test_images"}: x float32 in [0, 1], flattened (784 or 64);
y int64; test_images the test set as uint8 grayscale (N x H x W) for the
sample-predictions artifact.
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from engine.config import ConfigError

DIGITS_SPLIT_SEED = 0  # fixed: the digits train/test split never changes
DIGITS_TEST_FRACTION = 0.25
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _mnist_split(root: str, train: bool, download: bool):
    from torchvision.datasets import MNIST

    # torchvision reports download progress on stdout, which `--json` keeps for its one object.
    with contextlib.redirect_stdout(sys.stderr):
        return MNIST(root=root, train=train, download=download)


def _missing_mnist(data_dir: str, why: str) -> ConfigError:
    raw = os.path.join(os.path.abspath(data_dir), "MNIST", "raw")
    lines = [line.strip() for line in why.splitlines() if line.strip()]
    why = (lines[-1] if lines else "unknown error")[:100]
    return ConfigError(
        f"invalid value for dataset: 'mnist' (MNIST is not in {raw} and could not be downloaded: {why}; "
        f"put {', '.join(MNIST_FILES)} (or their .gz) there, or use dataset=digits, which works offline)"
    )


def load_mnist(data_dir: str) -> dict:
    """The files under <data_dir>/MNIST/raw when present, else torchvision's download."""
    splits = {}
    for train in (True, False):
        try:
            splits[train] = _mnist_split(data_dir, train, download=False)
        except RuntimeError:  # "Dataset not found": try the download (also unpacks present .gz files)
            try:
                splits[train] = _mnist_split(data_dir, train, download=True)
            except Exception as exc:  # URLError, RuntimeError, OSError, md5 mismatch ...
                raise _missing_mnist(data_dir, str(exc) or type(exc).__name__) from None
    train_images = splits[True].data.numpy()
    test_images = splits[False].data.numpy()
    return {
        "x_train": train_images.reshape(len(train_images), -1).astype(np.float32) / 255.0,
        "y_train": splits[True].targets.numpy().astype(np.int64),
        "x_test": test_images.reshape(len(test_images), -1).astype(np.float32) / 255.0,
        "y_test": splits[False].targets.numpy().astype(np.int64),
        "n_classes": 10, "image_shape": (28, 28), "test_images": test_images.astype(np.uint8),
    }


def load_digits_data() -> dict:
    """scikit-learn's 1,797 8 x 8 digits (values 0..16 scaled to [0, 1]), split 75/25
    stratified with a fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, stratify=y, random_state=DIGITS_SPLIT_SEED)
    images = np.rint(x_test.reshape(-1, 8, 8) * 255.0).astype(np.uint8)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test,
            "n_classes": 10, "image_shape": (8, 8), "test_images": images}
