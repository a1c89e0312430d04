"""Plots and panels that read without colour and without clipping: every screen draws under NO_COLOR,
curves are told apart by marker as well as colour (legend above the data, palette distinct in 16
colours), ticks are round, and Compare's tables show the best (not the last) value."""
from __future__ import annotations

import asyncio

from pilot_waits import wait_for
from rich.color import Color, ColorSystem
from screen_colours import TERMINAL_COLOURS, colour_kinds
from textual.app import App, ComposeResult
from tui_canned import DEVICES, circles_events, curve, digits_cnn_events, populate, populate_cifar_and_sweep, write_run

from engine.store import list_runs
from tui.app import NNLabApp
from tui.widgets.boundary import BoundaryView
from tui.widgets.compare_views import PlotSettings, RunsView, SweepView
from tui.widgets.curves import PALETTE, RAW, CurvePlot, Series, colour, log_ticks, nice_ticks, tick_labels
from tui.widgets.runs_table import cells
from tui.widgets.samples import SamplesView

BRAILLE = range(0x2801, 0x2900)  # a braille cell with at least one dot




# ------------------------------------------------------------------ NO_COLOR
def test_every_screen_draws_without_colour(runs_dir, monkeypatch):
    """NO_COLOR makes Textual filter every segment to monochrome; a widget that emits a segment with no
    style crashed the app (the boundary view did, on the Train screen of a circles run)."""
    monkeypatch.setenv("NO_COLOR", "1")
    populate(runs_dir)
    populate_cifar_and_sweep(runs_dir)

    async def main(events, panel_presses):
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        assert app.no_color
        for event in events:
            app.run_state.apply(event, 1000.0)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await wait_for(pilot, lambda: getattr(app.screen, "drawn_epochs", 0) == len(app.run_state.history))
            for _ in range(panel_presses):
                await pilot.press("v")
                await pilot.pause()
            boundary = app.screen.query(BoundaryView)
            shown = "".join(seg.text for seg in boundary.first().render_line(0)) if boundary else ""
            await pilot.press("3")
            await wait_for(pilot, lambda: getattr(app.screen, "complete", False) and len(app.screen.shown) > 10)
            await pilot.press("down", "down")
            await pilot.pause()
            await pilot.press("4")
            await pilot.pause()
            for _ in range(2):
                await pilot.press("v")
                await pilot.pause()
            assert app.return_code is None and app._exception is None
        assert app._exception is None
        return shown

    shown = asyncio.run(main(circles_events(), 0))
    assert "epoch 10: class 0 •, class 1 o" in shown  # without colour the caption names no colour
    assert "blue" not in shown and "orange" not in shown
    for presses in range(3):
        asyncio.run(main(digits_cnn_events(), presses))


def test_boundary_and_samples_style_every_segment(runs_dir):
    """The views that draw their own lines give every segment a style (NO_COLOR needs one)."""
    events = circles_events()

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        for event in events:
            app.run_state.apply(event, 1000.0)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("2")
            await wait_for(pilot, lambda: app.screen.drawn_epochs == 12)
            view = app.screen.query_one(BoundaryView)
            view.show(None)
            grids = [e.artifacts[k] for e in events for k in getattr(e, "artifacts", {}) if k.startswith("boundary")]
            for grid in (None, grids[-1]):
                view.show(grid)
                for y in range(view.size.height + 1):
                    assert all(seg.style is not None for seg in view.render_line(y))
            samples = SamplesView()
            await app.screen.mount(samples)
            samples.show(digits_cnn_events()[-1].artifacts["samples"])
            await pilot.pause()
            assert "3/5!" in samples.text()  # a wrong prediction is marked without colour too
            for y in range(samples.size.height + 1):
                assert all(seg.style is not None for seg in samples.render_line(y))

    asyncio.run(main())


# ------------------------------------------------------------------ curves
class PlotApp(App):
    def __init__(self, series, **kw):
        super().__init__()
        self.series, self.kw = series, kw

    def compose(self) -> ComposeResult:
        yield CurvePlot("test_acc: four lrs", id="plot")

    def on_mount(self) -> None:
        self.query_one(CurvePlot).set_series(self.series, **self.kw)


