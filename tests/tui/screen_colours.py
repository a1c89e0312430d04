"""What kinds of colour the app draws now: for the checks that the ANSI themes keep the terminal's colours."""
from __future__ import annotations

from typing import Any

TERMINAL_COLOURS = {"DEFAULT", "STANDARD", "WINDOWS"}  # the terminal's default colours and its 16-colour palette


def colour_kinds(app: Any) -> set[str]:
    """The kinds of colour (rich ColorType names) in what the app draws now: the screen's rendered cells."""
    kinds = set()
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.style:
                kinds.update(c.type.name for c in (segment.style.color, segment.style.bgcolor) if c is not None)
    return kinds
