"""Studies screen: an Optuna study (`nnlab sweep`, `nnlab worker`) followed live, wherever its trials run.

Every POLL_S seconds a thread worker reads the study from its storage (the app's `storage`: a
PostgreSQL URL, or None for the journal file under the runs dir) through a StudySource, so a
slow or distant storage never holds the UI; the trials table, the curves of every trial (coloured
by a parameter) and the parameter-vs-metric view redraw only when the report changed. The
storage's password is never shown (tui.widgets.study_format.safe_storage).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Static

from engine.config import ConfigError
from engine.store.compare import COMPARE_MAX
from tui.keymap import STUDIES
from tui.screens.home_focus import HomeFocusScreen
from tui.widgets.key_scroll import KeyScroll
from tui.widgets.study_format import (
    metric_text,
    param_keys,
    param_text,
    safe_storage,
    safe_text,
    state_counts,
    wants_log,
)
from tui.widgets.study_views import StudyPlot, TrialsTable

POLL_S = 1.5
LIST_EVERY = 4  # the list of studies is read again every this many polls (the chosen study every poll)
VIEWS = ("curves", "params")


@dataclass(frozen=True)
class StudySource:
    """Where the screen reads studies: engine.study.report's two functions, or canned ones in tests."""

    list_studies: Callable[[str | None, str], list[dict[str, Any]]]
    study_report: Callable[[str | None, str, str], dict[str, Any]]


def engine_source() -> StudySource:
    """The engine's reader, imported when first needed (optuna takes a second to import), in the poll thread."""
    from engine.study.report import list_studies, study_report

    return StudySource(list_studies, study_report)


class StudyPolled(Message):
    def __init__(self, generation: int, studies: list[dict[str, Any]] | None, report: dict[str, Any] | None,
                 error: str | None = None) -> None:
        super().__init__()
        self.generation = generation
        self.studies = studies
        self.report = report
        self.error = error