def rendered(series, size=(80, 24), **kw):
    """The plot's lines as (plain text, rich Text) after it was drawn at `size`."""
    async def main():
        app = PlotApp(series, **kw)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            plot = app.query_one(CurvePlot)
            return plot, plot.render()

    plot, text = asyncio.run(main())
    lines = text.split("\n")
    return plot, [line.plain for line in lines], lines


def sweep_series(epochs=600):
    xs = list(range(1, epochs + 1))
    return [Series(f"lr={lr}", xs, [0.5 + 0.4 * (1 - 1 / (1 + x * lr)) for x in xs], colour(i))
            for i, lr in enumerate((0.001, 0.1, 0.3, 0.5))]


def test_each_series_has_its_own_marker_shown_in_the_legend_above_the_data():
    plot, plain, _ = rendered(sweep_series(), xlabel="epoch")
    marks = plot.markers()
    assert len(set(marks)) == 4
    frame = next(i for i, line in enumerate(plain) if "┌" in line)
    legend = "\n".join(plain[:frame])
    for entry, _, _ in plot.legend():
        assert entry in legend
    for s in plot.series:
        assert s.label in legend
    for mark in marks[1:]:  # the marker characters are drawn in the data, not only in the legend
        assert any(mark in line for line in plain[frame + 1:])


def test_ticks_are_round_and_nothing_is_cut():
    """600 epochs at 80 columns: whole-number x ticks (the last label whole, not '600.'), y ticks at one
    round step, and the legend's entries all visible."""
    _, plain, _ = rendered(sweep_series(600), xlabel="epoch")
    bottom = next(i for i, line in enumerate(plain) if "└" in line)
    x_labels = plain[bottom + 1].split()
    assert len(x_labels) >= 3 and all(s.isdigit() for s in x_labels), x_labels
    assert int(x_labels[-1]) >= 500
    y_labels = [line.split("┤")[0].strip() for line in plain if "┤" in line]
    values = [float(s) for s in y_labels]
    steps = {round(a - b, 9) for a, b in zip(values, values[1:])}
    assert len(values) >= 2 and len(steps) == 1, y_labels
    assert all(len(s.split(".")[-1]) <= 2 for s in y_labels)


def test_round_tick_helpers():
    assert nice_ticks(1, 600, 5, integer=True) == [200, 400, 600]
    assert nice_ticks(1, 600, 6, integer=True) == [100, 200, 300, 400, 500, 600]
    assert nice_ticks(1, 3, 8, integer=True) == [1, 2, 3]  # never 1.5 on an epoch axis
    assert nice_ticks(0.531, 0.778, 3) == [0.6, 0.7]
    assert tick_labels([0.6, 0.7]) == ["0.6", "0.7"] and tick_labels([10.0, 20.0]) == ["10", "20"]
    assert log_ticks(0.004, 2.0, 4) == [0.01, 0.1, 1.0]


def test_palette_stays_distinct_in_16_colours():
    standard = [Color.from_rgb(*rgb).downgrade(ColorSystem.STANDARD).number for rgb in (*PALETTE, RAW)]
    assert len(set(standard)) == len(PALETTE) + 1
    eight_bit = [Color.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).number for rgb in PALETTE]
    assert len(set(eight_bit)) == len(PALETTE)


def test_curve_cells_only_take_legend_colours():
    """Overlapping and smoothed curves: every drawn cell has the colour of a legend entry."""
    xs = list(range(1, 41))
    series = []
    for i in range(3):  # close, crossing curves, each with its raw values under it as in Compare
        ys = [0.5 + 0.01 * x * (1 + 0.1 * i) + (0.03 if x % 3 == i else 0) for x in xs]
        series.append(Series("", xs, ys, RAW))
        series.append(Series(f"run {i}", xs, [y - 0.01 for y in ys], colour(i)))

    async def main():
        app = PlotApp(series)
        async with app.run_test(size=(80, 24)) as pilot:
            plot = app.query_one(CurvePlot)
            plot.raw_note = "raw"
            plot.redraw()
            await pilot.pause()
            return plot, plot.render()

    plot, text = asyncio.run(main())
    allowed = {tuple(rgb) for _, _, rgb in plot.legend()}
    assert RAW in allowed
    seen = set()
    for line in text.split("\n"):
        for segment in line.render(app_console()):
            if any(ord(ch) in BRAILLE or ch in "•x·" for ch in segment.text) and segment.style:
                seen.add(tuple(segment.style.color.triplet))
    assert seen and seen <= allowed, seen - allowed


