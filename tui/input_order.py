"""Keys keep their order in a text field when several arrive in one read (fast typing over a slow link).

Textual hands a key to the focused Input as a message in the Input's queue. The Input inserts a printable
character there at once, but a key it binds (cursor keys, Home/End, Backspace, Delete, ...) goes on: the
Key message bubbles up, one queue after another, to the App, which only then runs the Input's binding. When
`End`, `Left` and `5` arrive in one read, the `5` is inserted while `End` and `Left` are still bubbling, so
the edit lands at the old cursor position (textual 8.2: Input._on_key, MessagePump._on_message, App._on_key).

KeyOrder (a mixin for the App, before App in its bases) sends such a key to the focused Input as a callback
in the Input's own queue, where it runs the same binding resolution the App would (App._check_bindings, then
the App's key_ methods) in order with the characters around it. Only keys bound on the focused Input itself
take this path (the Input would resolve them first anyway), never a key with a priority binding.
"""
from __future__ import annotations

from typing import Any

from textual import events
from textual._dispatch_key import dispatch_key
from textual.app import App
from textual.widgets import Input


class KeyOrder:
    """App mixin: a key bound on the focused Input runs in the Input's queue, in order with typed text."""

    async def on_event(self, event: events.Event) -> None:
        app: Any = self
        if isinstance(event, events.Key) and not event.is_forwarded and isinstance(app, App):
            focused = app.focused
            if isinstance(focused, Input) and not event.is_printable and _bound_on(app, focused, event.key):
                app.app_focus = True
                try:
                    app.screen._clear_tooltip()
                except Exception:  # noqa: BLE001 - no screen yet: nothing to clear
                    pass
                focused.call_later(_run_key, app, focused, event)
                return
        await super().on_event(event)  # type: ignore[misc]


def _bound_on(app: App[Any], focused: Input, key: str) -> bool:
    """True when `key` has a binding on the focused Input itself and no priority binding anywhere."""
    chain = app.screen._modal_binding_chain
    for _node, bindings in chain:
        if any(b.priority for b in bindings.key_to_bindings.get(key, ())):
            return False
    return bool(chain) and chain[0][0] is focused and bool(chain[0][1].key_to_bindings.get(key))


async def _run_key(app: App[Any], focused: Input, event: events.Key) -> None:
    """What the App does with a key that bubbled up to it, run now in the Input's queue."""
    if focused.is_mounted:
        focused._restart_blink()
    if not await app._check_bindings(event.key):
        await dispatch_key(app, event)
