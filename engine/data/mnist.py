"""MNIST and Fashion-MNIST: two sets of 28 x 28 grey images in the same IDX files (60,000 train, 10,000 test,
10 classes), read by torchvision (MNIST, FashionMNIST) from <data_dir>/MNIST/raw and
<data_dir>/FashionMNIST/raw, each file unpacked or as its .gz, and downloaded there when missing.

Two forms:
    load_mnist(data_dir, name)          flat features for the MLP: x float32 in [0, 1], 784 per image, y int64,
                                        and the uint8 28 x 28 test images for the sample predictions
    load_mnist_images(data_dir, name)   the CNN stages' 32 x 32 x 3 images: each 28 x 28 image padded with
                                        2 black pixels on every side and its grey repeated in 3 channels, so
                                        the lab's network (and its parameter count) is the same as on
                                        CIFAR-10; uint8, channels-last, as CIFAR-10's are

Horizontal flips: allowed for Fashion-MNIST (a mirrored shoe or shirt is the same class), not for MNIST (a
mirrored 2 is no digit).
"""
from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.data.dataset import Dataset, numbered
from engine.data.network import DOWNLOAD_URLS, probe

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot")  # torchvision's FashionMNIST.classes (a test keeps them equal)


@dataclass(frozen=True)
class IdxSet:
    name: str  # the config's dataset value
    title: str
    folder: str  # torchvision's folder under the data dir (its class name); the files are in <folder>/raw
    torchvision_class: str
    classes: tuple[str, ...]
    mirror_ok: bool


IDX_SETS = {
    "mnist": IdxSet("mnist", "MNIST", "MNIST", "MNIST", numbered(10), mirror_ok=False),
    "fashion-mnist": IdxSet("fashion-mnist", "Fashion-MNIST", "FashionMNIST", "FashionMNIST", FASHION_CLASSES,
                            mirror_ok=True),
}
PAD = 2  # 28 + 2 * 2 = 32: the lab's CNN input


def raw_folder(data_dir: str, name: str) -> str:
    return os.path.join(data_dir, IDX_SETS[name].folder, "raw")


def _split(data_dir: str, which: IdxSet, train: bool, download: bool) -> Any:
    import torchvision.datasets

    # torchvision reports download progress on stdout, which `--json` keeps for its one object.
    with contextlib.redirect_stdout(sys.stderr):
        return getattr(torchvision.datasets, which.torchvision_class)(root=data_dir, train=train, download=download)


def _missing(data_dir: str, which: IdxSet, why: str) -> ConfigError:
    raw = os.path.abspath(raw_folder(data_dir, which.name))
    lines = [line.strip() for line in why.splitlines() if line.strip()]
    why = (lines[-1] if lines else "unknown error")[:120]
    return ConfigError(
        f"invalid value for dataset: {which.name!r} ({which.title} is not in {raw} and could not be downloaded: "
        f"{why}; put {', '.join(MNIST_FILES)} (or their .gz) there, or use dataset=digits, which works offline)"
    )


def _unpack_present_gz(data_dir: str, name: str) -> bool:
    """Each file missing unpacked but present as its .gz is unpacked beside it (written to a temporary name,
    then renamed: a reader never sees half a file). True when all four unpacked files are then there.
    torchvision would unpack them too, but only after checking the official md5 sums and downloading again
    on a mismatch; here the .gz files are used as they are, offline."""
    raw = raw_folder(data_dir, name)
    for file in MNIST_FILES:
        target, packed = os.path.join(raw, file), os.path.join(raw, f"{file}.gz")
        if os.path.isfile(target) or not os.path.isfile(packed):
            continue
        partial = f"{target}.part-{os.getpid()}"
        try:
            with gzip.open(packed, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(partial, target)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise _missing(data_dir, IDX_SETS[name], f"cannot unpack {file}.gz: {exc}") from None
    return all(os.path.isfile(os.path.join(raw, file)) for file in MNIST_FILES)


def _load_splits(data_dir: str, name: str) -> dict[bool, Any]:
    """torchvision's train and test splits: the files on disk, else the download."""
    which = IDX_SETS[name]
    unpacked = _unpack_present_gz(data_dir, name)
    splits = {}
    for train in (True, False):
        try:
            splits[train] = _split(data_dir, which, train, download=False)
        except RuntimeError:  # "Dataset not found": try the download
            if not unpacked:
                reached, _tried = probe(DOWNLOAD_URLS[name])
                if reached is None:  # offline: say so in 2 s, not after torchvision's 18-20 s of retries
                    raise _missing(data_dir, which, "no download host answered; `nnlab data import` takes a "
                                                    "pack or the official files") from None
            try:
                splits[train] = _split(data_dir, which, train, download=True)
            except Exception as exc:  # URLError, RuntimeError, OSError, md5 mismatch ...
                raise _missing(data_dir, which, str(exc) or type(exc).__name__) from None
    return splits


def load_mnist(data_dir: str, name: str = "mnist") -> Dataset:
    """MNIST or Fashion-MNIST as flat features (the MLP stages)."""
    splits = _load_splits(data_dir, name)
    train_images = splits[True].data.numpy()
    test_images = splits[False].data.numpy()
    return Dataset(
        name,
        train_images.reshape(len(train_images), -1).astype(np.float32) / 255.0,
        splits[True].targets.numpy().astype(np.int64),
        test_images.reshape(len(test_images), -1).astype(np.float32) / 255.0,
        splits[False].targets.numpy().astype(np.int64),
        IDX_SETS[name].classes, test_images=test_images.astype(np.uint8), mirror_ok=IDX_SETS[name].mirror_ok,
    )


def load_mnist_images(data_dir: str, name: str) -> Dataset:
    """MNIST or Fashion-MNIST as the CNN stages' uint8 N x 3 x 32 x 32 images (channels-last in memory)."""
    import torch

    splits = _load_splits(data_dir, name)
    which = IDX_SETS[name]
    return Dataset(name, lab_images(splits[True].data), splits[True].targets.to(torch.int64),
                   lab_images(splits[False].data), splits[False].targets.to(torch.int64), which.classes,
                   mirror_ok=which.mirror_ok)


def lab_images(grey: Any) -> Any:
    """uint8 N x 28 x 28 grey images -> the CNN's uint8 N x 3 x 32 x 32 (channels-last): padded with PAD
    black pixels per side, the grey repeated in the 3 channels."""
    import torch
    import torch.nn.functional as F

    padded = F.pad(grey.to(torch.uint8).unsqueeze(1), (PAD, PAD, PAD, PAD))  # N x 1 x 32 x 32
    return padded.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)
