"""The index of cleaned run.json objects (<runs_dir>/.index.json) only ever makes listing faster: whatever state
it is in, list_runs (and list_runs_json) give what reading every run.json would."""
import json
import os
import time

import pytest

from engine.stages import resolve_config
from engine.store import INDEX_NAME, RunWriter, Summary, list_runs, list_runs_json, liveness, read_record, reader
from engine.store import index as index_module

PAST = time.time() - 3600


def settle(path) -> None:
    """Make a run.json look written long ago (its ctime too), so that the index may keep it."""
    os.utime(path, (PAST, PAST))


@pytest.fixture(autouse=True)
def no_settle_wait(monkeypatch):
    """Cache what was written just now (the real wait is a few seconds); each test starts a fresh process
    state, as another process would."""
    monkeypatch.setattr(index_module, "SETTLE_NS", -10**12)
    index_module.forget_indexes()
    yield
    index_module.forget_indexes()


def make_runs(root, n, status="finished"):
    config = resolve_config("circles-optim", {"epochs": "3"})
    dirs = []
    for i in range(n):
        writer = RunWriter.create(root, config, device="cpu", name=f"run {i}", tags=[f"t{i}"])
        history = [{"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.5, "test_loss": 1.0, "test_acc": 0.1 * e + i,
                    "lr": 0.01, "wall_time": float(e)} for e in (1, 2)]
        for row in history:
            writer.append_metrics(row)
        writer.update(status=status, summary=Summary.from_history(history).to_json())
        writer.close()
        dirs.append(writer.run_dir)
    return dirs


def fresh(root):
    """What listing gives without any index: every run.json read."""
    return [read_record(root / name).to_json() for name in sorted(os.listdir(root), reverse=True)
            if not name.startswith(".")]


def listed(root, new_process=True):
    """list_runs' records as JSON, checked against list_runs_json in the same index state."""
    if new_process:
        index_module.forget_indexes()  # no memory of earlier listings: only the index file
    records = [r.to_json() for r in list_runs(root)]
    if new_process:
        index_module.forget_indexes()
    assert list_runs_json(root) == records
    return records


def test_index_is_written_and_equals_a_fresh_read(tmp_path):
    make_runs(tmp_path, 3)
    first = listed(tmp_path)
    assert (tmp_path / INDEX_NAME).is_file()
    assert first == fresh(tmp_path) == listed(tmp_path) == listed(tmp_path, new_process=False)
    assert len(first) == 3 and INDEX_NAME not in {r["id"] for r in first}


def test_an_unchanged_run_json_is_read_from_the_index(tmp_path, monkeypatch):
    make_runs(tmp_path, 2)
    listed(tmp_path)
    monkeypatch.setattr(reader, "_run_json", lambda run_dir: pytest.fail(f"{run_dir} read again"))
    assert len(listed(tmp_path)) == 2


@pytest.mark.parametrize("garbage", [b"", b"{", b"\x00\xff" * 10, b"[]", b'{"format": "other"}', b"null",
                                     b'{"format": "nnlab-run-index/2", "folder": [1, 2], "runs": {}}'])
def test_a_damaged_or_foreign_index_is_ignored_and_rebuilt(tmp_path, garbage):
    make_runs(tmp_path, 2)
    expected = listed(tmp_path)
    (tmp_path / INDEX_NAME).write_bytes(garbage)
    assert listed(tmp_path) == expected
    assert json.loads((tmp_path / INDEX_NAME).read_text())["format"] == index_module.FORMAT


def test_an_index_of_the_older_format_is_rebuilt(tmp_path):
    """Format 1 kept run.json objects as read: never taken for cleaned ones."""
    dirs = make_runs(tmp_path, 2)
    expected = listed(tmp_path)
    body = json.loads((tmp_path / INDEX_NAME).read_text())
    body["format"] = "nnlab-run-index/1"
    for d in dirs:
        body["runs"][d.name][1] = json.loads((d / "run.json").read_text())
        body["runs"][d.name][1]["name"] = "\x1b[31mred"
    (tmp_path / INDEX_NAME).write_text(json.dumps(body))
    assert listed(tmp_path) == expected
    assert json.loads((tmp_path / INDEX_NAME).read_text())["format"] == index_module.FORMAT


