"""The hidden units of the circles MLP: each unit's tanh output over the plane, recorded at the boundary
snapshots (units-eNNNN artifacts) and drawn by `nnlab plot --kind units`."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.circles import course_grid
from engine.figures.unit_codes import unit_maps
from engine.figures.units import draw_units, unit_snapshots
from engine.mlp.runner import build
from engine.stages import resolve_config
from engine.store import load_run, read_artifacts
from engine.train import train
from tests.conftest import run_cli

LEVELS = ("circles-manual", "circles-autograd", "circles-nn", "circles-optim")


def test_unit_maps_equal_the_hidden_activations_computed_here(tmp_path):
    runner = build(resolve_config("circles-nn", {"epochs": "1"}), str(tmp_path))
    runner.train_epoch(1, lambda b: False)
    recorded = unit_maps(runner.artifacts(1, last=True)["units-e0001"])
    w_h = runner.model.net[0].weight.detach().double().numpy()
    b_h = runner.model.net[0].bias.detach().double().numpy()
    points = course_grid().reshape(40, 40, 2)[::2, ::2].reshape(-1, 2)  # every other point: 20 x 20
    expected = np.tanh(points @ w_h.T + b_h).T.reshape(-1, 20, 20)  # unit x row (y) x col (x)
    assert recorded.shape == (10, 20, 20)
    assert np.abs(recorded - expected).max() <= 0.0051  # two decimals
    assert recorded.min() < -0.5 and recorded.max() > 0.5  # not a flat map


def test_the_four_levels_give_the_same_maps_and_every_size_draws(tmp_path):
    maps = {}
    for stage in LEVELS:
        result = train(resolve_config(stage, {"epochs": "3", "grid_every": "2"}), runs_dir=str(tmp_path / "runs"),
                       data_dir=str(tmp_path))
        arts = read_artifacts(tmp_path / "runs" / result.run_id)
        snaps = unit_snapshots(arts)
        assert [s["epoch"] for s in snaps] == [1, 2, 3]
        maps[stage] = np.stack([unit_maps(s) for s in snaps])
    for stage in LEVELS[1:]:
        assert np.abs(maps[stage] - maps["circles-manual"]).max() <= 0.011, stage  # one rounding step
    for hidden, shown in ((2, 2), (50, 12)):
        result = train(resolve_config("circles-optim", {"epochs": "2", "hidden": str(hidden)}),
                       runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path))
        run_dir = tmp_path / "runs" / result.run_id
        fig = draw_units(load_run(run_dir), read_artifacts(run_dir))
        assert len([ax for ax in fig.axes if ax.images]) == shown * 2  # epochs 1 and 2
        assert ("the 12 of 50 units" in fig._suptitle.get_text()) == (hidden == 50)


def test_plot_kind_units_from_the_cli(tmp_path):
    runs = tmp_path / "runs"
    made = run_cli("run", "circles-optim", "epochs=2", "--json", runs_dir=runs)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "units.png"
    run_id = [p.name for p in runs.iterdir() if not p.name.startswith(".")][0]
    drawn = run_cli("plot", run_id, "--kind", "units", "-o", str(out), runs_dir=runs)
    assert drawn.returncode == 0, drawn.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svm = run_cli("run", "circles-svm", "--json", runs_dir=runs)
    assert svm.returncode == 0
    svm_id = sorted(p.name for p in runs.iterdir() if "svm" in p.name)[0]
    bad = run_cli("plot", svm_id, "--kind", "units", "-o", str(tmp_path / "x.png"), runs_dir=runs)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "saves no hidden-unit maps" in bad.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("stage", ["mnist-mlp"])
def test_no_unit_maps_off_the_plane(tmp_path, stage):
    runner = build(resolve_config(stage, {"dataset": "digits", "epochs": "1"}), str(tmp_path))
    runner.train_epoch(1, lambda b: False)
    assert not [k for k in runner.artifacts(1, last=True) if k.startswith("units")]
    assert torch.is_tensor(runner.model.hidden(runner.x_test[:3]))
