"""A run killed (kill -9) before its first checkpoint: listed with the epochs and the time it wrote to
metrics.csv (run.json, refreshed about once a second, lags behind), and `nnlab resume` trains it again from
epoch 1 with its saved config and seed, giving exactly the uninterrupted run's per-epoch metrics."""
import json
import signal

import pytest

from engine.stages import resolve_config
from engine.store import RunWriter, Summary, list_runs, list_runs_json, read_metrics, read_record
from tests.reliability.conftest import metrics_rows

METRICS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr")
ARGS = ["circles-optim", "epochs=250", "seed=7"]
NO_CHECKPOINT = {"NNLAB_CHECKPOINT_EVERY_S": "100000"}  # none before the last epoch


def curve(rows):
    return [tuple(row[k] for k in METRICS) for row in rows]


def _killed_early(background, rows: int):
    run = background("run", *ARGS, env=NO_CHECKPOINT)
    run_dir = run.wait_rows(rows)
    run.signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    assert not (run_dir / "checkpoints" / "last.pt").exists()
    return run_dir


def test_listing_counts_what_a_crashed_run_wrote(background, cli):
    run_dir = _killed_early(background, 12)
    written = read_metrics(run_dir)
    assert 12 <= len(written) < 250 and metrics_rows(run_dir) == len(written)
    on_disk = json.loads((run_dir / "run.json").read_text())
    assert on_disk["status"] == "running"
    assert on_disk["summary"]["epochs_done"] < len(written), "run.json caught up: the kill came too late to test"

    listed = {r["id"]: r for r in json.loads(cli("runs", "list", "--json").stdout)}[run_dir.name]
    assert listed["status"] == "crashed"
    assert listed["summary"]["epochs_done"] == len(written)
    assert listed["summary"]["last"]["epoch"] == len(written)
    assert listed["summary"]["last"]["test_acc"] == written[-1]["test_acc"]
    best = max(written, key=lambda r: r["test_acc"])
    assert listed["summary"]["best"]["test_acc"]["value"] == best["test_acc"]
    assert listed["duration_s"] >= written[-1]["wall_time"] > 0
    line = next(ln for ln in cli("runs", "list").stdout.splitlines() if ln.startswith(run_dir.name))
    assert "crashed" in line and f"{len(written)}/250" in line.split()
    shown = json.loads(cli("runs", "show", run_dir.name[-4:], "--json").stdout)  # its short id
    assert shown["status"] == "crashed" and shown["summary"]["epochs_done"] == len(written)


def test_resume_without_checkpoint_trains_again_from_epoch_1_exactly(background, cli):
    reference = cli("run", *ARGS, "--json")
    assert reference.returncode == 0, reference.stderr
    ref_rows = read_metrics(cli.runs_dir / json.loads(reference.stdout)["run_id"])
    assert len(ref_rows) == 250

    run_dir = _killed_early(background, 5)
    resumed = cli("resume", run_dir.name, "--json")
    assert resumed.returncode == 0, resumed.stderr
    note = resumed.stderr.strip()
    assert "no checkpoint" in note and "epoch 1" in note and "saved config and seed" in note
    assert "before its first epoch ended" not in resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["status"] == "finished" and out["epochs_done"] == 250
    new_dir = cli.runs_dir / out["run_id"]
    record = json.loads((new_dir / "run.json").read_text())
    assert record["resumed_from"] == run_dir.name and record["status"] == "finished"
    assert json.loads((new_dir / "config.json").read_text()) == json.loads((run_dir / "config.json").read_text())
    assert curve(read_metrics(new_dir)) == curve(ref_rows)


def test_resumed_run_killed_before_its_own_checkpoint_continues_from_the_one_it_started_from(background, cli):
    reference = cli("run", *ARGS, "--json")
    assert reference.returncode == 0, reference.stderr
    ref_rows = read_metrics(cli.runs_dir / json.loads(reference.stdout)["run_id"])
    first = cli("run", "circles-optim", "epochs=3", "seed=7", "--json")  # finished: a checkpoint at epoch 3
    assert first.returncode == 0, first.stderr
    first_id = json.loads(first.stdout)["run_id"]
    run = background("resume", first_id, "epochs=250", env=NO_CHECKPOINT)
    run_dir = run.wait_rows(8)
    run.signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    assert not (run_dir / "checkpoints" / "last.pt").exists()
    assert json.loads((run_dir / "run.json").read_text())["resumed_from"] == first_id

    resumed = cli("resume", run_dir.name, "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert f"continuing from the checkpoint of {first_id}" in resumed.stderr
    assert "resuming at epoch 4" in resumed.stderr  # from that checkpoint, not from epoch 1 again
    out = json.loads(resumed.stdout)
    assert out["status"] == "finished" and out["epochs_done"] == 250
    new_dir = cli.runs_dir / out["run_id"]
    assert json.loads((new_dir / "run.json").read_text())["resumed_from"] == run_dir.name
    assert curve(read_metrics(new_dir)) == curve(ref_rows)


def test_resume_without_checkpoint_still_checks_its_input(background, cli):
    run_dir = _killed_early(background, 3)
    result = cli("resume", run_dir.name, "lr=0.5")
    assert result.returncode == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "lr" in lines[0] and "no checkpoint" not in lines[0]
    assert sorted(p.name for p in cli.runs_dir.iterdir() if not p.name.startswith(".")) == [run_dir.name]


def _crashed_run(root, rows: int, recorded: int, garbage: bool = False):
    """A run folder as a process killed after `rows` epochs leaves it: metrics.csv has every row, run.json
    the summary of its first `recorded` rows, status running and a process that is not this one any more."""
    config = resolve_config("circles-optim", {"epochs": "3000"})
    writer = RunWriter.create(root, config, device="cpu")
    history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5, "test_loss": 1.0 / e,
                "test_acc": 0.5 + (e % 97) / 1000, "lr": 0.03, "wall_time": 0.01 * e} for e in range(1, rows + 1)]
    for row in history:
        writer.append_metrics(row)
        if garbage and row["epoch"] == 5:
            writer._metrics.write("not,a,row\n")  # a line every reader skips, among the rows run.json counted
    writer.update(summary=Summary.from_history(history[:recorded]).to_json(), duration_s=0.5 + 0.01 * recorded,
                  pid_start="1")  # run.json's duration: 0.5 s before the first epoch, then its recorded epochs;
    # the pid is now another process's: crashed
    writer._metrics.close()
    return writer.run_dir, history


@pytest.mark.parametrize("rows, recorded", [(344, 302), (30, 0), (5, 5)], ids=["behind", "none", "caught-up"])
def test_crashed_summary_is_that_of_every_row_written(tmp_path, rows, recorded):
    root = tmp_path / "runs"
    run_dir, history = _crashed_run(root, rows, recorded)
    for record in (list_runs(root)[0], read_record(run_dir)):
        assert record.status == "crashed"
        assert record.summary == Summary.from_history(history)  # count, last row, best of each metric
        assert record.duration_s == pytest.approx(0.5 + 0.01 * rows, abs=1e-3)  # to the ms, rounded up
        assert record.duration_s >= history[-1]["wall_time"]
    assert list_runs_json(root)[0]["summary"] == Summary.from_history(history).to_json()


def test_crashed_summary_of_garbled_rows_reads_them_all(tmp_path):
    root = tmp_path / "runs"
    run_dir, history = _crashed_run(root, 40, 10, garbage=True)
    assert read_record(run_dir).summary == Summary.from_history(history) == Summary.from_history(read_metrics(run_dir))
