"""Image data for the CNN stages: CIFAR-10, or scikit-learn's digits as an offline stand-in.

Both come back whole, as uint8 image tensors of shape N x 3 x 32 x 32 (stored channels-last:
the pixel bytes are torchvision's N x 32 x 32 x 3 array, not copied) and int64 labels.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Any

from engine.config import ConfigError

CIFAR_FOLDER = "cifar-10-batches-py"
DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0
DIGIT_SIZE = 24


@dataclass
class ImageData:
    train_x: Any  # torch.uint8, N x 3 x 32 x 32
    train_y: Any  # torch.int64, N
    test_x: Any
    test_y: Any
    classes: list[str]
    name: str
    mirror_ok: bool = True  # a horizontal flip keeps the label (natural images: yes; digits: no)


def load_images(config: dict[str, Any], data_dir: str) -> ImageData:
    """The dataset named by config["dataset"], cut to limit_train / limit_test (0: all)."""
    name = config.get("dataset", "cifar10")
    if name == "cifar10":
        data = load_cifar10(data_dir, download=True)
    elif name == "digits":
        data = load_digits32()
    else:
        raise ConfigError(f"invalid value for dataset: {name!r} (allowed: cifar10, digits)")
    return limit(data, int(config.get("limit_train", 0) or 0), int(config.get("limit_test", 0) or 0))


def limit(data: ImageData, n_train: int, n_test: int) -> ImageData:
    """Keep the first n_train / n_test examples (0: keep all)."""
    if n_train:
        data.train_x, data.train_y = data.train_x[:n_train], data.train_y[:n_train]
    if n_test:
        data.test_x, data.test_y = data.test_x[:n_test], data.test_y[:n_test]
    return data


def _missing_message(data_dir: str, why: str) -> str:
    folder = os.path.join(os.path.abspath(data_dir), CIFAR_FOLDER)
    return (f"CIFAR-10 not found and could not be downloaded ({why}): put the python version's files "
            f"(data_batch_1..5, test_batch, batches.meta) in {folder}/ or use dataset=digits, which works offline")


def _cifar_class():
    """torchvision's CIFAR10 that checks the batch files exist instead of hashing ~180 MB per run
    (a damaged file still fails to unpickle, and that is reported)."""
    from torchvision.datasets import CIFAR10

    class PresentCIFAR10(CIFAR10):
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return CIFAR10, PresentCIFAR10


def load_cifar10(data_dir: str, download: bool = True) -> ImageData:
    """<data_dir>/cifar-10-batches-py/ when present; else torchvision's download (when allowed and
    the network works); else ConfigError naming where the files go."""
    import numpy as np
    import torch

    CIFAR10, Present = _cifar_class()
    folder = os.path.join(data_dir, CIFAR_FOLDER)
    expected = [name for name, _ in Present.train_list + Present.test_list] + [Present.meta["filename"]]
    if not all(os.path.isfile(os.path.join(folder, name)) for name in expected):
        if not download:
            raise ConfigError(_missing_message(data_dir, "download disabled"))
        try:
            os.makedirs(data_dir, exist_ok=True)
            # torchvision prints progress on stdout, which belongs to `nnlab run --json`.
            with contextlib.redirect_stdout(sys.stderr):
                CIFAR10(data_dir, train=False, download=True)
        except Exception as exc:  # no network, proxy, disk full, bad archive...
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(_missing_message(data_dir, why[:120])) from None
    try:
        train, test = Present(data_dir, train=True), Present(data_dir, train=False)
    except Exception as exc:
        raise ConfigError(f"cannot read CIFAR-10 in {os.path.abspath(folder)}/ "
                          f"({type(exc).__name__}: {str(exc)[:100]}); replace the files or use dataset=digits") from None

    def images(ds) -> "torch.Tensor":  # N x 32 x 32 x 3 bytes, viewed as N x 3 x 32 x 32
        return torch.from_numpy(np.ascontiguousarray(ds.data, dtype=np.uint8)).permute(0, 3, 1, 2)

    def labels(ds) -> "torch.Tensor":
        return torch.as_tensor(np.asarray(ds.targets, dtype=np.int64))

    return ImageData(images(train), labels(train), images(test), labels(test), list(train.classes), "cifar10")


def load_digits32(test_fraction: float = DIGITS_TEST_FRACTION, seed: int = DIGITS_SPLIT_SEED,
                  digit_size: int = DIGIT_SIZE) -> ImageData:
    """scikit-learn's 1,797 bundled 8x8 digits, upscaled (bilinear) to digit_size and centred on a
    black 32x32 canvas (as MNIST centres 20x20 digits in 28x28, so 28x28 crops keep the whole
    digit), grey replicated to 3 channels, 0-255 uint8; a fixed-seed split (1,348 train / 449
    test by default)."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) * (255.0 / 16.0)
    x = F.interpolate(x, size=(digit_size, digit_size), mode="bilinear", align_corners=False)
    pad = (32 - digit_size) // 2
    x = F.pad(x, (pad, 32 - digit_size - pad) * 2)
    x = x.round().clamp_(0, 255).to(torch.uint8)
    x = x.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)
    y = torch.as_tensor(digits.target, dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return ImageData(x[train], y[train], x[test], y[test], [str(i) for i in range(10)], "digits",
                     mirror_ok=False)
