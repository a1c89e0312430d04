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


# ------------------------------------------------------------------------- every key listed works where it is
class RecordingApp(NNLabApp):
    """The real app, whose key bindings are resolved by Textual as usual, but whose actions are only noted
    (so that every key can be pressed in every place without one key's action moving the next one)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fired: list[tuple[str, object]] = []

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        if isinstance(action, str):
            self.fired.append((action, default_namespace))
            return True
        return await super().run_action(action, default_namespace, namespaces)


def text_key(key: str) -> bool:
    """A key a text field keeps for itself, as it should: one that types a character, or enter (which ends
    the field; help says so)."""
    from textual.keys import _character_to_key

    return len(key) == 1 or key in {_character_to_key(c) for c in "?/[]#"} or key in ("space", "enter")


def test_every_key_in_help_fires_with_focus_anywhere_on_its_screen(runs_dir):
    """For each screen, each focusable widget: every binding help lists for the screen (and under
    'everywhere') fires its own action from there, by each of its keys, except in a text field a key that
    types (or enter, which ends the field): help says to use the f-keys there or leave the field. ctrl+d in a
    Lab field failed this."""
    from textual.widgets import Input
    from tui_canned import populate

    from tui.keymap import EVERYWHERE, SCREENS

    ids = populate(runs_dir)
    listed = dict(SECTIONS)

    async def main():
        app = RecordingApp(runs_dir=str(runs_dir), data_dir="datasets")
        app.devices = dict(DEVICES)
        app.compare_ids = ids[:2]
        problems = []
        async with app.run_test(size=(120, 36)) as pilot:
            for title, mode, bindings in SCREENS:
                await NNLabApp.run_action(app, f"goto('{mode}')")
                for _ in range(100):
                    await pilot.pause(0.05)
                    if getattr(app.screen, "form_ready", True) and (mode != "history" or app.screen.shown):
                        break
                screen = app.screen
                # one widget of each kind (the Lab's value fields all take keys the same way): the keys'
                # routing depends on the focused widget's class and bindings, not on which of its kind it is
                kinds: dict[tuple[str, str], object] = {}
                for widget in screen.focus_chain:
                    kinds.setdefault((type(widget).__name__, " ".join(sorted(widget.classes))), widget)
                for widget in [*kinds.values(), None]:  # None: no widget has the focus
                    screen.set_focus(widget)
                    await pilot.pause()
                    for binding in [*listed[EVERYWHERE], *bindings]:
                        for key in binding.key.split(","):
                            if isinstance(widget, Input) and text_key(key):
                                continue
                            app.fired.clear()
                            await pilot.press(key)
                            await pilot.pause()
                            if not any(action == binding.action for action, _ in app.fired):
                                problems.append(f"{title}: {key} ({binding.description}) with focus in "
                                                f"{type(widget).__name__}#{widget.id} ran {app.fired}")
        assert not problems, "\n".join(problems)

    asyncio.run(main())
