"""A vertical scroll container whose keys each move it, however fast they come.

Textual's VerticalScroll defers a key's scroll until after the next refresh and computes the new position
from the position before it: a burst of ten `down` keys (a held key, a paste, a slow SSH link) read the
same start ten times and scrolled one line. Here each key moves at once from where the previous key left
the view, without animation, so n keys move n lines (n pages), as a pager does."""
from __future__ import annotations

from textual.actions import SkipAction
from textual.containers import VerticalScroll


class KeyScroll(VerticalScroll):
    def _move_to(self, y: float) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_to(y=max(0.0, min(y, self.max_scroll_y)), animate=False, immediate=True)

    def action_scroll_down(self) -> None:
        self._move_to(self.scroll_target_y + 1)

    def action_scroll_up(self) -> None:
        self._move_to(self.scroll_target_y - 1)

    def action_page_down(self) -> None:
        self._move_to(self.scroll_target_y + self.scrollable_content_region.height)

    def action_page_up(self) -> None:
        self._move_to(self.scroll_target_y - self.scrollable_content_region.height)
