"""`nnlab data status|fetch|pack|import`, through the real CLI (python -m engine) where it is end to end, on small
files in the real on-disk formats (MNIST's and Fashion-MNIST's IDX files, CIFAR-10's batches pickled as Python 2
did), with no network. Tiny files never match torchvision's md5 sums: the tests see them reported as differing, and the
complete case is shown in-process with the checksum table swapped for the tiny files' own."""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import socket
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from engine.cli.main import main
from engine.data import catalog
from tests.conftest import ROOT

MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_NAMES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta")
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
NO_NETWORK = {"https_proxy": "http://127.0.0.1:1", "http_proxy": "http://127.0.0.1:1",
              "HTTPS_PROXY": "http://127.0.0.1:1", "HTTP_PROXY": "http://127.0.0.1:1", "no_proxy": "", "NO_PROXY": ""}


# ---------------------------------------------------------------------------------------------- real formats


def idx_bytes(array: np.ndarray) -> bytes:
    """MNIST's IDX: two zero bytes, type 0x08 (unsigned byte), the number of dimensions, each dimension as a
    big-endian uint32, then the bytes."""
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + \
        array.astype(np.uint8).tobytes()


def write_tiny_mnist(data_dir: Path, n_train: int = 30, n_test: int = 20, folder: str = "MNIST",
                     seed: int = 3) -> dict[str, np.ndarray]:
    """The four IDX files in <data_dir>/<folder>/raw (folder FashionMNIST: Fashion-MNIST's, the same names)."""
    raw = data_dir / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": (np.arange(n_test) * 7) % 10}
    for name, array in arrays.items():
        (raw / name).write_bytes(idx_bytes(array))
    return arrays


class Py2Str(bytes):
    """A Python 2 `str`: CIFAR-10's batches were pickled by Python 2, whose strings load as str with
    encoding="latin1" (torchvision) and as bytes with encoding="bytes"."""


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table can take one more type
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj: Py2Str) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + bytes(obj))

    dispatch[Py2Str] = save_py2str


def py2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def tiny_cifar_files(per_batch: int = 3, n_test: int = 4, seed: int = 0) -> dict[str, bytes]:
    """The files of cifar-10-batches-py (what the python-version archive unpacks), with few images."""
    rng = np.random.default_rng(seed)
    files = {}
    for name in CIFAR_NAMES[:-1]:
        n = n_test if name == "test_batch" else per_batch
        files[name] = py2_pickle({
            Py2Str(b"batch_label"): Py2Str(name.encode()),
            Py2Str(b"labels"): [int(v) for v in rng.integers(0, 10, n)],
            Py2Str(b"data"): rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            Py2Str(b"filenames"): [Py2Str(f"img_{i}.png".encode()) for i in range(n)]})
    files["batches.meta"] = py2_pickle({Py2Str(b"label_names"): [Py2Str(c.encode()) for c in CLASSES],
                                        Py2Str(b"num_cases_per_batch"): per_batch, Py2Str(b"num_vis"): 3072})
    return files


def write_tiny_cifar(data_dir: Path, **kw) -> dict[str, bytes]:
    folder = data_dir / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    files = tiny_cifar_files(**kw)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    return files


def official_like_cifar_archive(path: Path, files: dict[str, bytes]) -> Path:
    """A gzipped tar laid out as the official cifar-10-python.tar.gz: a folder entry, then its files."""
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for name, blob in {**files, "readme.html": b"<html>CIFAR-10</html>"}.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under folder (hidden ones too) and its bytes: to show a refused command changed nothing."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def data_files(folder: Path) -> dict[str, bytes]:
    """The data sets' files under a data dir (no cache, lock or staging)."""
    return {k: v for k, v in snapshot(folder).items()
            if k.startswith(("MNIST/", "FashionMNIST/", "cifar-10-batches-py/"))}


def one_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nnlab: error: ") and "Traceback" not in result.stderr
    return lines[0]


def refused_in_process(capsys, data_dir: Path, *args: str) -> str:
    """The CLI's main() in this process (torch is loaded here once, not in one more subprocess per refusal):
    exit 2, one error line, nothing on stdout."""
    capsys.readouterr()
    code = main(["data", *args, "--data-dir", str(data_dir)])
    captured = capsys.readouterr()
    return one_error(subprocess.CompletedProcess(args, code, captured.out, captured.err))


def tiny_reference(data_dir: Path) -> dict[str, str]:
    """A checksum table in which the tiny files under data_dir are the official ones."""
    table = {}
    for folder in (data_dir / "MNIST" / "raw", data_dir / "FashionMNIST" / "raw", data_dir / "cifar-10-batches-py"):
        for path in folder.glob("*"):
            table[path.relative_to(data_dir).as_posix()] = catalog.md5_of(path)
    table[catalog.CIFAR_ARCHIVE] = "0" * 32
    return table


# ---------------------------------------------------------------------------------------------- status


