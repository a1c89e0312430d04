"""Helpers of the study tests: the real CLI (tests.conftest.run_cli), the study read API, polling with a bound."""
import json
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli


def wait_for(check, timeout: float = 60.0, every: float = 0.2, what: str = "condition"):
    """Poll check() until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what}")


def run_records(runs_dir: Path) -> list[dict]:
    """The run.json of every run folder (dot folders such as .studies are not runs)."""
    if not runs_dir.exists():
        return []
    out = []
    for folder in sorted(runs_dir.iterdir()):
        path = folder / "run.json"
        if folder.name.startswith(".") or not path.is_file():
            continue
        try:
            out.append(json.loads(path.read_text()))
        except ValueError:  # being replaced right now: read again next time
            continue
    return out


def show(study: str, runs_dir: Path, storage: str | None = None, **kw) -> dict:
    args = ["studies", "show", study, "--json"] + (["--storage", storage] if storage else [])
    result = run_cli(*args, runs_dir=runs_dir, **kw)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
