"""`nnlab reproduce` and the reproduce command of a run: executed, it gives the same per-epoch metrics;
`reproduce 2-ab --quick` end to end on a reduced setting (epochs scaled down), reuse, Ctrl-C."""
from __future__ import annotations

import csv
import io
import os
import queue
import shlex
import signal
import subprocess
import sys
import threading
import time

from engine.command_line import reproduce_command
from engine.store import list_runs, read_config
from tests.conftest import ROOT, run_cli
from tests.figures.conftest import PNG_SIGNATURE, make_run

COLUMNS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr")


def metrics_text(run_dir):
    """metrics.csv cells as text, without wall_time."""
    return [[row[c] for c in COLUMNS] for row in csv.DictReader(io.StringIO((run_dir / "metrics.csv").read_text()))]


def test_the_reproduce_command_gives_the_same_per_epoch_metrics(store, tmp_path):
    runs, ids = store
    source = runs / make_run(runs, "circles-nn", epochs=5, lr=0.07, hidden=7, batch_size=25, reduction="mean",
                             init_std=0.5, seed=3)
    for run_dir in (source, runs / ids["sweep_a"]):
        command = shlex.split(reproduce_command(read_config(run_dir)))
        assert command[:2] == ["nnlab", "run"]
        again = tmp_path / f"again-{run_dir.name}"
        result = run_cli(*command[1:], "--json", runs_dir=again, timeout=120)
        assert result.returncode == 0, result.stderr
        (new,) = again.iterdir()
        assert read_config(new) == read_config(run_dir)
        assert metrics_text(new) == metrics_text(run_dir) and len(metrics_text(new)) == read_config(new)["epochs"]


def test_reproduce_2ab_quick_end_to_end_then_reuses_every_run(tmp_path):
    runs = tmp_path / "runs"
    out = tmp_path / "rep"
    env = {"NNLAB_REPRODUCE_EPOCH_SCALE": "0.03"}
    result = run_cli("reproduce", "2-ab", "--quick", "-o", str(out), runs_dir=runs, env=env, timeout=240)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    made = {r.id for r in list_runs(runs)}
    assert len(made) == 14  # 15 experiments; the batch-10 point of fig. 4 is the default circles-optim run
    configs = [read_config(runs / i) for i in made]
    assert sorted(c["stage"] for c in configs).count("circles-optim") == 8
    assert {c.get("dataset") for c in configs if c["stage"] == "mnist-mlp"} == {"digits"}  # no MNIST here
    assert {c.get("kernel") for c in configs if c["stage"] == "circles-svm"} == {"linear", "rbf"}
    md = (out / "report.md").read_text()
    assert "Data used: circles, digits" in md and "epochs per run: 1, 4" in md
    figures = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert {"fig2-boundary.png", "fig3-lr.png", "fig4-batch.png", "fig5-7-samples.png", "fig8-linear-svm.png",
            "fig9-rbf-svm.png"} <= set(figures)
    assert all((out / f).read_bytes().startswith(PNG_SIGNATURE) for f in figures)
    table = list(csv.DictReader(io.StringIO((out / "comparison.csv").read_text())))
    assert len(table) == 15 and all(row["reference (LAB.md)"] or row["experiment"] in ("fig. 3", "fig. 4")
                                    for row in table)
    rbf = next(row for row in table if row["setting"].startswith("kernel=rbf"))
    linear = next(row for row in table if row["setting"].startswith("kernel=linear"))
    assert "gamma" not in linear["setting"]  # gamma does nothing with a linear kernel: not part of its setting
    last = list(csv.DictReader(io.StringIO((runs / rbf["run"] / "metrics.csv").read_text())))[-1]
    assert rbf["test_acc"] == f"{100 * float(last['test_acc']):.1f} %"
    # the same command again: every experiment is reused, nothing runs; the report written in HTML this time
    again = run_cli("reproduce", "2-ab", "--quick", "-o", str(out), "--format", "html", runs_dir=runs, env=env,
                    timeout=240)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("reused") == 15 and "running" not in again.stderr
    assert (out / "report.html").is_file() and not (out / "report.md").exists()
    assert "<table" in (out / "report.html").read_text()
    assert {r.id for r in list_runs(runs)} == made


def test_ctrl_c_keeps_the_finished_experiments_and_writes_no_report(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "rep"
    env = dict(os.environ, PYTHONPATH=str(ROOT), NNLAB_RUNS_DIR=str(runs), OMP_NUM_THREADS="1")
    env.pop("NNLAB_REPRODUCE_EPOCH_SCALE", None)
    proc = subprocess.Popen([sys.executable, "-m", "engine", "reproduce", "2-ab", "--quick", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
    deadline, seen = time.monotonic() + 120, []
    try:
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
            if seen[-1].startswith("[2/15] running"):
                break
        assert seen and seen[-1].startswith("[2/15] running"), seen
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    statuses = {r.stage: r.status for r in list_runs(runs)}
    assert statuses["circles-manual"] == "finished"
    assert statuses.get("circles-autograd") in ("interrupted", "finished")  # it may end before the signal lands
