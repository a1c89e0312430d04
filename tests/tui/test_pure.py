"""Pure helpers of the TUI: smoothing, search, run state, the boundary picture, messages."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
from tui_canned import boundary, circles_events

from engine.events import BatchEnd
from engine.store import RunRecord
from engine.store.search import matches, parse_query
from tui.run_state import RunState
from tui.smoothing import ema, finite_points
from tui.widgets.boundary import blend, boundary_rows


def test_ema_is_causal_and_debiased():
    values = [1.0, 2.0, 3.0, 4.0]
    assert ema(values, 0.0) == values
    smooth = ema(values, 0.9)
    assert smooth[0] == pytest.approx(1.0)  # debiased: no pull towards 0
    for k in range(1, len(values)):  # point k depends only on points <= k
        assert ema(values[: k + 1], 0.9) == pytest.approx(smooth[: k + 1])
    assert all(a <= b for a, b in zip(smooth, smooth[1:]))
    assert ema([1.0, float("nan"), None, 3.0], 0.5)[1:3] == [None, None]
    with pytest.raises(ValueError):
        ema(values, 1.0)


def test_finite_points_for_log_axis():
    assert finite_points([1, 2, 3, 4], [0.5, float("inf"), -1.0, 2.0], positive=True) == ([1, 4], [0.5, 2.0])


def test_search_filters_and_fuzzy():
    rec = RunRecord(id="x", run_dir=Path("x"), status="finished", stage="circles-nn", name="nn lr 0.1",
                    tags=("baseline",))
    assert parse_query("stage:circles tag:base lr") == ({"stage": "circles", "tag": "base"}, ["lr"])
    assert matches(rec, "cnn fin")  # fuzzy: c..n..n in circles-nn
    assert matches(rec, "status:finished tag:base")
    assert not matches(rec, "status:running")
    assert not matches(rec, "zzz")


def test_run_state_folds_events():
    state = RunState()
    events = circles_events(epochs=3, total=10, status="interrupted")
    for e in events[:2]:
        state.apply(e, 10.0)
    state.apply(BatchEnd(2, 10, 20), 12.0)
    assert state.fraction() == pytest.approx(1.5 / 10)
    assert state.eta(12.0) == pytest.approx(2.0 * 8.5 / 1.5)
    for e in events[2:]:
        state.apply(e, 14.0)
    assert state.status == "interrupted" and len(state.history) == 3 and not state.active
    assert state.artifacts["boundary"]["epoch"] == 1 and state.artifacts["points"]["kind"] == "points"
    assert state.eta(20.0) is None and state.elapsed(99.0) == pytest.approx(4.0)


def test_diverged_is_detected_from_status_or_nan():
    state = RunState()
    state.apply(circles_events(epochs=1, total=5)[0], 0.0)
    state.history.append({"epoch": 1, "train_loss": math.nan, "test_loss": math.nan})
    assert state.diverged()


def test_boundary_picture_orientation():
    grid = boundary(10, radius=0.8)
    rows = boundary_rows(grid["prob"], 40, 20)
    assert len(rows) == 20 and all(len(r) == 40 for r in rows)
    centre, corner = rows[10][20][1], rows[0][0][1]
    assert str(centre.color.triplet) != str(corner.color.triplet)
    assert blend(1.0) != blend(0.0)
    # points are drawn where they are: top-left point -> first row, first column
    marked = boundary_rows(grid["prob"], 40, 20, points=[[-1.95, 1.95, 0]])
    assert marked[0][0][0] == "•"


def test_blew_up_says_an_exploded_but_finite_loss():
    from tui.run_state import blew_up

    assert blew_up(871.4, 649.8)  # circles-optim lr=50: finite, far above a guessing classifier
    assert blew_up(8.0, 0.3)  # rose tenfold from its lowest
    assert not blew_up(0.25, 0.2) and not blew_up(0.69, None)
    assert not blew_up(float("nan"), 0.3) and not blew_up(None, 0.3)  # non-finite is "diverged", not this


def test_history_columns_fit_80_and_show_all_when_wide():
    from tui.widgets.runs_table import NAME_MIN, table_columns

    shown = {80: ["mark", "stage", "name", "status", "best", "epochs"],  # last and date dropped for the name
             90: ["mark", "stage", "name", "status", "best", "epochs", "date"],
             100: ["mark", "stage", "name", "status", "best", "last", "epochs", "date"]}
    for width, keys in shown.items():
        cols = table_columns(width)
        assert [k for k, _, _ in cols] == keys
        assert sum(w for _, _, w in cols) + len(cols) - 1 + 2 <= width  # one space between, room for a scrollbar
        assert dict((k, w) for k, _, w in cols)["name"] >= 24 > NAME_MIN  # "#3b1a lr=0.05 epochs=40" whole
    assert [k for k, _, _ in table_columns(200)][-3:] == ["time", "date", "tags"]


def test_key_value_search_is_exact_and_other_text_fuzzy():
    from engine.store.search import Query, same_value

    rec = RunRecord(id="20250306-100002-circles-nn-ff02", run_dir=Path("x"), status="finished", stage="circles-nn",
                    name="sweep-x lr=0.3")
    configs = {0.3: {"stage": "circles-nn", "lr": 0.3, "augment": True}, 0.03: {"stage": "circles-nn", "lr": 0.03},
               0.35: {"stage": "circles-nn", "lr": 0.35}, 0.001: {"stage": "circles-nn", "lr": 0.001}}
    query = Query.parse("lr=0.3")
    assert [lr for lr, config in configs.items() if query.matches(rec, lambda r, c=config: c)] == [0.3]
    assert Query.parse("lr=0.30 stage:circles").matches(rec, lambda r: configs[0.3])
    assert not Query.parse("lr=0.3").matches(rec)  # no config to look in: no match
    assert not Query.parse("kernel=rbf").matches(rec, lambda r: configs[0.3])  # a key the run does not have
    assert same_value(True, "true") and same_value(True, "True") and not same_value(True, "false")
    assert same_value(10, "10") and not same_value(10, "1") and not same_value(0.3, "fast")
    assert matches(rec, "sweep 0.3")  # free text stays fuzzy


def test_run_label_says_what_differs():
    from tui.format import run_label

    sweep = RunRecord(id="20250306-100002-circles-nn-ff02", run_dir=Path("x"), status="finished",
                      stage="circles-nn", name="sweep-20250306-100000-abcd lr=0.3",
                      tags=("sweep-20250306-100000-abcd",))
    assert run_label(sweep, {"lr": "0.3"}) == "lr=0.3"
    plain = RunRecord(id="20250306-100002-circles-nn-4e0b", run_dir=Path("x"), status="finished",
                      stage="circles-nn", name="20250306-100002-circles-nn-4e0b")
    assert run_label(plain, {"lr": "0.1", "epochs": "5"}) == "#4e0b lr=0.1 epochs=5"
    assert run_label(plain, {}) == "#4e0b"
    named = RunRecord(id="20250306-100002-circles-nn-4e0b", run_dir=Path("x"), status="finished",
                      stage="circles-nn", name="my run")
    assert run_label(named, {"lr": "0.1"}) == "my run lr=0.1"
