"""Each photometric augmentation of the CNN pipeline on its own: jitter, rotate and noise each do what they
say (against a reference), so that any one of them turned into a no-op fails here.

With normalize=none the pipeline's output is the augmented image in [0, 1] units; labels are the image
indices, so each output can be matched with its source image."""
import math

import numpy as np
import pytest
import scipy.ndimage
import torch

from engine.cnn.pipeline import JITTER, NOISE_STD, ROTATE_DEG, DevicePipeline


def images(n=24, seed=0, low=0, high=256):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, (n, 3, 32, 32), dtype=torch.uint8, generator=g)


def pipeline(train, augment, seed=3):
    n = len(train)
    return DevicePipeline(train, torch.arange(n), train[:2], torch.zeros(2, dtype=torch.long), augment=augment,
                          normalize="none", seed=seed)


def epoch(pipe, batch=10):
    """One epoch's (augmented images, their source indices)."""
    xs, ys = zip(*pipe.train_batches(batch))
    return torch.cat(xs), torch.cat(ys)


def source(train, index):
    return train[index].float() / 255


# ---- noise ---------------------------------------------------------------------------------------------

def test_noise_adds_gaussian_noise_of_the_documented_std():
    train = images(64, low=40, high=216)  # no pixel near 0 or 1: the noise is never clipped (it is not clipped)
    out, index = epoch(pipeline(train, "noise"), batch=16)
    residual = out - source(train, index)
    assert residual.numel() == 64 * 3 * 32 * 32
    assert residual.std().item() == pytest.approx(NOISE_STD, rel=0.03)
    assert abs(residual.mean().item()) < 3e-4
    # independent per pixel and per image: neighbouring pixels and two images are uncorrelated
    flat = residual.reshape(64, -1)
    assert abs(torch.corrcoef(flat[:2])[0, 1].item()) < 0.06
    assert abs(torch.corrcoef(torch.stack([flat[:, :-1].reshape(-1), flat[:, 1:].reshape(-1)]))[0, 1]) < 0.02
    # fresh noise every epoch, the same noise for the same seed
    pipe = pipeline(train, "noise")
    first, second = epoch(pipe)[0], epoch(pipe)[0]
    assert not torch.equal(first, second)
    assert torch.equal(first, epoch(pipeline(train, "noise"))[0])


# ---- rotate --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("degrees", [7.0, -9.5, 90.0])
def test_rotation_matches_a_reference_rotation(degrees):
    """The image turned by the angle about its centre (bilinear, zeros outside), compared with scipy's
    rotation away from the border (the two treat the outside differently there)."""
    train = images(4)
    pipe = pipeline(train, "rotate")
    out = pipe.train_transform({"perm": torch.tensor([1]), "angle": torch.tensor([math.radians(degrees)])})[0]
    src = source(train, 1).numpy()
    ref = scipy.ndimage.rotate(src, degrees, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)
    assert np.abs(out.numpy() - ref)[:, 3:-3, 3:-3].max() < 1e-4
    if degrees == 90.0:  # a quarter turn is exact everywhere: counter-clockwise as displayed
        assert torch.allclose(out, torch.rot90(torch.from_numpy(src), 1, (1, 2)), atol=1e-5)


def test_each_image_is_turned_by_its_own_small_angle():
    train = images(40)
    pipe = pipeline(train, "rotate", seed=5)
    angles = pipeline(train, "rotate", seed=5).epoch_plan()["angle"]  # the same draws: the same seed
    assert angles.abs().max() <= math.radians(ROTATE_DEG) and angles.std() > math.radians(ROTATE_DEG) / 4
    out, index = epoch(pipe)
    plan = pipeline(train, "rotate", seed=5).epoch_plan()
    assert torch.equal(index, plan["perm"])
    for k in (0, 17, 39):
        degrees = math.degrees(plan["angle"][k].item())
        ref = scipy.ndimage.rotate(source(train, index[k]).numpy(), degrees, axes=(1, 2), reshape=False, order=1,
                                   mode="constant", cval=0.0)
        assert np.abs(out[k].numpy() - ref)[:, 3:-3, 3:-3].max() < 1e-4, k


# ---- jitter --------------------------------------------------------------------------------------------

def jittered(train, factors, index=0):
    pipe = pipeline(train, "jitter")
    return pipe.train_transform({"perm": torch.tensor([index]), "jitter": torch.tensor([factors])})[0]


def test_jitter_brightness_contrast_and_saturation_each():
    train = images(4, low=60, high=150)  # mid-range: no factor below pushes a pixel out of [0, 1]
    src = source(train, 0)
    assert torch.allclose(jittered(train, [1.0, 1.0, 1.0]), src, atol=1e-6)
    assert torch.allclose(jittered(train, [1.2, 1.0, 1.0]), src * 1.2, atol=1e-6)  # brightness scales
    mean = src.mean()
    low_contrast = jittered(train, [1.0, 0.8, 1.0])
    assert torch.allclose(low_contrast, (src - mean) * 0.8 + mean, atol=1e-6)
    assert low_contrast.mean().item() == pytest.approx(mean.item(), abs=1e-6)  # contrast keeps the mean
    assert low_contrast.std().item() == pytest.approx(0.8 * src.std().item(), rel=1e-4)
    gray = (src * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    assert torch.allclose(jittered(train, [1.0, 1.0, 0.75]), (src - gray) * 0.75 + gray, atol=1e-6)
    assert torch.allclose(jittered(train, [2.0, 1.0, 1.0]), (src * 2).clamp(0, 1), atol=1e-6)  # clipped to [0, 1]
    wide = images(2)  # full range: more contrast pushes dark pixels below 0, clipped there
    high_contrast = jittered(wide, [1.0, 1.25, 1.0])
    assert high_contrast.min().item() == 0.0 and high_contrast.max().item() == 1.0


def test_jitter_draws_per_image_factors_that_change_brightness_and_contrast():
    train = images(60, low=60, high=150)
    out, index = epoch(pipeline(train, "jitter", seed=7), batch=20)
    factors = pipeline(train, "jitter", seed=7).epoch_plan()["jitter"]
    assert factors.shape == (60, 3)
    assert (factors - 1).abs().max() <= JITTER and factors.std(0).min() > JITTER / 4
    src = source(train, index)
    b, c, s = (factors[:, i].view(-1, 1, 1, 1) for i in range(3))
    ref = src * b
    ref = (ref - ref.mean(dim=(1, 2, 3), keepdim=True)) * c + ref.mean(dim=(1, 2, 3), keepdim=True)
    gray = (ref * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert torch.allclose(out, ((ref - gray) * s + gray).clamp(0, 1), atol=1e-5)
    brightness = out.mean(dim=(1, 2, 3)) / src.mean(dim=(1, 2, 3))
    assert torch.allclose(brightness, factors[:, 0], atol=3e-3)  # contrast keeps the mean, saturation nearly
    contrast = out.std(dim=(1, 2, 3)) / src.std(dim=(1, 2, 3))
    assert (contrast - 1).abs().max() > JITTER / 2 and contrast.std() > 0.05