def test_status_of_an_empty_data_dir_says_absent_and_how_to_get_each(cli):
    result = cli("data", "status")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"data dir: {cli.data_dir}" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.split()}
    assert rows["mnist"][1:3] == ["absent", "0/4"] and rows["cifar10"][1:3] == ["absent", "0/7"]
    assert rows["fashion-mnist"][1:3] == ["absent", "0/4"]
    assert rows["circles"][1] == "available" and rows["digits"][1] == "available"
    for name in ("mnist", "fashion-mnist", "cifar10"):
        hint = next(line for line in out.splitlines() if line.startswith(f"{name}: get it with"))
        assert f"`nnlab data fetch {name}`" in hint and "`nnlab data pack`" in hint
        assert "`nnlab data import FILE.tar`" in hint
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in out
    assert "train-images-idx3-ubyte.gz" in out

    result = cli("data", "status", "--json")
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1
    doc = json.loads(result.stdout)
    assert doc["data_dir"] == str(cli.data_dir) and doc["exists"] is True
    assert list(doc["datasets"]) == ["mnist", "fashion-mnist", "cifar10", "circles", "digits"]
    mnist, cifar = doc["datasets"]["mnist"], doc["datasets"]["cifar10"]
    assert mnist["state"] == "absent" and mnist["complete"] is False and mnist["usable"] is False
    assert mnist["missing"] == list(MNIST_NAMES) and mnist["folder"] == str(cli.data_dir / "MNIST" / "raw")
    assert cifar["missing"] == list(CIFAR_NAMES) and cifar["problems"] == []
    assert "nnlab data fetch cifar10" in cifar["hint"] and "nnlab data import" in cifar["hint"]
    assert doc["datasets"]["digits"]["state"] == "available" and doc["datasets"]["digits"]["hint"] is None
    assert snapshot(cli.data_dir) == {}  # status writes nothing where there is nothing to check


def test_status_of_tiny_real_format_files_names_what_differs(cli):
    write_tiny_mnist(cli.data_dir)
    write_tiny_cifar(cli.data_dir)
    result = cli("data", "status", "--json")
    assert result.returncode == 0, result.stderr
    sets = json.loads(result.stdout)["datasets"]
    mnist, cifar = sets["mnist"], sets["cifar10"]
    assert mnist["state"] == "differs" and mnist["usable"] is True and mnist["missing"] == []
    assert {p["file"]: p["problem"] for p in mnist["problems"]} == {n: "size differs" for n in MNIST_NAMES}
    images = next(p for p in mnist["problems"] if p["file"] == "train-images-idx3-ubyte")
    assert images["detail"] == "30 images, 23536 bytes; expected 60000, 47040016 bytes"
    assert cifar["state"] == "differs" and cifar["usable"] is True
    assert {p["file"]: p["problem"] for p in cifar["problems"]} == {n: "checksum differs" for n in CIFAR_NAMES}
    assert "expected c99cafc152244af753f735de768cd75f" in cifar["problems"][0]["detail"]  # torchvision's own sum

    result = cli("data", "status")  # the second look reuses the sums kept in the data dir
    assert result.returncode == 0, result.stderr
    assert "cifar10: checksum differs from torchvision's: data_batch_1, data_batch_2" in result.stdout
    assert "mnist: size differs from the official files: train-images-idx3-ubyte (30 images" in result.stdout
    assert "mnist: it loads, but it is not the official data set" in result.stdout
    assert (cli.data_dir / catalog.CHECKSUM_CACHE).is_file()


def test_missing_and_damaged_files_are_named(tmp_path, monkeypatch):
    write_tiny_mnist(tmp_path)
    files = write_tiny_cifar(tmp_path)
    reference = tiny_reference(tmp_path)  # the files as written are the official ones
    monkeypatch.setattr(catalog, "reference_md5s", lambda: reference)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    labels = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x08\x03" + labels.read_bytes()[4:])  # an images magic on a labels file
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-5])  # truncated
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(files["test_batch"][:-1] + b"!")
    states = {st.name: st for st in catalog.status(tmp_path)}
    assert states["cifar10"].state == "incomplete" and states["cifar10"].missing == ["data_batch_3"]
    assert [(p.file, p.kind) for p in states["cifar10"].problems] == [("test_batch", "checksum differs")]
    assert states["mnist"].state == "damaged" and not states["mnist"].usable
    assert {p.file: p.detail for p in states["mnist"].problems} == {
        "train-images-idx3-ubyte": "23531 bytes, its header says 23536",
        "train-labels-idx1-ubyte": "30 labels, 38 bytes; expected 60000, 60008 bytes",
        "t10k-images-idx3-ubyte": "20 images, 15696 bytes; expected 10000, 7840016 bytes",
        "t10k-labels-idx1-ubyte": "IDX magic 2051, expected 2049"}
    present = catalog.presence(tmp_path)
    assert present["cifar10"].state == "partial" and present["cifar10"].missing == ("data_batch_3",)
    assert present["mnist"].state == "present" and present["mnist"].hint == ""


