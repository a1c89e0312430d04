"""The History table draws only the lines in view and keeps its cursor in view."""
from __future__ import annotations

import asyncio

from tui_canned import DEVICES, curve, write_run

from tui.app import NNLabApp
from tui.widgets.runs_table import RunsTable


def test_cursor_stays_in_view_and_lines_show_their_rows(runs_dir):
    for i in range(120):
        write_run(runs_dir, f"20250301-1{i // 60:01d}{i % 60:02d}00-circles-nn-{i:04x}", rows=curve(2, 0.6 + i / 1000),
                  name=f"run {i:03d}")

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir=str(runs_dir))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("3")
            history = app.screen
            for _ in range(200):
                if len(getattr(history, "shown", [])) == 120 and history.complete:
                    break
                await pilot.pause(0.05)
            table = history.query_one(RunsTable)
            assert table.current().name == "run 119"  # newest first
            await pilot.press("end")
            assert table.current().name == "run 000"
            assert table.scroll_y == table.max_scroll_y
            last_line = "".join(seg.text for seg in table.render_line(table.page))
            assert "run 000" in last_line
            await pilot.press("pageup")
            top = round(table.scroll_y)
            assert top <= table.cursor < top + table.page
            await pilot.press("home", "space", "down", "space")
            assert history.marked == [history.shown[0].id, history.shown[1].id]
            header = "".join(seg.text for seg in table.render_line(0))
            assert "stage" in header and "status" in header

    asyncio.run(main())
