"""History screen: every saved run, live.

Lists the run store with engine.store.list_runs every 1.5 s in a thread worker, so runs started
headless or in another process appear and update by themselves; a run whose process is gone
reads as crashed, a damaged one as damaged with its reason. Sort, filter (stage, status, tag),
fuzzy search, preview the curves, rename, tag, note, delete with undo, run again, compare.
The table (tui.widgets.runs_table) and the preview (tui.widgets.run_preview) draw; this screen
holds the list, its order and filters, and the actions.
"""
from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer, Header, Input, Static

from engine.config import ConfigError
from engine.detached import cancel_queued
from engine.run_queue import find_ticket, queued_records
from engine.store import (
    RunRecord,
    list_runs,
    move_to_trash,
    read_config,
    restore_from_trash,
    update_record,
)
from engine.store.compare import COMPARE_MAX
from engine.store.edits import clean_name, split_tags
from engine.store.search import Query
from engine.store.status import RESUMABLE
from tui.figure_actions import history_figure, save_figure, show_reproduce_command
from tui.keymap import HISTORY
from tui.screens.home_focus import HomeFocusScreen
from tui.widgets.dialogs import PromptScreen
from tui.widgets.run_preview import RunPreview
from tui.widgets.runs_table import CONFIGS, RunsTable

POLL_S = 1.5
QUEUED = ("queued", "starting")  # waiting in a device's queue (engine.run_queue): no folder yet
CONFIGS_INLINE = 200  # a key=value search reads up to this many missing configs at once, more in a thread
HEAD = 100  # runs shown at once when the screen opens, before the whole store is listed
SORTS = ("date", "stage", "name", "status", "best", "last", "epochs", "duration")
DESCENDING = ("date", "best", "last", "epochs", "duration")  # the sorts that start with the largest


def sort_value(name: str, r: RunRecord) -> Any:
    if name == "date":
        return r.id
    if name == "best":
        return r.best.value if r.best else None
    if name == "last":
        return r.summary.last_of("test_acc")
    if name == "epochs":
        return r.epochs_done
    if name == "duration":
        return r.duration_s
    return getattr(r, name)


def sort_key(name: str) -> Callable[[RunRecord], tuple]:
    """Missing values last (first when descending), text case-insensitive."""
    def key(r: RunRecord) -> tuple:
        value = sort_value(name, r)
        if isinstance(value, str):
            return (False, value.lower())
        return (value is None, value if value is not None else 0)
    return key


def reuse_unchanged(runs: list[RunRecord], before: list[RunRecord]) -> list[RunRecord]:
    """`runs`, with each record equal to one of `before` replaced by that one: unchanged runs keep
    their objects (so a new listing is told from the last one by identity, and allocates little that lives)."""
    old = {r.id: r for r in before}
    return [prev if (prev := old.get(r.id)) is not None and prev == r else r for r in runs]


class RunsListed(Message):
    def __init__(self, runs: list[RunRecord], complete: bool = True) -> None:
        super().__init__()
        self.runs = runs
        self.complete = complete


class ConfigsRead(Message):
    """The configs a key=value search needs are read: filter again."""


