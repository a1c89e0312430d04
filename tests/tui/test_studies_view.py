"""The Studies screen (key 5): a study's trials live, the best one marked, every trial's curve coloured by a
parameter, the parameter against the metric; fed canned reports (its input), and once a real journal study."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pilot_waits import wait_for
from study_canned import PASSWORD, STORAGE, CannedStudies, Unreachable, lr_search, trial
from tui_canned import DEVICES, write_run

from tui.app import NNLabApp
from tui.screens.studies import StudiesScreen, StudySource
from tui.widgets.study_format import groups_by, rank_correlation, safe_storage, wants_log
from tui.widgets.study_views import StudyPlot, TrialsTable, epoch_ticks

SMALL = (80, 24)
REPO = Path(__file__).resolve().parents[2]


def make_app(runs_dir, source, storage: str | None = STORAGE) -> NNLabApp:
    app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0, storage=storage)
    app.devices = dict(DEVICES)
    if source is not None:
        app.study_source = StudySource(source.list_studies, source.study_report)
    return app




async def open_studies(pilot, polls: int = 1) -> StudiesScreen:
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, StudiesScreen) and pilot.app.screen.polls >= polls)
    return pilot.app.screen


def rows(screen: StudiesScreen) -> list[list[str]]:
    table = screen.query_one(TrialsTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


def screen_text(app) -> str:
    return app.export_screenshot().replace("&#160;", " ")


def run(coro) -> None:
    asyncio.run(coro)


def test_trials_table_best_marked_param_colouring_and_param_view(runs_dir):
    async def main():
        app = make_app(runs_dir, CannedStudies())
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_studies(pilot)
            assert screen.study == "lr-search"  # the newest study of the storage
            table = rows(screen)
            assert [r[1] for r in table] == [str(n) for n in range(9)]
            assert [r[2] for r in table] == ["complete", "complete", "pruned", "complete", "complete", "pruned",
                                             "complete", "fail", "running"]
            assert [r[1] for r in table if r[0] == "*"] == ["3"]  # the best trial, and only it, is marked
            assert screen.query_one(TrialsTable).current_trial() == 3  # the cursor starts on it
            plot = screen.query_one(StudyPlot)
            legend = plot.legend.plain
            assert "lr 0.001-0.0025" in legend and "* best #3" in legend and "batch_size" not in legend
            # every trial that reported an epoch has its curve, drawn with its group's marker; the best on top
            assert len(plot.drawn) == 8 + 1 and plot.drawn[-1][0] == "*"
            await pilot.press("p")
            await pilot.pause()
            legend = plot.legend.plain
            assert "o batch_size=10" in legend and "x batch_size=50" in legend and "+ batch_size=200" in legend
            assert "lr " not in legend
            await pilot.press("p", "v")  # back to lr; the parameter against the metric
            await pilot.pause()
            complete = [t for t in lr_search()["trials"] if t["state"] == "complete"]
            series = {marker: [round(10 ** x, 6) for x in xs] for marker, xs, _ in plot.drawn}  # a log10 x axis
            assert sorted(series["o"]) == sorted(t["params"]["lr"] for t in complete)  # all complete trials
            assert series["*"] == [0.1] and sorted(series["x"]) == [0.0025, 0.9]  # best, pruned at their last
            await pilot.resize_terminal(100, 30)  # drawn again at another size (plotext's log scale failed here)
            await pilot.pause(0.2)
            await pilot.resize_terminal(*SMALL)
            await pilot.pause(0.2)
            assert "complete 5" in plot.legend.plain and "pruned 2" in plot.legend.plain
            assert plot.title == "test_acc against lr (log)" and plot.title in screen_text(app)
            await pilot.press("l")  # a linear axis instead
            await pilot.pause()
            assert plot.title == "test_acc against lr" and "(log)" not in screen_text(app)

    run(main())


def test_states_update_as_workers_report(runs_dir):
    source = CannedStudies()

    async def main():
        app = make_app(runs_dir, source)
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_studies(pilot)
            assert rows(screen)[8][2] == "running" and len(rows(screen)) == 9
            # another machine finishes trial 8 (better than all) and starts trial 9
            trials = lr_search()["trials"]
            trials[8] = trial(8, "complete", 0.12, 10, 10, host="gpu-b")
            trials[8]["value"] = 0.99
            trials.append(trial(9, "running", 0.05, 50, 2, host="gpu-c"))
            source.update("lr-search", trials)
            await wait_for(pilot, lambda: len(rows(screen)) == 10, timeout=20)
            table = rows(screen)
            assert table[8][2] == "complete" and table[9][2] == "running" and table[9][-2] == "gpu-c"
            assert [r[1] for r in table if r[0] == "*"] == ["8"]
            assert "best #8" in screen.query_one(StudyPlot).legend.plain

    run(main())


def test_password_never_on_screen(runs_dir):
    async def main():
        app = make_app(runs_dir, CannedStudies())
        async with app.run_test(size=SMALL) as pilot:
            await open_studies(pilot)
            text = screen_text(app)
            assert "postgresql://nnlab:***@db.lab:5432/studies" in text
            assert PASSWORD not in text
        # a storage that refuses, with the password in its error: the error is shown, the password is not
        app = make_app(runs_dir, Unreachable())
        async with app.run_test(size=(160, 24)) as pilot:
            await open_studies(pilot)
            text = screen_text(app)
            assert "cannot read the studies (retrying): ConnectionError: could not connect to" in text
            assert PASSWORD not in text and "password *** rejected" in text

    run(main())
    assert PASSWORD not in safe_storage(f"postgresql://db/x?user=u&password={PASSWORD}")


def test_open_a_trial_run_and_other_studies(runs_dir):
    report = lr_search()
    best_run = report["trials"][3]["run_id"]
    write_run(runs_dir, best_run, stage="circles-optim")

    async def main():
        app = make_app(runs_dir, CannedStudies())
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_studies(pilot)
            assert rows(screen)[3][-1] == best_run[-4:]
            await pilot.press("up")  # trial 2: its run is on another machine
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, StudiesScreen)
            assert any("not in this runs dir" in n.message for n in app._notifications)
            await pilot.press("down", "enter")  # trial 3, the best: its run is here
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
            assert app.compare_ids == [best_run]
            await pilot.press("5", "c")  # the best trials whose runs are here: just the one
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
            assert app.compare_ids == [best_run]
            await pilot.press("5", "right_square_bracket")  # the next study (wraps to the first)
            await wait_for(pilot, lambda: screen.study == "grid-batch" and len(rows(screen)) == 4)
            assert "grid-batch 1/2" in screen_text(app)

    run(main())


def test_groups_and_axes():
    trials = [{"number": i, "params": {"lr": lr}} for i, lr in enumerate((0.001, 0.002, 0.01, 0.05, 0.2, 0.5, 1.0))]
    groups = groups_by(trials, "lr")  # 7 values: log-spaced ranges, one marker each
    assert [g.numbers for g in groups] == [(0, 1), (2,), (3,), (4,), (5, 6)]
    assert len({g.marker for g in groups}) == len(groups)
    assert groups[0].label == "lr 0.001-0.002"
    assert wants_log([0.001, 1.0]) and not wants_log([10, 50]) and not wants_log(["a", "b"])
    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3], [5, 5, 5]) is None
    assert epoch_ticks(600) == [1, 100, 200, 300, 400, 500, 600] and epoch_ticks(10) == [1, 3, 5, 7, 9]


def test_snapshot_small(snap_compare, runs_dir):
    async def run_before(pilot):
        await open_studies(pilot)

    assert snap_compare(make_app(runs_dir, CannedStudies()), terminal_size=SMALL, run_before=run_before)


def test_snapshot_param_view_small(snap_compare, runs_dir):
    async def run_before(pilot):
        await open_studies(pilot)
        await pilot.press("v")
        await pilot.pause()

    assert snap_compare(make_app(runs_dir, CannedStudies()), terminal_size=SMALL, run_before=run_before)


def test_real_journal_study(tmp_path):
    """A real `nnlab sweep` fills the default journal; the screen (engine.study.report) shows its trials."""
    runs = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "engine", "sweep", "circles-optim", "lr=0.1,0.3", "epochs=3",
                          "--runs-dir", str(runs), "--study", "lr-pair"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr

    async def main():
        app = make_app(runs, None, storage=None)
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_studies(pilot)
            await wait_for(pilot, lambda: len(rows(screen)) == 2, timeout=60)
            assert screen.study == "lr-pair" and screen.error is None
            table = rows(screen)
            assert sorted(r[5] for r in table) == ["0.1", "0.3"] and {r[2] for r in table} == {"complete"}
            assert len([r for r in table if r[0] == "*"]) == 1
            assert len(screen.query_one(StudyPlot).drawn) == 2 + 1  # both curves and the best on top
            assert "journal file in" in screen_text(app)
            await pilot.press("enter")  # its runs are here: the best opens in Compare
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen")

    run(main())


class RecordingApp(NNLabApp):
    """The real app whose bindings resolve as usual, but whose actions are only noted."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fired: list[str] = []

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        if isinstance(action, str) and isinstance(self.screen, StudiesScreen):
            self.fired.append(action)
            return True
        return await super().run_action(action, default_namespace, namespaces)


