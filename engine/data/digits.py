"""scikit-learn's 1,797 bundled 8x8 digits: the offline stand-in for MNIST (flat features) and for
CIFAR-10 (32x32 images). Each form has a fixed split that never changes."""
from __future__ import annotations

import numpy as np

from engine.data.dataset import Dataset, numbered

DIGITS_TEST_FRACTION = 0.25
DIGITS_SPLIT_SEED = 0  # fixed: the digits train/test splits never change
DIGIT_SIZE = 24  # side of a digit on the 32x32 canvas


def load_digits_features() -> Dataset:
    """Values 0..16 scaled to [0, 1] as 64 features, split 75/25 stratified (1,347 train / 450 test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, stratify=y, random_state=DIGITS_SPLIT_SEED)
    images = np.rint(x_test.reshape(-1, 8, 8) * 255.0).astype(np.uint8)
    return Dataset("digits", x_train, y_train, x_test, y_test, numbered(10), test_images=images)


def load_digits32() -> Dataset:
    """The digits upscaled (bilinear) to DIGIT_SIZE and centred on a black 32x32 canvas (as MNIST
    centres 20x20 digits in 28x28, so 28x28 crops keep the whole digit), grey replicated to 3
    channels, 0-255 uint8; a fixed-seed random split (1,348 train / 449 test). A mirrored digit is
    no digit: mirror_ok is False."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) * (255.0 / 16.0)
    x = F.interpolate(x, size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=False)
    pad = (32 - DIGIT_SIZE) // 2
    x = F.pad(x, (pad, 32 - DIGIT_SIZE - pad) * 2)
    x = x.round().clamp_(0, 255).to(torch.uint8)
    x = x.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)
    y = torch.as_tensor(digits.target, dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    n_test = int(round(len(y) * DIGITS_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    return Dataset("digits", x[train], y[train], x[test], y[test], numbered(10), mirror_ok=False)
