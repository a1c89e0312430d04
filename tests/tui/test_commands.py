"""Every binding of every screen is in help and in the command palette."""
from __future__ import annotations

import asyncio

from tui_canned import DEVICES

from tui.app import NNLabApp
from tui.commands import nnlab_commands
from tui.keymap import SECTIONS
from tui.screens.help import help_table


def test_help_lists_every_key():
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(help_table())
    text = console.export_text()
    for _title, bindings in SECTIONS:
        for b in bindings:
            assert (b.description or b.action) in text


def test_palette_reaches_every_screen_action(runs_dir):
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets")
        app.devices = dict(DEVICES)
        async with app.run_test(size=(100, 30)) as pilot:
            for key, name in (("1", "Lab"), ("2", "Train"), ("3", "History"), ("4", "Compare")):
                await pilot.press(key)
                await pilot.pause()
                titles = [c.title for c in nnlab_commands(app, app.screen)]
                for b in type(app.screen).BINDINGS:
                    if b.description:
                        assert f"{name}: {b.description}" in titles
                assert "Go to History" in titles and "Help: all keys" in titles
            # the palette itself runs one: from History, "Compare: ..." is not needed; "Go to Lab" is
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"go to lab")
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "LabScreen"

    asyncio.run(main())


def test_ansi_theme_available(runs_dir):
    async def main():
        app = NNLabApp(runs_dir=str(runs_dir))
        app.devices = dict(DEVICES)
        async with app.run_test(size=(80, 24)) as pilot:
            assert "ansi-dark" in app.available_themes
            while app.theme != "ansi-dark":
                await pilot.press("ctrl+t")
            await pilot.press("2")
            await pilot.pause()

    asyncio.run(main())
