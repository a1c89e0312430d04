"""Bad input: one clear line naming key, value and what is allowed; exit 2; no run folder."""
import os

import pytest
import scipy.io


def assert_bad(result, *needles: str, runs_dir=None):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    if runs_dir is not None and runs_dir.exists():
        assert [p for p in runs_dir.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize("args, needles", [
    (["run", "nope"], ["nope", "circles-optim"]),
    (["run", "circles-optim", "kernel=rbf"], ["kernel", "allowed keys"]),
    (["run", "circles-optim", "colour=red"], ["colour", "allowed keys"]),
    (["run", "circles-optim", "lr=fast"], ["lr", "'fast'", "a number > 0"]),
    (["run", "circles-optim", "lr=0"], ["lr", "'0'", "> 0"]),
    (["run", "circles-optim", "lr=-0.1"], ["lr", "'-0.1'"]),
    (["run", "circles-optim", "lr=nan"], ["lr", "'nan'"]),
    (["run", "circles-optim", "batch_size=0"], ["batch_size", "'0'", ">= 1"]),
    (["run", "circles-optim", "batch_size=2.5"], ["batch_size", "'2.5'", "integer"]),
    (["run", "circles-optim", "epochs=0"], ["epochs", "'0'", ">= 1"]),
    (["run", "circles-optim", "hidden=0"], ["hidden", "'0'", ">= 1"]),
    (["run", "circles-optim", "init_std=-1"], ["init_std", "'-1'", ">= 0"]),
    (["run", "circles-optim", "reduction=avg"], ["reduction", "'avg'", "mean, sum"]),
    (["run", "circles-optim", "dataset=cifar10"], ["dataset", "cifar10"]),
    (["run", "circles-optim", "lr"], ["KEY=VALUE", "'lr'"]),
    (["run", "circles-svm", "kernel=sigmoid"], ["kernel", "'sigmoid'", "rbf"]),
    (["run", "circles-svm", "gamma=-2"], ["gamma", "'-2'", "scale"]),
    (["run", "circles-svm", "C=0"], ["C", "'0'"]),
    (["run", "cifar-base", "dropout=1"], ["dropout", "'1'", "< 1"]),
    (["run", "cifar-base", "optimizer=lbfgs"], ["optimizer", "'lbfgs'", "adam"]),
    (["run", "cifar-base", "scheduler=plateau"], ["scheduler", "'plateau'", "cosine"]),
    (["run", "cifar-base", "augment=crop-flip+warp"], ["augment", "warp", "crop-flip"]),
    (["run", "cifar-base", "gamma=0"], ["gamma", "'0'", "> 0"]),
    (["sweep", "circles-optim", "lr=0.1,-1"], ["lr", "'-1'"]),
    (["runs", "show", "nothing-like-this"], ["nothing-like-this", "no run matches"]),
    (["runs", "frobnicate"], ["frobnicate"]),
    (["run", "circles-optim", "--d", "x", "epochs=0"], ["unrecognized", "--d"]),  # no option abbreviations
    (["run", "circles-nn", "device=cuda:1"], ["device", "'cuda:1'", "auto, cpu"]),  # no CUDA in CI
    (["run", "circles-nn", "device=cuda:one"], ["device", "'cuda:one'", "cuda:N"]),
    (["run", "circles-optim", "lr=\uff10.\uff11"], ["lr", "ASCII digits"]),  # full-width 0.1: refused, not guessed
])
def test_bad_input_is_one_line_and_exit_2(cli, args, needles):
    assert_bad(cli(*args), *needles, runs_dir=cli.runs_dir)


def test_batch_size_larger_than_training_set(cli):
    assert_bad(cli("run", "circles-optim", "batch_size=201"), "batch_size", "'201'", "200", runs_dir=cli.runs_dir)


def test_missing_mat_file(cli, tmp_path):
    missing = tmp_path / "absent.mat"
    assert_bad(cli("run", "circles-optim", f"dataset={missing}"), "dataset", "absent.mat", runs_dir=cli.runs_dir)


def test_garbage_mat_file(cli, tmp_path):
    bad = tmp_path / "garbage.mat"
    bad.write_bytes(os.urandom(300))
    assert_bad(cli("run", "circles-optim", f"dataset={bad}"), "dataset", "garbage.mat", runs_dir=cli.runs_dir)


def test_wrong_format_mat_file(cli, tmp_path):
    wrong = tmp_path / "wrong.mat"
    scipy.io.savemat(wrong, {"images": [[1.0, 2.0]], "labels": [1]})
    assert_bad(cli("run", "circles-optim", f"dataset={wrong}"), "dataset", "wrong.mat", runs_dir=cli.runs_dir)


def test_unwritable_runs_dir(cli, tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    result = cli("run", "circles-optim", "epochs=1", runs_dir=blocker / "runs")
    assert_bad(result, "--runs-dir", "file-not-dir")


def test_directory_named_mat(cli, tmp_path):
    folder = tmp_path / "folder.mat"
    folder.mkdir()
    assert_bad(cli("run", "circles-optim", f"dataset={folder}"), "dataset", "folder.mat", runs_dir=cli.runs_dir)


@pytest.mark.parametrize("args", [[], ["runs", "list"]], ids=["tui", "runs-list"])
def test_a_runs_dir_that_is_a_file_is_refused_at_start(cli, tmp_path, args):
    """The TUI used to open on it with an empty History and fail only when a run started."""
    afile = tmp_path / "afile"
    afile.write_text("not runs")
    assert_bad(cli(*args, runs_dir=afile), "--runs-dir", "afile", "not a folder", "a writable folder")
    assert afile.read_text() == "not runs"


def test_runs_list_of_a_folder_that_does_not_exist_says_so(cli, tmp_path):
    missing = tmp_path / "no-such-runs"
    assert_bad(cli("runs", "list", "--runs-dir", str(missing)), "--runs-dir", "no-such-runs", "no such folder")
    assert not missing.exists()
    # a $NNLAB_RUNS_DIR that does not exist yet is a store with no runs yet, not a typo on this command line
    quiet = cli("runs", "list", runs_dir=missing)
    assert quiet.returncode == 0 and "no runs" in quiet.stdout


def test_resume_of_a_finished_run_says_so_and_how_to_extend_it(cli):
    import json

    run = json.loads(cli("run", "circles-nn", "epochs=2", "--json").stdout)["run_id"]
    result = cli("resume", run)
    assert_bad(result, run, "has done all its 2 epochs", f"nnlab resume {run} epochs=12")
    assert "invalid value for epochs" not in result.stderr  # the user gave no epochs
    assert_bad(cli("resume", run, "epochs=2"), "invalid value for epochs", "more than the 2 epochs")
