"""The History preview: the accuracy curves of one saved run beside its details."""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from engine.command_line import reproduce_command
from engine.config import ConfigError
from engine.store import RunRecord, read_metrics
from engine.store.status import RESUMABLE
from tui.format import date, duration, pct, short_name
from tui.widgets.curves import CurvePlot, Series
from tui.widgets.runs_table import CONFIGS, exploded


def config_lines(record: RunRecord, config: dict[str, Any] | None) -> list[str]:
    """The run's config (the values that differ from its stage's preset) and the command that reproduces it."""
    if not config:
        return ["config: unreadable"] if not record.is_damaged else []
    try:
        command = reproduce_command(config)
    except (ConfigError, KeyError):
        return ["config: " + " ".join(f"{k}={v}" for k, v in config.items())]
    differing = CONFIGS.differing(record)
    return ["config: " + (" ".join(f"{k}={v}" for k, v in differing.items()) if differing
                          else f"the {config['stage']} preset"),
            "reproduce: " + command]


def detail_lines(record: RunRecord, config: dict[str, Any] | None = None) -> list[str]:
    """What the preview says about a run, one fact a line."""
    if record.is_damaged:
        return [record.id, f"damaged: {record.reason}"]
    best = record.best
    lines = [record.id, f"status {record.status}  device {record.device or '-'}",
             f"best {pct(best.value if best else None)} at epoch {(best.epoch if best else None) or '-'}",
             f"last {pct(record.summary.last_of('test_acc'))}  seed {record.seed if record.seed is not None else '-'}",
             f"{date(record.created)} UTC, took {duration(record.duration_s)}"]
    lines += config_lines(record, config)
    if record.tags:
        lines.append("tags: " + ", ".join(record.tags))
    if exploded(record):
        lr = record.summary.last_of("lr")
        lines.append(f"\u26a0 the loss blew up ({record.summary.last_of('train_loss'):.4g} per example)"
                     + (f": lr {lr:g} too large" if lr is not None else ""))
    if record.message:
        lines.append(record.message)
    if record.status in RESUMABLE:
        lines.append("R: resume it   enter: open it in Train")
    elif record.status == "running":
        lines.append("enter: follow it live in Train")
    if record.resumed_from:
        lines.append(f"resumed from {record.resumed_from}")
    if record.notes:
        lines.append(f"note: {record.notes}")
    return lines


class RunPreview(Horizontal):
    """Curves on the left, details on the right; `show(None)` empties both."""

    def compose(self) -> ComposeResult:
        yield CurvePlot("select a run to preview its curves", id="history-preview")
        yield Static(id="history-detail", markup=False)

    def show(self, record: RunRecord | None) -> None:
        plot = self.query_one(CurvePlot)
        detail = self.query_one("#history-detail", Static)
        if record is None:
            plot.set_series([], title="no run selected")
            detail.update("")
            return
        detail.update("\n".join(detail_lines(record, CONFIGS.config(record))))
        if record.is_damaged:
            plot.set_series([], title="damaged run")
            return
        rows = read_metrics(record.run_dir)
        xs = [r["epoch"] for r in rows]
        plot.set_series([Series("train acc", xs, [r.get("train_acc") for r in rows], (66, 135, 245)),
                         Series("test acc", xs, [r.get("test_acc") for r in rows], (245, 130, 48))],
                        title=f"{short_name(record)}: accuracy", xlabel="epoch")
