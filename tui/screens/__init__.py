"""The screens of the nnlab TUI."""
