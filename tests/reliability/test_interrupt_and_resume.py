"""Points 1 and 2: Ctrl-C / SIGTERM stop cleanly (exit 130); kill -9 leaves a crashed but readable run that
`nnlab resume` continues exactly (model, optimizer, scheduler, epoch, RNG and data order)."""
import json
import signal

import pytest

from engine.stages import resolve_config
from engine.store import list_runs, load_checkpoint, read_metrics, read_record
from engine.train import resume, train
from tests.reliability.conftest import metrics_rows

METRICS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr")


def curve(rows):
    """The per-epoch metrics that must match exactly (wall_time is a clock)."""
    return [tuple(row[k] for k in METRICS) for row in rows]


# ---------------------------------------------------------------- 1. SIGINT / SIGTERM

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_run_keeps_finished_epochs_and_their_checkpoint(background, signum):
    run = background("run", "circles-optim", "epochs=100000")
    run_dir = run.wait_rows(5)
    run.signal(signum)
    rc = run.wait(timeout=60)
    assert rc == 130, run.stderr()
    assert "Traceback" not in run.stderr()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "interrupted" and record["ended"]
    rows = read_metrics(run_dir)
    assert 5 <= len(rows) < 100000
    assert metrics_rows(run_dir) == len(rows)  # no torn or half row left
    ckpt = load_checkpoint(run_dir)  # weights_only=True, like resume
    assert ckpt["epoch"] == len(rows) == record["summary"]["epochs_done"]
    assert curve(ckpt["history"]) == curve(rows)
    assert read_record(run_dir).status == "interrupted"


# ---------------------------------------------------------------- 2. kill -9, crashed, exact resume

def _kill_resume_compare(background, cli, args, kill_at_rows):
    reference = cli("run", *args, "--json")
    assert reference.returncode == 0, reference.stderr
    ref_id = json.loads(reference.stdout)["run_id"]
    ref_rows = read_metrics(cli.runs_dir / ref_id)

    run = background("run", *args, env={"NNLAB_CHECKPOINT_EVERY_S": "0.05"}, runs_dir=cli.runs_dir)
    run_dir = run.wait_rows(kill_at_rows, checkpoint=True)
    run.signal(signal.SIGKILL)
    assert run.wait() == -signal.SIGKILL
    killed_rows = read_metrics(run_dir)
    assert kill_at_rows <= len(killed_rows) < len(ref_rows), "the run was not killed mid-run"
    assert curve(killed_rows) == curve(ref_rows[: len(killed_rows)])

    # crashed everywhere, files still readable
    listed = json.loads(cli("runs", "list", "--json").stdout)
    assert {r["id"]: r["status"] for r in listed}[run_dir.name] == "crashed"
    shown = cli("runs", "show", run_dir.name, "--json")
    assert shown.returncode == 0, shown.stderr
    shown = json.loads(shown.stdout)
    assert shown["status"] == "crashed" and len(shown["history"]) == len(killed_rows)
    text = cli("runs", "show", run_dir.name)
    assert text.returncode == 0 and any(line.split()[:2] == ["status", "crashed"] for line in text.stdout.splitlines())
    assert "crashed" in cli("runs", "list").stdout
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
    ckpt_epoch = load_checkpoint(run_dir)["epoch"]
    assert 1 <= ckpt_epoch <= len(killed_rows)

    resumed = cli("resume", run_dir.name, "--json")
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["status"] == "finished" and out["epochs_done"] == len(ref_rows)
    new_dir = cli.runs_dir / out["run_id"]
    record = json.loads((new_dir / "run.json").read_text())
    assert record["resumed_from"] == run_dir.name and record["status"] == "finished"
    assert curve(read_metrics(new_dir)) == curve(ref_rows)
    return ckpt_epoch


def test_kill9_then_resume_is_exact_circles(background, cli):
    _kill_resume_compare(background, cli, ["circles-optim", "epochs=200", "seed=3"], kill_at_rows=15)


@pytest.mark.parametrize("optim", [["optimizer=momentum", "lr=0.05", "scheduler=step"],
                                   ["optimizer=adam", "lr=0.001", "scheduler=cosine"]],
                         ids=["momentum-step", "adam-cosine"])
def test_kill9_then_resume_is_exact_cnn_batchnorm(background, cli, optim):
    """cifar-batchnorm (crop-flip augmentation, dropout, BatchNorm statistics) with an optimizer that keeps
    per-parameter state (momentum buffers, Adam moments) and a scheduler whose lr depends on its saved epoch
    count: a resume that drops either state gives other metrics after the checkpoint."""
    args = ["cifar-batchnorm", "dataset=digits", "limit_train=256", "limit_test=100", "batch_size=64", "epochs=6",
            "step_size=4", "gamma=0.5", *optim]
    ckpt_epoch = _kill_resume_compare(background, cli, args, kill_at_rows=2)
    assert ckpt_epoch < 4, "killed after the step decay: the scheduler's state would not matter"


def test_resume_is_exact_from_any_checkpoint_epoch(tmp_path, monkeypatch):
    """In process: stop after k epochs (the checkpoint holds epoch k), resume, compare with one straight run;
    also extend a finished run with epochs=N."""
    monkeypatch.setenv("NNLAB_CHECKPOINT_EVERY_S", "1000")  # only the stop-time checkpoint
    kw = dict(data_dir=str(tmp_path / "data"))
    config = resolve_config("circles-optim", {"epochs": "9", "seed": "5", "optimizer": "momentum"})
    ref = train(config, runs_dir=str(tmp_path / "ref"), **kw)
    ref_rows = read_metrics(ref.run_dir)
    assert len(ref_rows) == 9
    for k in (1, 4, 8):
        done = []
        stopped = train(config, runs_dir=str(tmp_path / f"stop{k}"), should_stop=lambda: len(done) >= k,  # noqa: B023
                        emit=lambda e: done.append(e) if type(e).__name__ == "EpochEnd" else None, **kw)  # noqa: B023
        assert stopped.status == "interrupted" and stopped.epochs_done == k
        assert load_checkpoint(stopped.run_dir)["epoch"] == k
        again = resume(stopped.run_dir, runs_dir=str(tmp_path / f"stop{k}"), **kw)
        assert again.status == "finished"
        assert curve(read_metrics(again.run_dir)) == curve(ref_rows), k
    short = train(resolve_config("circles-optim", {"epochs": "4", "seed": "5", "optimizer": "momentum"}),
                  runs_dir=str(tmp_path / "short"), **kw)
    longer = resume(short.run_dir, {"epochs": "9"}, runs_dir=str(tmp_path / "short"), **kw)
    assert curve(read_metrics(longer.run_dir)) == curve(ref_rows)
    assert {r.status for r in list_runs(tmp_path / "short")} == {"finished"}
