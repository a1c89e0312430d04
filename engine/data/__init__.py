"""Data sets of the lab. Every loader returns a Dataset:

    load_features(name, data_dir)   circles | digits | mnist | fashion-mnist | a course .mat path: flat
                                    features (MLP, SVM)
    load_images(name, data_dir)     cifar10 | mnist | fashion-mnist | digits: uint8 3x32x32 images (CNN)

Loaders import torch, torchvision, scikit-learn and scipy only when called.
"""
from __future__ import annotations

from engine.config import ConfigError
from engine.data.cifar import load_cifar10
from engine.data.circles import make_circles
from engine.data.dataset import Dataset
from engine.data.digits import load_digits32, load_digits_features
from engine.data.mat import load_mat
from engine.data.mnist import IDX_SETS, load_mnist, load_mnist_images

__all__ = ["Dataset", "load_features", "load_images"]


def load_features(name: str, data_dir: str) -> Dataset:
    """The MLP and SVM stages' data set."""
    if name == "circles":
        return make_circles()
    if name == "digits":
        return load_digits_features()
    if name in IDX_SETS:
        return load_mnist(data_dir, name)
    if name.lower().endswith(".mat"):
        return load_mat(name)
    raise ConfigError(f"invalid value for dataset: {name!r} (allowed: circles, digits, mnist, fashion-mnist, "
                      "or a .mat file)")


def load_images(name: str, data_dir: str) -> Dataset:
    """The CNN stages' data set."""
    if name == "cifar10":
        return load_cifar10(data_dir, download=True)
    if name in IDX_SETS:
        return load_mnist_images(data_dir, name)
    if name == "digits":
        return load_digits32()
    raise ConfigError(f"invalid value for dataset: {name!r} (allowed: cifar10, mnist, fashion-mnist, digits)")
