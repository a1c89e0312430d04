"""How curves are told apart: a colour per run (the TUI's palette, by position in the selection, so a
run keeps its colour whatever metric is shown), a marker per run as well (curves stay apart printed in
grey), a line style per series (train solid, test dashed), and legend labels naming only what differs
between the runs."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.config import ConfigError
from engine.stages import get_stage
from engine.store.compare import differing_keys

# the same colours as the TUI's curves (tui/widgets/curves.py), in the same order
PALETTE: tuple[tuple[int, int, int], ...] = (
    (66, 135, 245), (245, 130, 48), (60, 180, 75), (230, 25, 75),
    (145, 30, 180), (70, 200, 200), (240, 200, 40), (170, 110, 40),
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
SERIES_STYLE = {"train": "-", "test": "--", "lr": ":", "": "-"}
CLASS_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "h", "<")
MAX_LABEL_KEYS = 3


def colour(i: int) -> str:
    """The i-th run's colour as #rrggbb."""
    return "#{:02x}{:02x}{:02x}".format(*PALETTE[i % len(PALETTE)])


def faded(i: int) -> str:
    """The i-th run's colour mixed with grey: the raw curve drawn under a smoothed one."""
    r, g, b = (int(c * 0.45 + 200 * 0.55) for c in PALETTE[i % len(PALETTE)])
    return f"#{r:02x}{g:02x}{b:02x}"


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


def series_style(metric: str) -> str:
    """train_* solid, test_* dashed, lr dotted."""
    return SERIES_STYLE.get(metric.split("_")[0] if "_" in metric else metric, "-")


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def run_labels(configs: Sequence[dict[str, Any]], ids: Sequence[str], names: Sequence[str] | None = None) -> list[str]:
    """One legend label per run: the values of the keys that differ between the runs (the stage first; with
    several stages, of the other keys only those this run sets away from its stage's preset), at most
    MAX_LABEL_KEYS of them; the run's name or short id when nothing differs or two labels would be equal."""
    keys = differing_keys(list(configs))
    keys = (["stage"] if "stage" in keys else []) + [k for k in keys if k != "stage"]
    labels = []
    for config in configs:
        preset = _preset(config) if "stage" in keys else {}
        # runs of different stages: a key is named where the run sets it away from its stage's preset (the stage
        # name says the rest)
        present = [k for k in keys if k in config and (k == "stage" or not preset or k not in preset
                                                        or preset[k] != config[k])]
        parts = [str(config.get("stage")) if k == "stage" else f"{k}={format_value(config.get(k))}"
                 for k in present[:MAX_LABEL_KEYS]]
        if len(present) > MAX_LABEL_KEYS:
            parts.append("...")
        labels.append(", ".join(parts))
    named = list(names) if names is not None else [""] * len(ids)
    first = list(labels)
    for i, label in enumerate(first):
        if not label or first.count(label) > 1:
            extra = named[i] if named[i] and named[i] != ids[i] else ids[i][-4:]
            labels[i] = f"{label} ({extra})" if label else extra
    return labels


def _preset(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(get_stage(str(config.get("stage"))).defaults)
    except ConfigError:
        return {}


def run_handles(labels: Sequence[str], columns: Sequence[str]) -> list[Any]:
    """Legend entries: one per run (its colour and marker), then one per series (its line style, in black)
    when several series share the axis."""
    from matplotlib.lines import Line2D

    handles: list[Any] = [Line2D([], [], color=colour(i), marker=marker(i), markersize=5, linewidth=1.6, label=label)
                          for i, label in enumerate(labels)]
    if len(columns) > 1:
        handles += [Line2D([], [], color="black", linestyle=series_style(c), linewidth=1.2, label=c)  # type: ignore[arg-type]
                    for c in columns]
    return handles


def legend_title(configs: Sequence[dict[str, Any]]) -> str | None:
    """"same: stage" for the legend when every run shares the stage (it is not in the labels)."""
    stages = {str(c.get("stage")) for c in configs}
    return stages.pop() if len(stages) == 1 else None
