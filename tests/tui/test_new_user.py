"""What a new user hit in the TUI: screenshots, a second TUI on the same runs, telling runs apart, resume,
checks before a run starts. The real app driven with Pilot, over real run stores."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_for
from tui_canned import DEVICES, curve, populate, populate_cifar_and_sweep, write_run

from tui.app import NNLabApp


def make_app(runs_dir, data_dir="datasets") -> NNLabApp:
    app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(data_dir))
    app.devices = dict(DEVICES)
    return app


def notices(app) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


# ------------------------------------------------------------------------------------------------ screenshots
def test_palette_screenshot_saves_beside_the_runs_and_says_where(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads there
    monkeypatch.delenv("NNLAB_SCREENSHOT_DIR", raising=False)

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab")
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"screenshot")
            await pilot.pause(0.3)
            await pilot.press("enter")
            folder = runs_dir.parent / "screenshots"
            await wait_for(pilot, lambda: list(folder.glob("*.svg")) and str(folder) in notices(app), 20,
                           "a screenshot and a notice")
            shot = next(folder.glob("*.svg"))
            assert "<svg" in shot.read_text()[:2000]
            assert "Failed" not in notices(app)

    asyncio.run(main())


def test_screenshot_folder_can_be_set(runs_dir, tmp_path, monkeypatch):
    chosen = tmp_path / "my shots"
    monkeypatch.setenv("NNLAB_SCREENSHOT_DIR", str(chosen))

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(100, 30)) as pilot:
            app.deliver_screenshot()
            await wait_for(pilot, lambda: list(chosen.glob("*.svg")) and str(chosen) in notices(app), 20,
                           "a screenshot in the chosen folder")

    asyncio.run(main())


# ------------------------------------------------------------------------------- a second TUI on the same runs
def test_runs_deleted_elsewhere_lose_their_marks_and_leave_compare(runs_dir, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    ids = populate(runs_dir)
    a, b, c = ids[0], ids[1], ids[5]
    nnlab = str(Path(sys.executable).with_name("nnlab"))

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.complete and len(history.shown) == 7, what="History")
            history.marked.extend([a, b, c])
            app.compare([a, b, c])
            compare = app.screen
            await wait_for(pilot, lambda: len(compare.records) == 3, what="Compare")
            # another process (a second TUI or the CLI) deletes run b
            subprocess.run([nnlab, "runs", "rm", b, "--runs-dir", str(runs_dir)], check=True, timeout=60,
                           capture_output=True)
            await wait_for(pilot, lambda: [r.record.id for r in compare.records] == [a, c], 20,
                           "Compare to drop the deleted run")
            await pilot.press("3")
            await wait_for(pilot, lambda: history.marked == [a, c], 20, "History to drop its mark")
            assert b not in [r.id for r in history.shown]

    asyncio.run(main())


# ------------------------------------------------------------------------------- checked in the form, at once
def cli_error(runs_dir, *args: str) -> str:
    """The one line `nnlab run` prints for bad input (exit code 2), without its prefix."""
    import subprocess
    import sys
    from pathlib import Path

    nnlab = str(Path(sys.executable).with_name("nnlab"))
    out = subprocess.run([nnlab, "run", *args, "--runs-dir", str(runs_dir)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    return line[line.index("invalid value"):]


async def set_value(pilot, selector: str, text: str) -> None:
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    widget.value = text  # as typed: each change is checked
    await pilot.pause()


def test_lab_form_says_what_the_data_refuses_before_start(runs_dir, tmp_path):
    text_mat = tmp_path / "notes.mat"
    text_mat.write_text("this is a text file\n" * 20)
    missing = tmp_path / "missing.mat"
    cases = [({"batch_size": "100000"}, ("circles-optim", "batch_size=100000")),
             ({"dataset": str(missing)}, ("circles-optim", f"dataset={missing}")),
             ({"dataset": str(text_mat)}, ("circles-optim", f"dataset={text_mat}"))]
    expected = [cli_error(runs_dir, *args) for _, args in cases]

    async def main():
        app = make_app(runs_dir, tmp_path)
        async with app.run_test(size=(100, 32)) as pilot:
            lab = app.screen
            stages = lab.query_one("#stages")
            stages.highlighted = stages.get_option_index("circles-optim")
            await wait_for(pilot, lambda: lab.stage.id == "circles-optim" and lab.form_ready, what="form")
            for (values, _), message in zip(cases, expected):
                await lab.action_defaults()
                for key, value in values.items():
                    await set_value(pilot, f"#key-{key}", value)
                assert lab.form_error == message  # as typed, word for word what the CLI says
                note = str(lab.query_one("#key-note").render())
                assert message[:40] in note.replace("\n", "")
                await pilot.press("ctrl+r")
                await pilot.pause(0.2)
                assert type(app.screen).__name__ == "LabScreen" and not app.run_state.active
                assert message in notices(app)
            assert not [p for p in runs_dir.iterdir() if not p.name.startswith(".")]

    asyncio.run(main())


def test_a_run_that_fails_while_loading_says_so_without_a_stale_loading_note(runs_dir, tmp_path):
    """A .mat file whose header is fine but whose labels are not: only loading finds it (after start)."""
    import numpy as np
    import scipy.io

    bad = tmp_path / "bad.mat"
    x = np.zeros((20, 2))
    scipy.io.savemat(bad, {"Xtrain": x, "Ytrain": -np.ones((20, 1)), "Xtest": x, "Ytest": -np.ones((20, 1))})

    async def main():
        from engine.stages import resolve_config

        app = make_app(runs_dir, tmp_path)
        async with app.run_test(size=(100, 32)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab")
            app.start_run(resolve_config("circles-optim", {"dataset": str(bad), "batch_size": "10"}))
            await wait_for(pilot, lambda: app.run_state.status == "failed", 120, "the run to fail")
            await pilot.pause(0.5)
            header = str(app.screen.query_one("#run-header").render())
            assert "FAILED" in header and "labels must be integers" in header
            assert "loading" not in header

    asyncio.run(main())


# ------------------------------------------------------------------------------------- telling runs apart
def test_history_labels_preview_and_exact_value_search(runs_dir):
    from tui.widgets.runs_table import RunsTable

    populate(runs_dir)
    populate_cifar_and_sweep(runs_dir)
    write_run(runs_dir, "20250307-100000-circles-nn-4e0b", overrides={"batch_size": 50, "hidden": 20},
              rows=curve(3, 0.8))  # never named: its short id, then what differs from the preset

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.complete and len(history.shown) == 18, what="History")
            table = history.query_one(RunsTable)

            def line_of(run_id: str) -> str:
                table._move([r.id for r in history.shown].index(run_id))
                return "".join(seg.text for seg in table.render_line(table.cursor - round(table.scroll_y) + 1))

            swept = {"ff00": "0.001", "ff01": "0.1", "ff02": "0.3", "ff03": "0.5"}
            for short, lr in swept.items():  # at 80 columns the swept value shows, not the sweep's name
                line = line_of(f"20250306-10000{short[-1]}-circles-nn-{short}")
                assert f"lr={lr}" in line and "sweep-" not in line
            await pilot.resize_terminal(120, 30)
            await pilot.pause(0.3)
            assert "#4e0b batch_size=50 hid" in line_of("20250307-100000-circles-nn-4e0b")
            table._move([r.id for r in history.shown].index("20250306-100003-circles-nn-ff03"))
            # the preview: the config that differs and the command that reproduces the run
            await pilot.pause(0.3)
            detail = str(history.query_one("#history-detail").render())
            assert "config: lr=0.5" in detail
            assert "reproduce: nnlab run circles-nn lr=0.5" in " ".join(detail.split())
            # key=value is exact: lr=0.3 finds the lr 0.3 run only (not 0.03, 0.001, 0.1, 0.5)
            await pilot.press("slash", *"lr=0.3", "enter")
            await wait_for(pilot, lambda: len(history.shown) == 1, what="lr=0.3 only")
            assert history.shown[0].id == "20250306-100002-circles-nn-ff02"
            history.query_one("#history-search").value = "stage:circles lr=0.1"
            await wait_for(pilot, lambda: {r.id for r in history.shown} == {
                "20250306-100001-circles-nn-ff01", "20250301-101500-circles-nn-aa01"}, what="the two lr 0.1 runs")
            history.query_one("#history-search").value = "batch_size=50 stage:circles"
            await wait_for(pilot, lambda: [r.id for r in history.shown] == ["20250307-100000-circles-nn-4e0b"],
                           what="batch_size=50")
            history.query_one("#history-search").value = "nn 0.3"  # other text stays fuzzy
            await wait_for(pilot, lambda: len(history.shown) > 1, what="fuzzy")
            assert "20250306-100002-circles-nn-ff02" in [r.id for r in history.shown]

    asyncio.run(main())


# -------------------------------------------------------------------------------------- resume, open a run
def test_resume_an_interrupted_run_from_history(runs_dir, tmp_path):
    from engine.stages import resolve_config
    from engine.store import read_metrics, read_record

    async def main():
        app = make_app(runs_dir, tmp_path)
        async with app.run_test(size=(100, 32)) as pilot:
            # long enough that `s` comes before the end: the app takes epochs twice a second
            app.start_run(resolve_config("circles-nn", {"epochs": "2000", "lr": "0.1"}))
            await wait_for(pilot, lambda: len(app.run_state.history) >= 3, 120, "3 epochs")
            await pilot.press("s")
            await wait_for(pilot, lambda: app.run_state.status == "interrupted", 60, "interrupted")
            first, done = app.run_state.run_id, len(app.run_state.history)
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: [r.id for r in history.shown] == [first], 20, "the run in History")
            await pilot.press("R")  # resume: continues into a new run, from the epoch after the last one kept
            await wait_for(pilot, lambda: app.run_state.run_id not in ("", first), 60, "the resumed run")
            assert type(app.screen).__name__ == "TrainScreen"
            # its process imports torch and loads the data first; then it trains from the epoch after those kept
            await wait_for(pilot, lambda: app.run_state.status != "preparing" and app.run_state.batches, 120,
                           "the resumed run's first batch")
            assert app.run_state.start_epoch == done + 1
            await wait_for(pilot, lambda: app.run_state.status == "finished", 300, "the resumed run to end")
            second = app.run_state.run_dir
        record = read_record(second)
        assert record.resumed_from == first and record.status == "finished"
        assert [r["epoch"] for r in read_metrics(second)] == list(range(1, 2001))

    asyncio.run(main())


def test_enter_opens_a_run_of_another_process_live_and_r_resumes_it(runs_dir, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    nnlab = str(Path(sys.executable).with_name("nnlab"))
    other = subprocess.Popen([nnlab, "run", "circles-nn", "epochs=100000", "--runs-dir", str(runs_dir)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})

    async def main():
        app = make_app(runs_dir, tmp_path)
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.shown and history.shown[0].status == "running", 120,
                           "the other process's run")
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "TrainScreen", 10, "Train")
            state = app.run_state
            assert state.live_elsewhere and state.active
            seen = len(state.history)
            await wait_for(pilot, lambda: len(state.history) >= seen + 3, 60, "epochs written since")
            await wait_for(pilot, lambda: state.batch > 0 and state.batches > 0, 30, "its batch counter")
            await pilot.pause(0.5)
            assert "started elsewhere" in str(app.screen.query_one("#run-header").render())
            await pilot.press("s")  # any TUI stops any run: SIGINT to its process, as Ctrl-C where it runs
            assert other.wait(timeout=60) == 130
            await wait_for(pilot, lambda: state.status == "interrupted", 30, "interrupted")
            first = state.run_id
            await pilot.press("R")
            await wait_for(pilot, lambda: app.run_state.active and app.run_state.run_id not in ("", first), 120,
                           "resumed here")
            await pilot.press("s")
            await wait_for(pilot, lambda: app.run_state.status == "interrupted", 60, "stopped")

    try:
        asyncio.run(main())
    finally:
        if other.poll() is None:
            other.kill()
            other.wait(timeout=30)


def test_precheck_knows_the_training_set_sizes_of_the_built_in_data():
    from engine.data import load_features, load_images
    from engine.precheck import train_size
    from engine.stages import resolve_config

    for stage, overrides, loader in (("circles-optim", {}, load_features),
                                     ("mnist-mlp", {"dataset": "digits"}, load_features),
                                     ("cifar-base", {"dataset": "digits"}, load_images)):
        config = resolve_config(stage, overrides)
        assert train_size(config) == loader(config["dataset"], "datasets").n_train
    assert train_size(resolve_config("cifar-base", {"dataset": "digits", "limit_train": "100"})) == 100


def test_key_value_search_over_many_runs_reads_their_configs_off_the_ui_thread(runs_dir):
    from tui.screens.history import CONFIGS_INLINE

    n = CONFIGS_INLINE + 50
    for i in range(n):
        write_run(runs_dir, f"20250301-10{i // 60:02d}{i % 60:02d}-circles-nn-{i:04x}",
                  overrides={"lr": 0.3 if i == 7 else 0.03}, rows=curve(2, 0.7))

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            history = app.screen
            await wait_for(pilot, lambda: history.complete and len(history.shown) == n, 60, "every run")
            history.query_one("#history-search").value = "lr=0.3"  # pasted: one search, before any config is read
            await wait_for(pilot, lambda: [r.id for r in history.shown] == ["20250301-100007-circles-nn-0007"], 60,
                           "the one lr=0.3 run")

    asyncio.run(main())
