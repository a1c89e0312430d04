"""The Train panel's views of what happens inside the network (gradients, activations, conv1's filters,
feature maps) and Compare's gradients view, drawn from real runs: a CNN (cifar-batchnorm on digits, 2
epochs, maps at each) and a circles MLP (3 epochs), trained once for the module. The runs' events are fed to
the app as a live run's are, so a second epoch's artifacts arriving redraws the view shown."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilot_waits import wait_for
from tui_canned import DEVICES

from engine.events import EpochEnd, RunStarted
from engine.inside.maps import filter_array
from engine.stages import resolve_config
from engine.train import train
from tui.app import NNLabApp
from tui.widgets.activations import ActivationsView
from tui.widgets.compare_views import GradientsCompareView
from tui.widgets.curves import CurvePlot, colour
from tui.widgets.filters import RAMP, FeaturesView, FiltersView
from tui.widgets.gradients import GradientsTable, GradientsView

FULL_COLOUR = {"TERM": "xterm-256color", "COLORTERM": "truecolor"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("inside")
    out: dict[str, Any] = {"dir": root / "runs"}
    for key, stage, values in (
            ("cnn", "cifar-batchnorm", {"epochs": 2, "dataset": "digits", "limit_train": 300, "limit_test": 100,
                                        "maps_every": 1}),
            ("mlp", "circles-optim", {"epochs": 3})):
        events: list[Any] = []
        done = train(resolve_config(stage, values), runs_dir=str(root / "runs"), data_dir=str(root / "data"),
                     emit=events.append)
        out[key] = {"events": [e for e in events if isinstance(e, (RunStarted, EpochEnd))],
                    "dir": Path(done.run_dir), "id": done.run_id}
    return out


def artifact(run: dict[str, Any], stem: str) -> dict[str, Any]:
    return json.loads((run["dir"] / "artifacts" / f"{stem}.json").read_text())


def app_for(runs: dict[str, Any], key: str, epochs: int = 99) -> NNLabApp:
    """The app following the run as it trains, its first `epochs` epochs done."""
    app = NNLabApp(runs_dir=str(runs["dir"]), data_dir="datasets", clock=lambda: 1000.0)
    app.devices = dict(DEVICES)
    for event in runs[key]["events"]:
        if not isinstance(event, EpochEnd) or event.epoch <= epochs:
            app.run_state.apply(event, 1000.0)
    return app


def feed_epoch(app: NNLabApp, runs: dict[str, Any], key: str, epoch: int) -> None:
    for event in runs[key]["events"]:
        if isinstance(event, EpochEnd) and event.epoch == epoch:
            app.run_state.apply(event, 1000.0)


async def show_view(app: NNLabApp, pilot, view: str) -> None:
    """Train screen, then `v` until the panel shows `view`."""
    await pilot.press("2")
    await wait_for(pilot, lambda: view in getattr(app.screen, "views", []), 30, f"the {view} view offered")
    for _ in range(len(app.screen.views)):
        if app.screen.view == view:
            break
        await pilot.press("v")
    title = app.screen.query_one("#panel-title")
    await wait_for(pilot, lambda: f"[{view}]" in getattr(title, "shown_text", ""), 10, view)


def pixels(view) -> list:
    """The colours of every half block the view draws (the pictures, not their captions)."""
    return [style for line in view.lines(view.size.width) for text, style in line if text.startswith("▀")]


def cell_styles(view) -> list:
    return [style for line in view.lines(view.size.width) for _, style in line if style is not None]


def test_gradients_view_shows_each_layers_latest_ratio_and_redraws_on_a_new_epoch(runs):
    saved = artifact(runs["cnn"], "gradients")
    first = next(e for e in runs["cnn"]["events"] if isinstance(e, EpochEnd)).artifacts["gradients"]

    async def main():
        app = app_for(runs, "cnn", epochs=1)
        async with app.run_test(size=(80, 24)) as pilot:
            await show_view(app, pilot, "gradients")
            table = app.screen.query_one(GradientsTable)
            await wait_for(pilot, lambda: "conv1" in table.text(), 10, "the gradients table")
            before = table.text()
            feed_epoch(app, runs, "cnn", 2)
            await wait_for(pilot, lambda: table.text() != before, 10, "the second epoch's gradients")
            series = app.screen.query_one(GradientsView).query_one(CurvePlot).series
            return before, table.text(), [(list(s.xs), list(s.ys)) for s in series[1:]]

    before, after, series = asyncio.run(main())
    for name, text, payload in (("epoch 1", before, first), ("epoch 2", after, saved)):
        for layer in payload["layers"]:
            row = next(line for line in text.splitlines() if f" {layer} " in line)
            shown = [f"{payload[f][layer][-1]:.3g}" for f in ("grad_norm", "weight_norm", "update_ratio")]
            assert row.split()[-3:] == shown, (name, row, shown)
    # a curve per layer: the ratio of each epoch, in the layers' order
    assert series == [([1, 2], saved["update_ratio"][layer]) for layer in saved["layers"]]


def test_a_flagged_layer_is_named_in_words(runs):
    payload = dict(artifact(runs["cnn"], "gradients"), flags={"conv1": "vanishing", "fc5": ""})

    async def main():
        app = app_for(runs, "cnn")
        app.run_state.artifacts["gradients"] = payload
        async with app.run_test(size=(80, 24)) as pilot:
            await show_view(app, pilot, "gradients")
            table = app.screen.query_one(GradientsTable)
            await wait_for(pilot, lambda: "VANISHING" in table.text(), 10, "the flag")
            return table.text()

    text = asyncio.run(main())
    assert "conv1" in next(line for line in text.splitlines() if line.rstrip().endswith("VANISHING"))
    assert "conv1 VANISHING: ratio < 1e-06, its steps barely move it" in text and "EXPLODING" not in text


def test_activations_view_shows_quantiles_dead_units_batch_norm_and_dropout(runs):
    saved = artifact(runs["cnn"], "activations")

    async def main():
        app = app_for(runs, "cnn")
        async with app.run_test(size=(160, 50)) as pilot:
            await show_view(app, pilot, "activations")
            view = app.screen.query_one(ActivationsView)
            await wait_for(pilot, lambda: "batch norm" in view.text(), 10, "the activations view")
            return view.text()

    text = asyncio.run(main())
    q = saved["pre"]["conv2"][-1]
    assert f"{q[0]:.3g} {q[1]:.3g} [{q[2]:.3g} {q[3]:.3g} {q[4]:.3g}] {q[5]:.3g} {q[6]:.3g}" in text
    fc4 = saved["dead"]["fc4"]
    assert f"dead {100 * fc4[-1]:.1f}%" in text and f"from {100 * fc4[0]:.1f}%" in text
    gamma = saved["bn"]["bn1"]["weight"][-1]
    assert f"bn1 γ {np.mean(gamma):.3g} ({min(gamma):.3g}..{max(gamma):.3g})" in text
    drop = saved["dropout"]
    assert f"train mode {100 * drop['train_acc'][-1]:.1f}%" in text
    assert f"eval mode  {100 * drop['eval_acc'][-1]:.1f}%" in text


def test_circles_views_show_the_tanh_layer(runs):
    grads, acts = artifact(runs["mlp"], "gradients"), artifact(runs["mlp"], "activations")

    async def main():
        app = app_for(runs, "mlp")
        async with app.run_test(size=(80, 24)) as pilot:
            await show_view(app, pilot, "gradients")
            table = app.screen.query_one(GradientsTable).text()
            await show_view(app, pilot, "activations")
            view = app.screen.query_one(ActivationsView)
            await wait_for(pilot, lambda: "saturated" in view.text(), 10, "the activations view")
            return app.screen.views, table, view.text()

    views, table, text = asyncio.run(main())
    assert views == ["boundary", "units", "gradients", "activations"]  # no filters nor feature maps: an MLP
    assert f"{grads['update_ratio']['output'][-1]:.3g}" in next(line for line in table.splitlines() if "output" in line)
    assert f"saturated {100 * acts['saturated']['hidden'][-1]:.1f}%" in text


def test_filter_tiles_are_conv1s_weights_scaled_around_zero(runs, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    for k, v in FULL_COLOUR.items():
        monkeypatch.setenv(k, v)
    w = filter_array(artifact(runs["cnn"], "filters-e0002"))
    m = np.abs(w).reshape(len(w), -1).max(axis=1)
    expected = np.rint((w / m[:, None, None, None] + 1) * 127.5).astype(int)  # n x 3 x 5 x 5, 0 -> 127.5

    async def main(theme: str | None):
        app = app_for(runs, "cnn")
        if theme:
            app.theme = theme
        async with app.run_test(size=(80, 24)) as pilot:
            await show_view(app, pilot, "filters")
            view = app.screen.query_one(FiltersView)
            await wait_for(pilot, lambda: "epoch 2" in view.text(), 10, "the filters")
            return view.lines(view.size.width), view.geometry

    lines, (top, scale, _, _) = asyncio.run(main(None))
    for f in (0, 1):  # the first two tiles of the first row
        for r in range(5):
            for c in range(5):
                u = r * scale
                _, style = lines[top + u // 2][f * (5 * scale + 1) + c * scale]
                got = (style.color if u % 2 == 0 else style.bgcolor).get_truecolor()
                assert tuple(got) == tuple(expected[f, :, r, c]), (f, r, c)
    ansi, _ = asyncio.run(main("ansi-dark"))  # 16 colours: the terminal's own palette only
    kinds = {c.type.name for line in ansi for _, s in line if s is not None for c in (s.color, s.bgcolor) if c}
    assert kinds == {"STANDARD"}


def test_no_color_draws_the_maps_with_characters_only(runs, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    w = filter_array(artifact(runs["cnn"], "filters-e0002"))
    first = (w[0] / np.abs(w[0]).max() + 1) * 127.5

    async def main():
        app = app_for(runs, "cnn")
        drawn = {}
        async with app.run_test(size=(80, 24)) as pilot:
            for name, cls, shows in (("gradients", GradientsTable, "conv1"), ("activations", ActivationsView, "epoch"),
                                     ("filters", FiltersView, "epoch"), ("features", FeaturesView, "image")):
                await show_view(app, pilot, name)
                view = app.screen.query_one(cls)
                await wait_for(pilot, lambda: shows in view.text(), 10, name)  # noqa: B023
                drawn[name] = cell_styles(view)
            filters = app.screen.query_one(FiltersView)
            return drawn, filters.lines(filters.size.width), filters.geometry

    drawn, lines, (top, scale, chars, _) = asyncio.run(main())
    for name, styles in drawn.items():
        assert all(s.color is None and s.bgcolor is None for s in styles), name
    # the first filter's top row: a ramp character a pixel (`chars` wide), by its brightness, RGB mean
    row = "".join(t for t, _ in lines[top])
    ramp = "".join(RAMP[min(9, int(first[:, 0, c].mean() * 10 / 256))] * chars * scale for c in range(5))
    assert row[:len(ramp)] == ramp


def test_the_image_keys_pick_the_recorded_image_and_epoch(runs):
    saved = artifact(runs["cnn"], "features-e0002")
    names = [saved["labels"][t] for t in saved["true"]]

    async def main():
        app = app_for(runs, "cnn")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("2")
            await wait_for(pilot, lambda: "features" in app.screen.views, 30, "the features view")
            footer = {b.binding.key for b in app.screen.active_bindings.values() if b.enabled}
            await show_view(app, pilot, "features")
            view = app.screen.query_one(FeaturesView)
            await wait_for(pilot, lambda: "image 1/8" in view.text(), 10, "the first image")
            shown, drawn = [view.text()], [pixels(view)]
            keys = {b.binding.key for b in app.screen.active_bindings.values() if b.enabled}
            steps = (("i", "image 2/8"), ("I", "image 1/8"), ("I", "image 8/8"),
                     ("left_square_bracket", "epoch 1 (earlier)"))
            for key, what in steps:
                await pilot.press(key)
                await wait_for(pilot, lambda: what in view.text(), 10, what)  # noqa: B023
                shown.append(view.text())
                drawn.append(pixels(view))
            return footer, keys, shown, drawn

    footer, keys, shown, drawn = asyncio.run(main())
    assert "i" not in footer and {"i", "I", "left_square_bracket"} <= keys  # the keys act in the features view
    assert f"label '{names[0]}'" in shown[0] and f"label '{names[1]}'" in shown[1]
    assert f"label '{names[7]}'" in shown[3]
    assert drawn[1] != drawn[0] and drawn[2] == drawn[0]  # another image, then the first one again
    assert drawn[4] != drawn[3]  # the same image's maps at epoch 1 are not those of epoch 2


def test_compare_gradients_view_draws_a_plot_per_layer_and_a_curve_per_run(runs):
    cnn, mlp = artifact(runs["cnn"], "gradients"), artifact(runs["mlp"], "gradients")

    async def main():
        app = NNLabApp(runs_dir=str(runs["dir"]), data_dir="datasets", clock=lambda: 1000.0)
        app.devices = dict(DEVICES)
        app.compare_ids = [runs["cnn"]["id"], runs["mlp"]["id"]]
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4")
            await wait_for(pilot, lambda: hasattr(app.screen, "records") and len(app.screen.records) == 2, 30)
            for _ in range(3):
                await pilot.press("v")
            view = app.screen.query_one(GradientsCompareView)
            await wait_for(pilot, lambda: app.screen.view == "gradients" and len(view.query(CurvePlot)) == 7, 10)
            plots = [(p.title, [(s.colour, list(s.ys)) for s in p.series[1:]]) for p in view.query(CurvePlot)]
            table = view.query_one("DataTable")
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            await pilot.press("p")  # the figure of this view: the runs' ratios per layer, as nnlab plot draws it
            await wait_for(pilot, lambda: getattr(app, "saved_figures", []), 60, "the saved figure")
            return plots, rows, app.saved_figures[-1]

    plots, rows, saved = asyncio.run(main())
    assert saved.request.kind == "gradients" and saved.png.stat().st_size > 0
    assert saved.png.name.startswith(f"compare-gradients-{runs['cnn']['id']}+1-")
    assert [t.split(":")[0] for t, _ in plots] == [*cnn["layers"], *mlp["layers"]]
    assert plots[0][1] == [(colour(0), cnn["update_ratio"]["conv1"])]
    assert plots[-1][1] == [(colour(1), mlp["update_ratio"]["output"])]
    assert f"{cnn['update_ratio']['fc5'][-1]:.3g}" in rows[0] and f"{mlp['update_ratio']['hidden'][-1]:.3g}" in rows[1]
