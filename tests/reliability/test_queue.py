"""The queue per device (`nnlab run ... --queue`): FIFO, one run at a time, no daemon; a waiting run killed or
cancelled leaves the others in order; a crash of the run ahead starts the next one. Real CLI processes."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from engine.store import read_metrics, read_record
from tests.conftest import wait_for


def queue(cli, *args: str) -> str:
    result = cli("run", "circles-nn", "device=cpu", *args, "--queue", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["status"] == "queued" and out["device"] == "cpu"
    return out["run_id"]


def listed(cli) -> list[dict]:
    result = cli("runs", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def waiting_ids(cli) -> list[str]:
    return [r["id"] for r in listed(cli) if r["status"] == "queued"]


def status(runs: Path, run_id: str) -> str | None:
    return read_record(runs / run_id).status if (runs / run_id / "run.json").exists() else None


def times(runs: Path, run_id: str) -> tuple[float, float]:
    """When a run's first and last epochs were written (metrics.csv's creation and last change, as the clock
    of this machine says), from the folder: the run's own wall_time counts from its start."""
    record = json.loads((runs / run_id / "run.json").read_text())
    started = time.mktime(time.strptime(record["created"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    return started, os.stat(runs / run_id / "metrics.csv").st_mtime


def test_the_queue_keeps_its_order_through_kills_cancels_and_a_crash(cli):
    runs = cli.runs_dir
    ahead = queue(cli, "epochs=100000")
    wait_for(lambda: status(runs, ahead) == "running", what="the first run to train")
    b, c, d = (queue(cli, "epochs=20", f"seed={i}") for i in (1, 2, 3))
    assert waiting_ids(cli) == [b, c, d]
    positions = {r["id"]: r["position"] for r in listed(cli) if r["status"] == "queued"}
    assert positions == {b: 1, c: 2, d: 3}
    text = cli("runs", "list").stdout
    assert "#1 on cpu" in text and "queued" in text

    c_pid = next(r["pid"] for r in listed(cli) if r["id"] == c)
    os.kill(c_pid, signal.SIGKILL)  # a waiting run dies: gone from the queue, the others keep their order
    wait_for(lambda: waiting_ids(cli) == [b, d], 30, "c gone from the queue")
    cancelled = cli("runs", "cancel", d[-4:])
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled.stderr
    assert waiting_ids(cli) == [b]
    assert not (runs / d).exists()
    assert cli("runs", "cancel", d).returncode == 2  # no longer queued: one line, exit 2

    assert status(runs, b) is None and waiting_ids(cli) == [b]
    os.kill(read_record(runs / ahead).pid, signal.SIGKILL)  # the run ahead crashes: the next one starts
    wait_for(lambda: status(runs, b) == "finished", 180, "b to train once the run ahead crashed")
    assert read_record(runs / ahead).status == "crashed"
    assert len(read_metrics(runs / b)) == 20
    assert not (runs / c).exists() and not (runs / d).exists()
    assert waiting_ids(cli) == []


def test_two_runs_queued_on_one_device_never_train_at_once(cli):
    runs = cli.runs_dir
    first, second, third = (queue(cli, "epochs=400", f"seed={i}") for i in (1, 2, 3))
    wait_for(lambda: all(status(runs, r) == "finished" for r in (first, second, third)), 300, "all three")
    spans = [times(runs, r) for r in (first, second, third)]
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end - 1.0, spans  # created (whole seconds) after the one before wrote its last epoch
    created = [json.loads((runs / r / "run.json").read_text())["created"] for r in (first, second, third)]
    assert created == sorted(created)


def test_reproduce_queue_queues_what_is_still_to_run_and_returns(cli):
    result = cli("reproduce", "2-ab", "--quick", "--queue", "-o", str(cli.runs_dir.parent / "rep"))
    assert result.returncode == 0, result.stderr
    assert "14 of 14 experiments queued (0 already done)" in result.stdout
    ids = [line.split(":")[0] for line in result.stdout.splitlines() if ": queued on " in line]
    assert len(ids) == 14
    entries = listed(cli)
    waiting_now = [r["id"] for r in entries if r["status"] in ("queued", "starting")]
    by_device: dict[str, list[str]] = {}
    for r in entries:
        if r["status"] in ("queued", "starting"):
            by_device.setdefault(r["device"], []).append(r["id"])
    for queue_of_device in by_device.values():  # each device's queue keeps the experiments' order
        assert queue_of_device == [i for i in ids if i in queue_of_device]
    assert len(waiting_now) >= 12  # one may be training already
    assert not (cli.runs_dir.parent / "rep").exists()  # no report until they have ended
    for run_id in reversed([i for i in ids if i in waiting_now]):  # the last first: they cannot start meanwhile
        cancelled = cli("runs", "cancel", run_id)
        assert cancelled.returncode == 0 or "no queued run matches" in cancelled.stderr, cancelled.stderr
    assert waiting_ids(cli) == []
    # what had its turn already ends by itself; stop it (it may still be loading: then it ends on its own)
    for r in listed(cli):
        if r["status"] == "running":
            cli("runs", "stop", r["id"])


def test_a_full_disk_while_queued_ends_failed_with_the_reason(cli, mounts, tmp_path):
    """The disk fills up while a run waits: when its turn comes it ends `failed` with the reason: in its queue
    entry when it cannot create its folder (a ticket is rewritten in place: no new block is needed), else in
    its folder."""
    fs = tmp_path / "fs"
    fs.mkdir()
    mounts("-t", "tmpfs", "-o", "size=16m", "nnlab-queue-test", str(fs))
    runs = fs / "runs"

    def on_fs(*args: str):
        return cli(*args, runs_dir=runs)

    first = json.loads(on_fs("run", "circles-nn", "device=cpu", "epochs=100000", "--queue", "--json").stdout)["run_id"]
    wait_for(lambda: status(runs, first) == "running", what="the first run to train")
    second = json.loads(on_fs("run", "circles-nn", "device=cpu", "epochs=5", "--queue", "--json").stdout)["run_id"]
    wait_for(lambda: [r["id"] for r in json.loads(on_fs("runs", "list", "--json").stdout)
                      if r["status"] == "queued"] == [second], what="the second run waiting")
    def fill(name: str) -> None:
        with open(fs / name, "wb", buffering=0) as fh:  # unbuffered: nothing left to write (and fail) at close
            try:
                while True:
                    fh.write(b"\0" * (1 << 16))
                    fh.flush()
            except OSError:
                pass

    fill("filler")  # the disk fills up
    on_fs("runs", "stop", first)  # its turn comes (the first run may have ended failed on the full disk already)
    wait_for(lambda: status(runs, first) in ("interrupted", "failed"), 60, "the first run to end")
    fill("filler-2")  # what the first run set aside for its own end, given back, is taken too
    entry = wait_for(lambda: next((r for r in json.loads(on_fs("runs", "list", "--json").stdout)
                                   if r["id"] == second and r["status"] == "failed"), None), 120,
                     "the second run's entry to say failed")
    # either it could not create its folder (its queue entry says why), or the 64 KiB the first run set aside
    # for its own end was enough for it to start, and its folder says why it failed: failed, with the reason
    assert "No space left" in entry["message"]
    if not (runs / second).exists():
        text = on_fs("runs", "list").stdout
        assert "failed" in text and "No space left" in text
        assert on_fs("runs", "cancel", second).returncode == 0  # cancel takes the entry out, nothing else
        assert all(r["id"] != second for r in json.loads(on_fs("runs", "list", "--json").stdout))
