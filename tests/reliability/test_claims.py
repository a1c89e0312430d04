"""README claims that no other test checks: the default checkpoint interval, exit code 1 without mount
rights, an unreadable .mat file as root, and errors found only when the data loads (no run folder)."""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import types

import pytest

import engine.checkpointer as checkpointer_module
from engine.checkpointer import CHECKPOINT_ENV, CHECKPOINT_EVERY_S, checkpoint_every
from engine.events import EpochEnd
from engine.stages import resolve_config
from engine.store import load_checkpoint, read_metrics
from engine.train import train
from tests.conftest import ROOT
from tests.reliability.conftest import cli_env


def run_folders(runs_dir):
    return [p.name for p in runs_dir.iterdir() if not p.name.startswith(".")] if runs_dir.exists() else []


# ---- the checkpoint interval: at most every 5 s by default ----------------------------------------------------

@pytest.mark.parametrize("raw", [None, "", "soon", "-1", "nan", "inf"])
def test_default_checkpoint_interval_is_5_seconds(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    else:
        monkeypatch.setenv(CHECKPOINT_ENV, raw)
    assert CHECKPOINT_EVERY_S == 5.0 and checkpoint_every() == 5.0


def test_checkpoints_are_written_every_5_seconds_of_training(tmp_path, monkeypatch):
    """The default interval with an injected clock (no 5 s of waiting): each epoch 'takes' 1 s, so with the
    environment variable unset last.pt is rewritten after epochs 6 and 11 (5 s apart) and at the end."""
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    clock = {"now": 1000.0}
    monkeypatch.setattr(checkpointer_module, "time", types.SimpleNamespace(perf_counter=lambda: clock["now"]))
    seen = []

    def emit(event):
        if isinstance(event, EpochEnd):
            ckpt = os.path.join(run_dir[0], "checkpoints", "last.pt")
            seen.append(load_checkpoint(run_dir[0])["epoch"] if os.path.exists(ckpt) else None)
            clock["now"] += 1.0  # the next epoch takes 1 s
        elif hasattr(event, "run_dir"):
            run_dir.append(event.run_dir)

    run_dir: list = []
    result = train(resolve_config("circles-optim", {"epochs": "13"}), runs_dir=str(tmp_path / "runs"),
                   data_dir=str(tmp_path), emit=emit)
    assert result.status == "finished"
    assert seen == [None] * 5 + [6] * 5 + [11, 11, 13]
    assert load_checkpoint(result.run_dir)["epoch"] == 13


# ---- exit code 1: an unexpected failure, without mount rights -------------------------------------------------

def test_checkpoint_folder_replaced_by_a_file_fails_the_run_with_exit_1(background):
    """checkpoints/ turns into a file mid-run (a user's or a script's mistake): the next checkpoint cannot be
    written, the run ends failed with the reason, exit code 1, and the checkpoint written before stays whole."""
    run = background("run", "circles-optim", "epochs=100000", env={CHECKPOINT_ENV: "0"})
    run_dir = run.wait_rows(3, checkpoint=True)
    os.kill(run.pid, signal.SIGSTOP)
    try:
        os.rename(run_dir / "checkpoints", run_dir / "checkpoints.moved")
        (run_dir / "checkpoints").write_text("not a folder")
    finally:
        os.kill(run.pid, signal.SIGCONT)
    rc = run.wait(timeout=60)
    err = run.stderr()
    assert rc == 1, err[-2000:]
    assert "Traceback" not in err and "could not save the checkpoint" in err, err[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and "could not save the checkpoint" in record["message"]
    shutil.move(run_dir / "checkpoints.moved" / "last.pt", run_dir / "last.pt")
    kept = load_checkpoint_file(run_dir / "last.pt")
    assert 1 <= kept["epoch"] <= len(read_metrics(run_dir)) < 100000


def load_checkpoint_file(path):
    import torch

    return torch.load(path, weights_only=True)


# ---- an unreadable .mat file, also when the tests run as root -------------------------------------------------

def without_file_rights() -> list[str]:
    """A command prefix under which the CLI cannot read a file its mode forbids: none for a normal user; for
    root, setpriv dropping the capabilities that let root read any file (dac_override, dac_read_search)."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "open('/proc/1/environ').read()"], capture_output=True,
                           timeout=60)
    if shutil.which("setpriv") is None or probe.returncode == 0:
        pytest.skip("root here cannot drop the capability to read any file (no setpriv, or it has no effect)")
    return prefix


def test_unreadable_mat_file_as_any_user(tmp_path):
    import scipy.io

    prefix = without_file_rights()
    locked = tmp_path / "locked.mat"
    scipy.io.savemat(locked, {"Xtrain": [[0.0, 1.0]], "Ytrain": [[1]], "Xtest": [[0.0, 1.0]], "Ytest": [[1]]})
    locked.chmod(0)
    runs, data = tmp_path / "runs", tmp_path / "data"
    data.mkdir()
    result = subprocess.run([*prefix, sys.executable, "-m", "engine", "run", "circles-optim", "epochs=1",
                             f"dataset={locked}"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env=cli_env(runs, data))
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "dataset" in lines[0] and "locked.mat" in lines[0] and "ermission denied" in lines[0], lines[0]
    assert run_folders(runs) == []


# ---- errors found only when the data loads leave no run folder ------------------------------------------------

def test_damaged_cifar_files_are_bad_input_and_leave_no_run_folder(cli):
    """Every CIFAR-10 file is present (no download is tried) but unreadable: found only when the data loads,
    after the config is valid. Exit 2, one line, and no run folder."""
    folder = cli.data_dir / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (folder / name).write_bytes(pickle.dumps({"not": "cifar"})[:-3])  # a torn pickle
    result = cli("run", "cifar-base", "epochs=1")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cannot read CIFAR-10" in lines[0] and "dataset=digits" in lines[0], result.stderr
    assert run_folders(cli.runs_dir) == []


def test_data_errors_in_process_leave_no_run_folder(tmp_path):
    """engine.train itself (the TUI's path): a course file that is not one, and a batch larger than a data set
    that only its files reveal, raise ConfigError before any folder exists."""
    from engine.config import ConfigError

    (tmp_path / "bad.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    (tmp_path / "no-labels.mat").write_bytes(b"")
    for overrides in ({"dataset": str(tmp_path / "bad.mat")}, {"dataset": str(tmp_path / "no-labels.mat")},
                      {"dataset": "digits", "batch_size": "5000"}):
        runs = tmp_path / "runs"
        with pytest.raises(ConfigError):
            train(resolve_config("circles-optim", overrides), runs_dir=str(runs), data_dir=str(tmp_path))
        assert run_folders(runs) == [], overrides
