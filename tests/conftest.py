import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    # started as a script's background job: the processes the tests start (and the TUI they drive in this
    # process starts) hear SIGINT as under a terminal, as `nnlab` itself arranges (engine.detached.hear_sigint)
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
COURSE_CIRCLES = ROOT.parent / "shared" / "data" / "circles.mat"


def wait_for(predicate, timeout: float = 120.0, what: str = "condition"):
    """predicate()'s value once it is truthy, polled every 50 ms; a test failure naming `what` after `timeout` s
    (for tests that wait on a file, a status or a process, never a fixed sleep)."""
    import time

    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_cli(*args: str, runs_dir: Path | None = None, data_dir: Path | None = None, timeout: float = 300,
            env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real CLI, as a subprocess (`python -m engine ...`)."""
    full_env = dict(os.environ)
    full_env.pop("NNLAB_DEBUG", None)
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.setdefault("OMP_NUM_THREADS", "1")
    if runs_dir is not None:
        full_env["NNLAB_RUNS_DIR"] = str(runs_dir)
    if data_dir is not None:
        full_env["NNLAB_DATA_DIR"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=cwd or ROOT)


@pytest.fixture
def cli(tmp_path):
    runs = tmp_path / "runs"
    data = tmp_path / "data"
    data.mkdir()

    def call(*args: str, **kw):
        kw.setdefault("runs_dir", runs)
        kw.setdefault("data_dir", data)
        return run_cli(*args, **kw)

    call.runs_dir = runs
    call.data_dir = data
    return call


@pytest.fixture(autouse=True)
def _no_run_outlives_its_test(request):
    """Runs started detached (the TUI's, --detach, --queue) are processes of their own, made to outlive whoever
    started them: a test that fails halfway would leave them training. After each test, every run process
    under its tmp_path (a running run.json's pid, a detached run still starting, a queued run waiting) is
    killed."""
    root = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if root is None:
        return
    import json
    import signal

    from engine.store.liveness import pid_alive

    pids: set[int] = set()
    for path in root.rglob("run.json"):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        running = record.get("status") == "running" and isinstance(record.get("pid"), int)
        if running and pid_alive(record["pid"], record.get("pid_start")):
            pids.add(record["pid"])
    for path in root.rglob(".detached-*.pid"):
        try:
            pids.add(int(path.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    for pid in pids:
        if pid != os.getpid() and pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
