"""The one type every data loader returns."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """A train/test split. Feature data sets (circles, .mat, MNIST, 8x8 digits) hold numpy arrays:
    x float N x n_x, y int64. Image data sets (CIFAR-10, digits as 32x32) hold torch tensors:
    x uint8 N x 3 x 32 x 32, y int64."""

    name: str
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    classes: tuple[str, ...]  # class names, index = label
    test_images: np.ndarray | None = None  # uint8 N x H x W grey test images (sample predictions)
    mirror_ok: bool = True  # a horizontal flip keeps the label (natural images: yes; digits: no)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    def limit(self, n_train: int = 0, n_test: int = 0) -> Dataset:
        """The first n_train / n_test examples (0: all)."""
        out = self
        if n_train:
            out = replace(out, x_train=out.x_train[:n_train], y_train=out.y_train[:n_train])
        if n_test:
            test_images = None if out.test_images is None else out.test_images[:n_test]
            out = replace(out, x_test=out.x_test[:n_test], y_test=out.y_test[:n_test], test_images=test_images)
        return out


def numbered(n: int) -> tuple[str, ...]:
    """Class names '0', '1', ... for data sets whose classes are numbers."""
    return tuple(str(i) for i in range(n))
