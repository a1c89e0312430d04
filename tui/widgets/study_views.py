"""The widgets of the Studies screen: the trials table and the study plot (every trial's curve coloured
by a parameter, or a parameter against the metric), with a legend that names each marker.

They draw a study report (the dict of `nnlab studies show --json`); the screen fetches it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from tui.widgets.curves import nice_ticks, tick_labels
from tui.widgets.study_format import (
    BEST_COLOUR,
    BEST_MARKER,
    RGB,
    category_positions,
    groups_by,
    is_number,
    metric_text,
    param_text,
    rank_correlation,
    trial_value,
)

STATE_STYLES = {"complete": "green", "pruned": "yellow", "fail": "red", "running": "cyan", "waiting": "dim"}
# the parameter-vs-metric view: one series per state (a marker each), the best trial on top
POINT_SERIES: tuple[tuple[str, str, RGB, str], ...] = (
    ("complete", "o", (66, 135, 245), "complete"),
    ("pruned", "x", (245, 130, 48), "pruned"),
    ("running", "+", (70, 200, 200), "running"),
)
GROUP_DEFAULT: tuple[str, RGB] = ("o", (66, 135, 245))  # the curves when the study has no parameter
LINE_POINTS = 3000  # up to this many points in all, every trial's curve is a line; past it, points (plotext cost)


def decade_ticks(values: Sequence[float]) -> list[float]:
    """The powers of ten within the values' range (a log axis reads 0.001 0.01 0.1 1)."""
    lo, hi = min(values), max(values)
    return [10.0 ** k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            if lo * 0.999 <= 10.0 ** k <= hi * 1.001]


def epoch_ticks(last: int, most: int = 6) -> list[int]:
    """Round epochs to tick: 1, then multiples of 1, 2 or 5 x 10^k (1 100 200 ... 600; 1 3 5 7 9 for 10)."""
    step = next(m * 10 ** k for k in range(12) for m in (1, 2, 5) if m * 10 ** k * most >= last)
    if step <= 2:
        return list(range(1, last + 1, step))
    return [1, *range(step, last + 1, step)]