def test_every_studies_key_fires_from_the_table_and_with_no_focus(runs_dir):
    from tui.keymap import STUDIES

    async def main():
        app = RecordingApp(runs_dir=str(runs_dir), data_dir="datasets", storage=STORAGE)
        app.devices = dict(DEVICES)
        source = CannedStudies()
        app.study_source = StudySource(source.list_studies, source.study_report)
        problems = []
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_studies(pilot)
            for widget in [*screen.focus_chain, None]:
                screen.set_focus(widget)
                await pilot.pause()
                for binding in STUDIES:
                    for key in binding.key.split(","):
                        app.fired.clear()
                        await pilot.press(key)
                        await pilot.pause()
                        if binding.action not in app.fired:
                            problems.append(f"{key} with focus in {type(widget).__name__} ran {app.fired}")
        assert not problems, "\n".join(problems)

    run(main())


def test_many_trials_drawn_as_points_per_group(runs_dir):
    """Past LINE_POINTS points the curves are points, one series per group (plotext draws lines 5x slower)."""
    source = CannedStudies()
    source.update("lr-search", [trial(i, "complete", 10 ** (-3 + 3 * i / 119), 10, 30) for i in range(120)])

    async def main():
        app = make_app(runs_dir, source)
        async with app.run_test(size=SMALL) as pilot:
            screen = await open_studies(pilot)
            plot = screen.query_one(StudyPlot)
            assert len(rows(screen)) == 120
            markers = [marker for marker, _, _ in plot.drawn]
            assert markers == ["o", "x", "+", "=", "%", "@", "*"]  # 6 lr ranges, then the best trial's line
            assert sum(len(xs) for _, xs, _ in plot.drawn[:-1]) == 120 * 30  # every epoch of every trial

    run(main())


