"""Entry point of the TUI, imported by `nnlab` with no command."""
from __future__ import annotations

import sys

from tui.app import NNLabApp


def launch(runs_dir: str, data_dir: str, mouse: bool = True, storage: str | None = None) -> int:
    app = NNLabApp(runs_dir=runs_dir, data_dir=data_dir, storage=storage)
    app.run(mouse=mouse)
    if app.exit_note:  # runs left training, and how to see them again
        print(app.exit_note, file=sys.stderr)
    return app.return_code or 0
