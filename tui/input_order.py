"""Keys take effect in the order they were typed, however fast they come (a paste of keys, a held key, fast
typing over a slow link), focus moves included.

Where Textual loses the order (textual 8.2: App.on_event, MessagePump._on_message, App._on_key): the App
hands each key to the focused widget by posting it to that widget's queue, and goes on to the next key at
once. A key the widget does not consume bubbles up, one queue after another, to the App, which only then runs
its binding. So in the burst `End Backspace Tab 5`, Tab's binding (focus the next field) runs after `5` was
already handed to the first field, and End's binding (cursor to the end) after a character typed behind it
was inserted at the old cursor position.

KeyOrder (a mixin for the App, before App in its bases) keeps one key in flight: it hands a key over as
Textual does, then sends a barrier after it along the same path (the target's queue, then each parent's, up
to the App). Queues are first in, first out, so when the barrier reaches the App the key has been handled
everywhere it goes, its binding included; only then is the next key handed over, to whatever has the focus
then. Keys that come in the meantime wait in order (and so does a paste). A barrier that cannot be passed on
(a widget removed while the key was in flight) goes straight to the App; a watchdog releases the next key if a
barrier is ever lost, so no key waits more than WATCHDOG_S.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from textual import events
from textual.app import App
from textual.dom import DOMNode
from textual.message_pump import MessagePump

WATCHDOG_S = 1.0


class KeyOrder:
    """App mixin: a key is handed to the focused widget only once the key before it has been handled."""

    _waiting_keys: deque[events.Key | events.Paste]
    _key_in_flight: int = 0  # the serial number of the key in flight, 0 when none

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded and isinstance(self, App):
            if not hasattr(self, "_waiting_keys"):
                self._waiting_keys = deque()
            if self._key_in_flight or self._waiting_keys:
                self._waiting_keys.append(event)
                return
            await self._hand_over(event)
            return
        await super().on_event(event)  # type: ignore[misc]

    async def _hand_over(self, event: events.Key | events.Paste) -> None:
        """Textual's own handling of the key (priority bindings, then the focused widget), then a barrier
        after it when it was handed to a widget."""
        app: Any = self
        try:
            target: MessagePump | None = app.focused or app.screen
        except Exception:  # noqa: BLE001 - no screen yet: Textual's own handling decides
            target = None
        await super().on_event(event)  # type: ignore[misc]
        if not event.is_forwarded or target is None:  # a priority binding took it (or nothing could)
            return
        serial = self._key_in_flight = self._next_serial()
        app.set_timer(WATCHDOG_S, lambda: self._key_done(serial))
        if not target.call_later(self._pass_barrier, target, serial):
            app.call_later(self._key_done, serial)

    def _next_serial(self) -> int:
        self._serial = getattr(self, "_serial", 0) + 1
        return self._serial

    def _pass_barrier(self, node: MessagePump, serial: int) -> None:
        """Runs in `node`'s queue, after the key: pass the barrier to the node the key bubbles to next."""
        parent = node._parent if isinstance(node, DOMNode) else None
        if parent is None or parent is self or not isinstance(parent, MessagePump) \
                or not parent.call_later(self._pass_barrier, parent, serial):
            app: Any = self
            app.call_later(self._key_done, serial)

    async def _key_done(self, serial: int) -> None:
        """The key `serial` has been handled (or its watchdog fired): hand over the next waiting key."""
        if serial != self._key_in_flight:
            return  # already released (the barrier arrived, and then the watchdog)
        self._key_in_flight = 0
        while self._waiting_keys and not self._key_in_flight:
            await self._hand_over(self._waiting_keys.popleft())
