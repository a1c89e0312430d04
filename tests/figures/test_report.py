"""`nnlab report`: the folder (document, figures, CSV), its table holding exactly the metrics.csv numbers,
each run's reproduce command, the three formats, and bad input."""
from __future__ import annotations

import csv
import io

import pytest

from engine.command_line import reproduce_command
from engine.report.document import MARKER
from engine.store import read_config
from tests.conftest import run_cli
from tests.figures.conftest import PNG_SIGNATURE


def report(store, *args: str):
    runs, _ = store
    return run_cli("report", *args, runs_dir=runs, timeout=180)


def csv_cells(run_dir):
    """metrics.csv as its text cells, by column."""
    rows = list(csv.DictReader(io.StringIO((run_dir / "metrics.csv").read_text())))
    return rows


def test_report_table_holds_exactly_the_metrics_csv_numbers(store, tmp_path):
    runs, ids = store
    picked = [ids["circles"], ids["sweep_a"], ids["svm"]]
    out = tmp_path / "rep"
    result = report(store, *picked, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    table = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert [row["run"] for row in table] == picked
    md = (out / "report.md").read_text()
    for row in table:
        cells = csv_cells(runs / row["run"])
        best = max(cells, key=lambda c: float(c["test_acc"]))  # the first epoch among equals
        assert row["best_test_acc"] == best["test_acc"] and row["best_epoch"] == best["epoch"]
        assert row["last_test_acc"] == cells[-1]["test_acc"] and row["last_train_loss"] == cells[-1]["train_loss"]
        assert row["epochs"] == str(len(cells))
        md_row = next(line for line in md.splitlines() if line.startswith(f"| {row['run']} |"))
        # the document at the CLI's precision (4 decimals), results.csv exact
        assert f"| {float(cells[-1]['test_acc']):.4f} |" in md_row and f"| {float(best['test_acc']):.4f} |" in md_row
        assert not any(len(c.strip()) > 8 and c.strip().replace(".", "").isdigit() for c in md_row.split("|")), md_row
        assert reproduce_command(read_config(runs / row["run"])) in md  # the command under each run
    assert "lr" in table[0] and "kernel" in table[0]  # the hyperparameters that differ are columns
    figures = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(figures) >= 4
    for name in figures:
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert (out / MARKER).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt,doc,ext,head", [("html", "report.html", ".png", b"\x89PNG"),
                                              ("latex", "report.tex", ".pdf", b"%PDF-")])
def test_html_and_latex(store, tmp_path, fmt, doc, ext, head):
    _, ids = store
    out = tmp_path / "rep"
    result = report(store, "--tag", "sweep-t1", "--format", fmt, "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = (out / doc).read_text()
    figures = sorted(out.glob(f"*{ext}"))
    assert figures and all(f.read_bytes().startswith(head) for f in figures)
    assert all(f.name in text for f in figures)
    assert ids["sweep_a"] in text and ids["sweep_b"] in text
    if fmt == "latex":
        assert text.startswith("\\documentclass") and text.rstrip().endswith("\\end{document}")
        assert "lr=0.1" in text and "sweep-t1" in text.replace("\\_", "_")
    else:
        assert text.startswith("<!DOCTYPE html>") and "<table>" in text


def test_an_earlier_report_is_replaced_anything_else_is_refused(store, tmp_path):
    _, ids = store
    out = tmp_path / "rep"
    assert report(store, ids["svm"], "-o", str(out)).returncode == 0
    (out / "stale.txt").write_text("from before")
    result = report(store, ids["circles"], "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert not (out / "stale.txt").exists() and ids["circles"] in (out / "report.md").read_text()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    result = report(store, ids["circles"], "-o", str(mine))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "not an nnlab report" in result.stderr
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize("args,says", [
    (["nosuchrun"], "no run matches"),
    (["--tag", "no-such-tag"], "--tag"),
    (["{circles}", "--tag", "sweep-t1"], "exactly one of"),
    (["{circles}", "--format", "docx"], "--format"),
    (["{circles}", "-o", "{tmp}/file.txt/rep"], "not an existing folder"),
])
def test_bad_input_is_one_line_exit_2_and_no_folder(store, tmp_path, args, says):
    _, ids = store
    (tmp_path / "file.txt").write_text("x")
    args = [a.format(tmp=tmp_path, **ids) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "rep")]
    result = report(store, *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
