"""Device-resident image pipeline for the CNN stages.

The whole dataset is ONE uint8 tensor on the training device, stored N x H x W x C (so a batch
converted to float is already channels_last). Each epoch draws, from a dedicated CPU
torch.Generator, the shuffle and every per-image augmentation parameter at once (one small
host-to-device copy per epoch); batches are then gathered, converted, augmented and normalized
with batched tensor ops. No per-image Python work.

Order for normalize=none|standard:  crop-flip on the uint8 bytes (one gather) -> float ->
    jitter -> rotate -> noise -> per-channel affine (scale by 1/255 and standardize folded in).
Order for normalize=zca (whitening needs the full 32x32 image):  float/255 -> jitter -> rotate
    -> noise -> whiten -> crop-flip (same gather, on floats).
Test images: the 28x28 centre crop when training crops, no random op, same normalization.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

CROP = 28
JITTER = 0.25  # brightness, contrast, saturation factors drawn uniformly in [1 - J, 1 + J]
ROTATE_DEG = 10.0
NOISE_STD = 0.03  # gaussian noise std, in [0, 1] pixel units
ZCA_EPS = 1e-2  # added to the covariance eigenvalues (pixels in [0, 1])
GRAY = (0.299, 0.587, 0.114)


def parse_augment(augment: str) -> set[str]:
    return set() if augment in ("", "none") else set(augment.split("+"))


def crop_flip(images_nhwc, index, offsets, flip, size: int):
    """images_nhwc[index] cropped to size x size at per-image (row, col) offsets, mirrored where
    flip is True, in one gather. images_nhwc: N x H x W x C (any dtype); index, flip: B;
    offsets: B x 2 (long). Returns B x size x size x C."""
    ar = torch.arange(size, device=images_nhwc.device)
    rows = offsets[:, :1] + ar  # B x size
    cols = offsets[:, 1:] + torch.where(flip[:, None], size - 1 - ar, ar)  # reversed where flipped
    return images_nhwc[index[:, None, None], rows[:, :, None], cols[:, None, :]]


def crop_windows(images_nhwc, size: int):
    """A view (no copy) N x R x R x size x size x C of every size x size window of contiguous
    N x H x W x C images (R = H - size + 1): windows[i, r, c] is image i cropped at (r, c).
    Indexing it with B image/row/col indices gathers B whole crops, far cheaper than computing
    an index per pixel."""
    n, h, w, c = images_nhwc.shape
    s = images_nhwc.stride()
    return images_nhwc.as_strided((n, h - size + 1, w - size + 1, size, size, c),
                                  (s[0], s[1], s[2], s[1], s[2], s[3]))


def channel_stats(images_nhwc, chunk: int = 4096):
    """Exact per-channel mean and std (population) of uint8 images in [0, 1] units, from per-channel
    byte histograms (no float copy of the dataset)."""
    c = images_nhwc.shape[-1]
    counts = torch.zeros(c, 256, dtype=torch.float64, device=images_nhwc.device)
    for start in range(0, images_nhwc.shape[0], chunk):
        part = images_nhwc[start:start + chunk].reshape(-1, c).long()
        part = part + torch.arange(c, device=part.device) * 256  # channel k -> bins 256k..256k+255
        counts += torch.bincount(part.reshape(-1), minlength=256 * c).view(c, 256).double()
    values = torch.arange(256, dtype=torch.float64, device=counts.device) / 255.0
    n = counts.sum(1)
    mean = (counts * values).sum(1) / n
    var = (counts * (values - mean[:, None]) ** 2).sum(1) / n
    return mean.float(), var.sqrt().float()


def zca_matrix(images_nhwc, eps: float = ZCA_EPS, chunk: int = 2048):
    """ZCA whitening of flattened H*W*C images in [0, 1]: returns (mean vector, W) with
    W = U diag(1 / sqrt(lambda + eps)) U^T from the training covariance."""
    n = images_nhwc.shape[0]
    flat = images_nhwc.reshape(n, -1)
    d = flat.shape[1]
    mean = torch.zeros(d, dtype=torch.float64, device=flat.device)
    for start in range(0, n, chunk):
        mean += flat[start:start + chunk].double().sum(0)
    mean /= n * 255.0
    mean32 = mean.float()
    cov = torch.zeros(d, d, dtype=torch.float64, device=flat.device)
    for start in range(0, n, chunk):
        x = flat[start:start + chunk].float().div_(255.0).sub_(mean32)
        cov += (x.T @ x).double()
    cov = (cov / max(n - 1, 1)).cpu()
    evals, evecs = torch.linalg.eigh(cov)
    w = (evecs * (evals.clamp_min(0) + eps).rsqrt()) @ evecs.T
    return mean32, w.float().to(flat.device)


class DevicePipeline:
    """Train/test batches from uint8 images held on `device`.

    train_x, test_x: uint8 N x 3 x H x W (any memory layout); train_y, test_y: int64 N.
    mirror_ok=False (digits: a mirrored 2 is no digit) makes crop-flip crop without flipping.
    """

    def __init__(self, train_x, train_y, test_x, test_y, *, augment: str = "none",
                 normalize: str = "none", device: str = "cpu", seed: int = 0, channels_last: bool = True,
                 mirror_ok: bool = True):
        self.device = torch.device(device)
        self.ops = parse_augment(augment)
        self.normalize = normalize
        self.channels_last = channels_last
        # N x H x W x C bytes: a batch of them, permuted, is a channels_last N x C x H x W tensor.
        self.train_x = train_x.permute(0, 2, 3, 1).contiguous().to(self.device)
        self.test_x = test_x.permute(0, 2, 3, 1).contiguous().to(self.device)
        self.train_y = train_y.to(self.device, torch.long)
        self.test_y = test_y.to(self.device, torch.long)
        self.n_train, self.n_test = len(self.train_y), len(self.test_y)
        full = self.train_x.shape[1]
        self.crop = "crop-flip" in self.ops
        self.mirror_ok = mirror_ok
        self.input_size = CROP if self.crop else full
        self.max_offset = full - CROP
        if self.crop:
            # every crop of every image, of the images and (when a flip keeps the label) of their
            # mirrors: a random crop + flip is then one gather of whole 28x28 blocks
            # (this doubles the dataset's memory; 150 MB more for CIFAR-10)
            source = torch.cat([self.train_x, self.train_x.flip(2)]) if mirror_ok else self.train_x
            self._windows = crop_windows(source, CROP)
        self.generator = torch.Generator().manual_seed(seed)  # shuffle + augmentation parameters
        self.noise_generator = torch.Generator(device=self.device).manual_seed(seed + 1)

        c = self.train_x.shape[-1]
        self.mean = torch.zeros(c, device=self.device)
        self.std = torch.ones(c, device=self.device)
        self.zca_mean = self.zca = None
        if normalize == "standard":
            self.mean, self.std = channel_stats(self.train_x)
        elif normalize == "zca":
            self.zca_mean, self.zca = zca_matrix(self.train_x)
        elif normalize != "none":
            raise ValueError(f"unknown normalize {normalize!r}")
        # pixel (0-255) -> network input as one affine map per channel
        self._scale = (1.0 / (255.0 * self.std)).view(1, c, 1, 1)
        self._shift = (-self.mean / self.std).view(1, c, 1, 1)
        self._gray = torch.tensor(GRAY, device=self.device).view(1, 3, 1, 1) if c == 3 else None

    # ---- per epoch -------------------------------------------------------------------------
    def epoch_plan(self) -> dict[str, Any]:
        """Shuffle and every per-image random parameter for one epoch, drawn in a fixed order."""
        g, n = self.generator, self.n_train
        plan = {"perm": torch.randperm(n, generator=g)}
        if self.crop:
            plan["offsets"] = torch.randint(0, self.max_offset + 1, (n, 2), generator=g)
            plan["flip"] = torch.randint(0, 2, (n,), generator=g).bool()
            if not self.mirror_ok:
                plan["flip"].zero_()
        if "jitter" in self.ops:
            plan["jitter"] = 1.0 + (torch.rand(n, 3, generator=g) * 2 - 1) * JITTER
        if "rotate" in self.ops:
            plan["angle"] = (torch.rand(n, generator=g) * 2 - 1) * (ROTATE_DEG * torch.pi / 180)
        return {k: v.to(self.device, non_blocking=True) for k, v in plan.items()}

    def train_batches(self, batch_size: int) -> Iterator[tuple[Any, Any]]:
        """(inputs, labels) for one shuffled epoch; the last batch may be smaller."""
        plan = self.epoch_plan()
        for start in range(0, self.n_train, batch_size):
            part = {k: v[start:start + batch_size] for k, v in plan.items()}
            yield self.train_transform(part), self.train_y[part["perm"]]

    def test_batches(self, batch_size: int = 1000) -> Iterator[tuple[Any, Any]]:
        for start in range(0, self.n_test, batch_size):
            yield self.test_transform(self.test_x[start:start + batch_size]), self.test_y[start:start + batch_size]

    # ---- transforms -----------------------------------------------------------------------
    def train_transform(self, part: dict[str, Any]):
        index = part["perm"]
        if self.zca is not None:
            x = self._pixels01(self.train_x[index])
            x = self._photometric(x, part)
            x = self._whiten(x)
            if self.crop:
                nhwc = x.permute(0, 2, 3, 1)
                x = crop_flip(nhwc, self._arange(len(index)), part["offsets"], part["flip"], CROP)
                x = x.permute(0, 3, 1, 2)
            return self._layout(x)
        if self.crop:
            x = self._crop_flip_train(index, part["offsets"], part["flip"])
        else:
            x = self.train_x[index]
        if not self.ops - {"crop-flip"}:  # fast path: one fused uint8 -> normalized float op
            return self._affine(x.permute(0, 3, 1, 2))
        x = self._photometric(self._pixels01(x), part)
        return self._layout(x.sub_(self.mean.view(1, -1, 1, 1)).div_(self.std.view(1, -1, 1, 1)))

    def test_transform(self, images_nhwc):
        if self.zca is not None:
            x = self._whiten(self._pixels01(images_nhwc))
            if self.crop:
                m = self.max_offset // 2
                x = x[:, :, m:m + CROP, m:m + CROP]
            return self._layout(x)
        if self.crop:
            m = self.max_offset // 2
            images_nhwc = images_nhwc[:, m:m + CROP, m:m + CROP, :]
        return self._affine(images_nhwc.permute(0, 3, 1, 2))

    # ---- pieces ---------------------------------------------------------------------------
    def _crop_flip_train(self, index, offsets, flip):
        """Training images `index` cropped at `offsets` (row, col), mirrored where `flip`: the crop
        at column c of a mirrored image is the mirror of the crop at column max_offset - c."""
        rows, cols = offsets[:, 0], offsets[:, 1]
        if self.mirror_ok:
            index = torch.where(flip, index + self.n_train, index)
            cols = torch.where(flip, self.max_offset - cols, cols)
        return self._windows[index, rows, cols]

    def _arange(self, n: int):
        return torch.arange(n, device=self.device)

    def _layout(self, x):
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return x.contiguous(memory_format=fmt)

    def _affine(self, x_uint8_nchw):
        return self._layout(torch.addcmul(self._shift, x_uint8_nchw, self._scale))

    def _pixels01(self, x_nhwc):
        return x_nhwc.permute(0, 3, 1, 2).float().mul_(1.0 / 255.0)

    def _photometric(self, x, part: dict[str, Any]):
        """jitter, rotate, noise on float N x C x H x W images in [0, 1]."""
        if "jitter" in self.ops:
            f = part["jitter"]
            x = x * f[:, 0].view(-1, 1, 1, 1)  # brightness
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * f[:, 1].view(-1, 1, 1, 1) + mean  # contrast
            if self._gray is not None:
                gray = (x * self._gray).sum(1, keepdim=True)
                x = (x - gray) * f[:, 2].view(-1, 1, 1, 1) + gray  # saturation
            x = x.clamp_(0.0, 1.0)
        if "rotate" in self.ops:
            a = part["angle"]
            cos, sin, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
            theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if "noise" in self.ops:
            x = x + NOISE_STD * torch.randn(x.shape, generator=self.noise_generator, device=self.device)
        return x

    def _whiten(self, x_nchw):
        n, c, h, w = x_nchw.shape
        flat = x_nchw.permute(0, 2, 3, 1).reshape(n, h * w * c) - self.zca_mean
        return (flat @ self.zca).view(n, h, w, c).permute(0, 3, 1, 2)

    # ---- resume ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "noise_generator": self.noise_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.noise_generator.set_state(state["noise_generator"].to("cpu"))
