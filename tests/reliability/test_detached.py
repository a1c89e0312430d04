"""Runs that outlive the terminal: `nnlab run --detach`, `runs attach`, `runs stop`, and the faults around them.

Every run here is a real CLI process; the terminal that a user would close is a real tmux server, killed
(SIGHUP to everything in it, as a dropped SSH connection does)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import read_metrics, read_record
from tests.conftest import ROOT, wait_for
from tests.reliability.conftest import cli_env


def started_id(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["detached"] is True
    return out["run_id"]


def run_json(runs_dir: Path, run_id: str) -> dict | None:
    try:
        return json.loads((runs_dir / run_id / "run.json").read_text())
    except (OSError, ValueError):
        return None


def ended(runs_dir: Path, run_id: str, timeout: float = 180.0) -> dict:
    return wait_for(lambda: (r := run_json(runs_dir, run_id)) and r["status"] != "running" and r, timeout,
                    f"{run_id} to end")


def test_detach_returns_at_once_and_the_run_finishes_in_its_own_session(cli):
    result = cli("run", "circles-nn", "epochs=40", "seed=3", "--detach", "--json")
    run_id = started_id(result)
    runs = cli.runs_dir
    record = wait_for(lambda: run_json(runs, run_id), what="the run folder")
    pid = record["pid"]
    try:
        assert os.getsid(pid) == pid != os.getsid(0)  # a session of its own: no SIGHUP from our terminal
    except ProcessLookupError:
        pass  # it finished already (a fast machine): its record below still tells
    final = ended(runs, run_id)
    assert final["status"] == "finished"
    assert len(read_metrics(runs / run_id)) == 40
    output = (runs / run_id / "output.log").read_text()
    assert "epoch 40/40" in output and "finished" in output
    assert not [p for p in runs.iterdir() if p.name.startswith(".detached-")]  # the early log moved in


def test_detach_with_bad_input_starts_nothing(cli):
    result = cli("run", "circles-nn", "lr=-1", "--detach")
    assert result.returncode == 2, result.stderr
    assert "lr" in result.stderr and "'-1'" in result.stderr
    assert not cli.runs_dir.exists() or not list(cli.runs_dir.iterdir())


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_a_detached_run_survives_its_terminal_being_killed(cli, tmp_path):
    """The terminal (a tmux server) goes while the run trains: every process in it gets SIGHUP."""
    env = cli_env(cli.runs_dir, cli.data_dir)
    socket_path = str(tmp_path / "tmux.sock")
    out = tmp_path / "started.json"
    command = (f"{sys.executable} -m engine run circles-nn epochs=600 seed=1 --detach --json > {out}; "
               "sleep 600")
    subprocess.run(["tmux", "-S", socket_path, "new-session", "-d", "-x", "80", "-y", "24", command],
                   env=env, cwd=ROOT, check=True, timeout=30)
    try:
        run_id = wait_for(lambda: out.exists() and out.read_text().strip() and
                          json.loads(out.read_text())["run_id"], what="the detached run's id")
        wait_for(lambda: len(read_metrics(cli.runs_dir / run_id)) >= 5 if run_json(cli.runs_dir, run_id) else 0,
                 what="5 epochs")
    finally:
        subprocess.run(["tmux", "-S", socket_path, "kill-server"], timeout=30)
    final = ended(cli.runs_dir, run_id, timeout=300)
    assert final["status"] == "finished"
    assert [r["epoch"] for r in read_metrics(cli.runs_dir / run_id)] == list(range(1, 601))


def test_stop_from_another_process_interrupts_and_resume_continues(cli):
    run_id = started_id(cli("run", "circles-nn", "epochs=100000", "--detach", "--json",
                            env={"NNLAB_CHECKPOINT_EVERY_S": "0"}))
    runs = cli.runs_dir
    wait_for(lambda: run_json(runs, run_id) and len(read_metrics(runs / run_id)) >= 3, what="3 epochs")
    stopped = cli("runs", "stop", run_id[-4:])
    assert stopped.returncode == 0, stopped.stderr
    assert "interrupted" in stopped.stdout
    record = read_record(runs / run_id)
    assert record.status == "interrupted"
    assert (runs / run_id / "checkpoints" / "last.pt").exists()

    again = cli("runs", "stop", run_id)  # it has ended: one clear line, exit 2
    assert again.returncode == 2
    lines = [line for line in again.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted, not running" in lines[0], again.stderr

    resumed = started_id(cli("resume", run_id, "epochs=" + str(record.epochs_done + 5), "--detach", "--json"))
    final = ended(runs, resumed)
    assert final["status"] == "finished" and final["resumed_from"] == run_id
    assert len(read_metrics(runs / resumed)) == record.epochs_done + 5


def test_attach_follows_the_run_and_ctrl_c_only_detaches(cli, tmp_path):
    """attach is started with SIGINT ignored, as sh starts its background jobs (`nnlab runs attach X &` in a
    script): Ctrl-C still detaches it (engine.detached.hear_sigint)."""
    runs = cli.runs_dir
    run_id = started_id(cli("run", "circles-nn", "epochs=100000", "--detach", "--json"))
    env = cli_env(runs, cli.data_dir)
    shown = tmp_path / "attach.txt"
    with open(shown, "w") as out:
        attach = subprocess.Popen([sys.executable, "-m", "engine", "runs", "attach", run_id], env=env, cwd=ROOT,
                                  stdout=out, stderr=subprocess.STDOUT, text=True,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        wait_for(lambda: shown.read_text().count("/100000") >= 3, what="attach printing epochs")
        attach.send_signal(signal.SIGINT)
        assert attach.wait(timeout=60) == 0, shown.read_text()
    finally:
        if attach.poll() is None:
            attach.kill()
    text = shown.read_text()
    assert "epoch " in text and "detached" in text and "keeps training" in text
    assert "Traceback" not in text
    assert run_json(runs, run_id)["status"] == "running"  # Ctrl-C in attach did not stop the run
    assert cli("runs", "stop", run_id).returncode == 0
    assert read_record(runs / run_id).status == "interrupted"


def test_kill_9_of_a_detached_run_reads_crashed_and_resumes(cli):
    runs = cli.runs_dir
    run_id = started_id(cli("run", "circles-nn", "epochs=100000", "--detach", "--json",
                            env={"NNLAB_CHECKPOINT_EVERY_S": "0"}))
    wait_for(lambda: run_json(runs, run_id) and (runs / run_id / "checkpoints" / "last.pt").exists(),
             what="a checkpoint")
    os.kill(run_json(runs, run_id)["pid"], signal.SIGKILL)
    wait_for(lambda: read_record(runs / run_id).status == "crashed", 30, "crashed")
    done = len(read_metrics(runs / run_id))
    resumed = cli("resume", run_id, f"epochs={done + 3}", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["status"] == "finished"


def test_a_stop_sent_while_a_run_starts_is_kept_where_sigint_was_ignored(tmp_path, monkeypatch):
    """This process ignores SIGINT (as sh starts a script's background jobs) when it starts a detached run, and
    stops it at once, while the child is still starting Python: the run must end (before its folder exists, or
    interrupted), not train on. Without engine.detached.hear_sigint the child inherited the ignored SIGINT and
    the stop was lost."""
    from engine.detached import interrupt, start_detached, starting_pid
    from engine.store import pid_alive

    runs, data = tmp_path / "runs", tmp_path / "data"
    runs.mkdir()
    monkeypatch.chdir(ROOT)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run_id = start_detached(["run", "circles-nn", "epochs=100000"], str(runs), str(data), "circles-nn")
    finally:
        signal.signal(signal.SIGINT, previous)
    pid = starting_pid(runs, run_id)
    assert pid is not None
    try:
        interrupt(pid)
        wait_for(lambda: not pid_alive(pid), 90, "the run's process to end")
    finally:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    record = run_json(runs, run_id)
    assert record is None or record["status"] == "interrupted", record
