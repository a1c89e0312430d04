"""The command line as DESIGN.md fixes it: KEY=VALUE anywhere among the options, one clear error line, config
files (TOML, or a run's own config.json), `runs show` in short, a progress bar whose counters are never cut,
and RUN as a run id, a unique prefix or the short id the TUI shows."""
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


def ok_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_line(result, code: int = 2) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def config_of(cli, out) -> dict:
    return json.loads((cli.runs_dir / out["run_id"] / "config.json").read_text())


def test_key_value_after_options(cli, tmp_path):
    toml = tmp_path / "x.toml"
    toml.write_text("epochs = 5\nlr = 0.05\n")
    out = ok_json(cli("run", "circles-optim", "--config", str(toml), "epochs=2", "--json", "hidden=4"))
    config = config_of(cli, out)
    assert (config["epochs"], config["lr"], config["hidden"], out["epochs_done"]) == (2, 0.05, 4, 2)
    out = ok_json(cli("run", "--json", "circles-nn", "--name", "a=b", "epochs=1", "--tag", "t", "seed=3"))
    record = json.loads((cli.runs_dir / out["run_id"] / "run.json").read_text())
    assert record["name"] == "a=b" and record["tags"] == ["t"] and config_of(cli, out)["seed"] == 3


@pytest.mark.parametrize("args, needles", [
    (["run"], ["nnlab: error: run: missing STAGE", "circles-optim", "cifar-batchnorm"]),
    (["summary"], ["missing STAGE", "circles-optim"]),
    (["run", "circles-optim", "epochs=0", "epochs=2"], ["epochs", "twice", "epochs=0", "epochs=2"]),
    (["run", "circles-optim", "--json", "lr=0.1", "lr=0.2"], ["lr", "twice"]),
    (["run", "circles-optim", "--bogus", "epochs=2"], ["unrecognized arguments: --bogus"]),
    (["runs", "show"], ["nnlab: error: runs show: missing RUN"]),
    (["runs", "list", "extra"], ["unrecognized arguments: extra"]),
    (["run", "circles-optim", "--json", "lr"], ["expected KEY=VALUE", "'lr'"]),
])
def test_usage_errors_are_one_line_with_one_prefix(cli, args, needles):
    line = one_line(cli(*args))
    for needle in needles:
        assert needle in line, (needle, line)
    assert line.count("error:") == 1 and not line.startswith("nnlab: error: nnlab")
    assert not cli.runs_dir.exists() or not [p for p in cli.runs_dir.iterdir() if not p.name.startswith(".")]


def test_config_file_stage_and_a_runs_own_config_json(cli, tmp_path):
    same = tmp_path / "same.toml"
    same.write_text('stage = "circles-optim"\nepochs = 2\n')
    first = ok_json(cli("run", "circles-optim", "--config", str(same), "--json"))
    assert config_of(cli, first)["epochs"] == 2
    other = tmp_path / "other.toml"
    other.write_text('stage = "circles-nn"\nepochs = 2\n')
    line = one_line(cli("run", "circles-optim", "--config", str(other)))
    assert "circles-nn" in line and "circles-optim" in line and str(other) in line
    saved = cli.runs_dir / first["run_id"] / "config.json"
    again = ok_json(cli("run", "circles-optim", "--config", str(saved), "epochs=3", "--json"))
    assert config_of(cli, again) == {**json.loads(saved.read_text()), "epochs": 3}
    line = one_line(cli("run", "circles-nn", "--config", str(saved)))
    assert "circles-optim" in line and "circles-nn" in line
    bad = tmp_path / "bad.json"
    bad.write_text('{"epochs": -1}')
    assert "epochs" in one_line(cli("run", "circles-optim", "--config", str(bad)))
    broken = tmp_path / "broken.json"
    broken.write_text('{"epochs": ')
    assert "not valid JSON" in one_line(cli("run", "circles-optim", "--config", str(broken)))


