"""Where the keyboard is when a screen appears: on its list or table, never in a text field.

A screen's keys (History's `o`, the app's `1`-`5`) are plain characters: while a text field has the focus they
are typed into it. Textual gives the focus, when a screen is first built, to its first focusable widget (for
History, the search field), and when a screen is shown again, back to the widget that had it (the Lab's last
edited value). A key pressed as the screen appears then lands in the field: `3` then `4` typed "4" into
History's search instead of opening Compare, and `1` then `3` typed "3" into the Lab's dataset field.

HomeFocusScreen gives the focus to the screen's home widget (HOME, a selector) when it is built (as its
AUTO_FOCUS, so no key can reach another widget first) and each time it is shown again after another screen of
the app. Coming back from a dialog or the help over it leaves the focus where it was: the user was typing there.
"""
from __future__ import annotations

from typing import ClassVar

from textual.screen import Screen
from textual.widget import Widget


class HomeFocusScreen(Screen):
    HOME: ClassVar[str] = ""  # the selector of the widget that has the focus when the screen appears

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.HOME:
            cls.AUTO_FOCUS = cls.HOME

    def __init__(self) -> None:
        super().__init__()
        self._left_for_other_screen = False

    def on_screen_suspend(self) -> None:
        # a dialog pushed over this screen keeps it in the mode's stack; another screen (a mode switch) does not
        self._left_for_other_screen = self not in self.app.screen_stack

    def on_screen_resume(self) -> None:
        if self._left_for_other_screen:
            self._left_for_other_screen = False
            self.focus_home()

    def focus_home(self) -> None:
        """Focus the home widget now (Widget.focus() would wait for the app's queue, and keys may come first)."""
        if not self.HOME:
            return
        found = self.query(self.HOME)
        home = found.first(Widget) if found else None
        if home is not None and home.focusable:
            self.set_focus(home)
