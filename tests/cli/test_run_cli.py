"""The real CLI end to end: run, the saved-run format, runs list/show/compare/export/rm."""
import csv
import json
import re

from engine.events import METRIC_COLUMNS


def run_json(cli, *args):
    result = cli("run", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_json_contract_and_saved_run_format(cli):
    out = run_json(cli, "circles-optim", "epochs=12", "grid_every=5", "--name", "first")
    assert set(out) == {"run_id", "stage", "status", "run_dir", "epochs_done", "final", "best"}
    assert out["stage"] == "circles-optim" and out["status"] == "finished" and out["epochs_done"] == 12
    assert set(out["final"]) == {"train_loss", "train_acc", "test_loss", "test_acc"}
    assert 0.0 <= out["final"]["test_acc"] <= 1.0
    assert 1 <= out["best"]["epoch"] <= 12
    assert re.fullmatch(r"\d{8}-\d{6}-circles-optim-[0-9a-f]{4}", out["run_id"])
    run_dir = cli.runs_dir / out["run_id"]
    record = json.loads((run_dir / "run.json").read_text())
    for key in ("id", "stage", "name", "status", "created", "ended", "duration_s", "pid", "host", "versions",
                "device", "seed", "resumed_from", "tags", "notes", "summary"):
        assert key in record, key
    assert record["status"] == "finished" and record["name"] == "first"
    assert {"python", "torch", "nnlab"} <= set(record["versions"])
    config = json.loads((run_dir / "config.json").read_text())
    assert config["stage"] == "circles-optim" and config["epochs"] == 12 and config["lr"] == 0.03
    with open(run_dir / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == list(METRIC_COLUMNS)
    assert [int(r["epoch"]) for r in rows] == list(range(1, 13))
    assert float(rows[-1]["test_acc"]) == out["final"]["test_acc"]
    assert (run_dir / "checkpoints" / "last.pt").stat().st_size > 0
    # the report's figure 2: the grid after the first epoch, every k-th and the last
    stems = sorted(p.stem for p in (run_dir / "artifacts").glob("boundary-*.json"))
    assert stems == ["boundary-e0001", "boundary-e0005", "boundary-e0010", "boundary-e0012"]
    grid = json.loads((run_dir / "artifacts" / "boundary-e0012.json").read_text())
    assert len(grid["prob"]) == 40 and all(len(row) == 40 for row in grid["prob"])


def test_plain_output_one_line_per_epoch(cli):
    result = cli("run", "circles-nn", "epochs=4")
    assert result.returncode == 0, result.stderr
    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 4
    assert "\x1b" not in result.stdout and "\r" not in result.stdout


def test_runs_list_show_compare_export_rm(cli):
    a = run_json(cli, "circles-optim", "epochs=3")
    b = run_json(cli, "circles-optim", "epochs=3", "lr=0.1")
    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert {r["id"] for r in listed} == {a["run_id"], b["run_id"]}
    shown = json.loads(cli("runs", "show", a["run_id"][:-2], "--json").stdout)  # a unique prefix
    assert shown["id"] == a["run_id"] and len(shown["history"]) == 3
    assert set(shown["history"][0]) == set(METRIC_COLUMNS)
    compared = json.loads(cli("runs", "compare", a["run_id"], b["run_id"], "--json").stdout)
    assert compared["differing_keys"] == ["lr"]
    text = cli("runs", "compare", a["run_id"], b["run_id"]).stdout
    assert "lr" in text.splitlines()[0] and "0.1" in text
    exported = cli("runs", "export", a["run_id"], "--csv").stdout.splitlines()
    assert exported[0] == ",".join(METRIC_COLUMNS) and len(exported) == 4
    removed = cli("runs", "rm", a["run_id"])
    assert removed.returncode == 0
    assert (cli.runs_dir / ".trash" / a["run_id"] / "run.json").exists()
    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [b["run_id"]]


def test_four_mlp_stages_compare_as_one_computation(cli):
    ids = [run_json(cli, stage, "epochs=3")["run_id"]
           for stage in ("circles-manual", "circles-autograd", "circles-nn", "circles-optim")]
    compared = json.loads(cli("runs", "compare", *ids, "--json").stdout)
    assert compared["curves_agree"] is True
    text = cli("runs", "compare", *ids).stdout
    assert "the same computation" in text
    assert text.splitlines()[0].split().count("stage") == 1  # its own column, not also a differing key


def test_sweep_runs_grid_tagged_and_tabled(cli):
    result = cli("sweep", "circles-optim", "lr=0.001,0.03", "batch_size=10,50", "epochs=3", "--jobs", "2", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["runs"]) == 4
    assert out["study"] == out["sweep_id"] and sorted(t["state"] for t in out["trials"]) == ["complete"] * 4
    points = {(r["point"]["lr"], r["point"]["batch_size"]) for r in out["runs"]}
    assert points == {("0.001", "10"), ("0.001", "50"), ("0.03", "10"), ("0.03", "50")}
    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert len(listed) == 4 and all(out["sweep_id"] in r["tags"] for r in listed)
    # lr 0.03 learns more in 3 epochs than lr 0.001
    acc = {(r["point"]["lr"], r["point"]["batch_size"]): r["final"]["test_acc"] for r in out["runs"]}
    assert acc[("0.03", "10")] > acc[("0.001", "10")]
