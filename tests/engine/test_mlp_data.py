"""The 2-ab data: embedded circles, the course grid, course .mat files, MNIST files, digits."""
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from torchvision.datasets import MNIST

from engine.config import ConfigError
from engine.data.circles import course_grid, make_circles
from engine.data.digits import load_digits_features
from engine.data.mat import load_mat
from engine.data.mnist import load_mnist
from engine.mlp.runner import build
from engine.stages import resolve_config
from engine.train import train

COURSE_CIRCLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "circles.mat"


pytestmark = pytest.mark.usefixtures("one_thread")


# circles -------------------------------------------------------------------------------
def test_circles_statistics():
    data = make_circles()
    for split in ("train", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        assert x.shape == (200, 2) and y.shape == (200,) and y.dtype == np.int64
        assert np.bincount(y).tolist() == [100, 100]
        radius = np.hypot(x[:, 0], x[:, 1])
        ring, disc = radius[y == 0], radius[y == 1]
        assert ring.min() >= 0.50 and ring.max() <= 1.73 and abs(ring.mean() - 1.02) < 0.06
        assert disc.min() >= 0.01 and disc.max() <= 0.91 and abs(disc.mean() - 0.39) < 0.06
        assert 0.12 < ring.std() < 0.26 and 0.10 < disc.std() < 0.23
        assert ring.min() < disc.max()  # the classes overlap a little
    assert not np.allclose(data.x_train, data.x_test)


def test_circles_are_fixed():
    a, b = make_circles(), make_circles()
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    # independent of the run's seed: two runs with different seeds see the same points
    p1 = build(resolve_config("circles-optim", {"seed": 1}), "unused").artifacts(1, False)["points"]
    p2 = build(resolve_config("circles-optim", {"seed": 2}), "unused").artifacts(1, False)["points"]
    assert p1 == p2


def test_course_grid():
    grid = course_grid()
    assert grid.shape == (1600, 2)
    ticks = -2 + 0.1 * np.arange(40)
    assert np.allclose(grid[:40, 0], ticks) and np.allclose(grid[:40, 1], -2.0)  # first row: y = -2
    assert np.allclose(grid[::40, 1], ticks) and np.allclose(grid[::40, 0], -2.0)
    assert grid.min() == -2.0 and np.isclose(grid.max(), 1.9)


# course .mat files -------------------------------------------------------------------
def test_course_circles_file():
    if not COURSE_CIRCLES.is_file():
        pytest.skip(f"no course file at {COURSE_CIRCLES}")
    data = load_mat(str(COURSE_CIRCLES))
    assert data.x_train.shape == (200, 2) and data.x_test.shape == (200, 2)
    assert data.n_classes == 2 and np.bincount(data.y_train).tolist() == [100, 100]
    raw = scipy.io.loadmat(str(COURSE_CIRCLES))
    assert np.array_equal(data.y_train, raw["Ytrain"].argmax(1))  # class 0 is Y[:, 0] == 1


def test_mat_one_hot_and_label_vector(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    labels = np.arange(30) % 3
    onehot = np.eye(3, dtype=np.uint8)[labels]
    scipy.io.savemat(tmp_path / "a.mat", {"Xtrain": x, "Ytrain": onehot, "Xtest": x[:9], "Ytest": onehot[:9]})
    scipy.io.savemat(tmp_path / "b.mat", {"Xtrain": x, "Ytrain": labels[:, None], "Xtest": x[:9],
                                          "Ytest": labels[:9]})
    for name in ("a.mat", "b.mat"):
        data = load_mat(str(tmp_path / name))
        assert data.n_classes == 3 and np.array_equal(data.y_train, labels)
        assert np.allclose(data.x_train, x) and data.y_test.shape == (9,)
    # uint8 images are scaled to [0, 1]
    img = rng.integers(0, 256, size=(12, 16), dtype=np.uint8)
    scipy.io.savemat(tmp_path / "c.mat", {"Xtrain": img, "Ytrain": labels[:12], "Xtest": img, "Ytest": labels[:12]})
    assert np.allclose(load_mat(str(tmp_path / "c.mat")).x_train, img / 255.0)


def mat_error(path) -> str:
    with pytest.raises(ConfigError) as err:
        load_mat(str(path))
    message = str(err.value)
    assert message.startswith(f"invalid value for dataset: {str(path)!r} (") and "\n" not in message
    assert "Xtrain, Ytrain, Xtest, Ytest" in message
    return message


def test_mat_errors(tmp_path):
    assert "file not found" in mat_error(tmp_path / "missing.mat")
    (tmp_path / "garbage.mat").write_bytes(bytes(range(256)) * 8)
    assert "not a readable" in mat_error(tmp_path / "garbage.mat")
    (tmp_path / "empty.mat").write_bytes(b"")
    mat_error(tmp_path / "empty.mat")
    (tmp_path / "dir.mat").mkdir()
    mat_error(tmp_path / "dir.mat")
    x, y = np.zeros((4, 2)), np.eye(2)[[0, 1, 0, 1]]
    scipy.io.savemat(tmp_path / "keys.mat", {"X": x, "Y": y})
    assert "missing keys Xtrain, Ytrain, Xtest, Ytest" in mat_error(tmp_path / "keys.mat")
    scipy.io.savemat(tmp_path / "rows.mat", {"Xtrain": x, "Ytrain": y[:3], "Xtest": x, "Ytest": y})
    assert "Ytrain" in mat_error(tmp_path / "rows.mat")
    scipy.io.savemat(tmp_path / "cols.mat", {"Xtrain": x, "Ytrain": y, "Xtest": np.zeros((4, 3)), "Ytest": y})
    assert "columns" in mat_error(tmp_path / "cols.mat")
    scipy.io.savemat(tmp_path / "onehot.mat", {"Xtrain": x, "Ytrain": y * 2, "Xtest": x, "Ytest": y})
    assert "one-hot" in mat_error(tmp_path / "onehot.mat")
    scipy.io.savemat(tmp_path / "text.mat", {"Xtrain": "abc", "Ytrain": y, "Xtest": x, "Ytest": y})
    assert "Xtrain" in mat_error(tmp_path / "text.mat")


def test_mat_error_through_build(tmp_path):
    config = resolve_config("circles-optim", {"dataset": str(tmp_path / "nope.mat")})
    with pytest.raises(ConfigError, match="^invalid value for dataset: .*nope.mat.*file not found"):
        build(config, str(tmp_path))


def test_mnist_shaped_mat_through_build(tmp_path):
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 10
    x = rng.random((40, 784))
    y = np.eye(10)[labels]
    scipy.io.savemat(tmp_path / "mnist.mat", {"Xtrain": x, "Ytrain": y, "Xtest": x[:20], "Ytest": y[:20]})
    config = resolve_config("mnist-mlp", {"dataset": str(tmp_path / "mnist.mat"), "batch_size": 10, "epochs": 1})
    runner = build(config, str(tmp_path))
    runner.train_epoch(1, lambda b: False)
    arts = runner.artifacts(1, last=True)
    assert len(arts["confusion"]["matrix"]) == 10
    assert len(arts["samples"]["items"]) == 16 and len(arts["samples"]["items"][0]["image"]) == 28


# MNIST in its on-disk format -----------------------------------------------------------
def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format of the MNIST files: magic (0, 0, type 0x08 = ubyte, ndim), big-endian dims, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def tiny_mnist(root: Path, n_train: int = 30, n_test: int = 20) -> dict:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(5)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3) % 10}
    for name, array in arrays.items():
        write_idx(raw / name, array)
    return arrays