def test_hostile_entries_are_ignored(tmp_path):
    dirs = make_runs(tmp_path, 2)
    expected = listed(tmp_path)
    body = json.loads((tmp_path / INDEX_NAME).read_text())
    first, second = (d.name for d in dirs)
    body["runs"][first][1] = {"status": "finished", "name": 5, "tags": "x", "summary": [], "notes": "\x1b[2J"}
    body["runs"][second][0] = ["a", 1, 2, 3]
    body["runs"]["20250101-000000-circles-optim-ffff"] = body["runs"][first]  # no such folder
    (tmp_path / INDEX_NAME).write_text(json.dumps(body))
    got = listed(tmp_path)
    # the planted entry only matches if its stat key does, and still goes through the record cleaner
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    assert all("\x1b" not in json.dumps(r) for r in got)


@pytest.mark.parametrize("change", [
    {"name": "\x1b]0;pwned\x07"}, {"name": ""}, {"name": 5}, {"notes": "\x1b[2J"}, {"notes": 7},
    {"tags": ["ok", "\x9b31m"]}, {"tags": "x"}, {"tags": ["t"] * 201}, {"versions": {"torch": "\x1b"}},
    {"versions": {"torch": 2}}, {"host": "h" * 2001}, {"pid_start": 12}, {"stage": ["list"]},
    {"seed": "7"}, {"seed": True}, {"id": "20250101-000000-circles-optim-ffff"}, {"run_dir": None},
    {"status": "crashed"}, {"status": "running"}, {"summary": {"epochs_done": -1, "last": {}, "best": {}}},
    {"summary": {"epochs_done": 1, "last": {"test_acc": "1"}, "best": {}}},
    {"summary": {"epochs_done": 1, "last": {"\x1b": 1.0}, "best": {}}},
    {"summary": {"epochs_done": 1, "last": {}, "best": {"test_acc": {"value": True, "epoch": 1}}}},
    {"summary": {"epochs_done": 1, "last": {}, "best": {"test_acc": {"value": 1, "epoch": 1, "x": 0}}}},
    {"summary": {"last": {}, "best": {}, "epochs_done": 1}}, {"summary": None},
])
def test_an_unclean_entry_with_a_matching_stat_key_is_read_again(tmp_path, change):
    """The index file is as untrusted as the runs: an entry whose stat key matches is used only when it is
    what cleaning a run.json gives; else the run.json is read again."""
    (run_dir,) = make_runs(tmp_path, 1)
    expected = listed(tmp_path)
    body = json.loads((tmp_path / INDEX_NAME).read_text())
    body["runs"][run_dir.name][1].update(change)
    (tmp_path / INDEX_NAME).write_text(json.dumps(body))
    assert listed(tmp_path) == expected


def test_a_clean_entry_is_used_as_it_is(tmp_path):
    """What makes reading the index fast: an entry that is already clean is not cleaned again."""
    (run_dir,) = make_runs(tmp_path, 1)
    listed(tmp_path)
    body = json.loads((tmp_path / INDEX_NAME).read_text())
    body["runs"][run_dir.name][1]["name"] = "renamed in the index"
    (tmp_path / INDEX_NAME).write_text(json.dumps(body))
    assert listed(tmp_path)[0]["name"] == "renamed in the index"


def test_run_json_edited_behind_the_index_same_size_is_seen(tmp_path):
    (run_dir,) = make_runs(tmp_path, 1)
    path = run_dir / "run.json"
    settle(path)
    assert listed(tmp_path)[0]["name"] == "run 0"
    text = path.read_text()
    edited = text.replace('"name": "run 0"', '"name": "run X"')
    assert len(edited) == len(text)
    with open(path, "r+") as fh:  # in place: same inode, same size
        fh.write(edited)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))  # even with an unchanged mtime
    assert listed(tmp_path)[0]["name"] == "run X"
    assert listed(tmp_path, new_process=False)[0]["name"] == "run X"


def test_runs_added_and_removed_are_seen_at_once(tmp_path):
    make_runs(tmp_path, 2)
    assert len(listed(tmp_path, new_process=False)) == 2
    (added,) = make_runs(tmp_path, 1)
    assert added.name in {r["id"] for r in listed(tmp_path, new_process=False)}
    gone = tmp_path / sorted(n for n in os.listdir(tmp_path) if not n.startswith("."))[0]
    os.rename(gone, tmp_path / ".trash-elsewhere")
    names = {r["id"] for r in listed(tmp_path, new_process=False)}
    assert gone.name not in names and len(names) == 2
    assert names == {r["id"] for r in listed(tmp_path)} == {r["id"] for r in fresh(tmp_path)}