def app_console():
    from rich.console import Console

    return Console(color_system="truecolor", width=200)


def test_too_small_says_so():
    _, plain, _ = rendered(sweep_series(50), size=(80, 8), xlabel="epoch")  # 2 rows left for the curves
    assert "terminal too small" in " ".join(plain) and not any("┌" in line for line in plain)
    _, plain, _ = rendered(sweep_series(50), size=(80, 9), xlabel="epoch")
    assert "terminal too small" not in " ".join(plain)


# ------------------------------------------------------------------ Compare and History tables
def peaked(epochs: int, top: float, at: int, lr: float = 0.1, loss_scale: float = 1.0) -> list[dict]:
    rows = curve(epochs, top, lr)
    for r in rows:  # rises to `top` at epoch `at`, then falls 10 points
        r["test_acc"] = round(top - 0.1 * abs(r["epoch"] - at) / epochs - (0.1 if r["epoch"] > at else 0), 4)
        r["train_loss"] = round(r["train_loss"] * loss_scale, 4)
    return rows


def table_rows(table) -> list[list[str]]:
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_compare_and_history_show_the_best_value_not_the_last(runs_dir):
    ids = [write_run(runs_dir, f"20250301-10{i}000-circles-nn-ab0{i}", overrides={"lr": lr},
                     rows=peaked(10, 0.9 - 0.1 * i, 4 + i, lr), name=f"peak {i}").name
           for i, lr in enumerate((0.1, 0.3))]

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        async with app.run_test(size=(120, 36)) as pilot:
            app.compare(ids)
            await wait_for(pilot, lambda: len(getattr(app.screen, "records", [])) == 2)
            table = app.screen.query_one(RunsView).table
            return table_rows(table), [c.label.plain for c in table.columns.values()]

    rows, headers = asyncio.run(main())
    best, last, at = headers.index("best"), headers.index("last"), headers.index("best@")
    assert [r[best] for r in rows] == ["90.0%", "80.0%"]
    assert [r[at] for r in rows] == ["4", "5"]
    assert all(r[last] != r[best] for r in rows)
    records = {r.id: r for r in list_runs(runs_dir)}
    history = cells(records[ids[0]], " ", True)
    assert history["best"][0] == "90.0%" and history["last"][0] != "90.0%"


def test_sweep_view_names_its_sweep_and_counts_and_losses_are_right(runs_dir):
    for i, lr in enumerate((0.001, 0.1, 0.3)):
        write_run(runs_dir, f"20250306-10000{i}-circles-nn-fa0{i}", overrides={"lr": lr},
                  rows=peaked(8, 0.6 + 0.1 * i, 5, lr, loss_scale=1 + i), tags=["sweep-20250306-100000-abcd"])

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        async with app.run_test(size=(80, 24)) as pilot:
            app.compare([])
            await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
            await pilot.press("v", "v")
            await pilot.pause()
            view = app.screen.query_one(SweepView)
            plot = view.query_one(CurvePlot)
            return table_rows(view.table), [c.label.plain for c in view.table.columns.values()], plot.title, \
                [line.plain for line in plot.render().split("\n")][0]

    rows, headers, title, first_line = asyncio.run(main())
    assert "sweep of lr on circles-nn" in title and "other sweeps" not in title and "of 1" not in title
    assert first_line.strip().startswith("test_acc: sweep of lr")  # shown, cut at its end when too long
    loss = headers.index("final train loss")
    assert len({r[loss] for r in rows}) == 3
    best, final = headers.index("best test"), headers.index("final test")
    assert all(r[best] != r[final] for r in rows)