def test_runs_show_prints_the_best_and_the_last_epochs_unless_all(cli):
    out = ok_json(cli("run", "circles-optim", "epochs=30", "lr=0.3", "--json"))
    best = out["best"]["epoch"]
    short = cli("runs", "show", out["run_id"])
    assert short.returncode == 0, short.stderr
    epochs = [int(m.group(1)) for m in re.finditer(r"^(?:best|last)?\s+(\d+)\s+\d", short.stdout, re.M)]
    assert epochs == sorted({best, 26, 27, 28, 29, 30}), short.stdout
    assert "--all" in short.stdout and "not shown" in short.stdout
    every = cli("runs", "show", out["run_id"], "--all")
    epochs = [int(m.group(1)) for m in re.finditer(r"^(?:best|last)?\s+(\d+)\s+\d", every.stdout, re.M)]
    assert epochs == list(range(1, 31)) and "not shown" not in every.stdout
    assert len(ok_json(cli("runs", "show", out["run_id"], "--json"))["history"]) == 30


def _bar_lines(chunks: list[bytes]) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    return [ln for ln in re.split(r"[\r\n]", text) if "epoch" in ln and ("━" in ln or "█" in ln)]


def test_progress_bar_counters_are_whole_at_80_columns(cli):
    """The issue's case: a long run (3000 epochs of 200 batches) on an 80-column terminal, watched until its
    bar shows an epoch's metrics, then stopped with Ctrl-C."""
    main, child = pty.openpty()
    env = dict(os.environ, NNLAB_RUNS_DIR=str(cli.runs_dir), NNLAB_DATA_DIR=str(cli.data_dir),
               PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", COLUMNS="80", TERM="xterm-256color")
    proc = subprocess.Popen([sys.executable, "-m", "engine", "run", "circles-optim", "epochs=3000", "batch_size=1"],
                            stdin=child, stdout=child, stderr=child, env=env, cwd=ROOT)
    os.close(child)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not any("test" in ln for ln in _bar_lines(chunks)):
            if select.select([main], [], [], 0.5)[0]:
                try:
                    chunks.append(os.read(main, 65536))
                except OSError:
                    break
        proc.send_signal(signal.SIGINT)
        while True:
            try:
                data = os.read(main, 65536) if select.select([main], [], [], 30)[0] else b""
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        os.close(main)
    bars = _bar_lines(chunks)
    assert any("test" in ln for ln in bars), bars[-3:]
    assert not [line for line in bars if "…" in line], bars  # nothing cut
    for line in bars:
        assert re.search(r"epoch +\d+/3000 ", line) and re.search(r"\b\d+/200\b", line), line
        assert re.search(r"\d:\d\d:\d\d", line), line


def test_run_is_an_id_a_prefix_or_the_short_id(cli):
    out = ok_json(cli("run", "circles-optim", "epochs=2", "--json"))
    run_id = out["run_id"]
    short = run_id[-4:]
    assert ok_json(cli("runs", "show", short, "--json"))["id"] == run_id
    assert ok_json(cli("runs", "show", run_id[:-6], "--json"))["id"] == run_id
    resumed = ok_json(cli("resume", short, "epochs=3", "--json"))
    assert resumed["epochs_done"] == 3
    assert json.loads((cli.runs_dir / resumed["run_id"] / "run.json").read_text())["resumed_from"] == run_id
    # another run with the same short id: the short id is now ambiguous, the full id still works
    twin = "19990101-000000-circles-optim-" + short
    shutil.copytree(cli.runs_dir / run_id, cli.runs_dir / twin)
    line = one_line(cli("runs", "show", short))
    assert "ambiguous" in line and run_id in line and twin in line
    line = one_line(cli("resume", short))
    assert "ambiguous" in line and run_id in line and twin in line
    assert ok_json(cli("runs", "show", twin, "--json"))["id"] == twin
    assert "no run matches" in one_line(cli("runs", "show", "ffff" if short != "ffff" else "eeee"))
