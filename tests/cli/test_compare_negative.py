"""`runs compare` says "the same computation" only for curves that agree: the negative cases.

Two circles runs that differ only in lr (0.03 against 0.1) are different computations; so are runs of
different lengths or with a loss one step beyond the tolerance."""
import json

import pytest

from engine.stages import resolve_config
from engine.store import load_run, read_initial
from engine.store.compare import compare, curves_agree, differing_keys, table_keys
from engine.train import train

SAME = "the same computation"


def rows(losses):
    return [{"epoch": i + 1, "train_loss": loss, "test_loss": loss + 0.5} for i, loss in enumerate(losses)]


@pytest.fixture(scope="module")
def two_lrs(tmp_path_factory):
    """Two 5-epoch circles-optim runs, lr 0.03 and lr 0.1, and a repeat of the lr 0.03 run."""
    root = tmp_path_factory.mktemp("compare")
    runs = root / "runs"
    ids = {}
    for label, lr in (("a", "0.03"), ("b", "0.1"), ("a2", "0.03")):
        result = train(resolve_config("circles-optim", {"epochs": "5", "lr": lr}), runs_dir=str(runs),
                       data_dir=str(root / "data"))
        assert result.status == "finished"
        ids[label] = result.run_id
    return runs, ids


def test_curves_agree_in_process(two_lrs):
    runs, ids = two_lrs
    a, b, a2 = (load_run(runs / ids[k]) for k in ("a", "b", "a2"))
    assert curves_agree([a.history, a2.history]) is True  # the same config twice: the same computation
    assert curves_agree([a.history, b.history]) is False
    assert curves_agree([a.history, a2.history, b.history]) is False  # one odd run out of three
    result = compare([a, b])
    assert result["curves_agree"] is False and result["differing_keys"] == ["lr"]
    assert [r["differs"] for r in result["runs"]] == [{"lr": 0.03}, {"lr": 0.1}]
    assert compare([a, a2])["curves_agree"] is True and compare([a, a2])["differing_keys"] == []


def test_compare_entries_hold_each_runs_final_and_best(two_lrs):
    """The per-run entry both front ends show: final metrics are the last epoch's, best the highest test
    accuracy and its epoch."""
    runs, ids = two_lrs
    loaded = [load_run(runs / ids[k]) for k in ("a", "b")]
    result = compare(loaded)
    assert set(result) == {"differing_keys", "runs", "curves_agree"}
    for entry, run in zip(result["runs"], loaded):
        top = max(run.history, key=lambda r: (r["test_acc"], -r["epoch"]))
        assert entry == {"run_id": run.record.id, "stage": "circles-optim", "name": run.record.name,
                         "status": "finished", "epochs_done": 5,
                         "final": {k: run.history[-1][k] for k in ("train_loss", "train_acc", "test_loss", "test_acc")},
                         "best": {"test_acc": top["test_acc"], "epoch": top["epoch"]},
                         "initial": read_initial(run.record.run_dir),
                         "differs": {"lr": run.config["lr"]}}
        assert entry["initial"] is not None and entry["initial"]["test_loss"] > 0
    assert result["runs"][0]["final"] != result["runs"][1]["final"]


def test_compare_with_a_run_that_has_no_epoch(two_lrs, tmp_path):
    """A run stopped before its first epoch ends has no best and no final values: shown as None, and nothing to
    compare its curve with."""
    runs, ids = two_lrs
    empty = train(resolve_config("circles-optim", {"epochs": "5"}), runs_dir=str(tmp_path / "runs"),
                  data_dir=str(tmp_path), should_stop=lambda: True)
    assert empty.status == "interrupted" and empty.epochs_done == 0
    result = compare([load_run(runs / ids["a"]), load_run(tmp_path / "runs" / empty.run_id)])
    entry = result["runs"][1]
    assert entry["epochs_done"] == 0 and entry["best"] == {"test_acc": None, "epoch": None}
    assert entry["final"] == dict.fromkeys(("train_loss", "train_acc", "test_loss", "test_acc"))
    assert result["curves_agree"] is None


def test_table_keys_leave_out_the_stage():
    configs = [{"stage": "a", "lr": 0.1, "seed": 0}, {"stage": "b", "lr": 0.3, "seed": 0}]
    assert table_keys(configs) == ["lr"]
    assert table_keys(configs, all_keys=True) == ["lr", "seed"]
    assert table_keys([{"stage": "a", "x": 1}, {"stage": "a", "y": 2}], all_keys=True) == ["x", "y"]


def test_curves_agree_tolerance_and_nothing_to_compare():
    base = rows([0.9, 0.5, 0.3])
    assert curves_agree([base, rows([0.9, 0.5, 0.3 + 5e-6])]) is True  # within 1e-5
    assert curves_agree([base, rows([0.9, 0.5, 0.3 + 5e-5])]) is False  # beyond it, in the last epoch only
    assert curves_agree([base, rows([0.9 + 5e-5, 0.5, 0.3])]) is False  # ... in the first epoch only
    shifted_test = [dict(r) for r in base]
    shifted_test[1]["test_loss"] += 1e-3  # train losses equal, a test loss differs
    assert curves_agree([base, shifted_test]) is False
    assert curves_agree([base, rows([0.9, 0.5, 0.3])], tol=0.0) is True
    assert curves_agree([base, rows([0.9, 0.5, 0.3 + 5e-5])], tol=1e-4) is True
    missing = [dict(r) for r in base]
    missing[2]["train_loss"] = None  # a non-finite value read back from metrics.csv
    assert curves_agree([base, missing]) is False
    assert curves_agree([base, rows([0.9, 0.5])]) is None  # different lengths
    assert curves_agree([base]) is None  # nothing to compare with
    assert curves_agree([[], []]) is None


def test_differing_keys_in_first_seen_order():
    configs = [{"stage": "x", "lr": 0.1, "seed": 0}, {"stage": "x", "lr": 0.1, "seed": 1, "extra": [1]},
               {"stage": "y", "lr": 0.1, "seed": 0}]
    assert differing_keys(configs) == ["stage", "seed", "extra"]
    assert differing_keys(configs[:1]) == []


def test_runs_compare_cli_does_not_call_different_lrs_the_same_computation(cli, two_lrs):
    runs, ids = two_lrs
    result = cli("runs", "compare", ids["a"], ids["b"], "--json", runs_dir=runs)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["curves_agree"] is False and out["differing_keys"] == ["lr"]
    text = cli("runs", "compare", ids["a"], ids["b"], runs_dir=runs)
    assert text.returncode == 0 and ids["a"] in text.stdout and SAME not in text.stdout
    same = cli("runs", "compare", ids["a"], ids["a2"], runs_dir=runs)
    assert same.returncode == 0 and SAME in same.stdout  # the positive case, through the same command
