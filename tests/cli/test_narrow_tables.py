"""`runs list` and `runs compare` fit the terminal: below their full width the run id becomes its short id,
long names are cut, then columns go in a stated order; what tells runs apart (the short id, the differing
keys) stays; `--wide`, `--json` and a pipe give everything."""
from __future__ import annotations

import argparse

from rich.cells import cell_len

from engine.cli import runs as runs_cli
from engine.text import fit_table


def test_fit_table_shortens_then_drops_in_order():
    headers = ["id", "name", "tags", "last"]
    rows = [["20261207-171106-circles-nn-309d", "a rather long name for a run", "best,lab", 0.95]]
    kept, fitted, dropped = fit_table(headers, rows, 30, ["tags", "last"], {"id": lambda v: "#" + v[-4:]})
    assert kept[0] == "id" and fitted[0][0] == "#309d"
    assert dropped == ["tags", "last"] or dropped == ["tags"]
    assert all(cell_len(line) <= 30 or len(kept) == 2 for line in runs_cli.render_table(kept, fitted).splitlines())
    assert fit_table(headers, rows, None, ["tags"]) == (headers, rows, [])  # a pipe: whole


def test_runs_list_and_compare_at_80_columns(cli, monkeypatch, capsys):
    first = __import__("json").loads(cli("run", "circles-nn", "epochs=2", "lr=0.1", "--json").stdout)["run_id"]
    second = __import__("json").loads(cli("run", "circles-nn", "epochs=2", "lr=0.3", "--json").stdout)["run_id"]
    monkeypatch.setattr(runs_cli, "terminal_width", lambda: 80)
    args = argparse.Namespace(runs_dir=str(cli.runs_dir), json=False, wide=False, stage=None, status=None,
                              tag=None, since=None, search=None)
    runs_cli.cmd_list(args)
    shown = capsys.readouterr().out
    assert all(cell_len(line) <= 80 for line in shown.splitlines()), shown
    assert f"#{first[-4:]}" in shown and f"#{second[-4:]}" in shown and "--wide" in shown
    runs_cli.cmd_compare(argparse.Namespace(runs_dir=str(cli.runs_dir), runs=[first, second], json=False,
                                            wide=False))
    shown = capsys.readouterr().out
    assert all(cell_len(line) <= 80 for line in shown.splitlines()), shown
    assert "lr" in shown.splitlines()[0] and "0.3" in shown  # the differing key stays
    runs_cli.cmd_compare(argparse.Namespace(runs_dir=str(cli.runs_dir), runs=[first, second], json=False,
                                            wide=True))
    assert first in capsys.readouterr().out
    piped = cli("runs", "list")  # a pipe: the whole table, full ids
    assert first in piped.stdout and "--wide" not in piped.stdout
