"""Help: every key of the app and of each screen, read from the key map."""
from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui.keymap import HELP, SECTIONS, key_names
from tui.widgets.key_scroll import KeyScroll

ABOUT = ("esc, q or ? closes this help; up/down/pgup/pgdn scroll it.\n"
         "nnlab: the RDFIA neural-network practical in a terminal. Keyboard only; works over SSH from 80x24.\n"
         "ctrl+p opens the command palette: every action below is there too (type to search).\n"
         "In a text field, letters, digits and ? type themselves: use the f-keys there, or leave it "
         "(tab, esc, enter).\n"
         "Headless: `nnlab run STAGE key=value`, `nnlab runs list`, `nnlab sweep` - their runs appear in History.")


def help_table() -> Table:
    table = Table(box=None, padding=(0, 2), show_header=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("action")
    for title, bindings in SECTIONS:
        table.add_row("", "")
        table.add_row(f"[reverse] {title} [/]", "")
        for b in bindings:
            if b.description or b.show is False:
                text = b.description or b.action
                if b.tooltip:
                    text += f": {b.tooltip}"
                table.add_row(key_names(b), text)
    table.add_row("", "")
    table.add_row("[reverse] in tables and lists [/]", "")
    table.add_row("up, down, pgup, pgdn", "move; enter selects; tab / shift+tab moves between fields")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = HELP

    def compose(self) -> ComposeResult:
        with KeyScroll(id="help"):
            yield Static(ABOUT, markup=False)
            yield Static(help_table())
        yield Footer(compact=True)  # shows "esc Close" (the screen below keeps its own footer)

    def action_close(self) -> None:
        self.dismiss(None)