def hex_of(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def legend_entry(marker: str, rgb: RGB, label: str) -> Text:
    return Text.assemble((marker, f"bold {hex_of(rgb)}"), " ", label)


def short_run(run_id: Any) -> str:
    """The short id the TUI shows for a run: its last 4 hex digits."""
    return str(run_id)[-4:] if run_id else "-"


def best_number(report: dict[str, Any]) -> int | None:
    best = report.get("best")
    return int(best["number"]) if isinstance(best, dict) and best.get("number") is not None else None


class TrialsTable(DataTable):
    """One row per trial: the best one marked `*`; state, value, epochs, the parameters, host and run."""

    DEFAULT_CSS = "TrialsTable { height: auto; max-height: 30%; min-height: 4; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.numbers: list[int] = []  # the trial number of each row, in row order

    def show(self, report: dict[str, Any], keys: Sequence[str], local: set[str]) -> None:
        """Draw the report's trials; the cursor stays on its trial (on the best one the first time)."""
        first = not self.numbers
        keep = self.numbers[self.cursor_row] if self.numbers and 0 <= self.cursor_row < len(self.numbers) else None
        metric = str(report.get("metric") or "value")
        best = best_number(report)
        self.clear(columns=True)
        self.add_columns("", "#", "state", metric, "ep", *keys, "host", "run")
        self.numbers = []
        for t in sorted(report.get("trials") or [], key=lambda t: int(t["number"])):
            n = int(t["number"])
            state = str(t.get("state") or "-")
            is_best = n == best
            params = t.get("params") or {}
            run_id = t.get("run_id")
            run = Text(short_run(run_id), style="" if run_id in local else "dim")
            self.add_row(Text(BEST_MARKER if is_best else " ", style="bold"),
                         Text(str(n), style="bold" if is_best else ""),
                         Text(state, style=STATE_STYLES.get(state, "")),
                         Text(metric_text(metric, t.get("value")), style="bold" if is_best else ""),
                         str(t.get("epochs") if t.get("epochs") is not None else len(t.get("curve") or [])),
                         *[param_text(params.get(k)) for k in keys],
                         str(t.get("host") or "-")[:12], run, key=str(n))
            self.numbers.append(n)
        target = best if first else keep
        if target in self.numbers:
            self.move_cursor(row=self.numbers.index(target), animate=False)

    def current_trial(self) -> int | None:
        if self.numbers and 0 <= self.cursor_row < len(self.numbers):
            return self.numbers[self.cursor_row]
        return None


class StudyPlot(Vertical):
    """A plotext plot over a one-line legend; `curves()` or `params()` draws a report."""

    DEFAULT_CSS = """
    StudyPlot { height: 1fr; min-height: 7; }
    StudyPlot > PlotextPlot { height: 1fr; }
    StudyPlot > Static { height: auto; max-height: 2; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._legend = Text()
        self.drawn: list[tuple[str, list[float], list[float]]] = []  # (marker, xs, ys) of each series drawn
        self.title = ""

    def compose(self) -> ComposeResult:
        yield PlotextPlot(id="studies-plot")
        yield Static(id="studies-legend")

    @property
    def legend(self) -> Text:
        """The legend as drawn (for the screen and its tests)."""
        return self._legend

    def _start(self, title: str, xlabel: str):
        self.drawn = []
        self.title = title
        plt = self.query_one(PlotextPlot).plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if xlabel:
            plt.xlabel(xlabel)
        # never plotext's own log scale: its build takes the log of the data in place, so a second render
        # (a resize, a theme change) takes the log of the log and fails; a log axis here is log10(x), ticked
        return plt

    def _finish(self, plt, drawn: int, empty: str, legend: list[Text], note: str = "") -> None:
        if not drawn:
            plt.text(empty, 0.5, 0.5, alignment="center")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
        else:  # round y ticks (0.6 0.7 0.8, not 0.555 0.618 0.682), about one every 3 rows
            ys = [y for _, _, dy in self.drawn for y in dy]
            ticks = nice_ticks(min(ys), max(ys), 4)
            if len(ticks) >= 2:
                plt.yticks(ticks, tick_labels(ticks))
        text = Text("  ").join(legend)
        if note:
            text.append(("  " if legend else "") + note, style="dim")
        self._legend = text
        self.query_one(Static).update(text)
        self.query_one(PlotextPlot).refresh()

    def curves(self, report: dict[str, Any], key: str | None, xlog: bool | None) -> None:
        """Every trial's per-epoch metric, grouped and coloured by `key`; the best trial's curve on top."""
        metric = str(report.get("metric") or "value")
        trials = [t for t in report.get("trials") or [] if any(is_number(v) for v in t.get("curve") or [])]
        title = f"{metric} per epoch, {len(trials)} trial{'' if len(trials) == 1 else 's'}"
        plt = self._start(title + (f", by {key}" if key else ""), "")
        by_number = {int(t["number"]): t for t in trials}
        groups = groups_by(trials, key, xlog) if key else []
        legend = [legend_entry(g.marker, g.colour, g.label) for g in groups]
        sets = [(g.marker, g.colour, [by_number[n] for n in g.numbers]) for g in groups] if key else \
            [(GROUP_DEFAULT[0], GROUP_DEFAULT[1], trials)]
        # lines cost plotext 5x what points do: past LINE_POINTS points, each group is drawn as points
        lines = sum(len(t.get("curve") or []) for t in trials) <= LINE_POINTS
        drawn = 0
        for marker, rgb, members in sets:
            if lines:
                for t in members:
                    drawn += self._series(plt, [t], marker, rgb, line=True)
            else:
                drawn += self._series(plt, members, marker, rgb, line=False)
        longest = max((len(t.get("curve") or []) for t in trials), default=0)
        if longest >= 2:
            ticks = epoch_ticks(longest)
            plt.xticks(ticks, [str(e) for e in ticks])
        best = best_number(report)
        if best in by_number:
            self._series(plt, [by_number[best]], BEST_MARKER, BEST_COLOUR, line=True)
            legend.append(legend_entry(BEST_MARKER, BEST_COLOUR, f"best #{best}"))
        self._finish(plt, drawn, "no trial has reported an epoch yet", legend)

    def _series(self, plt, trials: list[dict[str, Any]], marker: str, rgb: RGB, line: bool) -> int:
        """The trials' per-epoch curves as one series: a line (one trial) or points (a group)."""
        points = [(i + 1, float(v)) for t in trials for i, v in enumerate(t.get("curve") or []) if is_number(v)]
        if not points:
            return 0
        xs, ys = (list(v) for v in zip(*points))
        (plt.plot if line else plt.scatter)(xs, ys, marker=marker, color=rgb)
        self.drawn.append((marker, xs, ys))
        return 1

    def params(self, report: dict[str, Any], key: str | None, xlog: bool | None) -> None:
        """Each trial's value (complete: final; pruned, running: the last epoch it reported) against `key`."""
        metric = str(report.get("metric") or "value")
        trials = [t for t in report.get("trials") or []
                  if key is not None and (t.get("params") or {}).get(key) is not None and trial_value(t) is not None
                  and t.get("state") in ("complete", "pruned", "running")]
        values = [(t.get("params") or {}).get(key) for t in trials]
        numeric = all(is_number(v) for v in values)
        positions = {} if numeric else category_positions(values)
        log = bool(xlog) and numeric and all(float(v) > 0 for v in values)
        plt = self._start(f"{metric} against {key}" + (" (log)" if log else "") if key else f"{metric}: no parameter",
                          "")
        if positions:
            plt.xticks(list(positions.values()), [param_text(v)[:10] for v in positions])
            plt.xlim(-0.5, len(positions) - 0.5)
        elif log:
            ticks = decade_ticks([float(v) for v in values])
            if len(ticks) < 2:
                ticks = sorted({min(float(v) for v in values), max(float(v) for v in values)})
            plt.xticks([math.log10(d) for d in ticks], [f"{d:g}" for d in ticks])

        def x_of(t: dict[str, Any]) -> float:
            v = (t.get("params") or {})[key]
            if not numeric:
                return float(positions[v])
            return math.log10(float(v)) if log else float(v)

        legend: list[Text] = []
        drawn = 0
        for state, marker, rgb, label in POINT_SERIES:
            mine = [t for t in trials if t.get("state") == state]
            if mine:
                xs, ys = [x_of(t) for t in mine], [float(trial_value(t) or 0.0) for t in mine]
                plt.scatter(xs, ys, marker=marker, color=rgb)
                self.drawn.append((marker, xs, ys))
                legend.append(legend_entry(marker, rgb, f"{label} {len(mine)}"))
                drawn += 1
        best = best_number(report)
        for t in trials:
            if int(t["number"]) == best:
                plt.scatter([x_of(t)], [trial_value(t)], marker=BEST_MARKER, color=BEST_COLOUR)
                self.drawn.append((BEST_MARKER, [x_of(t)], [float(trial_value(t) or 0.0)]))
                legend.append(legend_entry(BEST_MARKER, BEST_COLOUR, f"best #{best}"))
        note = ""
        done = [t for t in trials if t.get("state") == "complete"]
        if numeric and len(done) >= 3:
            rho = rank_correlation([x_of(t) for t in done], [trial_value(t) or 0.0 for t in done])
            if rho is not None:
                note = f"rank corr {rho:+.2f}"
        self._finish(plt, drawn, "no trial has a value yet" if key else "this study has no parameter", legend, note)