def test_complete_data_sets_pack_and_import_without_trust(tmp_path, monkeypatch, capsys):
    """With torchvision's table swapped for the tiny files' sums, they are the official data: status says
    complete, pack needs no --trust, import verifies them and installs them."""
    here, there = tmp_path / "here", tmp_path / "there"
    arrays = write_tiny_mnist(here)
    write_tiny_mnist(here, folder="FashionMNIST", seed=4)  # the same sizes (as the official files), other bytes
    write_tiny_cifar(here)
    reference = tiny_reference(here)
    monkeypatch.setattr(catalog, "reference_md5s", lambda: reference)
    monkeypatch.setattr(catalog, "MNIST_SIZES", {n: len(idx_bytes(a)) for n, a in arrays.items()})
    states = {st.name: st for st in catalog.status(here)}
    assert [states[n].state for n in ("mnist", "fashion-mnist", "cifar10")] == ["complete"] * 3
    assert states["mnist"].hint == "" and states["mnist"].usable and states["fashion-mnist"].usable

    pack = tmp_path / "data.tar"
    assert main(["data", "pack", "--data-dir", str(here), "-o", str(pack), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["path"] == str(pack) and doc["bytes"] == pack.stat().st_size and doc["skipped"] == {}
    assert doc["datasets"]["mnist"]["files"] == [f"MNIST/raw/{n}" for n in MNIST_NAMES]
    assert doc["datasets"]["fashion-mnist"]["files"] == [f"FashionMNIST/raw/{n}" for n in MNIST_NAMES]
    with tarfile.open(pack) as tar:
        names = tar.getnames()
    assert names[-1] == catalog.PACK_MANIFEST and len(names) == 4 + 4 + 7 + 1

    assert main(["data", "import", "--data-dir", str(there), str(pack)]) == 0
    out = capsys.readouterr().out
    assert "imported mnist from data.tar: 4 files" in out and "imported cifar10 from data.tar: 7 files" in out
    assert "imported fashion-mnist from data.tar: 4 files" in out
    assert "--trust" not in out
    assert [line.split()[:3] for line in out.splitlines() if line.startswith(("mnist ", "fashion-mnist ", "cifar10 "))
            ] == [["mnist", "complete", "4/4"], ["fashion-mnist", "complete", "4/4"], ["cifar10", "complete", "7/7"]]
    assert data_files(there) == data_files(here)


# ---------------------------------------------------------------------------------------------- pack, import


def test_pack_then_import_round_trip_and_the_real_loaders_read_it(cli, tmp_path, capsys):
    arrays = write_tiny_mnist(cli.data_dir)
    cifar = write_tiny_cifar(cli.data_dir)
    pack = tmp_path / "lab-data.tar"

    refused = refused_in_process(capsys, cli.data_dir, "pack", "-o", str(pack))
    assert "nothing to pack" in refused and "mnist differs" in refused and "--trust" in refused
    assert not pack.exists()

    result = cli("data", "pack", "--trust", "-o", str(pack))
    assert result.returncode == 0, result.stderr
    assert "packed mnist: 4 files" in result.stdout and "packed cifar10: 7 files" in result.stdout
    assert f"wrote {pack} (" in result.stdout and "nnlab data import lab-data.tar" in result.stdout
    before = pack.read_bytes()
    assert "refusing to overwrite" in one_error(cli("data", "pack", "--trust", "-o", str(pack)))
    assert pack.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    other = tmp_path / "gpu-box"
    refused = refused_in_process(capsys, other, "import", str(pack))
    assert f"refusing {pack}: not the official files (mnist: size differs for train-images-idx3-ubyte" in refused
    assert "cifar10: checksum differs for data_batch_1" in refused and "--trust" in refused
    assert not other.exists()  # the data dir it would have made is gone again

    result = cli("data", "import", "--trust", str(pack), data_dir=other)
    assert result.returncode == 0, result.stderr
    assert "imported mnist from lab-data.tar: 4 files" in result.stdout
    assert "imported with --trust: not the official files" in result.stdout
    assert [line.split()[:3] for line in result.stdout.splitlines() if line.startswith(("mnist ", "cifar10 "))] == [
        ["mnist", "differs", "4/4"], ["cifar10", "differs", "7/7"]]
    assert data_files(other) == data_files(cli.data_dir)
    assert not [p for p in other.iterdir() if p.name.startswith(catalog.STAGING_PREFIX)]

    from engine.data.cifar import load_cifar10
    from engine.data.mnist import load_mnist

    mnist = load_mnist(str(other))
    assert mnist.x_train.shape == (30, 784) and mnist.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert np.array_equal(mnist.test_images, arrays["t10k-images-idx3-ubyte"].astype(np.uint8))
    images = load_cifar10(str(other), download=False)
    assert images.x_train.shape == (15, 3, 32, 32) and images.x_test.shape == (4, 3, 32, 32)
    test_batch = pickle.loads(cifar["test_batch"], encoding="bytes")
    assert images.y_test.tolist() == test_batch[b"labels"]
    assert images.classes == tuple(CLASSES)


@pytest.mark.parametrize("evil", ["../evil", "/tmp/evil-abs", "MNIST/raw/../../evil", "notes.txt",
                                  "cifar-10-batches-py/extra", "symlink"])
def test_import_refuses_a_member_outside_the_data_sets_and_writes_nothing(cli, tmp_path, evil):
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        good = idx_bytes(np.arange(10))
        info = tarfile.TarInfo("MNIST/raw/t10k-labels-idx1-ubyte")
        info.size = len(good)
        tar.addfile(info, io.BytesIO(good))
        if evil == "symlink":
            info = tarfile.TarInfo("MNIST/raw/train-labels-idx1-ubyte")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info = tarfile.TarInfo(evil)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    write_tiny_cifar(cli.data_dir)
    before = snapshot(tmp_path)
    line = one_error(cli("data", "import", "--trust", str(archive)))
    assert "refusing" in line and "nothing imported" in line
    assert ("train-labels-idx1-ubyte" if evil == "symlink" else repr(evil)) in line
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/evil-abs").exists()


def test_an_official_named_cifar_archive_whose_checksum_differs_needs_trust(cli, tmp_path, capsys):
    write_tiny_mnist(cli.data_dir)
    old = write_tiny_cifar(cli.data_dir, seed=1)
    new = tiny_cifar_files(per_batch=2, seed=2)
    archive = official_like_cifar_archive(tmp_path / "cifar-10-python.tar.gz", new)
    before = snapshot(cli.data_dir)

    line = refused_in_process(capsys, cli.data_dir, "import", str(archive))
    assert "checksum differs from the official CIFAR-10 archive's" in line
    assert "expected c58f30108f718f92721af3b95e74349a" in line and "--trust" in line
    assert snapshot(cli.data_dir) == before
    assert data_files(cli.data_dir)["cifar-10-batches-py/test_batch"] == old["test_batch"]

    result = cli("data", "import", "--trust", str(archive))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "imported cifar10 from cifar-10-python.tar.gz: 8 files" in out
    assert "imported with --trust: cifar-10-python.tar.gz: checksum differs from the official" in out
    assert any(line.split()[:2] == ["cifar10", "differs"] for line in out.splitlines())
    after = data_files(cli.data_dir)
    assert {k: v for k, v in after.items() if k.startswith("cifar")} == {
        **{f"cifar-10-batches-py/{n}": b for n, b in new.items()},
        "cifar-10-batches-py/readme.html": b"<html>CIFAR-10</html>"}
    assert {k: v for k, v in after.items() if k.startswith("MNIST")} == \
        {k: v for k, v in before.items() if k.startswith("MNIST")}  # the other data set untouched


def test_mnist_gz_files_import_unpacked_beside_their_gz(cli, tmp_path, capsys):
    arrays = write_tiny_mnist(tmp_path / "made")
    gz = []
    for name in MNIST_NAMES[2:]:  # only the test split: a partial import is allowed and said so
        path = tmp_path / f"{name}.gz"
        path.write_bytes(gzip.compress(idx_bytes(arrays[name])))
        gz.append(str(path))
    line = refused_in_process(capsys, cli.data_dir, "import", *gz)
    assert "t10k-images-idx3-ubyte.gz: checksum differs from torchvision's" in line
    assert "expected 9fb629c4189551a2d022fa330f9573f3" in line
    assert snapshot(cli.data_dir) == {}

    result = cli("data", "import", "--trust", *gz)
    assert result.returncode == 0, result.stderr
    raw = cli.data_dir / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted([*MNIST_NAMES[2:], *(f"{n}.gz" for n in MNIST_NAMES[2:])])
    assert (raw / "t10k-images-idx3-ubyte").read_bytes() == idx_bytes(arrays["t10k-images-idx3-ubyte"])
    assert "imported mnist from t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz: 4 files" in result.stdout
    assert any(line.split()[:3] == ["mnist", "incomplete", "2/4"] for line in result.stdout.splitlines())
    assert "mnist: missing train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz]" in result.stdout


def test_import_refuses_unknown_kinds_and_missing_files(cli, tmp_path):
    odd = tmp_path / "notes.gz"
    odd.write_bytes(gzip.compress(b"hello"))
    line = one_error(cli("data", "import", str(odd)))
    assert str(odd) in line and "accepted:" in line and "cifar-10-python.tar.gz" in line
    line = one_error(cli("data", "import", str(tmp_path / "nope.tar")))
    assert "nope.tar" in line and "no such file" in line
    assert "missing ARCHIVE" in one_error(cli("data", "import"))
    assert snapshot(cli.data_dir) == {}


def test_an_interrupted_import_leaves_the_data_dir_as_it_was(tmp_path, monkeypatch):
    here, there = tmp_path / "here", tmp_path / "there"
    write_tiny_cifar(here)
    write_tiny_cifar(there, seed=5)
    before = snapshot(there)
    pack = tmp_path / "p.tar"
    assert main(["data", "pack", "--trust", "--data-dir", str(here), "-o", str(pack)]) == 0

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(catalog, "install", interrupted)
    assert main(["data", "import", "--trust", "--data-dir", str(there), str(pack)]) == 130
    assert snapshot(there) == before


def test_a_swap_cut_short_is_undone_by_the_next_import(tmp_path):
    """Killed between its two renames, an import leaves the old folder parked in its staging folder and no
    folder in place: the next one puts the old folder back before anything else."""
    files = write_tiny_cifar(tmp_path)
    staging = catalog.new_staging(tmp_path)
    (staging / ".old").mkdir()
    os.rename(tmp_path / "cifar-10-batches-py", staging / ".old" / "cifar-10-batches-py")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (staging / ".owner").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    catalog.clean_stale(tmp_path)
    assert not staging.exists()
    assert data_files(tmp_path) == {f"cifar-10-batches-py/{n}": b for n, b in files.items()}


# ---------------------------------------------------------------------------------------------- fetch


def test_fetch_without_network_fails_at_once_and_says_what_to_do(cli):
    line = one_error(cli("data", "fetch", "mnist", env=NO_NETWORK), code=1)
    assert "no network reached" in line and "ossci-datasets.s3.amazonaws.com" in line
    assert "`nnlab data pack`" in line and "`nnlab data import FILE.tar`" in line
    line = one_error(cli("data", "fetch", "cifar10", env=NO_NETWORK), code=1)
    assert "no network reached" in line and "www.cs.toronto.edu" in line
    assert snapshot(cli.data_dir) == {}


@pytest.fixture
def http_mirror(tmp_path, monkeypatch):
    """A local HTTP server of a folder: what torchvision downloads from in a test (no proxy in the way)."""
    import functools
    import http.server
    import threading

    for var in NO_NETWORK:
        monkeypatch.delenv(var, raising=False)
    folder = tmp_path / "mirror"
    folder.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_fetch_downloads_through_torchvision_into_staging_then_installs(tmp_path, monkeypatch, capsys, http_mirror):
    """torchvision's own download (its mirrors pointed at a local server of tiny .gz files, its table at their
    sums): the files land in a staging folder, are checked, then move into place; progress stays off stdout."""
    from torchvision.datasets import MNIST

    import engine.cli.data as data_cli

    mirror, url = http_mirror
    data_dir = tmp_path / "fresh" / "data"
    arrays = write_tiny_mnist(tmp_path / "made")
    for name, array in arrays.items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:1/", url])  # the first one is down
    monkeypatch.setattr(MNIST, "resources", [(f"{n}.gz", catalog.md5_of(mirror / f"{n}.gz")) for n in MNIST_NAMES])
    monkeypatch.setattr(catalog, "MNIST_SIZES", {n: len(idx_bytes(a)) for n, a in arrays.items()})
    monkeypatch.setattr(data_cli, "probe", lambda urls: ("the test's mirror", []))

    capsys.readouterr()
    assert main(["data", "fetch", "mnist", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split()[:3] == ["mnist", "complete", "4/4"] and "Downloading" not in out
    raw = data_dir / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted([*MNIST_NAMES, *(f"{n}.gz" for n in MNIST_NAMES)])
    assert (raw / "train-images-idx3-ubyte").read_bytes() == idx_bytes(arrays["train-images-idx3-ubyte"])
    assert not [p for p in data_dir.iterdir() if p.name.startswith(catalog.STAGING_PREFIX)]

    assert main(["data", "fetch", "mnist", "--data-dir", str(data_dir)]) == 0
    assert "mnist: already complete in" in capsys.readouterr().out

    (mirror / "t10k-labels-idx1-ubyte.gz").unlink()  # a download that fails halfway: nothing is left of it
    other = tmp_path / "other"
    assert main(["data", "fetch", "mnist", "--data-dir", str(other)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("nnlab: error:")]
    assert len(err) == 1 and "downloading mnist failed" in err[0] and "nnlab data import" in err[0]
    assert not other.exists()


@pytest.mark.parametrize("name, needle", [
    ("foo", "invalid value for dataset: 'foo' (allowed: mnist, fashion-mnist, cifar10)"),
    ("digits", "'digits' (allowed: mnist, fashion-mnist, cifar10; digits needs no files)")])
def test_fetch_of_a_bad_name_is_one_line_exit_2(cli, name, needle):
    assert needle in one_error(cli("data", "fetch", name))


def test_probe_sees_a_listening_port_and_a_closed_one(monkeypatch):
    from engine.cli.data import probe

    for var in NO_NETWORK:
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        reached, _ = probe((f"http://127.0.0.1:{port}/mnist/",), seconds=2)
        assert reached == f"127.0.0.1:{port}"
    reached, tried = probe((f"http://127.0.0.1:{port}/mnist/",), seconds=2)
    assert reached is None and tried == [f"127.0.0.1:{port} (Connection refused)"]


def test_download_hosts_and_layout_are_torchvision_s():
    from torchvision.datasets import CIFAR10, MNIST, FashionMNIST

    assert catalog.DOWNLOAD_URLS["mnist"] == tuple(MNIST.mirrors)
    assert catalog.DOWNLOAD_URLS["fashion-mnist"] == tuple(FashionMNIST.mirrors)
    assert catalog.FOLDERS["mnist"] == f"{MNIST.__name__}/raw"
    assert catalog.FOLDERS["fashion-mnist"] == f"{FashionMNIST.__name__}/raw"
    assert tuple(name for name, _ in FashionMNIST.resources) == catalog.MNIST_GZ
    table = catalog.reference_md5s()
    assert {rel: md5 for rel, md5 in table.items() if rel.startswith("FashionMNIST/")} == {
        f"FashionMNIST/raw/{name}": md5 for name, md5 in FashionMNIST.resources}
    assert catalog.DOWNLOAD_URLS["cifar10"] == (CIFAR10.url,)
    assert CIFAR10.filename == catalog.CIFAR_ARCHIVE and catalog.FOLDERS["cifar10"] == CIFAR10.base_folder
    assert tuple(name for name, _ in MNIST.resources) == catalog.MNIST_GZ
    assert set(catalog.CIFAR_FILES) == {n for n, _ in CIFAR10.train_list + CIFAR10.test_list} | {"batches.meta"}


def test_presence_is_cheap_and_torch_free(tmp_path):
    write_tiny_mnist(tmp_path)
    code = ("import json, sys; from engine.data.catalog import presence; p = presence(sys.argv[1]); "
            "print(json.dumps({k: [v.state, list(v.missing), bool(v.hint)] for k, v in p.items()})); "
            "assert 'torch' not in sys.modules and 'torchvision' not in sys.modules")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"mnist": ["present", [], False],
                                         "fashion-mnist": ["missing", list(MNIST_NAMES), True],
                                         "cifar10": ["missing", list(CIFAR_NAMES), True],
                                         "circles": ["available", [], False], "digits": ["available", [], False]}


# ---------------------------------------------------------------------------------------------- fashion-mnist


def test_status_json_follows_fashion_mnist_from_absent_to_present_to_damaged(cli):
    """Fashion-MNIST's four files in FashionMNIST/raw: checked on their own, never mistaken for MNIST's."""
    result = cli("data", "status", "--json")
    assert result.returncode == 0, result.stderr
    fashion = json.loads(result.stdout)["datasets"]["fashion-mnist"]
    assert fashion["state"] == "absent" and fashion["usable"] is False and fashion["missing"] == list(MNIST_NAMES)
    assert fashion["folder"] == str(cli.data_dir / "FashionMNIST" / "raw")
    assert "`nnlab data fetch fashion-mnist`" in fashion["hint"] and "--dataset fashion-mnist" in fashion["hint"]
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in fashion["hint"]

    arrays = write_tiny_mnist(cli.data_dir, folder="FashionMNIST", seed=4)
    raw = cli.data_dir / "FashionMNIST" / "raw"
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.rename(raw / "t10k-labels-idx1-ubyte.gz.tmp")  # this one as its .gz only (checked by md5)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(arrays["t10k-labels-idx1-ubyte"])))
    (raw / "t10k-labels-idx1-ubyte.gz.tmp").unlink()
    result = cli("data", "status", "--json")
    assert result.returncode == 0, result.stderr
    sets = json.loads(result.stdout)["datasets"]
    fashion = sets["fashion-mnist"]
    assert sets["mnist"]["state"] == "absent"
    assert fashion["state"] == "differs" and fashion["missing"] == [] and fashion["usable"] is False
    assert fashion["present"] == [*MNIST_NAMES[:3], "t10k-labels-idx1-ubyte.gz"]
    problems = {p["file"]: p for p in fashion["problems"]}
    assert {f: p["problem"] for f, p in problems.items()} == {
        **{n: "size differs" for n in MNIST_NAMES[:3]}, "t10k-labels-idx1-ubyte.gz": "checksum differs"}
    assert problems["t10k-labels-idx1-ubyte.gz"]["detail"].endswith("expected bb300cfdad3c16e7a12a480ee83cd310")

    labels.write_bytes(idx_bytes(arrays["t10k-labels-idx1-ubyte"]))  # unpacked too: the loader reads it
    images = raw / "train-images-idx3-ubyte"
    result = cli("data", "status", "--json")
    fashion = json.loads(result.stdout)["datasets"]["fashion-mnist"]
    assert fashion["state"] == "differs" and fashion["usable"] is True

    images.write_bytes(images.read_bytes()[:-7])  # truncated
    result = cli("data", "status", "--json")
    assert result.returncode == 0, result.stderr
    fashion = json.loads(result.stdout)["datasets"]["fashion-mnist"]
    assert fashion["state"] == "damaged" and fashion["usable"] is False and fashion["complete"] is False
    assert {"file": "train-images-idx3-ubyte", "problem": "damaged",
            "detail": "23529 bytes, its header says 23536"} in fashion["problems"]
    result = cli("data", "status")
    assert "fashion-mnist: damaged: train-images-idx3-ubyte (23529 bytes, its header says 23536)" in result.stdout
    assert not (cli.data_dir / "MNIST").exists()


def test_fashion_mnist_files_import_into_their_own_folder(cli, tmp_path, capsys):
    """The import rule: --dataset, else a FashionMNIST (or fashion-mnist) folder in the file's path, else mnist."""
    arrays = write_tiny_mnist(tmp_path / "made", seed=4)
    bare = tmp_path / "bare"
    bare.mkdir()
    gz = []
    for name in MNIST_NAMES:
        path = bare / f"{name}.gz"
        path.write_bytes(gzip.compress(idx_bytes(arrays[name])))
        gz.append(str(path))

    line = refused_in_process(capsys, cli.data_dir, "import", "--dataset", "cifar10", *gz)
    assert "invalid value for --dataset: 'cifar10' (allowed: mnist, fashion-mnist" in line
    line = refused_in_process(capsys, cli.data_dir, "import", "--dataset", "fashion-mnist", gz[0])
    assert "checksum differs from torchvision's for fashion-mnist" in line
    assert "expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d" in line  # FashionMNIST.resources' sum, not MNIST's
    assert snapshot(cli.data_dir) == {}

    result = cli("data", "import", "--trust", "--dataset", "fashion-mnist", *gz)
    assert result.returncode == 0, result.stderr
    raw = cli.data_dir / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted([*MNIST_NAMES, *(f"{n}.gz" for n in MNIST_NAMES)])
    assert (raw / "train-images-idx3-ubyte").read_bytes() == idx_bytes(arrays["train-images-idx3-ubyte"])
    assert "imported fashion-mnist from t10k-images-idx3-ubyte.gz" in result.stdout
    assert any(line.split()[:3] == ["fashion-mnist", "differs", "4/4"] for line in result.stdout.splitlines())
    assert not (cli.data_dir / "MNIST").exists()

    # no option: the folder the files are in decides (torchvision's FashionMNIST/raw, or fashion-mnist/) ...
    other = tmp_path / "other"
    (tmp_path / "fashion-mnist").mkdir()
    loose = tmp_path / "fashion-mnist" / "t10k-labels-idx1-ubyte"
    loose.write_bytes(idx_bytes(arrays["t10k-labels-idx1-ubyte"]))
    unpacked = write_tiny_mnist(tmp_path / "copy", folder="FashionMNIST", seed=5)
    files = [str(tmp_path / "copy" / "FashionMNIST" / "raw" / n) for n in MNIST_NAMES[:3]]
    result = cli("data", "import", "--trust", *files, str(loose), data_dir=other)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (other / "FashionMNIST" / "raw").iterdir()) == sorted(MNIST_NAMES)
    assert (other / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").read_bytes() == \
        idx_bytes(unpacked["t10k-images-idx3-ubyte"])
    assert not (other / "MNIST").exists()

    # ... and a bare file with no such folder is MNIST's
    plain = tmp_path / "plain" / "t10k-labels-idx1-ubyte"
    plain.parent.mkdir()
    plain.write_bytes(idx_bytes(arrays["t10k-labels-idx1-ubyte"]))
    result = cli("data", "import", "--trust", str(plain), data_dir=other)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (other / "MNIST" / "raw").iterdir()] == ["t10k-labels-idx1-ubyte"]
    assert "imported mnist from t10k-labels-idx1-ubyte: 1 file" in result.stdout


def test_an_official_fashion_mnist_gz_is_never_imported_as_mnist(tmp_path, monkeypatch, capsys):
    """A .gz with Fashion-MNIST's official md5 given with no folder or option (so: mnist) is refused, --trust
    or not, with the option that imports it; with that option it needs no --trust."""
    arrays = write_tiny_mnist(tmp_path / "made", seed=4)
    gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(idx_bytes(arrays["t10k-labels-idx1-ubyte"])))
    reference = {"MNIST/raw/t10k-labels-idx1-ubyte.gz": "0" * 32,
                 "FashionMNIST/raw/t10k-labels-idx1-ubyte.gz": catalog.md5_of(gz)}
    monkeypatch.setattr(catalog, "reference_md5s", lambda: reference)
    monkeypatch.setattr(catalog, "MNIST_SIZES", {n: len(idx_bytes(a)) for n, a in arrays.items()})
    data_dir = tmp_path / "data"
    for extra in ([], ["--trust"]):
        line = refused_in_process(capsys, data_dir, "import", *extra, str(gz))
        assert "it is Fashion-MNIST's official file, not mnist's" in line
        assert "`nnlab data import --dataset fashion-mnist`" in line and "FashionMNIST/raw/" in line
    assert not data_dir.exists()

    assert main(["data", "import", "--data-dir", str(data_dir), "--dataset", "fashion-mnist", str(gz)]) == 0
    out = capsys.readouterr().out
    assert "imported fashion-mnist from t10k-labels-idx1-ubyte.gz: 2 files" in out and "--trust" not in out
    assert sorted(p.name for p in (data_dir / "FashionMNIST" / "raw").iterdir()) == [
        "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"]


def test_pack_carries_fashion_mnist_and_import_puts_it_back_for_the_loader(tmp_path, capsys):
    here, there = tmp_path / "here", tmp_path / "there"
    arrays = write_tiny_mnist(here, folder="FashionMNIST", seed=4)
    pack = tmp_path / "fashion.tar"
    assert main(["data", "pack", "--trust", "--json", "--data-dir", str(here), "-o", str(pack)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc["datasets"]) == ["fashion-mnist"] and doc["skipped"] == {"mnist": "absent", "cifar10": "absent"}
    assert doc["datasets"]["fashion-mnist"]["files"] == [f"FashionMNIST/raw/{n}" for n in MNIST_NAMES]
    with tarfile.open(pack) as tar:
        names = tar.getnames()
    assert names == [*(f"FashionMNIST/raw/{n}" for n in MNIST_NAMES), catalog.PACK_MANIFEST]

    assert main(["data", "pack", "--trust", "--data-dir", str(here), "-o", str(tmp_path / "text.tar")]) == 0
    assert "packed fashion-mnist: 4 files" in capsys.readouterr().out

    assert main(["data", "import", "--trust", "--data-dir", str(there), str(pack)]) == 0
    out = capsys.readouterr().out
    assert "imported fashion-mnist from fashion.tar: 4 files" in out
    assert data_files(there) == data_files(here) and not (there / "MNIST").exists()

    from engine.data.mnist import FASHION_CLASSES, load_mnist

    fashion = load_mnist(str(there), "fashion-mnist")
    assert fashion.x_train.shape == (30, 784) and fashion.classes == FASHION_CLASSES
    assert fashion.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_a_tar_s_fashion_mnist_folder_is_let_through_and_others_refused(cli, tmp_path):
    archive = tmp_path / "mixed.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("FashionMNIST", "FashionMNIST/raw"):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        blob = idx_bytes(np.arange(10))
        info = tarfile.TarInfo("FashionMNIST/raw/t10k-labels-idx1-ubyte")
        info.size = len(blob)
        tar.addfile(info, io.BytesIO(blob))
    result = cli("data", "import", "--trust", str(archive))
    assert result.returncode == 0, result.stderr
    assert (cli.data_dir / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes() == blob
    with tarfile.open(archive, "a") as tar:
        info = tarfile.TarInfo("FashionMNIST/raw/notes.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    before = snapshot(cli.data_dir)
    line = one_error(cli("data", "import", "--trust", str(archive)))
    assert "'FashionMNIST/raw/notes.txt' is not a file of the data sets" in line
    assert "FashionMNIST/raw/<Fashion-MNIST file>" in line
    assert snapshot(cli.data_dir) == before


def test_fetch_fashion_mnist_without_network_fails_at_once_naming_its_folder(cli):
    """As mnist's: one line, exit 1 (no network is no bad input), nothing written."""
    line = one_error(cli("data", "fetch", "fashion-mnist", env=NO_NETWORK), code=1)
    assert f"cannot download fashion-mnist into {cli.data_dir / 'FashionMNIST' / 'raw'}: no network reached" in line
    assert "fashion-mnist.s3-website.eu-central-1.amazonaws.com" in line
    assert "`nnlab data pack`" in line and "`nnlab data import FILE.tar`" in line
    assert snapshot(cli.data_dir) == {}


def test_fetch_fashion_mnist_downloads_through_torchvision_s_fashionmnist(tmp_path, monkeypatch, capsys,
                                                                          http_mirror):
    from torchvision.datasets import MNIST, FashionMNIST

    import engine.cli.data as data_cli

    mirror, url = http_mirror
    data_dir = tmp_path / "data"
    arrays = write_tiny_mnist(tmp_path / "made", seed=4)
    for name, array in arrays.items():
        (mirror / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(array)))
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:1/"])  # were MNIST's class used, it would fail
    monkeypatch.setattr(FashionMNIST, "mirrors", [url])
    monkeypatch.setattr(FashionMNIST, "resources",
                        [(f"{n}.gz", catalog.md5_of(mirror / f"{n}.gz")) for n in MNIST_NAMES])
    monkeypatch.setattr(catalog, "MNIST_SIZES", {n: len(idx_bytes(a)) for n, a in arrays.items()})
    monkeypatch.setattr(data_cli, "probe", lambda urls: ("the test's mirror", []))

    capsys.readouterr()
    assert main(["data", "fetch", "fashion-mnist", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split()[:3] == ["fashion-mnist", "complete", "4/4"]
    raw = data_dir / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted([*MNIST_NAMES, *(f"{n}.gz" for n in MNIST_NAMES)])
    assert (raw / "t10k-images-idx3-ubyte").read_bytes() == idx_bytes(arrays["t10k-images-idx3-ubyte"])
    assert not (data_dir / "MNIST").exists()
    assert main(["data", "fetch", "fashion-mnist", "--data-dir", str(data_dir)]) == 0
    assert "fashion-mnist: already complete in" in capsys.readouterr().out


def test_reproduce_sees_each_idx_set_in_its_own_folder(tmp_path):
    from engine.report.reproduce import mnist_present

    write_tiny_mnist(tmp_path, folder="FashionMNIST")
    assert mnist_present(str(tmp_path), "fashion-mnist") and not mnist_present(str(tmp_path))
    write_tiny_mnist(tmp_path)
    assert mnist_present(str(tmp_path)) and mnist_present(str(tmp_path), "mnist")
