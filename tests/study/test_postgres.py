"""A study in a real PostgreSQL server that this test starts (initdb and pg_ctl of the machine's
PostgreSQL 15, as the postgres user, in a temp folder, on 127.0.0.1 and a free port): two workers with
different runs dirs ("two machines", no shared folder) fill one study; a third runs dir sees every trial and
curve; a worker killed with kill -9 has its trial failed by heartbeat and run again by the other."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

from engine.study.create import create, study_meta
from engine.study.space import parse_space
from tests.conftest import ROOT, run_cli
from tests.study.conftest import run_records, show, wait_for

PG_BIN = next((p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin")) if (p / "pg_ctl").exists()), None) \
    if Path("/usr/lib/postgresql").is_dir() else None
PASSWORD = "s3cret-pw"


def _as_postgres(*cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pg_url():
    if PG_BIN is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as the postgres user")
    base = Path(tempfile.mkdtemp(prefix="nnlab-pg-"))
    base.chmod(0o777)
    data, pwfile = base / "data", base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    pwfile.chmod(0o644)
    port = _free_port()
    init = _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                        f"--pwfile={pwfile}", "-E", "UTF8")
    assert init.returncode == 0, init.stderr
    start = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
                         "-o", f"-h 127.0.0.1 -p {port} -k {base}", "start", timeout=90)
    assert start.returncode == 0, start.stderr + (base / "log").read_text() if (base / "log").exists() else ""
    try:
        yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(base, ignore_errors=True)


def _worker(study: str, runs_dir: Path, url: str) -> subprocess.Popen:
    env = dict(os.environ, NNLAB_RUNS_DIR=str(runs_dir), NNLAB_DATA_DIR=str(runs_dir / "data"), OMP_NUM_THREADS="1",
               PYTHONPATH=str(ROOT), NNLAB_STORAGE=url, NNLAB_HEARTBEAT_S="1")
    return subprocess.Popen([sys.executable, "-m", "engine", "worker", "--study", study], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_machines_one_study_and_a_killed_worker(pg_url, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    # seconds a trial: long enough to be seen running and killed
    space = parse_space("circles-optim", ["lr=0.05,0.1,0.2", "epochs=700"])
    meta = study_meta(space, metric="test_acc", sampler="grid", prune="none", trials=3, tag="pg")
    create("pg", meta, space, pg_url, str(a))
    wa, wb = _worker("pg", a, pg_url), _worker("pg", b, pg_url)
    try:
        # machine a is lost (kill -9) in the middle of a trial
        victim = wait_for(lambda: next((r for r in run_records(a) if r["status"] == "running"
                                        and r["summary"].get("epochs_done", 0) > 0), None), timeout=90,
                          what="a running trial on worker a")
        wa.send_signal(signal.SIGKILL)
        wa.wait(timeout=30)
        out_b, err_b = wb.communicate(timeout=150)
    finally:
        for proc in (wa, wb):
            if proc.poll() is None:
                proc.kill()
    assert wb.returncode == 0, err_b
    report = show("pg", c, storage=pg_url)  # a third "machine", with neither runs dir
    trials = report["trials"]
    assert not any(t["state"] in ("running", "waiting") for t in trials)
    complete = [t for t in trials if t["state"] == "complete"]
    assert sorted(t["params"]["lr"] for t in complete) == [0.05, 0.1, 0.2]  # every point, the lost one again
    assert all(len(t["curve"]) == 700 and t["host"] for t in complete)
    failed = [t for t in trials if t["state"] == "fail"]
    assert [t["run_id"] for t in failed] == [victim["id"]]  # failed by heartbeat, run again by worker b
    retried = next(t for t in complete if t["params"] == failed[0]["params"])
    assert retried["run_id"] in {r["id"] for r in run_records(b)}
    ids_a, ids_b = {r["id"] for r in run_records(a)}, {r["id"] for r in run_records(b)}
    assert {t["run_id"] for t in complete} <= ids_a | ids_b and ids_b - ids_a
    assert not (c.exists() and run_records(c))
    shown = run_cli("runs", "show", victim["id"], "--json", runs_dir=a)
    assert json.loads(shown.stdout)["status"] == "crashed"  # the run store of machine a says how it ended
    # the password never shows, neither in what the CLI prints nor in any run file
    assert PASSWORD not in json.dumps(report) and PASSWORD in pg_url
    assert report["storage"].startswith("postgresql://postgres:***@")
    for folder in (a, b):
        for path in folder.rglob("*.json"):
            assert PASSWORD not in path.read_text(errors="replace"), path
    # plain Optuna opens the same study
    study = optuna.load_study(study_name="pg", storage=pg_url.replace("postgresql://", "postgresql+psycopg2://"))
    assert len(study.trials) == len(trials) and study.best_value == report["best"]["value"]
    assert study.best_trial.user_attrs["run_id"] == report["best"]["run_id"]
