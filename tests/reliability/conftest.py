"""Fixtures for the reliability tests: background CLI runs, polling, small filesystems."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT


def cli_env(runs_dir: Path, data_dir: Path, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.pop("NNLAB_DEBUG", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["NNLAB_RUNS_DIR"] = str(runs_dir)
    env["NNLAB_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


class Background:
    """`python -m engine ARGS` started in the background; output goes to files (no pipe can fill up)."""

    def __init__(self, args, runs_dir: Path, data_dir: Path, out_dir: Path, env: dict | None = None):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.runs_dir = runs_dir
        self.out_path, self.err_path = out_dir / "stdout.txt", out_dir / "stderr.txt"
        self._out, self._err = open(self.out_path, "w"), open(self.err_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "engine", *args], stdout=self._out, stderr=self._err,
                                     env=cli_env(runs_dir, data_dir, env), cwd=ROOT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def run_dir(self) -> Path | None:
        """The folder of the run this process created (the only run folder with its pid)."""
        if not self.runs_dir.is_dir():
            return None
        for child in self.runs_dir.iterdir():
            try:
                record = json.loads((child / "run.json").read_text())
            except (OSError, ValueError):
                continue
            if record.get("pid") == self.pid:
                return child
        return None

    def wait_until(self, predicate, timeout: float = 90.0, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.proc.poll() is not None:
                value = predicate()
                if value:
                    return value
                pytest.fail(f"process ended (rc {self.proc.returncode}) before {what}:\n{self.stderr()[-2000:]}")
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}")

    def wait_rows(self, n: int, timeout: float = 90.0, checkpoint: bool = False) -> Path:
        """Wait until metrics.csv has at least n rows (and, if asked, a checkpoint exists)."""
        def ready():
            run_dir = self.run_dir()
            if run_dir is None:
                return None
            rows = metrics_rows(run_dir)
            if rows >= n and (not checkpoint or (run_dir / "checkpoints" / "last.pt").exists()):
                return run_dir
            return None
        return self.wait_until(ready, timeout, f"{n} metrics rows")

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._out.close()
            self._err.close()

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.wait()


def metrics_rows(run_dir: Path) -> int:
    """Complete data rows in metrics.csv (header and a torn last line excluded)."""
    try:
        text = (run_dir / "metrics.csv").read_text()
    except OSError:
        return 0
    lines = text.split("\n")
    return max(len(lines) - 2, 0)  # header + trailing '' (or a torn line)


@pytest.fixture
def background(tmp_path):
    """start(*args, env=...) -> Background; every process still alive at teardown is killed."""
    started: list[Background] = []
    runs, data = tmp_path / "runs", tmp_path / "bg-data"  # the same runs dir as the `cli` fixture
    data.mkdir(exist_ok=True)

    def start(*args, env=None, runs_dir=None) -> Background:
        proc = Background(args, runs_dir or runs, data, tmp_path / f"proc{len(started)}", env)
        started.append(proc)
        return proc

    start.runs_dir, start.data_dir = runs, data
    yield start
    for proc in started:
        proc.kill()


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, timeout=30).returncode == 0


@pytest.fixture
def mounts():
    """mount(*args) -> bool, each undone at teardown (lazy unmount). Skips where mounting is not allowed."""
    done: list[str] = []

    def mount(*args: str) -> None:
        if not _mount(*args):
            pytest.skip(f"cannot mount here (need root and CAP_SYS_ADMIN): mount {' '.join(args)}")
        done.append(args[-1])

    yield mount
    for target in reversed(done):
        subprocess.run(["umount", "-l", target], capture_output=True, timeout=30)
