"""Point 4: damaged or hostile run folders never crash list, show, compare, export or resume, and never
execute anything. The TUI reads runs only through engine.store.list_runs / read_record / read_metrics /
read_artifacts, so the in-process checks of those functions cover it."""
import json
import os
import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from engine.config import ConfigError
from engine.stages import resolve_config
from engine.store import list_runs, load_checkpoint, read_artifacts, read_metrics
from engine.train import train

STAMP = "20250101-000000"


def rid(n: int, stage: str = "circles-optim") -> str:
    return f"{STAMP}-{stage}-{n:04x}"


class Payload:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A run store full of damaged and hostile folders, plus one good run and one outside the store."""
    base = tmp_path_factory.mktemp("zoo")
    root, outside, marker = base / "runs", base / "outside", base / "PWNED"
    config = resolve_config("circles-optim", {"epochs": "2"})
    good = train(config, runs_dir=str(root), data_dir=str(base))
    assert good.status == "finished"
    good_dir = root / good.run_id
    other = train(config, runs_dir=str(outside), data_dir=str(base))
    (outside / "secret.json").write_text('{"kind": "secret"}')
    (outside / "secret.csv").write_text("epoch,train_loss,train_acc,test_loss,test_acc,lr,wall_time\n1,1,1,1,1,1,1\n")
    expect = {}  # folder name -> expected substring of the reason (None: not damaged)

    def clone(n, why):
        d = root / rid(n)
        shutil.copytree(good_dir, d)
        expect[d.name] = why
        return d

    (clone(1, "not valid JSON") / "run.json").write_text('{"id": "x", "status": "fini')
    (clone(2, "not UTF-8") / "run.json").write_bytes(b"\xff\xfe\x00garbage\x80")
    (clone(3, "not an object") / "run.json").write_text("[1, 2, 3]")
    (clone(4, "missing") / "run.json").unlink()
    (clone(5, "no valid status") / "run.json").write_text('{"status": "pwned"}')
    (clone(6, "not valid JSON") / "run.json").write_text("[" * 100000)  # deep nesting
    d = clone(7, "symlink")
    (d / "run.json").unlink()
    (d / "run.json").symlink_to(outside / other.run_id / "run.json")
    d = clone(8, "not a regular file")
    (d / "run.json").unlink()
    os.mkfifo(d / "run.json")  # a reader that opens it naively blocks forever
    (root / rid(9)).symlink_to(outside / other.run_id)  # a whole run folder leading out of the store
    expect[rid(9)] = "symlink"
    os.mkdir(root / "not-a-run")
    expect["not-a-run"] = "not a run id"
    os.mkdir(root / "a\\b..c")
    expect["a\\b..c"] = "not a run id"
    os.mkdir(root / "..sneaky")  # hidden: not listed
    (root / rid(10)).write_text("a file named like a run")  # not a folder: not listed
    # readable run.json with hostile field types and terminal escapes; damaged metrics, config, artifacts
    d = clone(11, None)
    record = json.loads((d / "run.json").read_text())
    record.update(summary={"best": [1, 2], "last": "x", "epochs_done": "many"}, tags="notalist",
                  name={"a": 1}, notes="\x1b]2;owned\x07\x1b[2J note\nline 2", stage=["x"], epochs="lots",
                  duration_s={"x": 1}, versions=["bad"], pid="self")
    (d / "run.json").write_text(json.dumps(record))
    (d / "metrics.csv").write_bytes(b"\x00\x01garbage\nepoch,1,2\n\xff\xfe")
    (d / "config.json").write_text('{"stage": "circles-opt')
    (d / "artifacts" / "junk.json").write_text("{not json")
    (d / "artifacts" / "leak.json").symlink_to(outside / "secret.json")
    os.mkfifo(d / "artifacts" / "fifo.json")
    # metrics: a torn last line, then one leading out of the store, then a FIFO
    d = clone(12, None)
    with open(d / "metrics.csv", "a") as fh:
        fh.write("3,0.5,0.5,0.5")
    d = clone(13, None)
    (d / "metrics.csv").unlink()
    (d / "metrics.csv").symlink_to(outside / "secret.csv")
    d = clone(14, None)
    (d / "metrics.csv").unlink()
    os.mkfifo(d / "metrics.csv")
    # checkpoints: raw pickle with a payload, torch zip with a payload, wrong structure, symlink out
    d = clone(20, None)
    (d / "checkpoints" / "last.pt").write_bytes(pickle.dumps({"epoch": 1, "runner": Payload(marker)}))
    d = clone(21, None)
    torch.save({"epoch": 1, "runner": Payload(marker), "history": []}, d / "checkpoints" / "last.pt")
    d = clone(22, None)
    torch.save({"epoch": 1, "runner": {"model": {}}, "history": [{"epoch": 1}]}, d / "checkpoints" / "last.pt")
    d = clone(23, None)
    torch.save({"epoch": 7, "runner": {}, "history": "x"}, d / "checkpoints" / "last.pt")
    d = clone(24, None)
    (d / "checkpoints" / "last.pt").unlink()
    (d / "checkpoints" / "last.pt").symlink_to(outside / other.run_id / "checkpoints" / "last.pt")
    d = clone(25, None)
    (d / "checkpoints" / "last.pt").write_bytes((good_dir / "checkpoints" / "last.pt").read_bytes()[:500])
    d = clone(26, None)
    (d / "config.json").write_text(json.dumps({"stage": "circles-optim", "epochs": 2, "lr": "fast"}))
    expect[good.run_id] = None
    return {"root": root, "marker": marker, "good": good.run_id, "expect": expect, "outside": outside}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_list_and_read_functions_survive_and_name_the_damage(zoo):
    records = {r.id: r for r in list_runs(zoo["root"])}
    assert set(records) == set(zoo["expect"]), "hidden entries and plain files are not runs; the rest are"
    for name, why in zoo["expect"].items():
        record = records[name]
        if why is None:
            assert record.status != "damaged", (name, record)
        else:
            assert record.status == "damaged" and why in (record.reason or ""), (name, record)
        # the shapes every reader (CLI tables, TUI) relies on
        assert isinstance(record.name, str) and all(isinstance(t, str) for t in record.tags)
        assert all(isinstance(b.value, (int, float)) for b in record.summary.best.values())
        listed = record.to_json()
        assert isinstance(listed["tags"], list) and isinstance(listed["summary"].get("best", {}), dict)
        for run_dir in (zoo["root"] / name,):
            rows = read_metrics(run_dir)
            assert all(isinstance(r["epoch"], int) for r in rows)
            assert all(isinstance(a, dict) for a in read_artifacts(run_dir).values())
    hostile = records[rid(11)]
    assert hostile.status == "finished" and hostile.tags == () and hostile.summary.best == {}
    assert "\x1b" not in json.dumps(hostile.to_json(), ensure_ascii=False) and "\x07" not in hostile.notes
    assert read_metrics(zoo["root"] / rid(11)) == []
    assert set(read_artifacts(zoo["root"] / rid(11))) <= {"points", "initial", "boundary-e0001", "boundary-e0002",
                                                         "units-e0001", "units-e0002", "gradients", "activations"}
    assert [r["epoch"] for r in read_metrics(zoo["root"] / rid(12))] == [1, 2]  # torn line skipped
    assert read_metrics(zoo["root"] / rid(13)) == [] and read_metrics(zoo["root"] / rid(14)) == []
    assert read_metrics(zoo["root"] / rid(9)) == [] and read_artifacts(zoo["root"] / rid(9)) == {}
    with pytest.raises(ConfigError, match="refused|not plain weights"):
        load_checkpoint(zoo["root"] / rid(20))
    with pytest.raises(ConfigError, match="refused|not plain weights"):
        load_checkpoint(zoo["root"] / rid(21))
    for n in (23, 25):  # wrong structure, truncated file
        with pytest.raises(ConfigError, match="damaged"):
            load_checkpoint(zoo["root"] / rid(n))
    assert load_checkpoint(zoo["root"] / rid(22))["epoch"] == 1  # plain weights; resume finds it does not fit
    with pytest.raises(ConfigError, match="symlink"):
        load_checkpoint(zoo["root"] / rid(24))
    with pytest.raises(ConfigError, match="symlink"):
        load_checkpoint(zoo["root"] / rid(9))
    assert not zoo["marker"].exists()


def one_clear_line(result):
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_cli_list_show_compare_export_resume_never_crash_nor_execute(zoo, cli):
    root, marker, good = zoo["root"], zoo["marker"], zoo["good"]
    kw = dict(runs_dir=root, timeout=60)  # a FIFO that blocked a reader would time out here
    listed = cli("runs", "list", "--json", **kw)
    assert listed.returncode == 0, listed.stderr
    assert {r["id"]: r["status"] for r in json.loads(listed.stdout)}[rid(1)] == "damaged"
    text = cli("runs", "list", **kw)
    assert text.returncode == 0 and "damaged" in text.stdout and "\x1b" not in text.stdout
    for name, why in zoo["expect"].items():
        if name.startswith(STAMP) and name in {rid(n) for n in (1, 4, 8, 9, 11, 13, 14)}:
            shown = cli("runs", "show", name, "--json", **kw)
            if why is None and name != rid(11):
                assert shown.returncode == 0, shown.stderr
            else:
                assert "damaged" in one_clear_line(shown) or "config.json" in one_clear_line(shown)
    shown = cli("runs", "show", rid(12), **kw)
    assert shown.returncode == 0 and "\x1b" not in shown.stdout
    one_clear_line(cli("runs", "compare", good, rid(1), **kw))
    assert cli("runs", "compare", good, rid(12), "--json", **kw).returncode == 0
    assert cli("runs", "export", rid(13), "--csv", **kw).stdout.count("\n") == 1  # the symlink is not followed
    for ref in ("..", f"../{root.name}/{good}", "..sneaky", "a\\b..c"):
        one_clear_line(cli("runs", "show", ref, **kw))
    for ref in ("../outside", "/etc", ".trash"):
        one_clear_line(cli("resume", ref, "epochs=5", **kw))
    for n, needle in [(24, "symlink"), (26, "lr"), (9, "symlink"), (11, "config.json")]:
        line = one_clear_line(cli("resume", rid(n), "epochs=5", **kw))
        assert needle in line, (n, line)
    # the calls that import torch, side by side: two pickles with a payload, and a run whose run.json is gone
    # but whose config and checkpoint are whole (it can still be resumed)
    with ThreadPoolExecutor(3) as pool:
        raw, zipped, resumed = pool.map(lambda args: cli(*args, **kw), [
            ("resume", rid(20), "epochs=5"), ("resume", rid(21), "epochs=5"),
            ("resume", rid(4), "epochs=3", "--json")])
    for result in (raw, zipped):
        line = one_clear_line(result)
        assert "refused" in line and "plain weights" in line, line
    assert not marker.exists(), "a checkpoint payload ran"
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["epochs_done"] == 3
    assert {p.name for p in root.iterdir()} >= set(zoo["expect"]), "nothing was removed"
    started = [p.name for p in root.iterdir() if p.name.startswith("20") and not p.name.startswith(STAMP)]
    assert len(started) == 2, "no run was started but the zoo's good run and the one resumed on purpose"


def test_checkpoint_that_does_not_fit_the_stage_is_bad_input(zoo, tmp_path):
    """Weights of another shape (a hostile or foreign last.pt that loads as plain weights)."""
    src = zoo["root"] / zoo["good"]
    d = tmp_path / "runs" / rid(30)
    shutil.copytree(src, d)
    ckpt = load_checkpoint(src)
    ckpt["runner"]["model"] = {"net": {"0.weight": torch.zeros(3, 3)}}
    torch.save(ckpt, d / "checkpoints" / "last.pt")
    from engine.train import resume
    with pytest.raises(ConfigError, match="does not fit"):
        resume(d, {"epochs": "5"}, runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path))
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [rid(30)]


def test_non_finite_numbers_in_run_json_read_as_missing(tmp_path, cli):
    """JSON readers accept NaN and Infinity: a run.json holding them still lists, typed fields read as None."""
    root = tmp_path / "store"
    run_dir = root / rid(1)
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text('{"status": "finished", "pid": NaN, "epochs": Infinity, "seed": -Infinity,'
                                      ' "duration_s": NaN, "summary": {"last": {"test_acc": NaN}}}')
    (record,) = list_runs(root)
    assert record.status == "finished" and (record.pid, record.epochs, record.seed) == (None, None, None)
    listed = cli("runs", "list", "--json", runs_dir=root)
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["pid"] is None
    assert cli("runs", "list", runs_dir=root).returncode == 0
