"""The inside of the network as the engine records it (engine.inside): gradient flow, activations, conv1's
filters and feature maps, checked against independent computations; the config key that turns it off;
recording that leaves the training unchanged; series that go on across a resume."""
from __future__ import annotations

import copy
import csv
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.cnn.runner import build as build_cnn
from engine.inside.limits import flag
from engine.inside.maps import decode_features, filter_array
from engine.mlp.runner import build as build_mlp
from engine.stages import resolve_config
from engine.train import resume, train

LEVELS = ("circles-manual", "circles-autograd", "circles-nn", "circles-optim")
SMALL_CNN = dict(dataset="digits", limit_train=96, limit_test=64, batch_size=96, device="cpu")


def _config(stage, **overrides):
    return resolve_config(stage, {k: str(v) for k, v in overrides.items()})


def _run(tmp_path, stage, **overrides):
    result = train(_config(stage, **overrides), runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    assert result.status == "finished", result.message
    return tmp_path / "runs" / result.run_id


def _artifact(run_dir, stem):
    return json.loads((run_dir / "artifacts" / f"{stem}.json").read_text())


def _layer_norms(model, names):
    return {name: math.sqrt(sum(float(p.grad.double().norm()) ** 2 for p in getattr(model, name).parameters()))
            for name in names}


def test_cnn_gradient_norms_and_update_ratio_equal_torchs_own_for_one_batch(tmp_path):
    """One batch per epoch (batch_size = the training set): the recorded step is that batch. Its gradient,
    computed here with torch on a copy of the initial model, gives the same norms; plain SGD's update is
    lr * gradient, so the ratio is lr * ||g|| / ||w||."""
    config = _config("cifar-base", **SMALL_CNN)
    runner = build_cnn(config, str(tmp_path))
    initial = copy.deepcopy(runner.model)
    weights = {name: math.sqrt(sum(float(p.detach().double().norm()) ** 2 for p in getattr(initial, name).parameters()))
               for name in runner.series.layers}
    x = runner.data.test_transform(runner.data.train_x)  # augment none, normalize none: the training's inputs
    F.cross_entropy(initial(x), runner.data.train_y).backward()
    expected = _layer_norms(initial, runner.series.layers)

    runner.train_epoch(1, lambda batch: False)
    runner.evaluate()
    recorded = runner.artifacts(1, last=True)["gradients"]
    assert recorded["layers"] == ["conv1", "conv2", "conv3", "fc4", "fc5"] and recorded["epochs"] == [1]
    for name in recorded["layers"]:
        assert recorded["grad_norm"][name][0] == pytest.approx(expected[name], rel=1e-3)
        assert recorded["update_ratio"][name][0] == pytest.approx(config["lr"] * expected[name] / weights[name],
                                                                  rel=1e-3)


def test_the_four_mlp_levels_record_the_same_gradient_flow_as_autograd(tmp_path):
    """circles-manual computes its gradients by hand; all four levels record the same values (at epochs 1,
    10 and 12: the first, every grid_every-th and the last), and those of one full batch equal autograd's on
    the initial weights."""
    payloads = [_artifact(_run(tmp_path, stage, epochs=12), "gradients") for stage in LEVELS]
    assert payloads[0]["epochs"] == [1, 10, 12]
    assert _artifact(_run(tmp_path, "circles-nn", epochs=12), "activations")["epochs"] == [0, 1, 10, 12]
    for other in payloads[1:]:
        for measure in ("grad_norm", "weight_norm", "update_ratio"):
            for layer in ("hidden", "output"):
                assert other[measure][layer] == pytest.approx(payloads[0][measure][layer], rel=1e-4)

    config = _config("circles-manual", batch_size=200, reduction="mean")
    runner = build_mlp(config, str(tmp_path))
    assert runner.n_train == 200
    w_h, b_h = (t.clone().requires_grad_(True) for t in runner.model.layer_params()["hidden"])
    w_y, b_y = (t.clone().requires_grad_(True) for t in runner.model.layer_params()["output"])
    logits = torch.tanh(runner.x_train @ w_h.T + b_h) @ w_y.T + b_y
    F.cross_entropy(logits, runner.y_train).backward()
    runner.train_epoch(1, lambda batch: False)
    runner.evaluate()
    recorded = runner.artifacts(1, last=True)["gradients"]
    assert recorded["grad_norm"]["hidden"][0] == pytest.approx(float(torch.cat([w_h.grad.flatten(), b_h.grad]).norm()),
                                                               rel=1e-4)
    assert recorded["grad_norm"]["output"][0] == pytest.approx(float(torch.cat([w_y.grad.flatten(), b_y.grad]).norm()),
                                                               rel=1e-4)


def test_cnn_activations_equal_hooks_on_the_probe_images(tmp_path):
    """Dead ReLUs, pre-activation quantiles, batch norm values and dropout's train/eval accuracy, against
    forward hooks on the same model and the same probe images."""
    config = _config("cifar-batchnorm", **SMALL_CNN)
    runner = build_cnn(config, str(tmp_path))
    runner.train_epoch(1, lambda batch: False)
    runner.evaluate()
    recorded = runner.artifacts(1, last=True)["activations"]
    assert recorded["layers"] == ["conv1", "conv2", "conv3", "fc4"] and recorded["epochs"] == [1]

    seen = {}
    feeding = {"relu1": "conv1", "relu2": "conv2", "relu3": "conv3", "relu4": "fc4"}
    hooks = [getattr(runner.model, relu).register_forward_pre_hook(
        lambda module, args, name=layer: seen.__setitem__(name, args[0].detach().clone()))
        for relu, layer in feeding.items()]
    runner.model.eval()
    with torch.no_grad():
        logits = runner.model(runner.data.test_transform(runner.data.test_x[:64]))
    for hook in hooks:
        hook.remove()
    for layer, pre in seen.items():
        units = pre.transpose(0, 1).reshape(pre.shape[1], -1)
        assert recorded["dead"][layer][-1] == pytest.approx(float((units.max(dim=1).values <= 0).float().mean()))
        median = float(pre.flatten()[:: max(1, math.ceil(pre.numel() / 65536))].median())
        assert recorded["pre"][layer][-1][3] == pytest.approx(median, abs=1e-3)
    for i in (1, 2, 3):
        bn = getattr(runner.model, f"bn{i}")
        assert recorded["bn"][f"bn{i}"]["running_var"][-1] == pytest.approx(bn.running_var.tolist(), rel=1e-3)
        assert recorded["bn"][f"bn{i}"]["weight"][-1] == pytest.approx(bn.weight.tolist(), rel=1e-3, abs=1e-5)
    eval_acc = float((logits.argmax(1) == runner.data.test_y[:64]).float().mean())
    assert recorded["dropout"]["eval_acc"][-1] == pytest.approx(eval_acc, abs=1e-4)
    assert 0 <= recorded["dropout"]["train_acc"][-1] <= 1


def test_filters_and_feature_maps_are_the_models_own(tmp_path):
    run_dir = _run(tmp_path, "cifar-base", epochs=2, maps_every=1, **SMALL_CNN)
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    weight = checkpoint["runner"]["model"]["conv1.weight"].numpy()
    filters = _artifact(run_dir, "filters-e0002")
    assert np.allclose(filter_array(filters), weight, rtol=1e-4, atol=1e-7)

    features = _artifact(run_dir, "features-e0002")
    maps = decode_features(features)
    assert [layer["name"] for layer in features["layers"]] == ["conv1", "conv2", "conv3"]
    runner = build_cnn(_config("cifar-base", epochs=2, maps_every=1, **SMALL_CNN), str(tmp_path))
    runner.model.load_state_dict(checkpoint["runner"]["model"])
    runner.model.eval()
    with torch.no_grad():
        x = runner.data.test_transform(runner.data.test_x[features["images"]])
        conv1 = torch.relu(runner.model.conv1(x)).numpy()
    top = conv1.reshape(conv1.shape[0], conv1.shape[1], -1).max(axis=2)
    assert np.all(np.abs(maps["conv1"] - conv1) <= top[:, :, None, None] / 255 * 0.51 + 1e-6)


def test_inspect_off_records_nothing_and_recording_changes_no_number_of_the_training(tmp_path):
    full = _run(tmp_path, "cifar-dropout", epochs=2, **SMALL_CNN)
    off = _run(tmp_path, "cifar-dropout", epochs=2, inspect="off", **SMALL_CNN)
    light = _run(tmp_path, "circles-optim", epochs=2, inspect="light")

    def rows(run_dir):
        with open(run_dir / "metrics.csv") as fh:
            return [{k: v for k, v in row.items() if k != "wall_time"} for row in csv.DictReader(fh)]

    assert rows(full) == rows(off)  # the probe's dropout masks come from a forked RNG
    names = {p.stem for p in (off / "artifacts").iterdir()}
    assert not names & {"gradients", "activations"} and not any(n.startswith(("filters", "features")) for n in names)
    light_names = {p.stem for p in (light / "artifacts").iterdir()}
    assert {"gradients", "activations", "boundary-e0002"} <= light_names
    assert not any(n.startswith("units-") for n in light_names)
    assert _artifact(full, "activations")["epochs"] == [0, 1, 2]  # epoch 0: before the first update


def test_a_resumed_run_goes_on_with_the_series_of_the_run_it_continues(tmp_path):
    """grid_every=1: every epoch recorded (by default the MLP records the first, every 10th and the last, and
    a run's last epoch depends on where it stopped)."""
    source = _run(tmp_path, "circles-optim", epochs=3, grid_every=1)
    result = resume(source, {"epochs": "5"}, runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    resumed = tmp_path / "runs" / result.run_id
    straight = _run(tmp_path, "circles-optim", epochs=5, grid_every=1)
    assert _artifact(straight, "gradients")["epochs"] == [1, 2, 3, 4, 5]
    for stem in ("gradients", "activations"):
        assert _artifact(resumed, stem)["epochs"] == _artifact(straight, stem)["epochs"]
    assert _artifact(resumed, "gradients")["update_ratio"] == _artifact(straight, "gradients")["update_ratio"]


def test_flags_read_the_recent_epochs():
    assert flag([1e-3, 1e-3, 1e-3]) == ""
    assert flag([1e-3, 1e-8, 1e-8, 1e-8]) == "vanishing"
    assert flag([1e-3, 1.0, 2.0, 1e-3]) == "exploding"
    assert flag([1e-3, float("nan")]) == "exploding"
    assert flag([]) == ""
