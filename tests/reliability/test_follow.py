"""Following a run's folder from another process (engine.store.follow, engine.store.progress), and what the TUI
folds from it (RunState.follow_update): only what is new is read, a torn line waits for its end, the newest
artifact of each kind is taken, and the latest batch comes from the progress file."""
from __future__ import annotations

import os

from engine.stages import resolve_config
from engine.store import RunWriter, atomic_write_json
from engine.store.follow import RunFollower
from engine.store.progress import PROGRESS_NAME, ProgressFile, read_progress
from tui.run_state import RunState


def row(epoch: int, acc: float) -> dict:
    return {"epoch": epoch, "train_loss": 1.0 / epoch, "train_acc": acc, "test_loss": 1.1 / epoch,
            "test_acc": acc, "lr": 0.03, "wall_time": 0.1 * epoch}


def test_the_follower_reads_only_what_is_new(tmp_path):
    config = resolve_config("circles-nn", {"epochs": "50"})
    writer = RunWriter.create(tmp_path, config, device="cpu")
    run_dir = writer.run_dir
    follower = RunFollower(run_dir)
    first = follower.poll()
    assert first.rows == [] and first.record is not None and first.record.status == "running"
    assert follower.poll().record is None  # run.json unchanged: not read again

    for epoch in (1, 2, 3):
        writer.append_metrics(row(epoch, 0.5 + epoch / 100))
    writer.save_artifact("boundary-e0001", {"kind": "boundary", "epoch": 1})
    writer.save_artifact("boundary-e0002", {"kind": "boundary", "epoch": 2})
    writer.save_artifact("points", {"kind": "points"})
    update = follower.poll()
    assert [r["epoch"] for r in update.rows] == [1, 2, 3]
    assert sorted(update.artifacts) == ["boundary-e0002", "points"]  # the newest of each kind

    with open(run_dir / "metrics.csv", "a") as fh:  # a row being written: half of it is on disk
        fh.write("4,0.25,0.9")
    assert follower.poll().rows == []
    with open(run_dir / "metrics.csv", "a") as fh:
        fh.write(",0.3,0.9,0.03,0.4\n")
    update = follower.poll()
    assert [r["epoch"] for r in update.rows] == [4] and update.artifacts == {}

    writer.save_artifact("gradients", {"kind": "gradients", "epoch": 4})  # rewritten in place every epoch
    assert follower.poll().artifacts == {"gradients": {"kind": "gradients", "epoch": 4}}
    assert follower.poll().artifacts == {}  # unchanged: not read again
    writer.save_artifact("gradients", {"kind": "gradients", "epoch": 5, "more": [1]})
    writer.save_artifact("boundary-e0002", {"kind": "boundary", "epoch": 2, "again": True})  # epoch-named: once
    assert follower.poll().artifacts == {"gradients": {"kind": "gradients", "epoch": 5, "more": [1]}}

    writer.update(final=True, status="finished")
    assert follower.poll().record.status == "finished"
    writer.close()


def test_progress_is_written_in_place_and_removed_at_the_end(tmp_path):
    progress = ProgressFile(tmp_path, start_epoch=1, batches=40)
    assert read_progress(tmp_path) == (1, 0, 40, 1)
    progress.batch(1, 1, 40)
    assert read_progress(tmp_path) == (1, 1, 40, 1)
    progress.batch(1, 2, 40)  # within PROGRESS_EVERY_S of the last: not written
    assert read_progress(tmp_path) == (1, 1, 40, 1)
    progress.batch(1, 40, 40)  # an epoch's last batch always is
    assert read_progress(tmp_path) == (1, 40, 40, 1)
    progress.batch(12, 3, 40)
    progress.batch(12, 40, 40)
    assert read_progress(tmp_path) == (12, 40, 40, 1)
    assert os.path.getsize(tmp_path / PROGRESS_NAME) == 40  # one fixed-width record, rewritten in place
    progress.close()
    assert read_progress(tmp_path) is None and not (tmp_path / PROGRESS_NAME).exists()


def test_run_state_folds_what_the_follower_reads(tmp_path):
    config = resolve_config("circles-nn", {"epochs": "50"})
    writer = RunWriter.create(tmp_path, config, device="cpu")
    state = RunState()
    state.started(config, writer.record["id"], str(writer.run_dir), None, now=0.0)
    assert state.status == "preparing" and state.active
    follower = RunFollower(writer.run_dir)
    state.follow_update(follower.poll(), now=1.0)
    assert state.status == "running" and state.pid == os.getpid()
    for epoch, acc in ((1, 0.6), (2, 0.8), (3, 0.7)):
        writer.append_metrics(row(epoch, acc))
    progress = ProgressFile(writer.run_dir, start_epoch=2, batches=20)
    progress.batch(4, 7, 20)
    version = state.version
    state.follow_update(follower.poll(), now=2.0)
    assert len(state.history) == 3 and state.best == {"test_acc": 0.8, "epoch": 2}
    assert (state.epoch, state.batch, state.batches, state.start_epoch) == (4, 7, 20, 2)
    assert state.version > version
    state.stopping()
    state.follow_update(follower.poll(), now=2.5)
    assert state.status == "stopping"  # still running on disk: it stops at the end of its batch
    progress.close()
    atomic_write_json(writer.run_dir / "run.json", {**writer.record, "status": "interrupted",
                                                     "message": "stopped by the user"})
    state.follow_update(follower.poll(), now=3.0)
    assert state.status == "interrupted" and not state.active and state.ended_at == 3.0 and state.pid is None
    writer.close()
