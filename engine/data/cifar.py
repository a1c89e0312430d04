"""CIFAR-10 (torchvision's python version, downloaded into the data dir when missing), whole, as
uint8 images N x 3 x 32 x 32 (stored channels-last: the pixel bytes are torchvision's
N x 32 x 32 x 3 array, not copied) and int64 labels."""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.data.dataset import Dataset
from engine.data.network import DOWNLOAD_URLS, probe

CIFAR_FOLDER = "cifar-10-batches-py"


def _missing_message(data_dir: str, why: str) -> str:
    folder = os.path.join(os.path.abspath(data_dir), CIFAR_FOLDER)
    return (f"CIFAR-10 not found and could not be downloaded ({why}): put the python version's files "
            f"(data_batch_1..5, test_batch, batches.meta) in {folder}/ or use dataset=digits, which works offline")


def _cifar_classes() -> tuple[Any, Any]:
    """torchvision's CIFAR10, and a subclass that checks the batch files exist instead of hashing
    ~180 MB per run (a damaged file still fails to unpickle, and that is reported)."""
    from torchvision.datasets import CIFAR10

    class PresentCIFAR10(CIFAR10):
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return CIFAR10, PresentCIFAR10


def load_cifar10(data_dir: str, download: bool = True) -> Dataset:
    """<data_dir>/cifar-10-batches-py/ when present; else torchvision's download (when allowed and
    the network works); else ConfigError naming where the files go."""
    import torch

    cifar10, present = _cifar_classes()
    folder = os.path.join(data_dir, CIFAR_FOLDER)
    expected = [name for name, _ in present.train_list + present.test_list] + [present.meta["filename"]]
    if not all(os.path.isfile(os.path.join(folder, name)) for name in expected):
        if not download:
            raise ConfigError(_missing_message(data_dir, "download disabled"))
        archive = os.path.join(data_dir, "cifar-10-python.tar.gz")  # torchvision unpacks it without a network
        if not os.path.isfile(archive):
            reached, tried = probe(DOWNLOAD_URLS["cifar10"])
            if reached is None:  # offline: say so in 2 s, not after torchvision's 18-20 s of retries
                raise ConfigError(_missing_message(data_dir, "no download host answered; `nnlab data import` takes "
                                                             "a pack or cifar-10-python.tar.gz"))
        try:
            os.makedirs(data_dir, exist_ok=True)
            # torchvision prints progress on stdout, which belongs to `nnlab run --json`.
            with contextlib.redirect_stdout(sys.stderr):
                cifar10(data_dir, train=False, download=True)
        except Exception as exc:  # no network, proxy, disk full, bad archive...
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(_missing_message(data_dir, why[:120])) from None
    try:
        train, test = present(data_dir, train=True), present(data_dir, train=False)
    except Exception as exc:
        raise ConfigError(f"cannot read CIFAR-10 in {os.path.abspath(folder)}/ "
                          f"({type(exc).__name__}: {str(exc)[:100]}); replace the files or use "
                          "dataset=digits") from None

    def images(split: Any) -> torch.Tensor:  # N x 32 x 32 x 3 bytes, viewed as N x 3 x 32 x 32
        return torch.from_numpy(np.ascontiguousarray(split.data, dtype=np.uint8)).permute(0, 3, 1, 2)

    def labels(split: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(split.targets, dtype=np.int64))

    return Dataset("cifar10", images(train), labels(train), images(test), labels(test), tuple(train.classes))
