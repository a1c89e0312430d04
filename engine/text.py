"""Text for a terminal or a pipe: one safe line, one number format, one plain table."""
from __future__ import annotations

import re
from typing import Any

from rich.cells import cell_len


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


_NUMERIC = re.compile(r"^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?[kMGT%]?$")


def _numeric(value: Any) -> bool:
    """A number, or the text of one as tables print it ("1,191,170", "4.92M", "0.9550")."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (isinstance(value, str) and bool(_NUMERIC.match(value)))


def render_table(headers: list[str], rows: list[list[Any]], *, total: bool = False) -> str:
    """A plain table, safe in pipes (no colour, no control characters): a header line, a rule of '-' and
    one line per row, columns two spaces apart. A column whose cells are all numbers (or missing) is
    right-aligned. total=True sets the last row apart under a second rule.

    Widths are measured in terminal cells (rich.cells.cell_len: wide characters count twice). The layout is
    done here rather than by rich.table.Table, which takes ~3x longer on a 10,000-run `nnlab runs list`."""
    texts = [[fmt_number(v) for v in row] for row in rows]
    head = [one_line(h) for h in headers]
    widths = [max([cell_len(h)] + [cell_len(r[i]) for r in texts]) for i, h in enumerate(head)]
    right = [bool(rows) and all(r[i] is None or r[i] == "" or _numeric(r[i]) for r in rows)
             and any(_numeric(r[i]) for r in rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        padded = [" " * (w - cell_len(c)) + c if r else c + " " * (w - cell_len(c))
                  for c, w, r in zip(cells, widths, right)]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    body = [line(r) for r in texts]
    if total and body:
        body.insert(len(body) - 1, rule)
    return "\n".join([line(head), rule, *body])


def terminal_width() -> int | None:
    """The terminal's columns when stdout is one; None in a pipe or a file (tables are then left whole)."""
    import shutil
    import sys

    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((120, 24)).columns


def fit_table(headers: list[str], rows: list[list[Any]], width: int | None, drop: list[str],
              shorten: dict[str, Any] | None = None) -> tuple[list[str], list[list[Any]], list[str]]:
    """The columns of a table that fit `width` cells: first each column of `shorten` (header -> a function
    of a cell) is shortened, then the columns of `drop` are left out in that order, until the table fits.
    Returns (headers, rows, the headers dropped). width None: the table as it is."""
    dropped: list[str] = []
    if width is None:
        return headers, rows, dropped

    def fits(h: list[str], r: list[list[Any]]) -> bool:
        return max((cell_len(line) for line in render_table(h, r).splitlines()), default=0) <= width

    for name, short in (shorten or {}).items():
        if fits(headers, rows):
            break
        if name in headers:
            i = headers.index(name)
            rows = [row[:i] + [short(row[i])] + row[i + 1:] for row in rows]
    for name in drop:
        if fits(headers, rows):
            break
        if name in headers:
            i = headers.index(name)
            headers = headers[:i] + headers[i + 1:]
            rows = [row[:i] + row[i + 1:] for row in rows]
            dropped.append(name)
    return headers, rows, dropped
