"""Modal dialogs: a one-line prompt (rename, tag, note), and what ctrl+q does with runs still training."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from tui.keymap import PROMPT, QUIT_DIALOG


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; Enter returns it, Escape returns None."""

    BINDINGS = PROMPT

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt"):
            yield Label(self.title_text, id="prompt-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label("Enter: save   Esc: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitScreen(ModalScreen[str | None]):
    """ctrl+q while runs train: quit and leave them training (Enter, q, ctrl+q), stop them and quit (s), or stay
    (Escape). Returns "leave", "stop" or None."""

    BINDINGS = QUIT_DIALOG

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids

    def compose(self) -> ComposeResult:
        n = len(self.run_ids)
        runs = "1 run is" if n == 1 else f"{n} runs are"
        with Vertical(id="quit-dialog"):
            yield Label(f"{runs} training: {', '.join(r[-4:] for r in self.run_ids[:6])}"
                        f"{' ...' if n > 6 else ''}", id="quit-title")
            yield Label("They keep training after nnlab closes; open nnlab again, from any terminal, to see them.",
                        classes="hint")
            yield Label("Enter/q: quit and leave them training\ns: stop them, then quit\nEsc: stay", classes="hint")

    def action_leave(self) -> None:
        self.dismiss("leave")

    def action_stop_runs(self) -> None:
        self.dismiss("stop")

    def action_cancel(self) -> None:
        self.dismiss(None)
