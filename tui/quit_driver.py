"""The terminal driver of `nnlab`'s own process, which ends as soon as the app has: quitting does not wait
for the input reader.

Textual's Linux driver, on the way out, joins its input thread, which polls the terminal every 0.1 s and
then waits 0.1 s more for a last read: 0.1-0.2 s of every quit spent waiting to read keys nobody will use.
When the app is ending (App.exit was called), this driver leaves that thread to the end of the process;
tui.launch ends it with os._exit as soon as the terminal is restored. Suspending (ctrl+z) and everything
else go through Textual's driver as they are."""
from __future__ import annotations

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver


class QuickQuitDriver(LinuxDriver):
    def disable_input(self) -> None:
        if getattr(self._app, "_exit", False):  # the app is ending: the process ends right after (tui.launch)
            self._key_thread = None  # not joined; the mouse is turned off and the input flushed as usual
        super().disable_input()


def driver_for(platform_driver: type[Driver]) -> type[Driver]:
    """QuickQuitDriver where Textual would use its Linux driver; any other driver as it is (Windows, a
    driver named in $TEXTUAL_DRIVER, the web)."""
    return QuickQuitDriver if platform_driver is LinuxDriver else platform_driver
