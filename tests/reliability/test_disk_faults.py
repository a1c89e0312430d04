"""Point 6: the disk fills up or the checkpoint folder turns unwritable while a checkpoint is saved: the
previous checkpoint stays whole and loadable, the run ends failed with a clear message (exit 1)."""
import errno
import json
import os
import signal
from pathlib import Path

from engine.events import EpochEnd, RunStarted
from engine.stages import resolve_config
from engine.store import RESERVE_NAME, load_checkpoint, read_metrics, read_record, writer
from engine.train import train


def _no_temp_files(run_dir):
    return [p.name for p in (run_dir / "checkpoints").iterdir() if p.name != "last.pt"] == []


def test_checkpoint_write_fails_after_first_success_in_process(tmp_path, monkeypatch):
    """Fault injection: fsync of a new checkpoint fails with ENOSPC once the first one is saved (the temp file
    already holds data: the real cleanup path runs)."""
    monkeypatch.setenv("NNLAB_CHECKPOINT_EVERY_S", "0")  # a checkpoint every epoch
    real_fsync, saved = os.fsync, []

    def fsync(fd):
        target = os.readlink(f"/proc/self/fd/{fd}")
        if "last.pt" in os.path.basename(target):
            if saved:
                raise OSError(errno.ENOSPC, "No space left on device")
            saved.append(target)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    config = resolve_config("circles-optim", {"epochs": "10"})
    result = train(config, runs_dir=str(tmp_path), data_dir=str(tmp_path))
    run_dir = tmp_path / result.run_id
    assert result.status == "failed"
    assert "could not save the checkpoint of epoch 2" in result.message
    assert "No space left on device" in result.message and "checkpoint of epoch 1 is kept" in result.message
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["message"] == result.message
    assert load_checkpoint(run_dir)["epoch"] == 1 and _no_temp_files(run_dir)
    assert len(read_metrics(run_dir)) == 2 == result.epochs_done  # the epoch done is recorded, then it stopped


def _fs_run(background, mounts, tmp_path, extra_args=()):
    fs = tmp_path / "fs"
    fs.mkdir()
    mounts("-t", "tmpfs", "-o", "size=16m", "nnlab-test", str(fs))
    runs = fs / "runs"
    run = background("run", "circles-optim", "epochs=100000", "grid_every=100000", *extra_args,
                     env={"NNLAB_CHECKPOINT_EVERY_S": "0"}, runs_dir=runs)
    run_dir = run.wait_rows(3, checkpoint=True)
    return fs, run, run_dir


def _check_failed(run, run_dir, needle):
    rc = run.wait(timeout=60)
    err = run.stderr()
    assert rc == 1, err[-2000:]
    assert "Traceback" not in err
    assert "could not save the checkpoint" in err and needle in err, err[-2000:]
    ckpt = load_checkpoint(run_dir)  # the previous checkpoint: whole and loadable
    rows = read_metrics(run_dir)
    assert 2 <= ckpt["epoch"] <= len(rows) < 100000  # row 3 seen: checkpoint 2 was saved before it
    assert [r["epoch"] for r in ckpt["history"]] == list(range(1, ckpt["epoch"] + 1))
    assert _no_temp_files(run_dir)
    return ckpt


def _fill(fs, leave: int) -> None:
    """Fill the filesystem with one file, then give `leave` bytes back."""
    with open(fs / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 16))
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    if leave:
        os.truncate(fs / "filler", os.path.getsize(fs / "filler") - leave)


def test_disk_fills_up_during_run(background, mounts, tmp_path):
    """A real 16 MiB tmpfs filled by another file; 64 KiB stay free: enough for metrics rows and run.json,
    not for a ~200 KB checkpoint (hidden=5000). The run is paused while the disk fills so that the space
    left is exactly what the test says."""
    fs, run, run_dir = _fs_run(background, mounts, tmp_path, ["hidden=5000"])
    os.kill(run.pid, signal.SIGSTOP)
    try:
        _fill(fs, leave=1 << 16)
    finally:
        os.kill(run.pid, signal.SIGCONT)
    _check_failed(run, run_dir, "No space left on device")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and "No space left on device" in record["message"]
    assert read_record(run_dir).status == "failed"
    assert not (run_dir / RESERVE_NAME).exists()


