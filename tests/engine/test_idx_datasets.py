"""MNIST and Fashion-MNIST on the CNN stages (and Fashion-MNIST on mnist-mlp): small files in the real IDX
format, unpacked or gzipped, read by torchvision's own loaders."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST, FashionMNIST

from engine.config import ConfigError
from engine.data import load_features, load_images
from engine.data.mnist import FASHION_CLASSES, IDX_SETS, MNIST_FILES
from engine.data.network import DOWNLOAD_URLS
from engine.stages import resolve_config
from engine.store import read_artifacts
from engine.train import train
from tests.engine.test_mlp_data import write_idx

ROOT = Path(__file__).resolve().parents[2]


def write_set(data_dir: Path, name: str, n_train: int = 64, n_test: int = 32, packed: bool = False,
              seed: int = 3) -> dict[str, np.ndarray]:
    """Images whose class shows in their mean brightness (so a CNN can learn them in a few steps)."""
    raw = data_dir / IDX_SETS[name].folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def images(labels: np.ndarray) -> np.ndarray:
        base = rng.integers(0, 40, (len(labels), 28, 28))
        base[:, 8:20, 8:20] += (labels * 20)[:, None, None]  # a brighter centre for higher classes
        return base.clip(0, 255)

    train_y, test_y = np.arange(n_train) % 10, (np.arange(n_test) * 7) % 10
    arrays = {"train-images-idx3-ubyte": images(train_y), "train-labels-idx1-ubyte": train_y,
              "t10k-images-idx3-ubyte": images(test_y), "t10k-labels-idx1-ubyte": test_y}
    for file, array in arrays.items():
        write_idx(raw / file, array)
        if packed:  # only the .gz, as the official downloads come
            (raw / f"{file}.gz").write_bytes(gzip.compress((raw / file).read_bytes()))
            (raw / file).unlink()
    return arrays


def test_names_and_urls_match_torchvision():
    assert tuple(FashionMNIST.classes) == FASHION_CLASSES
    assert DOWNLOAD_URLS["fashion-mnist"] == tuple(FashionMNIST.mirrors)
    assert DOWNLOAD_URLS["mnist"] == tuple(MNIST.mirrors)


@pytest.mark.parametrize("name,packed", [("fashion-mnist", True), ("mnist", False)])
def test_images_are_padded_to_32_and_repeated_in_3_channels(tmp_path, name, packed):
    arrays = write_set(tmp_path, name, packed=packed)
    data = load_images(name, str(tmp_path))
    assert data.x_train.shape == (64, 3, 32, 32) and data.x_test.shape == (32, 3, 32, 32)
    assert data.x_train.dtype == torch.uint8 and data.x_train.is_contiguous(memory_format=torch.channels_last)
    x = data.x_test.numpy()
    assert np.array_equal(x[:, 0, 2:30, 2:30], arrays["t10k-images-idx3-ubyte"])  # the image, unchanged
    assert (x[:, :, :2, :] == 0).all() and (x[:, :, 30:, :] == 0).all() and (x[:, :, :, :2] == 0).all()
    assert (x[:, 0] == x[:, 1]).all() and (x[:, 1] == x[:, 2]).all()
    assert np.array_equal(data.y_train.numpy(), arrays["train-labels-idx1-ubyte"])
    assert data.classes == (FASHION_CLASSES if name == "fashion-mnist" else tuple("0123456789"))
    assert data.mirror_ok == (name == "fashion-mnist")  # a mirrored shoe is a shoe; a mirrored 2 is no digit
    if packed:
        raw = tmp_path / IDX_SETS[name].folder / "raw"
        assert sorted(p.name for p in raw.iterdir() if not p.name.endswith(".gz")) == sorted(MNIST_FILES)


def test_fashion_mnist_flat_for_the_mlp(tmp_path):
    arrays = write_set(tmp_path, "fashion-mnist")
    data = load_features("fashion-mnist", str(tmp_path))
    assert data.x_train.shape == (64, 784) and data.x_train.dtype == np.float32
    assert np.allclose(data.x_test, arrays["t10k-images-idx3-ubyte"].reshape(32, 784) / 255.0)
    assert data.classes == FASHION_CLASSES


def test_missing_files_offline_fail_fast_naming_the_files_and_the_folder(tmp_path, monkeypatch):
    import engine.data.mnist as mnist_module

    monkeypatch.setattr(mnist_module, "probe", lambda urls: (None, ["fashion-mnist.s3 (no)"]))
    start = time.monotonic()
    with pytest.raises(ConfigError) as err:
        load_images("fashion-mnist", str(tmp_path / "data"))
    assert time.monotonic() - start < 30  # no download attempt (the probe says offline)
    message = str(err.value)
    assert message.startswith("invalid value for dataset: 'fashion-mnist' (Fashion-MNIST is not in ")
    assert str(tmp_path / "data" / "FashionMNIST" / "raw") in message
    assert all(file in message for file in MNIST_FILES) and "dataset=digits" in message


def test_a_cnn_stage_trains_on_fashion_mnist_with_its_class_names(tmp_path):
    """The lab's network, unchanged (CIFAR-10's parameter count); standardization from the training set;
    crop-flip flips Fashion-MNIST; the samples and the confusion matrix name the clothes."""
    write_set(tmp_path / "data", "fashion-mnist", n_train=200, n_test=50)
    config = resolve_config("cifar-augment", {"dataset": "fashion-mnist", "epochs": "2", "batch_size": "50",
                                              "lr": "0.05", "device": "cpu"})
    result = train(config, runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    assert result.status == "finished", result.message
    run_dir = tmp_path / "runs" / result.run_id
    arts = read_artifacts(run_dir)
    assert arts["samples"]["labels"] == list(FASHION_CLASSES)
    assert arts["confusion"]["labels"] == list(FASHION_CLASSES)
    assert sum(map(sum, arts["confusion"]["matrix"])) == 50

    from engine.cnn.runner import build

    runner = build(config, str(tmp_path / "data"))
    train_x = load_images("fashion-mnist", str(tmp_path / "data")).x_train.float() / 255.0
    assert torch.allclose(runner.data.mean.cpu(), train_x.mean(dim=(0, 2, 3)), atol=1e-4)
    assert runner.data.mirror_ok is True
    mnist_dir = tmp_path / "mnist-data"
    write_set(mnist_dir, "mnist", n_train=60, n_test=20)
    assert build(resolve_config("cifar-augment", {"dataset": "mnist", "device": "cpu", "batch_size": "20"}),
                 str(mnist_dir)).data.mirror_ok is False


def test_summary_and_stages_json(tmp_path):
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, cwd=ROOT,
                              timeout=120)

    on_cifar = cli("summary", "cifar-batchnorm", "--json")
    on_fashion = cli("summary", "cifar-batchnorm", "dataset=fashion-mnist", "--json")
    assert on_cifar.returncode == 0 and on_fashion.returncode == 0, on_fashion.stderr
    assert json.loads(on_cifar.stdout)["total_params"] == json.loads(on_fashion.stdout)["total_params"]
    stages = {s["id"]: s for s in json.loads(cli("stages", "--json").stdout)}
    assert stages["cifar-base"]["datasets"] == ["cifar10", "fashion-mnist", "mnist", "digits"]
    assert stages["mnist-mlp"]["datasets"] == ["mnist", "fashion-mnist", "digits"]
    assert stages["circles-svm"]["datasets"] == ["circles"]
    bad = cli("run", "mnist-mlp", "dataset=cifar10")
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "nnlab: error: invalid value for dataset: 'cifar10' (allowed: one of mnist, fashion-mnist, digits, or a "
        "path to a .mat file)")


def test_reproduce_2cd_on_fashion_mnist_quick(tmp_path):
    """The six CNN stages on Fashion-MNIST (its first 10,000 / 2,000 images with --quick; here the tiny
    files), and a report that says which data it used and how the images entered the network."""
    import os

    write_set(tmp_path / "data", "fashion-mnist", n_train=256, n_test=40)  # batch 128: two steps an epoch
    out = tmp_path / "report"
    env = {**os.environ, "NNLAB_REPRODUCE_EPOCH_SCALE": "0.2", "OMP_NUM_THREADS": "1"}  # 5 quick epochs -> 1
    done = subprocess.run([sys.executable, "-m", "engine", "reproduce", "2-cd", "--dataset", "fashion-mnist",
                           "--quick", "-o", str(out), "--runs-dir", str(tmp_path / "runs"),
                           "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (out / "report.md").read_text()
    assert text.startswith("# nnlab reproduce 2-cd --dataset fashion-mnist --quick")
    assert "Data used: fashion-mnist" in text and "on Fashion-MNIST" in text
    assert "padded with 2 black pixels" in text and "90-93 %" in text
    configs = [json.loads((p / "config.json").read_text()) for p in (tmp_path / "runs").iterdir()
               if not p.name.startswith(".")]
    assert sorted(c["stage"] for c in configs) == sorted(["cifar-base", "cifar-norm", "cifar-augment",
                                                          "cifar-scheduler", "cifar-dropout", "cifar-batchnorm"])
    assert {(c["dataset"], c["limit_train"], c["limit_test"]) for c in configs} == {("fashion-mnist", 10000, 2000)}
    bad = subprocess.run([sys.executable, "-m", "engine", "reproduce", "2-ab", "--dataset", "cifar10"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == ("nnlab: error: invalid value for --dataset: 'cifar10' "
                                                          "(allowed for 2-ab: mnist, fashion-mnist, digits)")
