"""History screen: every saved run, live.

Lists the run store with engine.store.list_runs (run.json files only) every 1.5 s in a
thread worker, so runs started headless or in another process appear and update by
themselves; a run whose process is gone reads as crashed, a damaged one as damaged with
its reason. Sort, filter (stage, status, tag), fuzzy search, preview the curves, rename,
tag, note, delete with undo, run again, compare.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from tui.format import date, duration, pct, short_date, short_name
from tui.fuzzy import matches
from tui.widgets.curves import CurvePlot, Series
from tui.widgets.dialogs import PromptScreen

POLL_S = 1.5
SORTS = ("date", "stage", "name", "status", "best", "last", "epochs", "duration")
STATUS_STYLE = {"finished": "green", "running": "bold cyan", "diverged": "bold red", "failed": "red",
                "crashed": "bold magenta", "interrupted": "yellow", "damaged": "reverse red"}


def best_acc(r: dict[str, Any]) -> float | None:
    return ((r.get("summary") or {}).get("best") or {}).get("test_acc", {}).get("value")


def best_epoch(r: dict[str, Any]) -> int | None:
    return ((r.get("summary") or {}).get("best") or {}).get("test_acc", {}).get("epoch")


def last_acc(r: dict[str, Any]) -> float | None:
    return ((r.get("summary") or {}).get("last") or {}).get("test_acc")


def last_loss(r: dict[str, Any]) -> float | None:
    return ((r.get("summary") or {}).get("last") or {}).get("train_loss")


def exploded(r: dict[str, Any]) -> bool:
    """A run whose training loss exploded but stayed finite (status finished or stopped, near chance)."""
    from tui.run_state import blew_up

    lowest = ((r.get("summary") or {}).get("best") or {}).get("train_loss", {}).get("value")
    return r.get("status") != "diverged" and blew_up(last_loss(r), lowest)


def epochs_done(r: dict[str, Any]) -> int:
    return int((r.get("summary") or {}).get("epochs_done") or 0)


def sort_key(name: str):
    def key(r: dict[str, Any]):
        value = {"date": r.get("id"), "stage": r.get("stage"), "name": r.get("name"), "status": r.get("status"),
                 "best": best_acc(r), "last": last_acc(r), "epochs": epochs_done(r),
                 "duration": r.get("duration_s")}[name]
        return (value is None, value if value is not None else 0) if not isinstance(value, str) else (False, value.lower())
    return key


class RunsListed(Message):
    def __init__(self, runs: list[dict[str, Any]]) -> None:
        super().__init__()
        self.runs = runs


WIDE = 120  # from this table width on, the table also shows time, the full date and the tags
# (key, label, width or None for the name column's share); cells are padded to these widths
NARROW_COLUMNS = (("mark", "", 1), ("stage", "stage", 16), ("name", "name", None), ("status", "status", 11),
                  ("best", "best", 6), ("last", "last", 6), ("epochs", "epochs", 7), ("date", "date UTC", 11))
WIDE_COLUMNS = (("mark", "", 1), ("stage", "stage", 16), ("name", "name", None), ("status", "status", 11),
                ("best", "best", 6), ("last", "last", 6), ("epochs", "epochs", 9), ("time", "time", 7),
                ("date", "date (UTC)", 16), ("tags", "tags", 24))
NAME_MIN, NAME_MAX = 8, 30


def table_columns(width: int) -> tuple[tuple[str, str, int], ...]:
    """The columns for a table `width` cells wide (one space between columns): the name takes what is
    left (within NAME_MIN..NAME_MAX; when wide it leaves the tags at least 12); a vertical scrollbar
    (2 cells) is kept free."""
    wide = width >= WIDE
    spec = WIDE_COLUMNS if wide else NARROW_COLUMNS
    fixed = sum(w for k, _, w in spec if w and k != "tags") + len(spec) - 1 + 2
    avail = width - fixed
    name = max(NAME_MIN, min(NAME_MAX, avail - 12 if wide else avail))
    tags = max(8, avail - name)
    return tuple((key, label, tags if key == "tags" else w or name) for key, label, w in spec)


def id_created(run_id: str) -> str:
    """'20250304-080000-stage-abcd' -> '2025-03-04T08:00:00Z' (a damaged run's date, from its id)."""
    r = str(run_id)
    return f"{r[0:4]}-{r[4:6]}-{r[6:8]}T{r[9:11]}:{r[11:13]}:{r[13:15]}Z" if len(r) >= 15 else ""


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "\u2026"


def row_signature(r: dict[str, Any]) -> tuple:
    return (r.get("id"), r.get("status"), r.get("name"), tuple(r.get("tags") or []), epochs_done(r), best_acc(r),
            last_acc(r), r.get("duration_s"), r.get("notes"), r.get("reason"))


class HistoryScreen(Screen):
    SUB_TITLE = "3 History: saved runs"
    BINDINGS = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("o", "sort", "Sort"),
        Binding("O", "reverse", "Reverse sort", show=False),
        Binding("f", "filter_stage", "Stage filter", show=False),
        Binding("F", "filter_status", "Status filter", show=False),
        Binding("T", "filter_tag", "Tag filter", show=False),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("x", "clear_marks", "Clear marks", show=False),
        Binding("r", "rename", "Rename", show=False),
        Binding("t", "tag", "Tag", show=False),
        Binding("n", "note", "Note", show=False),
        Binding("d", "delete", "Delete", show=False),
        Binding("u", "undo", "Undo delete", show=False),
        Binding("a", "again", "Run again", show=False),
        Binding("e", "edit", "Edit in Lab", show=False),
        Binding("ctrl+l", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[dict[str, Any]] = []
        self.shown: list[dict[str, Any]] = []
        self.marked: list[str] = []
        self.sort = "date"
        self.descending = True
        self.query_text = ""
        self.filters: dict[str, str | None] = {"stage": None, "status": None, "tag": None}
        self.trash: list[Path] = []
        self._signature: tuple = ()
        self._preview_id: str | None = None
        self.columns: tuple[tuple[str, str, int], ...] = ()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ search (fuzzy; stage:… status:… tag:… name:…)", id="history-search")
        yield Static(id="history-filters", markup=False)
        table = DataTable(id="history-table", cursor_type="row", zebra_stripes=True, cell_padding=0)
        yield table
        with Horizontal(id="history-bottom"):
            yield CurvePlot("select a run to preview its curves", id="history-preview")
            yield Static(id="history-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self._set_columns(self.app.size.width)
        table.focus()
        self.set_interval(POLL_S, self.poll)
        self.poll()

    def on_screen_resume(self) -> None:
        self.poll()

    def on_resize(self) -> None:
        if self._set_columns(self.size.width):
            self.refresh_table(force=True)

    def _set_columns(self, width: int) -> bool:
        """Fit the columns to the width: at 80 the essential ones, from WIDE on also time and tags."""
        columns = table_columns(width)
        if columns == self.columns:
            return False
        self.columns = columns
        table = self.query_one(DataTable)
        table.clear(columns=True)
        last = len(columns) - 1
        for i, (key, label, w) in enumerate(columns):
            right = key in ("best", "last", "epochs", "time")
            text = label.rjust(w) if right else label.ljust(w)
            table.add_column(text + (" " if i < last else ""), key=key, width=w + (1 if i < last else 0))
        self._signature = ()
        return True

    # ------------------------------------------------------------------ data
    def poll(self) -> None:
        if self.is_current:
            self._list_runs()

    @work(thread=True, exclusive=True, group="history-poll")
    def _list_runs(self) -> None:
        from engine.store import list_runs

        self.post_message(RunsListed(list_runs(self.app.runs_dir)))  # type: ignore[attr-defined]

    def on_runs_listed(self, message: RunsListed) -> None:
        self.runs = message.runs
        self.refresh_table()

    def visible(self) -> list[dict[str, Any]]:
        rows = [r for r in self.runs if matches(r, self.query_text)]
        for field in ("stage", "status"):
            if self.filters[field]:
                rows = [r for r in rows if r.get(field) == self.filters[field]]
        if self.filters["tag"]:
            rows = [r for r in rows if self.filters["tag"] in (r.get("tags") or [])]
        rows.sort(key=sort_key(self.sort), reverse=self.descending)
        return rows

    def refresh_table(self, force: bool = False) -> None:
        shown = self.visible()
        signature = (tuple(row_signature(r) for r in shown), tuple(self.marked))
        self._draw_filters(len(shown))
        if signature == self._signature and not force:
            return
        self._signature = signature
        self.shown = shown
        table = self.query_one(DataTable)
        current = self.current_id()
        table.clear()
        for r in shown:
            table.add_row(*self.fitted(self.cells(r)), key=r["id"])
        if current is not None and current in [r["id"] for r in shown]:
            table.move_cursor(row=[r["id"] for r in shown].index(current), animate=False)
        self.update_preview(force=True)

    def cells(self, r: dict[str, Any]) -> dict[str, Any]:
        """Every column's cell by key (text, style); `fitted` keeps the ones shown at this width."""
        status = r.get("status", "?")
        mark = str(self.marked.index(r["id"]) + 1) if r["id"] in self.marked else ""
        if status == "damaged":
            return {"mark": mark, "stage": "-", "name": (str(r.get("reason", "")), "italic"),
                    "status": ("damaged", STATUS_STYLE[status]), "best": "-", "last": "-", "epochs": "-",
                    "time": "-", "date": self._date(id_created(r["id"])), "tags": ""}
        name = str(r.get("name") or "")
        named = bool(name) and name != r.get("id")
        return {"mark": (mark, "bold reverse"), "stage": r.get("stage", "-"),
                "name": name if named else (f"#{str(r.get('id', ''))[-4:]}", "dim"),
                "status": (status + " \u26a0", "bold yellow") if exploded(r) else (status, STATUS_STYLE.get(status, "")),
                "best": pct(best_acc(r)), "last": pct(last_acc(r)),
                "epochs": f"{epochs_done(r)}/{r.get('epochs', '?')}", "time": duration(r.get("duration_s")),
                "date": self._date(r.get("created")),
                "tags": ",".join(str(t) for t in r.get("tags") or [])}

    def _date(self, created: Any) -> str:
        """The full date when the table is wide, 'MM-DD HH:MM' at 80 columns."""
        return date(created) if any(k == "tags" for k, _, _ in self.columns) else short_date(created)

    def fitted(self, cells: dict[str, Any]) -> list[Any]:
        from rich.text import Text

        out = []
        last = len(self.columns) - 1
        for i, (key, _, width) in enumerate(self.columns):
            text, style = cells[key] if isinstance(cells[key], tuple) else (cells[key], "")
            text = fit(str(text), width)
            if not text:
                style = ""
            text = text.rjust(width) if key in ("best", "last", "epochs", "time") else text.ljust(width)
            out.append(Text(text, style=style, end="") + (" " if i < last else ""))
        return out

    def _draw_filters(self, n: int) -> None:
        active = [f"{k}={v}" for k, v in self.filters.items() if v]
        order = "newest first" if self.sort == "date" and self.descending else \
            f"by {self.sort} {'desc' if self.descending else 'asc'}"
        self.query_one("#history-filters", Static).update(
            f"{n} of {len(self.runs)} runs, {order}" + (f"; filters: {', '.join(active)}" if active else "")
            + (f"; marked {len(self.marked)}" if self.marked else "")
            + "   f F T: filter  o O: sort")

    def current_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row is None or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]["id"]

    def current(self) -> dict[str, Any] | None:
        rid = self.current_id()
        return next((r for r in self.shown if r["id"] == rid), None)

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.update_preview()

    def update_preview(self, force: bool = False) -> None:
        record = self.current()
        rid = record["id"] if record else None
        if rid == self._preview_id and not force:
            return
        self._preview_id = rid
        plot = self.query_one("#history-preview", CurvePlot)
        detail = self.query_one("#history-detail", Static)
        if record is None:
            plot.set_series([], title="no run selected")
            detail.update("")
            return
        if record.get("status") == "damaged":
            plot.set_series([], title="damaged run")
            detail.update(f"{record['id']}\ndamaged: {record.get('reason')}")
            return
        from engine.store import read_metrics

        rows = read_metrics(Path(record["run_dir"]))
        xs = [r["epoch"] for r in rows]
        plot.set_series([Series("train acc", xs, [r.get("train_acc") for r in rows], (66, 135, 245)),
                         Series("test acc", xs, [r.get("test_acc") for r in rows], (245, 130, 48))],
                        title=f"{short_name(record)}: accuracy", xlabel="epoch")
        lines = [record["id"], f"status {record.get('status')}  device {record.get('device', '-')}",
                 f"best {pct(best_acc(record))} at epoch {best_epoch(record) or '-'}",
                 f"last {pct(last_acc(record))}  seed {record.get('seed', '-')}",
                 f"{date(record.get('created'))} UTC, took {duration(record.get('duration_s'))}"]
        if record.get("tags"):
            lines.append("tags: " + ", ".join(str(t) for t in record["tags"]))
        if exploded(record):
            lr = (record.get("summary") or {}).get("last", {}).get("lr")
            lines.append(f"\u26a0 the loss blew up ({last_loss(record):.4g} per example)"
                         + (f": lr {lr:g} too large" if isinstance(lr, (int, float)) else ""))
        if record.get("message"):
            lines.append(str(record["message"]))
        if record.get("resumed_from"):
            lines.append(f"resumed from {record['resumed_from']}")
        if record.get("notes"):
            lines.append(f"note: {record['notes']}")
        detail.update("\n".join(lines))

    # ------------------------------------------------------------------ search, sort, filter
    def action_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    @on(Input.Changed, "#history-search")
    def _search(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.refresh_table()

    @on(Input.Submitted, "#history-search")
    def _search_done(self) -> None:
        self.query_one(DataTable).focus()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.descending = self.sort in ("date", "best", "last", "epochs", "duration")
        self.refresh_table()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.refresh_table()

    def _cycle(self, field: str, values: list[str]) -> None:
        values = sorted(set(v for v in values if v))
        options: list[str | None] = [None, *values]
        now = self.filters[field]
        self.filters[field] = options[(options.index(now) + 1) % len(options)] if now in options else None
        self.refresh_table()

    def action_filter_stage(self) -> None:
        self._cycle("stage", [r.get("stage") for r in self.runs])

    def action_filter_status(self) -> None:
        self._cycle("status", [r.get("status") for r in self.runs])

    def action_filter_tag(self) -> None:
        self._cycle("tag", [str(t) for r in self.runs for t in r.get("tags") or []])

    # ------------------------------------------------------------------ marks, compare
    def action_mark(self) -> None:
        rid = self.current_id()
        if rid is None:
            return
        if rid in self.marked:
            self.marked.remove(rid)
        elif len(self.marked) >= 8:
            self.notify("compare takes at most 8 runs", severity="warning")
            return
        else:
            self.marked.append(rid)
        self.refresh_table()

    def action_clear_marks(self) -> None:
        self.marked = []
        self.refresh_table()

    def action_compare(self) -> None:
        ids = [i for i in self.marked if any(r["id"] == i and r.get("status") != "damaged" for r in self.runs)]
        if len(ids) < 2:
            self.notify("mark 2 to 8 runs with space, then c", severity="warning")
            return
        self.app.compare(ids)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ edits
    def _editable(self) -> dict[str, Any] | None:
        record = self.current()
        if record is None:
            return None
        if record.get("status") == "damaged":
            self.notify("a damaged run cannot be edited", severity="warning")
            return None
        return record

    def _edit(self, field: str, title: str, value: str, convert=lambda s: s) -> None:
        record = self._editable()
        if record is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            from engine.store import update_record

            try:
                update_record(Path(record["run_dir"]), **{field: convert(text)})
            except (OSError, ValueError) as exc:
                self.notify(f"could not save: {exc}", severity="error")
                return
            self.poll()

        self.app.push_screen(PromptScreen(title, value), done)

    def action_rename(self) -> None:
        record = self.current() or {}
        self._edit("name", "rename the run", str(record.get("name") or ""))

    def action_tag(self) -> None:
        record = self.current() or {}
        self._edit("tags", "tags (comma separated)", ", ".join(str(t) for t in record.get("tags") or []),
                   lambda s: [t.strip() for t in s.split(",") if t.strip()])

    def action_note(self) -> None:
        record = self.current() or {}
        self._edit("notes", "note", str(record.get("notes") or ""))

    def action_delete(self) -> None:
        record = self.current()
        if record is None:
            return
        if record.get("status") == "running":
            self.notify("this run is still going: stop it first", severity="warning")
            return
        from engine.store import move_to_trash

        try:
            target = move_to_trash(self.app.runs_dir, Path(record["run_dir"]))  # type: ignore[attr-defined]
        except OSError as exc:
            self.notify(f"could not delete: {exc}", severity="error")
            return
        self.trash.append(target)
        if record["id"] in self.marked:
            self.marked.remove(record["id"])
        self.runs = [r for r in self.runs if r["id"] != record["id"]]
        self.refresh_table()
        self.notify(f"moved {record['id']} to the trash (u: undo)")
        self.poll()

    def action_undo(self) -> None:
        if not self.trash:
            self.notify("nothing to undo")
            return
        from engine.store import restore_from_trash

        trashed = self.trash.pop()
        try:
            restored = restore_from_trash(self.app.runs_dir, trashed)  # type: ignore[attr-defined]
        except OSError as exc:
            self.notify(f"could not restore: {exc}", severity="error")
            return
        self.notify(f"restored {restored.name}")
        self.poll()

    def _config(self) -> dict[str, Any] | None:
        record = self._editable()
        if record is None:
            return None
        from engine.config import ConfigError
        from engine.store import read_config

        try:
            return read_config(Path(record["run_dir"]))
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return None

    def action_again(self) -> None:
        config = self._config()
        if config is not None:
            self.app.run_again(config)  # type: ignore[attr-defined]

    def action_edit(self) -> None:
        config = self._config()
        if config is not None:
            self.app.edit_in_lab(config)  # type: ignore[attr-defined]

    def action_reload(self) -> None:
        self._signature = ()
        self.poll()