def test_disk_completely_full_still_records_the_end(background, mounts, tmp_path):
    """Not one byte left: the run still ends failed in run.json (the space it set aside at start is given
    back for that last write), its metrics and previous checkpoint stay readable."""
    fs, run, run_dir = _fs_run(background, mounts, tmp_path, ["hidden=5000"])
    assert (run_dir / RESERVE_NAME).exists()
    os.kill(run.pid, signal.SIGSTOP)
    try:
        _fill(fs, leave=0)
    finally:
        os.kill(run.pid, signal.SIGCONT)
    rc = run.wait(timeout=60)
    err = run.stderr()
    assert rc == 1 and "Traceback" not in err, err[-2000:]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and "No space left on device" in record["message"], record
    ckpt = load_checkpoint(run_dir)
    assert 2 <= ckpt["epoch"] <= len(read_metrics(run_dir)) < 100000
    assert _no_temp_files(run_dir)


def test_final_record_uses_the_space_reserve(tmp_path, monkeypatch):
    """Fault injection: once the disk is 'full', run.json can only be written after the run gives back the
    space it reserved; without the reserve the record would be left saying running."""
    monkeypatch.setenv("NNLAB_CHECKPOINT_EVERY_S", "0")
    full, reserve = [], []
    real_fsync, real_write_json = os.fsync, writer.atomic_write_json

    def fsync(fd):
        if "last.pt" in os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) and full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    def write_json(path, obj, **options):
        if full and path.name == "run.json" and (path.parent / RESERVE_NAME).exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_json(path, obj, **options)

    def emit(event):
        if isinstance(event, RunStarted):
            reserve.append(Path(event.run_dir) / RESERVE_NAME)
        if isinstance(event, EpochEnd) and event.epoch == 3:
            full.append(reserve[0].exists())  # the disk fills after epoch 3 is saved

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(writer, "atomic_write_json", write_json)
    config = resolve_config("circles-optim", {"epochs": "20"})
    result = train(config, runs_dir=str(tmp_path), data_dir=str(tmp_path), emit=emit)
    run_dir = tmp_path / result.run_id
    assert full == [True]  # the reserve existed when the disk filled
    assert result.status == "failed" and "could not save the checkpoint of epoch 4" in result.message
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["message"] == result.message
    assert not (run_dir / RESERVE_NAME).exists()
    assert load_checkpoint(run_dir)["epoch"] == 3


def test_a_finished_run_leaves_no_reserve(tmp_path):
    config = resolve_config("circles-optim", {"epochs": "2"})
    result = train(config, runs_dir=str(tmp_path), data_dir=str(tmp_path))
    assert result.status == "finished"
    assert sorted(p.name for p in (tmp_path / result.run_id).iterdir()) == [
        ".lock", "artifacts", "checkpoints", "config.json", "metrics.csv", "run.json"]


def test_checkpoint_folder_turns_read_only(background, mounts, tmp_path):
    fs, run, run_dir = _fs_run(background, mounts, tmp_path)
    ckpts = str(run_dir / "checkpoints")
    mounts("--bind", ckpts, ckpts)
    mounts("-o", "remount,bind,ro", ckpts)
    _check_failed(run, run_dir, "Read-only file system")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and "Read-only file system" in record["message"]


def test_a_read_only_store_is_one_line_and_exit_2_for_plot_and_rm(cli, mounts):
    """`nnlab plot` (writes .figures/) and `nnlab runs rm` (moves to .trash/) on a store the user cannot write:
    one line naming the problem, exit 2, no traceback and no raw OSError; the runs are untouched."""
    run = json.loads(cli("run", "circles-nn", "epochs=2", "--json").stdout)["run_id"]
    store = str(cli.runs_dir)
    mounts("--bind", store, store)
    mounts("-o", "remount,bind,ro", store)
    for args in (["plot", run], ["runs", "rm", run]):
        result = cli(*args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 1 and "Read-only file system" in lines[0] and "Traceback" not in result.stderr
        assert "OSError" not in lines[0] and "[Errno" not in lines[0]
    assert (cli.runs_dir / run / "run.json").exists()
