"""The index of run records (<runs_dir>/.index.json) only ever makes listing faster: whatever state it is in,
list_runs gives what reading every run.json would."""
import json
import os
import time

import pytest

from engine.stages import resolve_config
from engine.store import INDEX_NAME, RunWriter, Summary, list_runs, read_record
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
    if new_process:
        index_module.forget_indexes()  # no memory of earlier listings: only the index file
    return [r.to_json() for r in list_runs(root)]


def test_index_is_written_and_equals_a_fresh_read(tmp_path):
    make_runs(tmp_path, 3)
    first = listed(tmp_path)
    assert (tmp_path / INDEX_NAME).is_file()
    assert first == fresh(tmp_path) == listed(tmp_path) == listed(tmp_path, new_process=False)
    assert len(first) == 3 and INDEX_NAME not in {r["id"] for r in first}


def test_an_unchanged_run_json_is_read_from_the_index(tmp_path, monkeypatch):
    make_runs(tmp_path, 2)
    listed(tmp_path)
    from engine.store import reader

    monkeypatch.setattr(reader, "_run_json", lambda run_dir: pytest.fail(f"{run_dir} read again"))
    assert len(listed(tmp_path)) == 2


@pytest.mark.parametrize("garbage", [b"", b"{", b"\x00\xff" * 10, b"[]", b'{"format": "other"}', b"null",
                                     b'{"format": "nnlab-run-index/1", "folder": [1, 2], "runs": {}}'])
def test_a_damaged_or_foreign_index_is_ignored_and_rebuilt(tmp_path, garbage):
    make_runs(tmp_path, 2)
    expected = listed(tmp_path)
    (tmp_path / INDEX_NAME).write_bytes(garbage)
    assert listed(tmp_path) == expected
    assert json.loads((tmp_path / INDEX_NAME).read_text())["format"] == "nnlab-run-index/1"


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


def test_crashed_status_is_never_cached(tmp_path):
    (run_dir,) = make_runs(tmp_path, 1, status="running")  # written by this process: alive
    assert listed(tmp_path)[0]["status"] == "running"
    record = json.loads((run_dir / "run.json").read_text())
    assert record["pid"] == os.getpid()
    # the same run.json, unchanged on disk, once its process is gone: the pid check happens at every listing
    from engine.store import reader

    real = reader.effective_status
    reader.effective_status = lambda raw: "crashed" if raw.get("status") == "running" else real(raw)
    try:
        assert listed(tmp_path, new_process=False)[0]["status"] == "crashed"
        assert listed(tmp_path)[0]["status"] == "crashed"
    finally:
        reader.effective_status = real
    assert listed(tmp_path, new_process=False)[0]["status"] == "running"
    assert json.loads((tmp_path / INDEX_NAME).read_text())["runs"][run_dir.name][1]["status"] == "running"


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