def test_sweep_view_counts_several_sweeps(runs_dir):
    n = 2
    for s in range(n):
        for i, lr in enumerate((0.1, 0.3)):
            write_run(runs_dir, f"2025030{6 + s}-10000{i}-circles-nn-f{s}0{i}", overrides={"lr": lr},
                      rows=curve(4, 0.7, lr), tags=[f"sweep-2025030{6 + s}-100000-abc{s}"])
    records = list_runs(runs_dir)

    async def main():
        app = PlotApp([])
        async with app.run_test(size=(100, 30)) as pilot:
            view = SweepView()
            await app.mount(view)
            titles = []
            for index in range(n):
                view.draw(records, index, PlotSettings())
                await pilot.pause()
                titles.append(view.query_one(CurvePlot).title)
            return titles

    titles = asyncio.run(main())
    assert "1 of 2 sweeps" in titles[0] and "20250307-100000-abc1" in titles[0]  # newest first
    assert "2 of 2 sweeps" in titles[1] and "20250306-100000-abc0" in titles[1]


def test_log_y_survives_resizes_and_labels_the_values():
    """Compare's log y (`l`) then a resize used to end the app with plotext's 'math domain error': its own
    log scale takes the log of its stored data again at every build. Drawn at three sizes, the labels
    are the values' round ticks (0.01 .. 1), highest on top."""
    losses = [Series("a", [1, 2, 3, 4], [0.5, 0.1, 0.05, 0.01], colour(0)),
              Series("b", [1, 2, 3, 4], [0.9, 0.3, 0.2, 0.02], colour(1))]

    async def main():
        app = PlotApp(losses, ylog=True)
        async with app.run_test(size=(80, 24)) as pilot:
            out = []
            for size in ((100, 30), (70, 24), (90, 28)):
                await pilot.resize_terminal(*size)
                await pilot.pause()
                out.append([line.plain for line in app.query_one(CurvePlot).render().split("\n")])
            return out

    for plain in asyncio.run(main()):
        labels = [float(line.split("┤")[0]) for line in plain if "┤" in line]
        assert labels == sorted(labels, reverse=True) and labels[0] <= 1 and labels[-1] >= 0.01, labels
        assert {0.1, 0.01} <= set(labels) or {0.1, 0.05} <= set(labels), labels


def test_ansi_themes_draw_plots_in_the_terminal_palette(runs_dir):
    """Under ansi-dark and ansi-light the History preview and Compare's curves use only the terminal's
    default colours and its 16-colour palette (plotext alone draws RGB frames and series); under
    textual-dark the same screens do draw RGB, so the check can see it."""
    populate(runs_dir)

    async def main():
        app = NNLabApp(runs_dir=str(runs_dir))
        app.devices = dict(DEVICES)
        out = {}
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "HistoryScreen")
            await pilot.press("down")  # off the damaged run: a run with curves in the preview
            for key in ("space", "down", "space"):
                await pilot.press(key)
            for theme in ("textual-dark", "ansi-dark", "ansi-light"):
                app.theme = theme
                await pilot.press("3")
                await wait_for(pilot, lambda: type(app.screen).__name__ == "HistoryScreen")
                await pilot.pause(0.3)
                out[theme, "History"] = colour_kinds(app)
                await pilot.press("4")
                await wait_for(pilot, lambda: type(app.screen).__name__ == "CompareScreen")
                await pilot.pause(0.3)
                out[theme, "Compare"] = colour_kinds(app)
        return out

    seen = asyncio.run(main())
    assert "TRUECOLOR" in seen["textual-dark", "History"] | seen["textual-dark", "Compare"]
    for (theme, screen), found in seen.items():
        if theme.startswith("ansi"):
            assert found and found <= TERMINAL_COLOURS, (theme, screen, found)


