"""Help: every key of the app and of each screen, read from their bindings."""
from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.commands import _bindings

ABOUT = ("esc, q or ? closes this help; up/down/pgup/pgdn scroll it.\n"
         "nnlab: the RDFIA neural-network practical in a terminal. Keyboard only; works over SSH from 80x24.\n"
         "ctrl+p opens the command palette: every action below is there too (type to search).\n"
         "Headless: `nnlab run STAGE key=value`, `nnlab runs list`, `nnlab sweep` - their runs appear in History.")


def screen_classes() -> list[tuple[str, type]]:
    from tui.app import NNLabApp
    from tui.screens.compare import CompareScreen
    from tui.screens.history import HistoryScreen
    from tui.screens.lab import LabScreen
    from tui.screens.train import TrainScreen

    return [("everywhere", NNLabApp), ("Lab", LabScreen), ("Train", TrainScreen), ("History", HistoryScreen),
            ("Compare", CompareScreen)]


def key_name(binding: Binding) -> str:
    keys = binding.key.split(",")
    names = []
    for k in keys:
        k = {"question_mark": "?", "number_sign": "#", "left_square_bracket": "[", "right_square_bracket": "]",
             "slash": "/", "space": "space"}.get(k, k)
        names.append(k)
    return ", ".join(names)


def help_table() -> Table:
    table = Table(box=None, padding=(0, 2), show_header=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("action")
    for title, cls in screen_classes():
        table.add_row("", "")
        table.add_row(f"[reverse] {title} [/]", "")
        for b in _bindings(cls):
            if b.description or b.show is False:
                text = b.description or b.action
                if b.tooltip:
                    text += f": {b.tooltip}"
                table.add_row(key_name(b), text)
    table.add_row("", "")
    table.add_row("[reverse] in tables and lists [/]", "")
    table.add_row("up, down, pgup, pgdn", "move; enter selects; tab / shift+tab moves between fields")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(ABOUT, markup=False)
            yield Static(help_table())
        yield Footer(compact=True)  # shows "esc Close" (the screen below keeps its own footer)

    def action_close(self) -> None:
        self.dismiss(None)
