"""The History table: one line per saved run, drawn only where it is visible.

The table holds the list of records it shows; sorting, filtering and searching happen on that
list (in the screen), and each redraw renders just the lines in view, so 10,000 runs cost no
more to draw than 40. The header line stays put; a row cursor moves with the keys or a click.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.command_line import differing_assignments
from engine.config import ConfigError
from engine.store import RunRecord, read_config
from tui.format import date, duration, pct, run_label, short_date
from tui.keymap import TABLE
from tui.run_state import blew_up

STATUS_STYLE = {"finished": "green", "running": "bold cyan", "diverged": "bold red", "failed": "red",
                "crashed": "bold magenta", "interrupted": "yellow", "pruned": "blue", "damaged": "reverse red"}
WIDE = 120  # from this table width on, the table also shows time, the full date and the tags
# (key, label, width or None for the name column's share); cells are padded to these widths
NARROW_COLUMNS = (("mark", "", 1), ("stage", "stage", 16), ("name", "name", None), ("status", "status", 11),
                  ("best", "best", 6), ("last", "last", 6), ("epochs", "epochs", 9), ("date", "date UTC", 11))
WIDE_COLUMNS = (("mark", "", 1), ("stage", "stage", 16), ("name", "name", None), ("status", "status", 11),
                ("best", "best", 6), ("last", "last", 6), ("epochs", "epochs", 9), ("time", "time", 7),
                ("date", "date (UTC)", 16), ("tags", "tags", 24))
RIGHT = ("best", "last", "epochs", "time")
NAME_MIN, NAME_MAX = 8, 30
NAME_WANTED = 24  # what tells runs apart ("#3b1a lr=0.05 epochs=40"): below this, columns are dropped
DROP_ORDER = ("last", "date", "epochs", "best")  # the first dropped first (best is kept over last)
Columns = tuple[tuple[str, str, int], ...]


def table_columns(width: int) -> Columns:
    """The columns for a table `width` cells wide (one space between columns): the name takes what is
    left (within NAME_MIN..NAME_MAX; when wide it leaves the tags at least 12); a vertical scrollbar
    (2 cells) is kept free. On a narrow table, while the name would get fewer than NAME_WANTED cells,
    columns are dropped in DROP_ORDER: at 80 columns the name, what tells the runs apart, gets 30."""
    wide = width >= WIDE
    spec = WIDE_COLUMNS if wide else NARROW_COLUMNS

    def room(columns: Sequence[tuple[str, str, int | None]]) -> int:
        return width - sum(w for k, _, w in columns if w and k != "tags") - (len(columns) - 1) - 2

    for key in () if wide else DROP_ORDER:
        if room(spec) >= NAME_WANTED:
            break
        spec = tuple(c for c in spec if c[0] != key)
    avail = room(spec)
    name = max(NAME_MIN, min(NAME_MAX, avail - 12 if wide else avail))
    tags = max(8, avail - name)
    return tuple((key, label, tags if key == "tags" else w or name) for key, label, w in spec)


def id_created(run_id: str) -> str:
    """'20250304-080000-stage-abcd' -> '2025-03-04T08:00:00Z' (a damaged run's date, from its id)."""
    r = str(run_id)
    return f"{r[0:4]}-{r[4:6]}-{r[6:8]}T{r[9:11]}:{r[11:13]}:{r[13:15]}Z" if len(r) >= 15 else ""


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "\u2026"


def exploded(record: RunRecord) -> bool:
    """A run whose training loss exploded but stayed finite (status finished or stopped, near chance)."""
    lowest = record.summary.best_of("train_loss")
    return record.status != "diverged" and blew_up(record.summary.last_of("train_loss"),
                                                   lowest.value if lowest else None)


class ConfigCache:
    """Saved configs by run folder, read on first use (config.json is written once, never changed): the
    table reads those of the rows in view, a `key=value` search those of the runs it tests."""

    def __init__(self) -> None:
        self.configs: dict[str, dict[str, Any] | None] = {}
        self.assignments: dict[str, dict[str, str]] = {}

    def config(self, record: RunRecord) -> dict[str, Any] | None:
        key = str(record.run_dir)
        if key not in self.configs:
            try:
                self.configs[key] = None if record.is_damaged else read_config(record.run_dir)
            except ConfigError:
                self.configs[key] = None
        return self.configs[key]

    def has(self, record: RunRecord) -> bool:
        return str(record.run_dir) in self.configs

    def cached(self, record: RunRecord) -> dict[str, Any] | None:
        """The config if it was read already, else None (without reading it)."""
        return self.configs.get(str(record.run_dir))

    def differing(self, record: RunRecord) -> dict[str, str]:
        """The run's values that differ from its stage's preset ({} when its config is unreadable)."""
        key = str(record.run_dir)
        if key not in self.assignments:
            config = self.config(record)
            try:
                self.assignments[key] = differing_assignments(config) if config else {}
            except (ConfigError, KeyError):
                self.assignments[key] = {}
        return self.assignments[key]


CONFIGS = ConfigCache()


def cells(record: RunRecord, mark: str, wide: bool) -> dict[str, tuple[str, str]]:
    """Every column's cell of one run by key, as (text, style)."""
    day = date if wide else short_date
    if record.is_damaged:
        return {"mark": (mark, ""), "stage": ("-", ""), "name": (record.reason or "", "italic"),
                "status": ("damaged", STATUS_STYLE["damaged"]), "best": ("-", ""), "last": ("-", ""),
                "epochs": ("-", ""), "time": ("-", ""), "date": (day(id_created(record.id)), ""), "tags": ("", "")}
    best = record.best
    status = (record.status + " \u26a0", "bold yellow") if exploded(record) else \
        (record.status, STATUS_STYLE.get(record.status, ""))
    return {"mark": (mark, "bold reverse"), "stage": (record.stage or "-", ""),
            "name": (run_label(record, CONFIGS.differing(record)), ""),
            "status": status, "best": (pct(best.value if best else None), ""),
            "last": (pct(record.summary.last_of("test_acc")), ""),
            "epochs": (f"{record.epochs_done}/{record.epochs if record.epochs is not None else '?'}", ""),
            "time": (duration(record.duration_s), ""), "date": (day(record.created), ""),
            "tags": (",".join(record.tags), "")}


class RunsTable(ScrollView, can_focus=True):
    """Saved runs, one per line, with a row cursor; only the lines in view are rendered."""

    COMPONENT_CLASSES = {"runs-table--header", "runs-table--even-row", "runs-table--cursor"}
    DEFAULT_CSS = """
    RunsTable {
        overflow-x: hidden;
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .runs-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .runs-table--header { background-tint: $foreground 5%; }
        }
        & > .runs-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .runs-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .runs-table--even-row { background: $surface-lighten-1 50%; }
        &:dark > .runs-table--even-row { background: $surface-darken-1 40%; }
        & > .runs-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """
    BINDINGS = TABLE

    class Highlighted(Message):
        """The cursor is on another run (or on none)."""

        def __init__(self, record: RunRecord | None) -> None:
            super().__init__()
            self.record = record

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: Sequence[RunRecord] = ()
        self.marked: list[str] = []
        self.cursor = 0
        self.columns: Columns = ()
        self._highlighted: str | None = None

    # ------------------------------------------------------------------ contents
    def show(self, rows: Sequence[RunRecord], marked: list[str]) -> None:
        """Show these runs, the cursor staying on the run it was on when that run is still shown."""
        current = self.current()
        self.rows = rows
        self.marked = marked
        if current is not None:
            self.cursor = next((i for i, r in enumerate(rows) if r.id == current.id), self.cursor)
        self._update_size()
        self._move(self.cursor)
        self.refresh()

    def current(self) -> RunRecord | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def _update_size(self) -> None:
        self.columns = table_columns(self.size.width or self.app.size.width)
        width = sum(w for _, _, w in self.columns) + len(self.columns) - 1
        self.virtual_size = Size(width, len(self.rows) + 1)  # + the header line

    def on_resize(self) -> None:
        self._update_size()
        self._move(self.cursor)
        self.refresh()

    # ------------------------------------------------------------------ cursor
    @property
    def page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _move(self, row: int) -> None:
        self.cursor = max(0, min(row, len(self.rows) - 1))
        top = round(self.scroll_y)
        if self.cursor < top:
            top = self.cursor
        elif self.cursor > top + self.page - 1:
            top = self.cursor - self.page + 1
        if top != round(self.scroll_y):
            self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh()
        current = self.current()
        rid = current.id if current else None
        if rid != self._highlighted:
            self._highlighted = rid
            self.post_message(self.Highlighted(current))

    def action_cursor(self, step: int) -> None:
        self._move(self.cursor + step)

    def action_page(self, pages: int) -> None:
        self._move(self.cursor + pages * self.page)

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self.rows) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= 1:
            self._move(round(self.scroll_y) + offset.y - 1)

    # ------------------------------------------------------------------ drawing
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("runs-table--header")
            texts = [(label.rjust(w) if key in RIGHT else label.ljust(w), "") for key, label, w in self.columns]
            return self._strip(texts, style, None, width)
        index = round(self.scroll_y) + y - 1
        if index >= len(self.rows):
            return Strip.blank(width, base)
        record = self.rows[index]
        style = base + self.get_component_rich_style("runs-table--even-row") if index % 2 == 0 else base
        cursor = None
        if index == self.cursor:
            cursor = self.get_component_rich_style("runs-table--cursor")
            style += cursor
            cursor = Style(color=cursor.color, bgcolor=cursor.bgcolor)
        mark = str(self.marked.index(record.id) + 1) if record.id in self.marked else ""
        by_key = cells(record, mark, any(k == "tags" for k, _, _ in self.columns))
        texts = []
        for key, _, w in self.columns:
            text, cell_style = by_key[key]
            text = fit(text, w)
            texts.append((text.rjust(w) if key in RIGHT else text.ljust(w), cell_style if text.strip() else ""))
        return self._strip(texts, style, cursor, width)

    @staticmethod
    def _strip(texts: list[tuple[str, str]], style: Style, post: Style | None, width: int) -> Strip:
        segments = []
        last = len(texts) - 1
        for i, (text, cell_style) in enumerate(texts):
            seg_style = style + Style.parse(cell_style) if cell_style else style
            if post is not None:
                seg_style += post
            segments.append(Segment(text, seg_style))
            if i < last:
                segments.append(Segment(" ", style))
        return Strip(segments).adjust_cell_length(width, style)
