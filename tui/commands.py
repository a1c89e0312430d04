"""Command palette entries: every screen's actions and the navigation, built from bindings.

Commands are derived from the BINDINGS of the app and of each screen class, so every key
in the help screen is also reachable from the palette (ctrl+p).
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterable

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import NNLabApp


def _bindings(node_cls: type) -> list[Binding]:
    out = []
    for item in getattr(node_cls, "BINDINGS", []):
        if isinstance(item, Binding):
            out.append(item)
        elif isinstance(item, tuple):
            out.append(Binding(*item))
    return out


def first_key(binding: Binding) -> str:
    return binding.key_display or binding.key.split(",")[0]


def nnlab_commands(app: "NNLabApp", screen: Screen) -> Iterable[SystemCommand]:
    from tui.app import SCREEN_KEYS

    for mode, digit, fkey in SCREEN_KEYS:
        yield SystemCommand(f"Go to {mode.capitalize()}", f"the {mode} screen (key {digit} or {fkey})",
                            partial(app.action_goto, mode))
    yield SystemCommand("Help: all keys", "every key of every screen (?)", app.action_help)
    yield SystemCommand("Next theme", "cycle dark, light, ANSI (plain terminals) ... (ctrl+t)", app.action_next_theme)
    # this screen's actions first, then every other screen's (going there first), so the palette
    # reaches every action from anywhere: "Train: Stop" works from History too
    from tui.screens.help import screen_classes

    here = type(screen)
    classes = [(name, cls) for name, cls in screen_classes() if name != "everywhere"]
    classes.sort(key=lambda item: item[1] is not here)
    for name, cls in classes:
        mode = name.lower()
        seen: set[str] = set()
        for binding in _bindings(cls):
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            help_text = f"key {first_key(binding)}" + (f": {binding.tooltip}" if binding.tooltip else "")
            if cls is here:
                yield SystemCommand(f"{name}: {binding.description}", help_text,
                                    partial(screen.run_action, binding.action))
            else:
                yield SystemCommand(f"{name}: {binding.description}", f"{help_text} (goes to {name})",
                                    partial(_run_elsewhere, app, mode, binding.action))


def _run_elsewhere(app: "NNLabApp", mode: str, action: str) -> None:
    app.action_goto(mode)
    app.call_after_refresh(lambda: app.screen.run_action(action))