def test_ansi_themes_draw_the_train_screen_in_the_terminal_palette(runs_dir):
    """A circles run's Train screen (curves and the decision boundary's colour gradient) under the ANSI
    themes: the terminal's default colours and 16-colour palette only."""
    async def main(theme):
        app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        for event in circles_events():
            app.run_state.apply(event, 1000.0)
        async with app.run_test(size=(100, 30)) as pilot:
            app.theme = theme
            await pilot.press("2")
            await wait_for(pilot, lambda: getattr(app.screen, "drawn_epochs", 0) == len(app.run_state.history))
            await pilot.pause(0.3)
            assert app.screen.query(BoundaryView)
            return colour_kinds(app)

    assert "TRUECOLOR" in asyncio.run(main("textual-dark"))
    for theme in ("ansi-dark", "ansi-light"):
        found = asyncio.run(main(theme))
        assert found and found <= TERMINAL_COLOURS, (theme, found)


def train_app_with(runs_dir, artifacts: dict) -> NNLabApp:
    """The app following a canned 12-epoch circles run, with these artifacts (by kind) as if followed."""
    app = NNLabApp(runs_dir=str(runs_dir), data_dir="datasets", clock=lambda: 1000.0)
    app.devices = dict(DEVICES)
    for event in circles_events():
        app.run_state.apply(event, 1000.0)
    app.run_state.artifacts.update(artifacts)
    return app


async def show_train(app: NNLabApp, pilot) -> None:
    await pilot.press("2")
    await wait_for(pilot, lambda: getattr(app.screen, "drawn_epochs", 0) == 12)


def test_train_curves_start_at_epoch_0_when_the_run_recorded_it(runs_dir):
    """The values before the first update (artifacts/initial.json, followed like the other artifacts) are
    the first point of the Train screen's loss and accuracy curves."""
    from tui.widgets.curves import CurvePlot

    initial = {"kind": "initial", "epoch": 0, "train_loss": 0.71, "train_acc": 0.5, "test_loss": 0.72,
               "test_acc": 0.45}

    async def main():
        app = train_app_with(runs_dir, {"initial": initial})
        async with app.run_test(size=(80, 24)) as pilot:
            await show_train(app, pilot)
            loss = app.screen.query_one("#loss-plot", CurvePlot).series
            acc = app.screen.query_one("#acc-plot", CurvePlot).series
            return [(s.xs[0], s.ys[0], len(s.xs)) for s in (*loss, *acc)]

    assert asyncio.run(main()) == [(0, 0.71, 13), (0, 0.72, 13), (0, 0.5, 13), (0, 0.45, 13)]


def test_train_panel_shows_the_hidden_units_beside_the_boundary(runs_dir, monkeypatch):
    """`v` on a circles run: the units view, one tile per hidden unit, the latest recorded epoch. Under
    NO_COLOR each cell is a glyph for its value: a unit at +1 is all `#`, one at -1 all `=`, one at 0 `·`."""
    from tui.widgets.units import UnitsView, layout

    monkeypatch.setenv("NO_COLOR", "1")
    n = 20
    units = {"kind": "units", "epoch": 10, "lo": -2.0, "hi": 2.0, "n": n, "scale": 100,
             "maps": [bytes([v] * n * n).hex() for v in (200, 0, 100)], "out_weight": [1.0, 2.0, 0.5]}

    async def main():
        app = train_app_with(runs_dir, {"units": units})
        async with app.run_test(size=(100, 30)) as pilot:
            await show_train(app, pilot)
            await pilot.press("v")
            view = app.screen.query_one(UnitsView)
            await wait_for(pilot, lambda: view.display and view.size.height > 3, 10, "the units view")
            return ["".join(seg.text for seg in view.render_line(y)) for y in range(view.size.height)]

    lines = asyncio.run(main())
    assert lines[0].startswith("units, epoch 10: tanh # +1, = -1")
    tiles = [line for line in lines[1:] if line.strip() and not line.lstrip().startswith("u")]
    side = len(tiles[0].split()[0])  # tiles as wide as the panel allows (two a row here)
    assert side >= 8 and {tuple(line.split()) for line in tiles} == {("#" * side, "=" * side), ("·" * side,)}
    assert "u1" in "".join(lines) and "u3" in "".join(lines)
    side, per_row, shown = layout(50, 38, 15)  # hidden=50 in a small panel: as many as fit, said in the caption
    assert shown < 50 and per_row * (-(-shown // per_row)) >= shown
