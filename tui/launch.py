"""Entry point of the TUI, imported by `nnlab` with no command."""
from __future__ import annotations

from tui.app import NNLabApp


def launch(runs_dir: str, data_dir: str, mouse: bool = True, storage: str | None = None) -> int:
    app = NNLabApp(runs_dir=runs_dir, data_dir=data_dir, storage=storage)
    app.run(mouse=mouse)
    return app.return_code or 0
