"""The headless command line: `nnlab ...`."""
from engine.cli.main import main

__all__ = ["main"]