class HistoryScreen(HomeFocusScreen):
    SUB_TITLE = "3 History: saved runs"
    HOME = "#history-table"
    BINDINGS = HISTORY

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[RunRecord] = []
        self.shown: list[RunRecord] = []
        self.marked: list[str] = []
        self.sort = "date"
        self.descending = True
        self.query_text = ""
        self.filters: dict[str, str | None] = {"stage": None, "status": None, "tag": None}
        self.trash: list[Path] = []
        self._preview_id: str | None = None
        self._listing = False  # a listing is under way (one at a time: each takes a CPU)
        self.complete = False  # the whole store was listed (until then: its newest runs)
        self.frozen = False
        self._reading_configs = False  # a thread is reading the configs a key=value search needs

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="/ search (fuzzy; stage:… status:… tag:… name:…; lr=0.1 exact)",
                    id="history-search")
        yield Static(id="history-filters", markup=False)
        yield RunsTable(id="history-table")
        yield RunPreview(id="history-bottom")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.set_interval(POLL_S, self.poll)
        self.poll()

    def on_screen_resume(self) -> None:
        self.poll()

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    # ------------------------------------------------------------------ data
    def poll(self) -> None:
        if self.is_current and not self._listing:
            self._listing = True
            self._list_runs(self.runs, head=not self.runs and not self.complete)

    @work(thread=True, group="history-poll")
    def _list_runs(self, before: list[RunRecord], head: bool) -> None:
        """The whole store; on opening, first just its newest runs (the rest follows once they are drawn)."""
        message = None
        try:
            runs_dir = self.app.runs_dir  # type: ignore[attr-defined]
            queued = queued_records(runs_dir)  # waiting in a device's queue: listed first, in queue order
            if head:
                newest = queued + list_runs(runs_dir, limit=HEAD)
                message = RunsListed(newest, complete=len(newest) - len(queued) < HEAD)
            else:
                runs = reuse_unchanged(queued + list_runs(runs_dir), before)
                if not before or len(runs) != len(before) or any(a is not b for a, b in zip(runs, before)):
                    message = RunsListed(runs)
        finally:
            self._listing = False
        if message is not None:
            self.post_message(message)

    def on_runs_listed(self, message: RunsListed) -> None:
        self.complete = message.complete
        self.runs = message.runs
        if message.complete:  # runs deleted elsewhere (another TUI, `nnlab runs rm`) lose their marks
            listed = {r.id for r in message.runs}
            self.marked[:] = [i for i in self.marked if i in listed]
        self.refresh_table()
        if not message.complete:
            self.call_after_refresh(self.poll)
        elif not self.frozen:
            # thousands of records live as long as the screen: a full garbage collection walking them all
            # takes 100+ ms, a visible stall under a key press; frozen, they are skipped
            self.frozen = True
            gc.freeze()

    def visible(self) -> list[RunRecord]:
        query = Query.parse(self.query_text)
        stage, status, tag = self.filters["stage"], self.filters["status"], self.filters["tag"]
        config_of = CONFIGS.cached
        if query.values:  # key=value needs the saved configs: read the missing ones in a thread, then again
            missing = [r for r in self.runs if not CONFIGS.has(r)]
            if len(missing) <= CONFIGS_INLINE:
                config_of = CONFIGS.config
            elif not self._reading_configs:
                self._reading_configs = True
                self._read_configs(missing)
        rows = [r for r in self.runs
                if (not stage or r.stage == stage) and (not status or r.status == status)
                and (not tag or tag in r.tags) and query.matches(r, config_of)]
        rows.sort(key=sort_key(self.sort), reverse=self.descending)
        return rows

    @work(thread=True, group="history-configs")
    def _read_configs(self, records: list[RunRecord]) -> None:
        """Read the saved configs a key=value search needs (10,000 take about a second), off the UI thread."""
        try:
            for record in records:
                CONFIGS.config(record)
        finally:
            self.post_message(ConfigsRead())

    def on_configs_read(self, message: ConfigsRead) -> None:
        self._reading_configs = False
        self.refresh_table()

    def refresh_table(self) -> None:
        self.shown = self.visible()
        self._draw_filters(len(self.shown))
        self.table.show(self.shown, self.marked)
        self.update_preview(force=True)

    def _draw_filters(self, n: int) -> None:
        active = [f"{k}={v}" for k, v in self.filters.items() if v]
        order = "newest first" if self.sort == "date" and self.descending else \
            f"by {self.sort} {'desc' if self.descending else 'asc'}"
        self.query_one("#history-filters", Static).update(
            f"{n} of {len(self.runs) if self.complete else f'{len(self.runs)}+'} runs, {order}"
            + (f"; filters: {', '.join(active)}" if active else "")
            + (f"; marked {len(self.marked)}" if self.marked else "")
            + "   f F T: filter  o O: sort")

    def current(self) -> RunRecord | None:
        return self.table.current()

    def current_id(self) -> str | None:
        record = self.current()
        return record.id if record else None

    @on(RunsTable.Highlighted)
    def _highlighted(self) -> None:
        self.update_preview()

    def update_preview(self, force: bool = False) -> None:
        record = self.current()
        rid = record.id if record else None
        if rid == self._preview_id and not force:
            return
        self._preview_id = rid
        self.query_one(RunPreview).show(record)

    # ------------------------------------------------------------------ search, sort, filter
    def action_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    @on(Input.Changed, "#history-search")
    def _search(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.refresh_table()

    @on(Input.Submitted, "#history-search")
    def _search_done(self) -> None:
        self.focus_home()

    def action_leave_search(self) -> None:
        """Escape: back to the table, the filter kept (the field keeps its text)."""
        self.focus_home()

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.descending = self.sort in DESCENDING
        self.refresh_table()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self.refresh_table()

    def _cycle(self, field: str, values: set[str]) -> None:
        options: list[str | None] = [None, *sorted(v for v in values if v)]
        now = self.filters[field]
        self.filters[field] = options[(options.index(now) + 1) % len(options)] if now in options else None
        self.refresh_table()

    def action_filter_stage(self) -> None:
        self._cycle("stage", {r.stage or "" for r in self.runs})

    def action_filter_status(self) -> None:
        self._cycle("status", {r.status for r in self.runs})

    def action_filter_tag(self) -> None:
        self._cycle("tag", {t for r in self.runs for t in r.tags})

    # ------------------------------------------------------------------ marks, compare
    def action_mark(self) -> None:
        rid = self.current_id()
        if rid is None:
            return
        if rid in self.marked:
            self.marked.remove(rid)
        elif len(self.marked) >= COMPARE_MAX:
            self.notify(f"compare takes at most {COMPARE_MAX} runs", severity="warning")
            return
        else:
            self.marked.append(rid)
        self.refresh_table()

    def action_clear_marks(self) -> None:
        self.marked.clear()
        self.refresh_table()

    def action_compare(self) -> None:
        healthy = {r.id for r in self.runs if not r.is_damaged}
        ids = [i for i in self.marked if i in healthy]
        if len(ids) < 2:
            self.notify(f"mark 2 to {COMPARE_MAX} runs with space, then c", severity="warning")
            return
        self.app.compare(ids)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ edits
    def _editable(self) -> RunRecord | None:
        record = self.current()
        if record is None:
            return None
        if record.is_damaged:
            self.notify("a damaged run cannot be edited", severity="warning")
            return None
        if record.status in QUEUED:
            self.notify(f"{record.id} waits in the {record.device} queue ({record.name}); d: cancel it",
                        severity="warning")
            return None
        return record

    def _edit(self, field: str, title: str, value: Callable[[RunRecord], str],
              convert: Callable[[str], Any] = str) -> None:
        record = self._editable()
        if record is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            try:
                update_record(record.run_dir, **{field: convert(text)})
            except ConfigError as exc:
                self.notify(str(exc), severity="error")
                return
            except (OSError, ValueError) as exc:
                self.notify(f"could not save: {exc}", severity="error")
                return
            self.poll()

        self.app.push_screen(PromptScreen(title, value(record)), done)

    def action_rename(self) -> None:
        self._edit("name", "rename the run", lambda r: r.name, clean_name)

    def action_tag(self) -> None:
        self._edit("tags", "tags (comma separated)", lambda r: ", ".join(r.tags), split_tags)

    def action_note(self) -> None:
        self._edit("notes", "note", lambda r: r.notes)

    def action_delete(self) -> None:
        record = self.current()
        if record is None:
            return
        if record.status == "running":
            self.notify("this run is still going: stop it first", severity="warning")
            return
        if record.status in QUEUED or (record.status == "failed" and not record.run_dir.exists()):
            ticket = find_ticket(self.app.runs_dir, record.id)  # type: ignore[attr-defined]
            if ticket is not None:
                cancel_queued(ticket)
                self.notify(f"{record.id}: cancelled (out of the {record.device} queue)")
            self.runs = [r for r in self.runs if r.id != record.id]
            self.refresh_table()
            self.poll()
            return
        try:
            target = move_to_trash(self.app.runs_dir, record.run_dir)  # type: ignore[attr-defined]
        except OSError as exc:
            self.notify(f"could not delete: {exc}", severity="error")
            return
        self.trash.append(target)
        if record.id in self.marked:
            self.marked.remove(record.id)
        self.runs = [r for r in self.runs if r.id != record.id]
        self.refresh_table()
        self.notify(f"moved {record.id} to the trash (u: undo)")
        self.poll()

    def action_undo(self) -> None:
        if not self.trash:
            self.notify("nothing to undo")
            return
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
        try:
            return read_config(record.run_dir)
        except ConfigError as exc:
            self.notify(str(exc), severity="error")
            return None

    def action_again(self) -> None:
        config = self._config()
        if config is not None:
            self.app.run_again(config)  # type: ignore[attr-defined]

    def action_resume(self) -> None:
        record = self._editable()
        if record is None:
            return
        if record.status not in RESUMABLE:
            self.notify(f"only an interrupted or crashed run can be resumed (this one is {record.status}); "
                        "a: run it again", severity="warning")
            return
        self.app.resume_run(str(record.run_dir))  # type: ignore[attr-defined]

    def action_open(self) -> None:
        record = self._editable()
        if record is not None:
            self.app.open_run(str(record.run_dir))  # type: ignore[attr-defined]

    def action_edit(self) -> None:
        config = self._config()
        if config is not None:
            self.app.edit_in_lab(config)  # type: ignore[attr-defined]

    def action_reload(self) -> None:
        self.runs = []
        self.poll()

    def action_save_figure(self) -> None:
        save_figure(self, history_figure(self))

    def action_reproduce(self) -> None:
        record = self._editable()
        if record is not None:
            show_reproduce_command(self, record.run_dir, record.id)
