"""`nnlab data`: placeholder until the data commands land (being written now)."""
from __future__ import annotations

import argparse
from typing import Any, Callable


def build_data_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    sp = sub.add_parser("data", help="the data sets on disk")
    common(sp)


def cmd_data(args: argparse.Namespace) -> int:
    return 2
