"""Widgets of the nnlab TUI (plots, the stage panels, dialogs)."""
