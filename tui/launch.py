"""Entry point of the TUI, imported by `nnlab` with no command."""
from __future__ import annotations

import os
import sys
from typing import NoReturn

from tui.app import NNLabApp


def launch(runs_dir: str, data_dir: str, mouse: bool = True, storage: str | None = None) -> NoReturn:
    """Run the app, then end the process at once with its return code.

    When App.run returns, the terminal is restored and every thread the app started has ended (asyncio.run
    waits for the thread workers; runs train in processes of their own). What is left is Python's teardown
    of the modules loaded (0.15 s here) and Textual's input reader, which quitting no longer waits for
    (tui.quit_driver): ctrl+q ends nnlab in well under half a second."""
    app = NNLabApp(runs_dir=runs_dir, data_dir=data_dir, storage=storage, ends_process=True)
    app.run(mouse=mouse)
    if app.exit_note:  # runs left training, and how to see them again
        print(app.exit_note, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(app.return_code or 0)