class StudiesScreen(HomeFocusScreen):
    SUB_TITLE = "5 Studies: sweeps and searches, live"
    HOME = "#studies-table"
    BINDINGS = STUDIES
    DEFAULT_CSS = """
    #studies-bar { height: 2; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #studies-message { height: 1fr; padding: 1 2; display: none; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.studies: list[dict[str, Any]] = []
        self.study: str | None = None  # the name of the study shown
        self.report: dict[str, Any] | None = None
        self.error: str | None = None
        self.view = "curves"
        self.param_index = 0
        self.log_override: dict[str, bool] = {}  # the parameters whose axis scale the user flipped
        self.polls = 0  # polls answered (tests wait on it)
        self._busy = False
        self._generation = 0  # bumped when the user picks another study: older answers are dropped
        self._source: StudySource | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="studies-bar", markup=False)
        yield TrialsTable(id="studies-table")
        yield StudyPlot(id="studies-view")
        with KeyScroll(id="studies-message"):  # focusable: a long error scrolls, and the keys still work
            yield Static(id="studies-message-text", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.redraw_bar()
        self.set_interval(POLL_S, self.poll)
        self.poll()

    def on_screen_resume(self) -> None:
        self.poll()

    # ------------------------------------------------------------------ reading the storage
    @property
    def storage(self) -> str | None:
        return getattr(self.app, "storage", None)

    @property
    def runs_dir(self) -> str:
        return str(getattr(self.app, "runs_dir", "saved_runs"))

    def poll(self, force_list: bool = False) -> None:
        if self._busy or not self.is_current:
            return
        self._busy = True
        want_list = force_list or not self.studies or self.polls % LIST_EVERY == 0
        self._fetch(self.study, want_list, self._generation)

    @work(thread=True, exclusive=False, group="studies-poll", exit_on_error=False)
    def _fetch(self, name: str | None, want_list: bool, generation: int) -> None:
        storage, runs_dir = self.storage, self.runs_dir
        try:
            source = self._source or getattr(self.app, "study_source", None) or engine_source()
            self._source = source
            studies = source.list_studies(storage, runs_dir) if want_list else None
            names = [str(s["study"]) for s in studies or []]
            if studies is not None and name not in names:
                name = names[-1] if names else None  # the newest study (the storage lists them oldest first)
            report = source.study_report(storage, runs_dir, name) if name else None
        except Exception as exc:  # noqa: BLE001 - any failure of the storage is shown, and the next poll retries
            said = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"  # ours are one line
            self.post_message(StudyPolled(generation, None, None, safe_text(said, storage)))
            return
        self.post_message(StudyPolled(generation, studies, report))

    def on_study_polled(self, message: StudyPolled) -> None:
        if message.generation != self._generation:
            return  # read for the study shown before the user picked another one
        self._busy = False
        self.polls += 1
        self.error = message.error
        if message.error is None:
            if message.studies is not None:
                self.studies = message.studies
            name = message.report.get("study") if message.report else None
            changed = message.report != self.report
            if name != self.study:
                self.study = name
                self.param_index = 0
            self.report = message.report
            if changed or self.polls == 1:
                self.redraw()
        elif self.report is None:
            self.redraw()  # the reason, in full, where the trials would be (a study shown stays, with the error above)
        self.redraw_bar()

    # ------------------------------------------------------------------ drawing
    @property
    def keys(self) -> list[str]:
        return param_keys(self.report.get("trials") or []) if self.report else []

    @property
    def param(self) -> str | None:
        keys = self.keys
        return keys[self.param_index % len(keys)] if keys else None

    def xlog(self, key: str | None) -> bool:
        if key is None or not self.report:
            return False
        if key in self.log_override:
            return self.log_override[key]
        return wants_log([(t.get("params") or {}).get(key) for t in self.report.get("trials") or []])

    def local_runs(self) -> set[str]:
        runs = Path(self.runs_dir)
        return {str(t["run_id"]) for t in (self.report or {}).get("trials") or []
                if t.get("run_id") and (runs / str(t["run_id"]) / "run.json").is_file()}

    def redraw_bar(self) -> None:
        """Two lines: the study, its stage, metric and trial states; the best trial and the storage."""
        where = safe_storage(self.storage, self.runs_dir)
        if self.error:
            text = f"cannot read the studies (retrying): {self.error}\n{where}"
            if self.report:
                text = f"last read failed (retrying): {self.error}\n{self.study} | {where}"
        elif self.report:
            r = self.report
            names = [str(s["study"]) for s in self.studies]
            index = f" {names.index(self.study) + 1}/{len(names)}" if self.study in names else ""
            counts = " ".join(f"{n} {s}" for s, n in state_counts(r.get("trials") or []).items())
            arrow = "max" if r.get("direction") == "maximize" else "min"
            best = r.get("best")
            best_text = "no complete trial yet"
            if isinstance(best, dict):
                params = " ".join(f"{k}={param_text(v)}" for k, v in (best.get("params") or {}).items())
                value = metric_text(str(r.get("metric")), best.get("value"))
                best_text = f"best #{best.get('number')} {value} {params}"
            text = (f"{self.study}{index} {r.get('stage')} {arrow} {r.get('metric')} | {counts or 'no trial yet'}\n"
                    f"{where} | {best_text}")
        elif self.polls == 0:
            text = f"reading studies ...\n{where}"
        else:
            text = f"no study yet\n{where}"
        self.query_one("#studies-bar", Static).update(text)

    def message(self) -> str:
        """What the screen says where the trials would be, when it has no study to show."""
        where = safe_storage(self.storage, self.runs_dir)
        if self.error:
            return (f"Cannot read the studies from {where}:\n\n{self.error}\n\nRetrying every {POLL_S:g} s. "
                    "The storage is set by `nnlab --storage URL` or NNLAB_STORAGE; without it, the journal file "
                    "under the runs dir.")
        if self.study or self.polls == 0:
            return f"Reading {self.study or 'the studies'} from {where} ..."
        return (f"No study in {where} yet.\n\n"
                "Start one:   nnlab sweep circles-optim lr=0.001..1:log --trials 20\n"
                "Join one:    nnlab worker --study NAME --storage URL   (on any machine)\n\n"
                "Its trials appear here as workers report them.")

    def redraw(self) -> None:
        shown = self.report is not None
        self.query_one(TrialsTable).display = shown
        self.query_one(StudyPlot).display = shown
        self.query_one("#studies-message").display = not shown
        if not shown:
            self.query_one("#studies-message-text", Static).update(self.message())
            return
        report = self.report or {"trials": []}
        self.query_one(TrialsTable).show(report, self.keys, self.local_runs())
        key = self.param
        plot = self.query_one(StudyPlot)
        if self.view == "curves":
            plot.curves(report, key, self.xlog(key))
        else:
            plot.params(report, key, self.xlog(key))

    # ------------------------------------------------------------------ actions
    def action_param(self) -> None:
        if self.keys:
            self.param_index = (self.param_index + 1) % len(self.keys)
            self.redraw()
            self.notify(f"by {self.param}", timeout=1.5)

    def action_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.redraw()

    def action_log(self) -> None:
        key = self.param
        if key is not None:
            self.log_override[key] = not self.xlog(key)
            self.redraw()

    def action_study(self, step: int) -> None:
        names = [str(s["study"]) for s in self.studies]
        if not names:
            return
        i = names.index(self.study) if self.study in names else 0
        self.study = names[(i + step) % len(names)]
        self.report = None
        self.param_index = 0
        self.redraw()
        self._generation += 1  # a poll in flight answers for the study shown before: the next one reads this one
        self._busy = False
        self.poll(force_list=True)

    def action_reload(self) -> None:
        self.poll(force_list=True)

    @on(DataTable.RowSelected, "#studies-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def trial(self, number: int | None) -> dict[str, Any] | None:
        for t in (self.report or {}).get("trials") or []:
            if int(t["number"]) == number:
                return t
        return None

    def action_open(self) -> None:
        """The selected trial's run in Compare when it is in this runs dir; else where it ran."""
        t = self.trial(self.query_one(TrialsTable).current_trial())
        if t is None:
            return
        run_id = t.get("run_id")
        if run_id and str(run_id) in self.local_runs():
            self.app.compare([str(run_id)])  # type: ignore[attr-defined]
        elif run_id:
            self.notify(f"trial {t['number']}: run {run_id} ran on {t.get('host') or '?'}, not in this runs dir",
                        timeout=5)
        else:
            self.notify(f"trial {t['number']} has no run yet ({t.get('state')})", timeout=3)

    def action_compare(self) -> None:
        """The best trials whose runs are here (up to 8), overlaid in Compare."""
        report = self.report or {}
        local = self.local_runs()
        sign = -1 if report.get("direction") == "minimize" else 1
        done = [t for t in report.get("trials") or [] if t.get("run_id") in local and t.get("value") is not None]
        done.sort(key=lambda t: -sign * float(t["value"]))
        if not done:
            self.notify("no trial of this study has its run in this runs dir", timeout=3)
            return
        self.app.compare([str(t["run_id"]) for t in done[:COMPARE_MAX]])  # type: ignore[attr-defined]
