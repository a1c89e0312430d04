"""Whether a run's process is alive, read from /proc: the basis of the `crashed` status."""
import subprocess
import sys
import time

from engine.store import pid_alive, process_age_s
from engine.store.liveness import proc_start


def test_this_process_is_alive_and_its_age_is_known():
    import os

    assert pid_alive(os.getpid()) and pid_alive(os.getpid(), proc_start(os.getpid()))
    assert not pid_alive(os.getpid(), "0")  # another start time: the pid was reused
    age = process_age_s()
    assert age is not None and age >= 0
    child = subprocess.run([sys.executable, "-c", "from engine.store import process_age_s; print(process_age_s())"],
                           capture_output=True, text=True, check=True, timeout=60)
    assert 0 <= float(child.stdout) < 30  # a process just started is seconds old


def test_a_finished_child_and_nonsense_pids_are_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    assert not pid_alive(child.pid)
    for pid in (None, 0, -1, True, "123", 2**80):
        assert not pid_alive(pid)


def test_a_child_killed_but_not_reaped_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = proc_start(child.pid)
        assert pid_alive(child.pid, start)
        child.kill()
        deadline = time.monotonic() + 10
        while pid_alive(child.pid, start) and time.monotonic() < deadline:  # a zombie until waited for
            time.sleep(0.01)
        assert not pid_alive(child.pid, start)
    finally:
        child.kill()
        child.wait(timeout=60)
