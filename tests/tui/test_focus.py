"""The keyboard when a screen appears: the screen keys work at once, never typed into a text field.

The real app driven with Pilot over a canned run store. Keys are posted to the app as the terminal driver
posts them (one after another, without waiting for each to be handled) where the timing matters."""
from __future__ import annotations

import asyncio

import pytest
from pilot_waits import wait_for
from textual import events
from tui_canned import DEVICES, populate

from tui.app import NNLabApp


def make_app(runs_dir) -> NNLabApp:
    app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets")
    app.devices = dict(DEVICES)
    return app


def screen_name(app) -> str:
    return type(app.screen).__name__


def test_history_opens_with_its_table_focused_so_the_next_key_is_a_screen_key(runs_dir):
    """A key that came just as History appeared went into its search field (Textual focused the first
    focusable widget, the field, and the table only later): `3` then `4` left History showing "4"."""
    populate(runs_dir)

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab")
            app.post_message(events.Key("3", "3"))
            focused_when_mounted = None
            for _ in range(2000):  # the first moment History is up, before anything else runs
                await asyncio.sleep(0)
                if screen_name(app) == "HistoryScreen" and app.screen.is_mounted:
                    focused_when_mounted = app.focused
                    break
            assert focused_when_mounted is not None, "History did not open"
            assert focused_when_mounted.id == "history-table"
            app.post_message(events.Key("4", "4"))
            await wait_for(pilot, lambda: screen_name(app) == "CompareScreen", 20, "Compare")
            await pilot.press("3")
            await wait_for(pilot, lambda: screen_name(app) == "HistoryScreen", 20, "History again")
            assert app.screen.query_one("#history-search").value == ""

    asyncio.run(main())


def test_escape_leaves_history_search_and_the_filter_stays(runs_dir):
    populate(runs_dir)

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            await wait_for(pilot, lambda: len(getattr(app.screen, "shown", [])) >= 7, what="History listed")
            history = app.screen
            await pilot.press("slash", "n", "n")
            assert app.focused.id == "history-search"
            filtered = len(history.shown)
            await pilot.press("escape", "o")
            assert app.focused.id == "history-table"
            assert history.query_one("#history-search").value == "nn"  # the filter stays
            assert history.query_text == "nn" and len(history.shown) == filtered
            assert history.sort == "stage"  # `o` sorted instead of being typed
            await pilot.press("4")
            await wait_for(pilot, lambda: screen_name(app) == "CompareScreen", 20, "Compare")

    asyncio.run(main())


def test_coming_back_to_a_screen_focuses_its_list_not_the_last_field(runs_dir):
    """`1` to the Lab, then `3`: the 3 went into the value field the Lab had left off in."""
    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab form")
            lab = app.screen
            await pilot.press("enter")  # into the first value field
            field = app.focused
            assert field.id.startswith("key-")
            before = field.value
            await pilot.press("f4")  # History (a function key works from a field)
            await wait_for(pilot, lambda: screen_name(app) == "HistoryScreen", 20, "History")
            await pilot.press("1")
            await wait_for(pilot, lambda: app.screen is lab, 20, "the Lab again")
            assert app.focused.id == "stages"
            await pilot.press("3")
            await wait_for(pilot, lambda: screen_name(app) == "HistoryScreen", 20, "History from the Lab")
            assert field.value == before

    asyncio.run(main())


def test_a_dialog_over_a_screen_leaves_the_focus_where_the_user_typed(runs_dir):
    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab form")
            await pilot.press("enter")
            field = app.focused
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: screen_name(app) == "CommandPalette", 20, "the palette")
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen_name(app) == "LabScreen", 20, "the Lab")
            assert app.focused is field

    asyncio.run(main())


def test_a_burst_of_down_keys_scrolls_help_one_line_per_key(runs_dir):
    """Ten `down` keys posted in one burst (a held key, a slow SSH link) scrolled help by one line: each
    deferred scroll read the position before any had run. Each key moves one line now; pgdn one page."""

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab")
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: screen_name(app) == "HelpScreen", what="help")
            scroll = app.screen.query_one("#help")
            await wait_for(pilot, lambda: scroll.max_scroll_y > 30, what="help laid out")
            for _ in range(10):
                app.post_message(events.Key("down", None))
            await wait_for(pilot, lambda: scroll.scroll_y >= 10, 10, "ten lines scrolled")
            page = scroll.scrollable_content_region.height
            for _ in range(2):
                app.post_message(events.Key("pagedown", None))
            await wait_for(pilot, lambda: scroll.scroll_y >= min(10 + 2 * page, scroll.max_scroll_y), 10,
                           "two pages scrolled")
            for _ in range(3):
                app.post_message(events.Key("up", None))
            await wait_for(pilot, lambda: scroll.scroll_y == min(10 + 2 * page, scroll.max_scroll_y) - 3, 10,
                           "three lines back")

    asyncio.run(main())


@pytest.fixture
def held_lab_build(monkeypatch):
    """The Lab's value fields are built only once the returned event is set (in a task of its own: the
    screen's queue runs on meanwhile), so a test can send keys while the form is still text."""
    from tui.screens.lab import LabScreen

    release = asyncio.Event()
    build = LabScreen._build_fields

    async def held_build(self):
        async def later():
            await release.wait()
            self.call_later(build, self)

        self._held = asyncio.get_running_loop().create_task(later())

    monkeypatch.setattr(LabScreen, "_build_fields", held_build)
    return release


def test_enter_on_a_stage_before_the_fields_are_built_goes_to_the_first_field(runs_dir, held_lab_build):
    """The first paint shows the form as text; the fields are built just after. An Enter in between (a user
    quick on the keys, a slow machine) was lost: it now focuses the first field once it exists. The build
    is held back here until the Enter has been handled."""

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: screen_name(app) == "LabScreen" and app.focused is not None
                           and app.focused.id == "stages", what="the stage list focused")
            assert not app.screen.form_ready
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen._enter_pending, 10, "the Enter kept")
            held_lab_build.set()
            await wait_for(pilot, lambda: app.screen.form_ready, what="Lab form")
            await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "key-epochs", 10,
                           "the first field focused")

    asyncio.run(main())


def test_ctrl_r_before_the_fields_are_built_starts_the_run_once_they_are(runs_dir, held_lab_build):
    """ctrl+r at the first paint, while the form is still text, was dropped; now the run starts once the
    fields exist (checked on the form's values, as ever)."""

    async def main():
        app = make_app(runs_dir)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: screen_name(app) == "LabScreen", what="the Lab")
            assert not app.screen.form_ready
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: app.screen._start_pending == "start", 10, "the ctrl+r kept")
            assert app.started_here == []
            held_lab_build.set()
            await wait_for(pilot, lambda: app.started_here, 60, "the run started")
            return list(app.started_here)

    started = asyncio.run(main())
    assert len(started) == 1 and "circles-manual" in started[0]
