"""Command palette entries: every screen's actions and the navigation, built from the key map.

Every key in the help screen is also reachable from the palette (ctrl+p); an action of another
screen goes to that screen first, so "Train: Stop" works from History too.
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import App, SystemCommand
from textual.screen import Screen

from tui.keymap import SCREEN_KEYS, SCREENS, first_key


def nnlab_commands(app: App, screen: Screen) -> Iterable[SystemCommand]:
    for mode, digit, fkey in SCREEN_KEYS:
        what = "sweeps and searches (Optuna studies), live" if mode == "studies" else f"the {mode} screen"
        yield SystemCommand(f"Go to {mode.capitalize()}", f"{what} (key {digit} or {fkey})",
                            partial(app.run_action, f"goto('{mode}')"))
    yield SystemCommand("Help: all keys", "every key of every screen (?)", partial(app.run_action, "help"))
    yield SystemCommand("Next theme", "cycle dark, light, ANSI (plain terminals) ... (ctrl+t)",
                        partial(app.run_action, "next_theme"))
    # this screen's actions first, then every other screen's
    here = type(screen).BINDINGS
    for title, mode, bindings in sorted(SCREENS, key=lambda item: item[2] is not here):
        seen: set[str] = set()
        for binding in bindings:
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            help_text = f"key {first_key(binding)}" + (f": {binding.tooltip}" if binding.tooltip else "")
            if bindings is here:
                yield SystemCommand(f"{title}: {binding.description}", help_text,
                                    partial(screen.run_action, binding.action))
            else:
                yield SystemCommand(f"{title}: {binding.description}", f"{help_text} (goes to {title})",
                                    partial(_run_elsewhere, app, mode, binding.action))


async def _run_elsewhere(app: App, mode: str, action: str) -> None:
    await app.run_action(f"goto('{mode}')")
    app.call_after_refresh(lambda: app.screen.run_action(action))
