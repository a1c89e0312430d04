"""Sweeps as Optuna studies on the default storage, the journal file under the runs dir: real optuna, the
real CLI as subprocesses."""
import itertools
import json
import os
import signal
import subprocess
import sys
from datetime import datetime

import optuna

from engine.study.report import list_studies, study_report
from tests.conftest import ROOT
from tests.study.conftest import run_records, wait_for


def _t(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")


def test_grid_with_two_workers_runs_each_point_once_at_the_same_time(cli):
    # trials long enough (about a second each) that the second worker, which starts a moment after the first,
    # finds points left to take on a loaded machine too
    result = cli("sweep", "circles-optim", "lr=0.01,0.03,0.1", "batch_size=10,50", "epochs=300", "--jobs", "2",
                 "--study", "grid6", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["study"] == "grid6" and out["stage"] == "circles-optim" and out["direction"] == "maximize"
    trials = out["trials"]
    points = sorted((t["params"]["lr"], t["params"]["batch_size"]) for t in trials)
    assert points == sorted(itertools.product([0.01, 0.03, 0.1], [10, 50]))  # each point exactly once
    assert all(t["state"] == "complete" and len(t["curve"]) == 300 and t["value"] == t["curve"][-1] for t in trials)
    assert out["best"]["value"] == max(t["value"] for t in trials)
    records = run_records(cli.runs_dir)
    assert sorted(r["id"] for r in records) == sorted(t["run_id"] for t in trials)
    assert {f"trial:{t['number']}" for t in trials} == {tag for r in records for tag in r["tags"] if "trial:" in tag}
    assert all("grid6" in r["tags"] and r["status"] == "finished" for r in records)
    # two worker processes, whose spans of work overlap: the trials really ran two at a time
    spans: dict[int, list[datetime]] = {}
    for r in records:
        spans.setdefault(r["pid"], []).extend([_t(r["created"]), _t(r["ended"])])
    assert len(spans) == 2, spans
    (a_start, a_end), (b_start, b_end) = [(min(s), max(s)) for s in spans.values()]
    assert max(a_start, b_start) < min(a_end, b_end), spans
    # the old `sweep --json` keys still come: the points as typed, and each run's final metrics
    assert sorted((r["point"]["lr"], r["point"]["batch_size"]) for r in out["runs"]) == \
        sorted(itertools.product(["0.01", "0.03", "0.1"], ["10", "50"]))
    # plain Optuna reads the study nnlab wrote
    path = str(cli.runs_dir / ".studies" / "studies.journal")
    study = optuna.load_study(study_name="grid6", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(path)))
    assert len(study.trials) == 6 and study.best_value == out["best"]["value"]
    assert study.best_trial.user_attrs["run_id"] == out["best"]["run_id"]


def test_pruning_stops_bad_lrs_and_they_end_pruned(cli):
    # grid order: three good lrs first (the median pruner's start-up trials), then two hopeless ones
    result = cli("sweep", "circles-optim", "lr=0.3,0.2,0.1,0.0001,0.0002", "epochs=16", "--prune", "median",
                 "--study", "pr", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    by_lr = {t["params"]["lr"]: t for t in out["trials"]}
    assert [by_lr[lr]["state"] for lr in (0.3, 0.2, 0.1)] == ["complete"] * 3
    for lr in (0.0001, 0.0002):
        assert by_lr[lr]["state"] == "pruned" and by_lr[lr]["epochs"] < 16, by_lr[lr]
    status = {r["id"]: r["status"] for r in run_records(cli.runs_dir)}
    assert status[by_lr[0.0001]["run_id"]] == "pruned" and status[by_lr[0.3]["run_id"]] == "finished"
    assert out["pruning_saved"]["pruned_trials"] == 2 and out["pruning_saved"]["saved_fraction"] > 0
    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert sorted(r["status"] for r in listed) == ["finished"] * 3 + ["pruned"] * 2


def test_search_runs_its_trials_in_the_range(cli):
    result = cli("sweep", "circles-optim", "lr=0.01..0.5:log", "hidden=4|8", "epochs=2", "--trials", "5",
                 "--sampler", "random", "--study", "srch", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["trials"]) == 5 and all(t["state"] == "complete" for t in out["trials"])
    assert all(0.01 <= t["params"]["lr"] <= 0.5 and t["params"]["hidden"] in (4, 8) for t in out["trials"])
    assert len(run_records(cli.runs_dir)) == 5
    listed = list_studies(None, str(cli.runs_dir))
    assert listed == [{"study": "srch", "stage": "circles-optim", "metric": "test_acc", "direction": "maximize",
                       "n_trials": 5, "states": {"complete": 5}, "best_value": out["best"]["value"]}]
    assert study_report(None, str(cli.runs_dir), "srch")["trials"] == out["trials"]


def _sweep_in_background(cli, *args: str, output: int = subprocess.DEVNULL) -> subprocess.Popen:
    """`nnlab sweep ARGS` as its own process, on the cli fixture's runs and data dirs."""
    env = dict(os.environ, NNLAB_RUNS_DIR=str(cli.runs_dir), NNLAB_DATA_DIR=str(cli.data_dir), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "engine", "sweep", *args], cwd=ROOT, env=env, stdout=output,
                            stderr=output, text=True)


def _running_trials(runs_dir, count: int) -> list[dict] | None:
    """The records of the runs going and past their first epoch, when there are `count` of them."""
    going = [r for r in run_records(runs_dir) if r["status"] == "running" and r["summary"].get("epochs_done")]
    return going if len(going) == count else None


def test_ctrl_c_on_sweep_interrupts_trials_in_runs_and_study(cli):
    proc = _sweep_in_background(cli, "circles-optim", "lr=0.01,0.02,0.03,0.04", "epochs=5000", "--jobs", "2",
                                "--study", "cc", "--json", output=subprocess.PIPE)
    try:
        wait_for(lambda: _running_trials(cli.runs_dir, 2), timeout=90, what="two running trials")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    records = run_records(cli.runs_dir)
    assert len(records) == 2 and all(r["status"] == "interrupted" for r in records)
    report = json.loads(out)
    states = sorted(t["state"] for t in report["trials"])
    assert "running" not in states
    stopped = [t for t in report["trials"] if t["run_id"]]
    assert len(stopped) == 2 and all(t["state"] == "fail" and t["status"] == "interrupted" for t in stopped)
    # they are queued again, beside the two points not started: a worker that joins runs all four
    assert sorted(t["params"]["lr"] for t in report["trials"] if t["state"] == "waiting") == [0.01, 0.02, 0.03, 0.04]


def test_long_trials_report_every_kth_epoch_and_keep_their_whole_curve(cli):
    # 120 epochs: each of the first 10, then k = ceil(120 / 25) = 5: 10 + 22 reports, at the same epochs in every
    # trial (the pruner compares trials step by step); the study still keeps the whole per-epoch curve when a trial ends
    result = cli("sweep", "circles-optim", "lr=0.1,0.3", "epochs=120", "--study", "long", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [t["epochs"] for t in out["trials"]] == [120, 120]
    assert all(len(t["curve"]) == 120 and all(v is not None for v in t["curve"]) for t in out["trials"])
    path = str(cli.runs_dir / ".studies" / "studies.journal")
    study = optuna.load_study(study_name="long", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(path)))
    for trial in study.trials:
        assert sorted(trial.intermediate_values) == list(range(1, 11)) + list(range(15, 121, 5))
        curve = trial.user_attrs["curve"]
        assert all(trial.intermediate_values[e] == curve[e - 1] for e in trial.intermediate_values)


def test_a_running_trial_shows_its_reported_epochs_in_place():
    from optuna.distributions import FloatDistribution
    from optuna.trial import FrozenTrial, TrialState

    from engine.study.report import _trial_json

    trial = FrozenTrial(number=0, state=TrialState.RUNNING, value=None, datetime_start=None, datetime_complete=None,
                        params={"lr": 0.1}, distributions={"lr": FloatDistribution(0.01, 1.0)}, user_attrs={},
                        system_attrs={}, intermediate_values={3: 0.5, 6: 0.75}, trial_id=0)
    shown = _trial_json(trial)
    assert shown["curve"] == [None, None, 0.5, None, None, 0.75]
    assert shown["epochs"] == 6 and shown["state"] == "running"


def test_kill_9_of_the_sweep_stops_its_forked_worker_cleanly(cli):
    proc = _sweep_in_background(cli, "circles-optim", "lr=0.01,0.02,0.03", "epochs=20000", "--jobs", "2",
                                "--study", "k9")
    try:
        running = wait_for(lambda: _running_trials(cli.runs_dir, 2), timeout=90, what="two running trials")
        proc.kill()  # kill -9: no handler runs in the sweep process
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    child = next(r for r in running if r["pid"] != proc.pid)
    # the forked worker is told (SIGTERM on its parent's death): its trial ends interrupted, and it exits
    wait_for(lambda: next(r for r in run_records(cli.runs_dir) if r["id"] == child["id"])["status"] == "interrupted",
             timeout=60, what="the forked worker's run to end interrupted")
    wait_for(lambda: not os.path.exists(f"/proc/{child['pid']}") or
             open(f"/proc/{child['pid']}/stat").read().split()[2] == "Z", timeout=30, what="the forked worker to exit")