@pytest.fixture
def no_download(monkeypatch):
    calls = []

    def fail(self):
        calls.append(self.root)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nno network in tests")

    monkeypatch.setattr(MNIST, "download", fail)
    import engine.data.mnist as mnist_module

    monkeypatch.setattr(mnist_module, "probe", lambda urls: ("a host", []))  # as if online: torchvision tries
    return calls


def test_offline_missing_mnist_fails_before_any_download_attempt(tmp_path, no_download, monkeypatch):
    """No download host answers: the loader says so at once instead of waiting out torchvision's retries."""
    import engine.data.mnist as mnist_module

    monkeypatch.setattr(mnist_module, "probe", lambda urls: (None, ["ossci-datasets.s3.amazonaws.com:443 (no)"]))
    with pytest.raises(ConfigError) as err:
        load_mnist(str(tmp_path / "data"))
    assert no_download == []  # torchvision's download was never started
    message = str(err.value)
    assert "no download host answered" in message and "nnlab data import" in message and "dataset=digits" in message


def test_mnist_files_load_without_download(tmp_path, no_download):
    arrays = tiny_mnist(tmp_path)
    data = load_mnist(str(tmp_path))
    assert no_download == []
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (20, 784)
    assert data.x_train.dtype == np.float32 and data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert np.allclose(data.x_train, arrays["train-images-idx3-ubyte"].reshape(30, 784) / 255.0)
    assert np.array_equal(data.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert data.n_classes == 10 and data.test_images.shape == (20, 28, 28)

    config = resolve_config("mnist-mlp", {"dataset": "mnist", "batch_size": 10, "epochs": 1})
    runner = build(config, str(tmp_path))
    assert runner.n_train == 30 and runner.batches_per_epoch == 3
    runner.train_epoch(1, lambda b: False)
    samples = runner.artifacts(1, last=True)["samples"]
    first = samples["items"][0]
    assert first["image"] == arrays["t10k-images-idx3-ubyte"][first["index"]].tolist()


def test_missing_mnist_is_a_config_error(tmp_path, no_download):
    config = resolve_config("mnist-mlp", {"dataset": "mnist"})
    with pytest.raises(ConfigError) as err:
        build(config, str(tmp_path / "data"))
    message = str(err.value)
    assert no_download, "the download must have been tried"
    assert "\n" not in message and message.startswith("invalid value for dataset: 'mnist'")
    assert "dataset=digits" in message and str(tmp_path / "data" / "MNIST" / "raw") in message
    assert "no network in tests" in message
    # through the training loop (what `nnlab run` and the TUI call): the error comes before any run folder
    with pytest.raises(ConfigError, match="dataset=digits"):
        train(config, runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    runs = tmp_path / "runs"
    assert not runs.exists() or [p.name for p in runs.iterdir() if not p.name.startswith(".")] == []


def test_mnist_batch_size_checked_against_files(tmp_path, no_download):
    tiny_mnist(tmp_path)
    with pytest.raises(ConfigError, match="<= 30, the training-set size"):
        build(resolve_config("mnist-mlp", {"dataset": "mnist"}), str(tmp_path))  # default batch 100


# digits ---------------------------------------------------------------------------------
def test_digits():
    data = load_digits_features()
    assert data.x_train.shape == (1347, 64) and data.x_test.shape == (450, 64)
    assert data.x_train.min() >= 0.0 and data.x_train.max() == 1.0
    counts = np.bincount(data.y_test)
    assert len(counts) == 10 and counts.min() >= 43 and counts.max() <= 46  # stratified
    assert data.test_images.shape == (450, 8, 8) and data.test_images.dtype == np.uint8
    again = load_digits_features()
    assert np.array_equal(again.y_train, data.y_train) and np.array_equal(again.x_test, data.x_test)
