"""CIFAR-10 on disk (the real format, a tiny copy), digits offline, and the device pipeline."""
import os
import pickle
import urllib.error

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar as tv_cifar

from engine.cnn.pipeline import ZCA_EPS, DevicePipeline, channel_stats, crop_flip
from engine.cnn.runner import build
from engine.config import ConfigError
from engine.data import load_images
from engine.data.cifar import load_cifar10
from engine.data.digits import load_digits32
from engine.stages import resolve_config
from engine.train import train

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class Py2Str(bytes):
    """A Python 2 `str`: the real batch files were pickled by Python 2, so their keys load as
    bytes with encoding="bytes" (b"data", as the CIFAR page shows) and as str with "latin1"
    (what torchvision uses)."""


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler, whose dispatch table we can extend
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + len(obj).to_bytes(4, "little") + bytes(obj))

    dispatch[Py2Str] = save_py2str


def dump_py2(obj, fh):
    Py2Pickler(fh, protocol=2).dump(obj)


def write_tiny_cifar(root, per_batch=4, n_test=6, seed=0):
    """cifar-10-batches-py as the python-version tarball unpacks it, with few images."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    batches = {}
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", n_test)]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n)]
        batches[name] = (data, labels)
        with open(os.path.join(folder, name), "wb") as fh:
            dump_py2({Py2Str(b"batch_label"): Py2Str(name.encode()), Py2Str(b"labels"): labels,
                      Py2Str(b"data"): data, Py2Str(b"filenames"): [Py2Str(b"x.png")] * n}, fh)
    with open(os.path.join(folder, "batches.meta"), "wb") as fh:
        dump_py2({Py2Str(b"label_names"): [Py2Str(c.encode()) for c in CLASSES],
                  Py2Str(b"num_cases_per_batch"): per_batch, Py2Str(b"num_vis"): 3072}, fh)
    return batches


@pytest.fixture
def tiny_cifar(tmp_path):
    return str(tmp_path), write_tiny_cifar(str(tmp_path))


def test_tiny_cifar_loads_through_torchvision_and_data_cifar(tiny_cifar, monkeypatch):
    root, batches = tiny_cifar
    with open(os.path.join(root, "cifar-10-batches-py", "data_batch_1"), "rb") as fh:
        raw = pickle.load(fh, encoding="bytes")  # as the CIFAR-10 page reads it
    assert raw[b"data"].shape == (4, 3072) and raw[b"data"].dtype == np.uint8 and len(raw[b"labels"]) == 4
    # the md5 sums of the real files cannot match a tiny copy: check presence only
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    tv_train = tv_cifar.CIFAR10(root, train=True, download=False)
    tv_test = tv_cifar.CIFAR10(root, train=False, download=False)
    monkeypatch.undo()

    data = load_cifar10(root, download=False)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_train.dtype == torch.uint8
    assert data.x_test.shape == (6, 3, 32, 32) and data.y_train.dtype == torch.int64
    assert torch.equal(data.x_train.permute(0, 2, 3, 1), torch.from_numpy(tv_train.data))
    assert torch.equal(data.x_test.permute(0, 2, 3, 1), torch.from_numpy(tv_test.data))
    assert data.y_train.tolist() == tv_train.targets and data.y_test.tolist() == tv_test.targets
    assert list(data.classes) == CLASSES == tv_train.classes
    # the on-disk row is 1024 red, 1024 green, 1024 blue bytes, each row-major 32x32
    row = batches["data_batch_2"][0][1]
    img = data.x_train[5]
    assert img[0, 3, 7] == row[3 * 32 + 7] and img[2, 31, 0] == row[2048 + 31 * 32]


def test_limits_take_the_first_examples(tiny_cifar):
    root, _ = tiny_cifar
    full = load_cifar10(root, download=False)
    cut = load_images("cifar10", root).limit(7, 2)
    assert len(cut.y_train) == 7 and len(cut.y_test) == 2
    assert torch.equal(cut.x_train, full.x_train[:7]) and torch.equal(cut.y_test, full.y_test[:2])


def test_cifar_stage_runs_from_disk(tiny_cifar):
    root, _ = tiny_cifar
    cfg = resolve_config("cifar-augment", {"dataset": "cifar10", "device": "cpu", "batch_size": 8, "epochs": 1})
    runner = build(cfg, root)
    assert (runner.n_train, runner.n_test, runner.batches_per_epoch) == (20, 6, 3)
    metrics = runner.train_epoch(1, lambda i: False)
    assert 0 <= metrics["train_acc"] <= 1
    arts = runner.artifacts(1, last=True)
    assert arts["confusion"]["labels"] == CLASSES


def test_missing_cifar_without_network_names_the_folder_and_digits(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", offline)
    with pytest.raises(ConfigError) as err:
        load_images("cifar10", str(tmp_path / "data"))
    message = str(err.value)
    assert "\n" not in message
    assert "dataset=digits" in message
    assert os.path.join(str(tmp_path / "data"), "cifar-10-batches-py") + "/" in message
    # through the training loop (what `nnlab run` and the TUI call): the error comes before any run folder
    config = resolve_config("cifar-base", {"dataset": "cifar10", "device": "cpu", "epochs": 1})
    with pytest.raises(ConfigError, match="dataset=digits"):
        train(config, runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    runs = tmp_path / "runs"
    assert not runs.exists() or [p.name for p in runs.iterdir() if not p.name.startswith(".")] == []


def test_digits_offline():
    d = load_digits32()
    assert d.x_train.shape == (1348, 3, 32, 32) and d.x_test.shape == (449, 3, 32, 32)
    assert d.x_train.dtype == torch.uint8 and d.y_train.dtype == torch.int64
    assert torch.equal(d.x_train[:, 0], d.x_train[:, 1]) and torch.equal(d.x_train[:, 0], d.x_train[:, 2])
    assert int(d.x_train.max()) > 200 and set(d.y_test.tolist()) == set(range(10))
    again = load_digits32()
    assert torch.equal(d.x_train, again.x_train) and torch.equal(d.y_test, again.y_test)
    assert not d.mirror_ok


# ---- the device pipeline ---------------------------------------------------------------------

def images(n=40, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)


def test_crop_flip_gathers_and_mirrors():
    x = images(3).permute(0, 2, 3, 1).contiguous()  # N H W C
    index = torch.tensor([2, 0])
    offsets = torch.tensor([[1, 3], [4, 0]])
    flip = torch.tensor([False, True])
    out = crop_flip(x, index, offsets, flip, 28)
    assert out.shape == (2, 28, 28, 3)
    assert torch.equal(out[0], x[2, 1:29, 3:31])
    assert torch.equal(out[1], x[0, 4:32, 0:28].flip(1))  # mirrored left-right


def test_training_batches_are_random_crops_and_flips_of_their_images():
    train = images(40)
    pipe = DevicePipeline(train, torch.arange(40), images(8, seed=1), torch.zeros(8, dtype=torch.long),
                          augment="crop-flip", normalize="none", seed=3)
    flips = 0
    for x, y in pipe.train_batches(16):
        assert x.shape[1:] == (3, 28, 28) and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=torch.channels_last)
        for img, label in zip(x, y):
            src = train[label].float() / 255
            crops = {(r, c, f) for r in range(5) for c in range(5) for f in (False, True)
                     if torch.allclose(img, (src[:, r:r + 28, c:c + 28].flip(2) if f else src[:, r:r + 28, c:c + 28]))}
            assert len(crops) == 1
            flips += next(iter(crops))[2]
    assert 5 < flips < 35  # about half are mirrored


def test_test_images_are_the_centre_crop():
    test = images(8, seed=1)
    pipe = DevicePipeline(images(16), torch.zeros(16, dtype=torch.long), test, torch.zeros(8, dtype=torch.long),
                          augment="crop-flip", normalize="none")
    (x, _), = list(pipe.test_batches(100))
    assert torch.allclose(x, test[:, :, 2:30, 2:30].float() / 255)


def test_augmentation_is_deterministic_for_a_seed():
    def epoch(seed, augment="crop-flip+jitter+rotate+noise"):
        pipe = DevicePipeline(images(32), torch.arange(32), images(4), torch.zeros(4, dtype=torch.long),
                              augment=augment, normalize="standard", seed=seed)
        return [x for x, _ in pipe.train_batches(10)]

    a, b, c = epoch(5), epoch(5), epoch(6)
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not torch.equal(a[0], c[0])
    assert a[0].shape == (10, 3, 28, 28) and a[-1].shape == (2, 3, 28, 28)


def test_no_flip_for_data_a_mirror_changes():
    pipe = DevicePipeline(images(64), torch.arange(64), images(4), torch.zeros(4, dtype=torch.long),
                          augment="crop-flip", mirror_ok=False)
    assert not pipe.epoch_plan()["flip"].any()


def test_standardization_uses_training_statistics_only():
    train = images(30)
    train[:, 1] //= 2  # a distinct green channel
    test_a, test_b = images(5, seed=1), torch.full((5, 3, 32, 32), 255, dtype=torch.uint8)
    labels = torch.zeros(30, dtype=torch.long)
    pa = DevicePipeline(train, labels, test_a, labels[:5], normalize="standard")
    pb = DevicePipeline(train, labels, test_b, labels[:5], normalize="standard")
    ref = train.double() / 255
    assert torch.allclose(pa.mean.double(), ref.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(pa.std.double(), ref.std(dim=(0, 2, 3), unbiased=False), atol=1e-6)
    assert torch.equal(pa.mean, pb.mean) and torch.equal(pa.std, pb.std)
    x = torch.cat([x for x, _ in pa.train_batches(30)])
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    (t, _), = list(pb.test_batches())
    assert torch.allclose(t[:, :, 0, 0], (1 - pa.mean) / pa.std)


def test_channel_stats_matches_float_computation():
    x = images(50).permute(0, 2, 3, 1).contiguous()  # more images than rows or columns, several chunks
    mean, std = channel_stats(x, chunk=3)
    ref = x.double() / 255
    assert torch.allclose(mean.double(), ref.mean(dim=(0, 1, 2)), atol=1e-6)
    assert torch.allclose(std.double(), ref.std(dim=(0, 1, 2), unbiased=False), atol=1e-6)


def test_zca_decorrelates_training_pixels():
    g = torch.Generator().manual_seed(0)
    shared = torch.rand(400, 1, 1, 1, generator=g) * 2 - 1  # one brightness per image: pixels correlate
    own = torch.rand(400, 3, 8, 8, generator=g) * 2 - 1
    train = ((0.5 + 0.3 * shared + 0.15 * own) * 255).round().to(torch.uint8)
    pipe = DevicePipeline(train, torch.zeros(400, dtype=torch.long), train[:10], torch.zeros(10, dtype=torch.long),
                          normalize="zca")
    def cov(v):
        v = v.reshape(len(v), -1).double()
        v = v - v.mean(0)
        return v.T @ v / (len(v) - 1)
    def off_ratio(c):
        return (c - torch.diag(c.diag())).abs().mean() * len(c) / (len(c) - 1) / c.diag().mean()
    before = cov(train.permute(0, 2, 3, 1).double() / 255)
    after = cov(torch.cat([x for x, _ in pipe.train_batches(100)]).permute(0, 2, 3, 1))
    assert off_ratio(before) > 0.5 and off_ratio(after) < 0.1
    assert torch.allclose(pipe.zca, pipe.zca.T, atol=1e-5)


def test_window_gather_equals_the_per_pixel_gather():
    train = images(24)
    pipe = DevicePipeline(train, torch.arange(24), images(2), torch.zeros(2, dtype=torch.long),
                          augment="crop-flip", seed=1)
    plan = pipe.epoch_plan()
    fast = pipe._crop_flip_train(plan["perm"], plan["offsets"], plan["flip"])
    slow = crop_flip(pipe.train_x, plan["perm"], plan["offsets"], plan["flip"], 28)
    assert torch.equal(fast, slow) and plan["flip"].any() and not plan["flip"].all()


def test_zca_matrix_and_whitened_images_match_a_reference():
    """The whitening matrix against one computed here from the training covariance (unbiased, pixels in [0, 1],
    eps added to the eigenvalues), and the whitened test images (the centre crop when training crops)."""
    train, test = images(60, size=8), images(5, size=8, seed=1)
    pipe = DevicePipeline(train, torch.zeros(60, dtype=torch.long), test, torch.zeros(5, dtype=torch.long),
                          normalize="zca")
    flat = train.permute(0, 2, 3, 1).reshape(60, -1).double() / 255
    mean = flat.mean(0)
    cov = (flat - mean).T @ (flat - mean) / 59
    evals, evecs = torch.linalg.eigh(cov)
    w = (evecs * (evals.clamp_min(0) + ZCA_EPS).rsqrt()) @ evecs.T
    assert torch.allclose(pipe.zca_mean.double(), mean, atol=1e-6)
    assert torch.allclose(pipe.zca.double(), w, atol=1e-3 * w.abs().max().item())
    (x, _), = list(pipe.test_batches())
    ref = ((test.permute(0, 2, 3, 1).reshape(5, -1).double() / 255 - mean) @ w).view(5, 8, 8, 3).permute(0, 3, 1, 2)
    assert torch.allclose(x.double(), ref, atol=1e-3 * ref.abs().max().item())

    big_train, big_test = images(40), images(3, seed=2)
    cropped = DevicePipeline(big_train, torch.zeros(40, dtype=torch.long), big_test, torch.zeros(3, dtype=torch.long),
                             augment="crop-flip", normalize="zca")
    (x, _), = list(cropped.test_batches())
    full = DevicePipeline(big_train, torch.zeros(40, dtype=torch.long), big_test, torch.zeros(3, dtype=torch.long),
                          normalize="zca")
    (whole, _), = list(full.test_batches())
    assert x.shape == (3, 3, 28, 28) and torch.allclose(x, whole[:, :, 2:30, 2:30], atol=1e-5)