def test_palette_and_help_reach_the_studies_screen(runs_dir):
    from rich.console import Console

    from tui.commands import nnlab_commands
    from tui.screens.help import help_table

    console = Console(width=120, record=True)
    console.print(help_table())
    text = console.export_text()
    assert "Studies" in text and "Parameter: the parameter that colours the curves" in text

    async def main():
        app = make_app(runs_dir, CannedStudies())
        async with app.run_test(size=SMALL) as pilot:
            titles = [c.title for c in nnlab_commands(app, app.screen)]
            assert "Go to Studies" in titles and "Studies: Parameter" in titles and "Studies: Open run" in titles
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"go to studies")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.polls >= 1)

    run(main())


class NoStudies:
    def list_studies(self, storage, runs_dir):
        return []

    def study_report(self, storage, runs_dir, name):
        raise KeyError(name)


def test_an_empty_storage_says_how_to_start_a_study(runs_dir):
    async def main():
        app = make_app(runs_dir, NoStudies(), storage=None)
        async with app.run_test(size=(200, 24)) as pilot:  # wide: the temporary path stays on one line
            screen = await open_studies(pilot)
            text = screen_text(app)
            assert f"No study in journal file in {runs_dir}/.studies yet." in text
            assert "nnlab sweep circles-optim lr=0.001..1:log --trials 20" in text
            assert not screen.query_one(TrialsTable).display and screen.focused is not None  # keys still work
            await pilot.press("v", "p", "l", "enter", "c", "right_square_bracket")  # nothing to act on: no error
            await pilot.pause()

    run(main())


def test_one_redaction_for_the_cli_and_the_studies_screen():
    """engine.study.storage hides a storage's secret for both: in the user part (even with a '/' in it, which
    the CLI's old pattern let through), as a password= option, and decoded inside any message."""
    from engine.study.storage import redact, redact_text
    from tui.widgets.study_format import safe_storage, safe_text

    url = "postgresql://u:se/cr%40t@db:5432/x"
    assert redact(url) == safe_storage(url) == "postgresql://u:***@db:5432/x"
    assert redact("postgresql://db/x?user=u&password=pw") == "postgresql://db/x?user=u&password=***"
    message = f"cannot open {url}: FATAL password se/cr@t rejected"
    assert redact_text(message, url) == safe_text(message, url) == \
        "cannot open postgresql://u:***@db:5432/x: FATAL password *** rejected"
