"""Text for a terminal or a pipe: one safe line, one number format, one plain table."""
from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

TABLE_WIDTH = 100_000  # wide enough that no table wraps; lines are stripped of trailing blanks
# no edges or column lines, a rule of '-' under the header: ASCII only, readable in any pipe or locale
_RULE_UNDER_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def one_line(text: object) -> str:
    """Newlines and control characters (escape sequences from a hostile run folder or an argument)
    are shown escaped, as Python's ascii() writes them."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))


def fmt_number(value: Any, spec: str = ".4f") -> str:
    """A table cell: None -> "-", a float with `spec`, anything else as one safe line."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(value, spec)
    return one_line(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def render_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain table (no colour, no control characters: safe in pipes): a header line, a rule of '-', one
    line per row; columns whose cells are all numbers (or missing) are right-aligned."""
    table = Table(box=_RULE_UNDER_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), highlight=False)
    columns = list(zip(*rows)) if rows else [() for _ in headers]
    cells = []
    for header, column in zip(headers, columns):
        justify: JustifyMethod = "right" if any(map(_is_number, column)) and all(
            v is None or _is_number(v) for v in column) else "left"
        table.add_column(Text(one_line(header)), justify=justify, no_wrap=True)
        # each column is one cell of one line per row (cells never hold a newline: fmt_number makes one
        # line): rich lays out thousands of rows several times faster than as rows of cells
        cells.append(Text("\n".join(fmt_number(v) for v in column), justify=justify))
    if rows:
        table.add_row(*cells)
    out = io.StringIO()
    console = Console(file=out, width=TABLE_WIDTH, color_system=None, force_terminal=False, no_color=True,
                      highlight=False, emoji=False, markup=False, legacy_windows=False)
    console.print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())
