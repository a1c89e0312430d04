"""Joining a study: `nnlab worker` (in this machine's processes, or through submitit's local executor as a
SLURM array would), stale trials of dead local processes in a journal file, bad input."""
import json
import os
import signal
import subprocess
import sys

import optuna
import pytest

from engine.study.create import create, study_meta
from engine.study.space import parse_space
from tests.conftest import ROOT
from tests.study.conftest import run_records, show, wait_for


def _make(runs_dir, name, items, **kw):
    space = parse_space("circles-optim", items)
    meta = study_meta(space, metric=kw.get("metric", "test_acc"), sampler="grid", prune="none",
                      trials=len(space.grid_points()), tag=name)
    create(name, meta, space, None, str(runs_dir))


def test_submitit_local_executor_runs_a_worker(cli):
    _make(cli.runs_dir, "sub", ["lr=0.05,0.1", "epochs=3"])
    result = cli("worker", "--study", "sub", "--slurm", "1", env={"NNLAB_SUBMITIT_CLUSTER": "local"}, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "submitted 1 workers" in result.stderr
    report = show("sub", cli.runs_dir)
    assert [t["state"] for t in report["trials"]] == ["complete", "complete"]
    assert sorted(r["id"] for r in run_records(cli.runs_dir)) == sorted(t["run_id"] for t in report["trials"])


def test_journal_worker_fails_and_reruns_the_trial_of_a_dead_local_process(cli):
    _make(cli.runs_dir, "st", ["lr=0.05,0.1", "epochs=2000"])
    env = dict(os.environ, NNLAB_RUNS_DIR=str(cli.runs_dir), NNLAB_DATA_DIR=str(cli.data_dir), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "engine", "worker", "--study", "st"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first = wait_for(lambda: next((r["id"] for r in run_records(cli.runs_dir) if r["status"] == "running"
                                       and r["summary"].get("epochs_done", 0) > 0), None), timeout=90,
                         what="a running trial")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [t["state"] for t in show("st", cli.runs_dir)["trials"]] == ["running", "waiting"]
    # the next worker on this machine fails it (its process is dead) and queues it again; here it is stopped
    # at its first trial by Ctrl-C: both its trials end interrupted in the study, none is left running
    proc = subprocess.Popen([sys.executable, "-m", "engine", "worker", "--study", "st"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(r["id"] != first and r["status"] == "running" and r["summary"].get("epochs_done", 0) > 0
                             for r in run_records(cli.runs_dir)), timeout=90, what="the second worker's trial")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    trials = show("st", cli.runs_dir)["trials"]
    assert [(t["state"], t["status"]) for t in trials[:2]] == [("fail", "crashed"), ("fail", "interrupted")]
    assert sorted(t["params"]["lr"] for t in trials if t["state"] == "waiting") == [0.05, 0.1]
    assert sorted(r["status"] for r in json.loads(cli("runs", "list", "--json").stdout)) == ["crashed", "interrupted"]


def _studies(runs_dir):
    path = runs_dir / ".studies" / "studies.journal"
    if not path.exists():
        return []
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return [s.study_name for s in optuna.get_all_study_summaries(storage)]


@pytest.mark.parametrize("args, needles", [
    (["lr=0.1..", "epochs=2"], ["lr", "'0.1..'", "LOW..HIGH"]),
    (["lr=0..1:log"], ["lr", "'0..1:log'", "LOW > 0"]),
    (["lr=1..0.1"], ["lr", "LOW < HIGH"]),
    (["optimizer=sgd|"], ["optimizer", "'sgd|'", "'|'"]),
    (["lr=0.1|0.1"], ["lr", "distinct"]),
    (["lr=0.1|-2"], ["lr", "'-2'"]),
    (["colour=1,2"], ["colour", "allowed keys"]),
    (["lr=0.1,0.2", "lr=0.3"], ["lr", "twice"]),
    (["lr=0.1,0.2", "--trials", "3"], ["--trials", "grid"]),
    (["lr=0.1..0.2", "--sampler", "grid"], ["--sampler", "grid"]),
    (["lr=0.1,0.2", "--metric", "f1"], ["--metric", "'f1'", "test_acc"]),
    (["lr=0.1,0.2", "--storage", "postgresql://u:pw123@127.0.0.1:1/db"], ["cannot reach", "u:***@127.0.0.1:1"]),
    (["lr=0.1,0.2", "--storage", "mongodb://h/x"], ["--storage", "postgresql://"]),
])
def test_bad_sweeps_are_one_line_exit_2_and_make_nothing(cli, args, needles):
    result = cli("sweep", "circles-optim", *args)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(n in lines[0] for n in needles), (needles, lines[0])
    assert "pw123" not in result.stderr
    assert run_records(cli.runs_dir) == [] and not (cli.runs_dir / ".studies").exists()


def test_gpus_without_cuda_is_bad_input(cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("sweep", "circles-optim", "lr=0.1,0.2", "--gpus", "0,1")
    assert result.returncode == 2 and "--gpus" in result.stderr and "CUDA" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not cli.runs_dir.exists() or not any(cli.runs_dir.iterdir())


def test_existing_study_for_another_stage_or_space_is_bad_input(cli):
    _make(cli.runs_dir, "ex", ["lr=0.05,0.1", "epochs=2"])
    before = (cli.runs_dir / ".studies" / "studies.journal").read_bytes()
    for args, needle in ((["circles-nn", "lr=0.05,0.1", "epochs=2"], "stage circles-optim"),
                         (["circles-optim", "lr=0.05,0.2", "epochs=2"], "search space"),
                         (["circles-optim", "lr=0.05,0.1", "epochs=2", "--metric", "test_loss"], "metric")):
        result = cli("sweep", *args, "--study", "ex")
        assert result.returncode == 2 and needle in result.stderr and "'ex'" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert (cli.runs_dir / ".studies" / "studies.journal").read_bytes() == before  # nothing written
    assert _studies(cli.runs_dir) == ["ex"] and run_records(cli.runs_dir) == []


def test_unknown_study(cli):
    for args in (["studies", "show", "nope"], ["worker", "--study", "nope"]):
        result = cli(*args)
        assert result.returncode == 2 and "'nope'" in result.stderr, result.stderr
    assert not (cli.runs_dir / ".studies").exists()
