"""Point 5: runs started at once into one runs dir give complete, distinct records; listing while they
write never fails."""
import json
import time

from engine.stages import resolve_config
from engine.store import RunWriter, list_runs, load_checkpoint, read_metrics, writer
from tests.conftest import run_cli

EPOCHS = 80


def test_four_runs_at_once_and_listing_while_they_write(background, tmp_path):
    runs = [background("run", "circles-optim", f"epochs={EPOCHS}", f"seed={i}") for i in range(4)]
    calls, seen_running = 0, set()
    deadline = time.monotonic() + 240
    while any(r.proc.poll() is None for r in runs) and time.monotonic() < deadline:
        listed = run_cli("runs", "list", "--json", runs_dir=background.runs_dir, timeout=30)
        assert listed.returncode == 0, listed.stderr
        records = json.loads(listed.stdout)  # valid JSON every time
        assert all(r["status"] != "damaged" for r in records), records
        seen_running |= {r["id"] for r in records if r["status"] == "running"}
        for _ in range(20):  # and in process, as the TUI does, many times per CLI call
            for record in list_runs(background.runs_dir):
                assert record.status in ("running", "finished"), record
                read_metrics(record.run_dir)
        calls += 1
    assert calls >= 2 and seen_running, "the listing did not overlap the runs"
    assert [r.wait() for r in runs] == [0, 0, 0, 0], [r.stderr()[-500:] for r in runs]
    records = list_runs(background.runs_dir)
    assert len(records) == 4 and len({r.id for r in records}) == 4
    assert sorted(r.seed for r in records) == [0, 1, 2, 3]
    for record in records:
        assert record.status == "finished" and record.epochs_done == EPOCHS
        assert [r["epoch"] for r in read_metrics(record.run_dir)] == list(range(1, EPOCHS + 1))
        assert load_checkpoint(record.run_dir)["epoch"] == EPOCHS


def test_same_run_id_drawn_twice_gets_another(tmp_path, monkeypatch):
    """Two writers that draw the same id in the same second (1 in 65536) still get two folders."""
    ids = iter(["20250101-000000-circles-optim-aaaa"] * 3 + ["20250101-000000-circles-optim-bbbb"])
    monkeypatch.setattr(writer, "new_run_id", lambda stage: next(ids))
    config = resolve_config("circles-optim", {})
    first = RunWriter.create(tmp_path, config, device="cpu")
    # the race: the id was free when checked, taken by another process before the rename
    real_lexists = writer.os.path.lexists
    monkeypatch.setattr(writer.os.path, "lexists", lambda p: False if str(p).endswith("aaaa") else real_lexists(p))
    second = RunWriter.create(tmp_path, config, device="cpu")
    first.close(), second.close()
    assert first.run_dir.name.endswith("aaaa") and second.run_dir.name.endswith("bbbb")
    assert [r.status for r in list_runs(tmp_path)] == ["running", "running"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