def test_crashed_status_is_never_cached(tmp_path, monkeypatch):
    (run_dir,) = make_runs(tmp_path, 1, status="running")  # written by this process: alive
    assert listed(tmp_path)[0]["status"] == "running"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["pid"] == os.getpid()
    # the same run.json, unchanged on disk, once its process is gone: the pid check happens at every listing
    with monkeypatch.context() as patch:
        patch.setattr(liveness, "pid_alive", lambda pid, start=None: False)
        assert listed(tmp_path, new_process=False)[0]["status"] == "crashed"
        assert listed(tmp_path)[0]["status"] == "crashed"
    assert listed(tmp_path, new_process=False)[0]["status"] == "running"
    assert json.loads((tmp_path / INDEX_NAME).read_text())["runs"][run_dir.name][1]["status"] == "running"


def test_liveness_is_judged_on_the_run_json_as_written(tmp_path):
    """A pid_start written as a number is not this process's start time (a string), though its cleaned text
    would be: from the index as from the file, the run has crashed."""
    (run_dir,) = make_runs(tmp_path, 1, status="running")
    path = run_dir / "run.json"
    record = json.loads(path.read_text())
    record["pid_start"] = int(record["pid_start"])
    path.write_text(json.dumps(record))
    assert read_record(run_dir).status == "crashed"
    assert listed(tmp_path)[0]["status"] == "crashed"  # read from the folder
    assert listed(tmp_path)[0]["status"] == "crashed"  # from the index file
    assert listed(tmp_path, new_process=False)[0]["status"] == "crashed"  # from memory


def test_a_damaged_run_json_is_never_hidden_by_the_index(tmp_path):
    (run_dir,) = make_runs(tmp_path, 1)
    listed(tmp_path)
    (run_dir / "run.json").write_text("{ truncated")
    (record,) = listed(tmp_path)
    assert record["status"] == "damaged" and "not valid JSON" in record["reason"]


def test_an_unwritable_runs_dir_still_lists(tmp_path):
    make_runs(tmp_path, 2)
    expected = fresh(tmp_path)
    os.chmod(tmp_path, 0o555)
    try:
        if os.access(tmp_path, os.W_OK):
            pytest.skip("running as root: the folder stays writable")
        assert listed(tmp_path) == expected
        assert not (tmp_path / INDEX_NAME).exists()
    finally:
        os.chmod(tmp_path, 0o755)


def test_an_unwritable_index_still_lists(tmp_path, monkeypatch):
    make_runs(tmp_path, 2)
    expected = fresh(tmp_path)

    def refuse(path, data):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(index_module, "atomic_write_bytes", refuse)
    assert listed(tmp_path) == expected == listed(tmp_path)


def test_a_run_json_written_just_now_is_not_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "SETTLE_NS", 3 * 10**9)
    (young,), (old,) = make_runs(tmp_path, 1), make_runs(tmp_path, 1)
    settle(old / "run.json")
    time.sleep(0.01)
    assert len(listed(tmp_path)) == 2
    index_file = tmp_path / INDEX_NAME
    entries = json.loads(index_file.read_text())["runs"] if index_file.exists() else {}  # nothing to keep yet
    assert young.name not in entries
    # an old mtime set by hand does not make a file settled: its ctime says when it was changed
    assert old.name not in entries


def test_a_limited_listing_reads_only_the_newest_folders(tmp_path, monkeypatch):
    make_runs(tmp_path, 4)
    (tmp_path / "20991231-235959-zzz-plain-file-0000").write_text("not a folder")  # newest name, not a run
    expected = listed(tmp_path)
    index_module.forget_indexes()
    (tmp_path / INDEX_NAME).unlink()
    read = []
    real = reader._run_json
    monkeypatch.setattr(reader, "_run_json", lambda run_dir: read.append(run_dir.name) or real(run_dir))
    monkeypatch.setattr(index_module.RunIndex, "load", lambda root: pytest.fail("the index was loaded"))
    got = [r.to_json() for r in list_runs(tmp_path, limit=2)]
    assert got == expected[:2] and read == [r["id"] for r in expected[:2]]
    assert not (tmp_path / INDEX_NAME).exists()
    assert [r.to_json() for r in list_runs(tmp_path, limit=10)] == expected
    assert list_runs(tmp_path, limit=0) == [] and list_runs(tmp_path / "missing", limit=3) == []


def test_an_index_written_under_another_spelling_of_the_folder_says_this_one(tmp_path, monkeypatch):
    make_runs(tmp_path, 2)
    listed(tmp_path)  # the index file says the absolute folder
    monkeypatch.chdir(tmp_path.parent)
    relative = type(tmp_path)(tmp_path.name)
    got = listed(relative)
    assert got == fresh(relative) and got[0]["run_dir"] == str(relative / got[0]["id"])
