"""The figures of the network's inside (`nnlab plot --kind gradients|activations|filters|features`), drawn from
real runs: a PNG from the real CLI for each kind, the filter tiles against conv1's weights in the checkpoint,
the feature maps against the model's own ReLU outputs, and bad input (one line, exit 2, no file)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.cnn.runner import build
from engine.config import ConfigError
from engine.figures.activations import draw_activations
from engine.figures.filters import draw_features, draw_filters, filter_tiles, tile_at
from engine.figures.gradients import draw_gradients, draw_gradients_runs
from engine.figures.inside_picks import snapshots
from engine.inside.maps import decode_features, filter_array
from engine.stages import resolve_config
from engine.store import load_run, read_artifacts
from engine.train import train
from tests.conftest import run_cli

PNG = b"\x89PNG\r\n\x1a\n"
CNN = {"dataset": "digits", "limit_train": "300", "limit_test": "100", "epochs": "2", "maps_every": "1",
       "device": "cpu"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The runs dir and the ids of: cifar-batchnorm and cifar-dropout on digits (2 epochs, maps at both),
    circles-optim (3 epochs), and circles-optim with inspect=off."""
    root = tmp_path_factory.mktemp("inside")
    folder = root / "runs"
    (root / "data").mkdir()

    def make(stage: str, **overrides: str) -> str:
        result = train(resolve_config(stage, overrides), runs_dir=str(folder), data_dir=str(root / "data"))
        assert result.status == "finished", result.message
        return result.run_id

    ids = {"bn": make("cifar-batchnorm", **CNN), "dropout": make("cifar-dropout", **CNN),
           "mlp": make("circles-optim", epochs="3"), "off": make("circles-optim", epochs="1", inspect="off")}
    return folder, ids, root / "data"


def loaded(runs, key: str):
    folder, ids, _ = runs
    return load_run(folder / ids[key]), read_artifacts(folder / ids[key])


def plot(runs, *args: str):
    return run_cli("plot", *args, runs_dir=runs[0], timeout=180)


def one_line_error(result) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnlab: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("keys,args", [
    (("bn",), ("--kind", "gradients")),
    (("dropout", "bn"), ("--kind", "gradients")),
    (("mlp",), ("--kind", "activations")),
    (("bn",), ("--kind", "activations")),
    (("dropout",), ("--kind", "filters", "--epochs", "1,2")),
    (("bn",), ("--kind", "features", "--image", "3", "--epochs", "2")),
])
def test_every_kind_writes_a_png_from_the_cli(runs, tmp_path, keys, args):
    out = tmp_path / "figure.png"
    result = plot(runs, *[runs[1][k] for k in keys], *args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    data = out.read_bytes()
    assert data.startswith(PNG) and len(data) > 20_000


def test_gradient_panels_name_the_runs_and_the_layers(runs):
    run, arts = loaded(runs, "bn")
    fig = draw_gradients(run, arts)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3 and all(ax.get_yscale() == "log" for ax in axes)
    assert all(len(ax.get_lines()) >= 5 for ax in axes)  # a curve per layer (+ the thresholds on the ratio)
    assert run.record.id in fig.get_suptitle()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:5] == ["conv1", "conv2", "conv3", "fc4", "fc5"]
    assert "flagged" in axes[2].get_title() or "no layer flagged" in axes[2].get_title()
    # the ratio panel's conv1 curve is the artifact's series
    ratio = arts["gradients"]["update_ratio"]["conv1"]
    assert np.allclose(axes[2].get_lines()[0].get_ydata(), ratio)
    other, other_arts = loaded(runs, "dropout")
    both = draw_gradients_runs([run, other], [arts, other_arts])
    shown = [ax for ax in both.axes if ax.get_visible()]
    assert len(shown) == 2 and shown[0].get_ylim() == shown[1].get_ylim()  # one log axis for both runs
    assert run.record.id in shown[0].get_title() and other.record.id in shown[1].get_title()


def test_activation_panels_without_data_are_left_out(runs):
    def titles(key: str) -> list[str]:
        run, arts = loaded(runs, key)
        return [ax.get_title() for ax in draw_activations(run, arts).axes]

    bn, dropout, mlp = titles("bn"), titles("dropout"), titles("mlp")
    assert sum("pre-activation" in t for t in bn) == 4 and sum("batch norm" in t for t in bn) == 4
    assert any("dead ReLUs" in t for t in bn) and any("dropout" in t for t in bn)
    assert sum("pre-activation" in t for t in dropout) == 4 and not any("batch norm" in t for t in dropout)
    assert any("train vs eval" in t for t in dropout)
    assert len(mlp) == 2 and "hidden: pre-activation" in mlp[0] and "saturated tanh" in mlp[1]
    assert not any("dead" in t or "dropout" in t or "batch norm" in t for t in mlp)


def test_filter_tiles_are_conv1_weights_of_the_last_checkpoint(runs):
    folder, ids, _ = runs
    run, arts = loaded(runs, "dropout")
    last = snapshots(arts, "filters")[-1]
    checkpoint = torch.load(folder / ids["dropout"] / "checkpoints" / "last.pt", weights_only=True)
    assert int(checkpoint["epoch"]) == last["epoch"] == 2
    weights = checkpoint["runner"]["model"]["conv1.weight"].double().numpy()
    assert weights.shape == (32, 3, 5, 5)
    tiles = filter_tiles(filter_array(last))
    # the scaling: each filter on its own, symmetric around 0 (0 -> 0.5, its largest |w| -> 0 or 1)
    expected = 0.5 + weights.transpose(0, 2, 3, 1) / (2 * np.abs(weights).reshape(32, -1).max(axis=1))[:, None, None,
                                                                                                         None]
    assert tiles.shape == (32, 5, 5, 3)
    assert np.abs(tiles - expected).max() < 1e-4  # the artifact keeps 5 significant digits
    assert np.allclose(np.abs(tiles - 0.5).reshape(32, -1).max(axis=1), 0.5)
    # and the figure draws exactly those tiles, filter i at row i // 8, column i % 8
    fig = draw_filters(run, arts, epochs=str(last["epoch"]))
    image = np.asarray(fig.axes[0].images[0].get_array())
    for i in range(32):
        assert np.array_equal(tile_at(image, i, 5, 5, 8), tiles[i])


def test_feature_maps_round_trip_within_one_step_of_each_channel_max(runs):
    folder, ids, data_dir = runs
    run, arts = loaded(runs, "bn")
    payload = snapshots(arts, "features")[-1]
    decoded = decode_features(payload)
    assert sorted(decoded) == ["conv1", "conv2", "conv3"]
    # the model of that epoch (the last checkpoint), run here on the same test images, hooked after each ReLU
    checkpoint = torch.load(folder / ids["bn"] / "checkpoints" / "last.pt", weights_only=True)
    assert int(checkpoint["epoch"]) == payload["epoch"]
    runner = build(run.config, str(data_dir))
    runner.model.load_state_dict(checkpoint["runner"]["model"])
    runner.model.eval()
    seen: dict[str, torch.Tensor] = {}
    for n in (1, 2, 3):
        module = getattr(runner.model, f"relu{n}")
        module.register_forward_hook(lambda _m, _i, out, n=n: seen.__setitem__(f"conv{n}", out.detach().clone()))
    index = payload["images"]
    with torch.inference_mode():
        runner.model(runner.data.test_transform(runner.data.test_x[index]))
    for layer in payload["layers"]:
        raw = seen[layer["name"]].float().contiguous().numpy()
        top = raw.reshape(raw.shape[0], raw.shape[1], -1).max(axis=2)  # images x channels
        assert decoded[layer["name"]].shape == raw.shape
        assert np.allclose(np.asarray(layer["max"]), top, rtol=1e-4, atol=1e-6)
        error = np.abs(decoded[layer["name"]] - raw)
        assert (error <= top[:, :, None, None] / 255 + 1e-6).all(), layer["name"]
        assert top.max() > 0  # not all silent
    # the figure's input image is the test image whose maps these are
    samples = {item["index"]: item for item in arts["samples"]["items"]}
    assert np.array_equal(np.asarray(samples[index[3]]["image"]), runner.data.test_x[index[3]].cpu().numpy())
    fig = draw_features(run, arts, epochs=str(payload["epoch"]), image="3")
    assert np.array_equal(fig.axes[0].images[0].get_array(), np.asarray(samples[index[3]]["image"]))
    assert f"#{index[3]}" in fig.get_suptitle() and run.record.id in fig.get_suptitle()


@pytest.mark.parametrize("key,args,words", [
    ("dropout", ("--kind", "filters", "--epochs", "1,3"), ("--epochs: '1,3'", "1, 2")),
    ("bn", ("--kind", "features", "--epochs", "two"), ("--epochs: 'two'",)),
    ("bn", ("--kind", "features", "--image", "8"), ("--image: '8'", "0 to 7")),
    ("bn", ("--kind", "features", "--image", "-1"), ("--image: '-1'",)),
    ("bn", ("--kind", "gradients", "--epochs", "1"), ("--epochs: '1' with --kind gradients",)),
])
def test_bad_epochs_and_image_exit_2_with_one_line(runs, tmp_path, key, args, words):
    out = tmp_path / "never.png"
    line = one_line_error(plot(runs, runs[1][key], *args, "-o", str(out)))
    assert all(w in line for w in words), line
    assert not out.exists()


def test_runs_without_the_artifacts_exit_2_with_one_line(runs, tmp_path):
    _, ids, _ = runs
    out = tmp_path / "never.png"
    line = one_line_error(plot(runs, ids["off"], "--kind", "gradients", "-o", str(out)))
    assert "inspect=off" in line and ids["off"] in line
    line = one_line_error(plot(runs, ids["mlp"], "--kind", "filters", "-o", str(out)))
    assert "only the CNN stages" in line
    assert not out.exists()
    run, arts = loaded(runs, "off")
    for draw, why in ((draw_activations, "inspect=off"), (draw_features, "only the CNN stages")):
        with pytest.raises(ConfigError, match=why) as caught:
            draw(run, arts)
        assert "\n" not in str(caught.value)


def test_the_default_epochs_are_the_first_and_the_last(runs):
    run, arts = loaded(runs, "dropout")
    fig = draw_filters(run, arts)
    assert [ax.get_title().split(":")[0] for ax in fig.axes if ax.get_visible()] == ["epoch 1", "epoch 2"]
    fig = draw_features(run, arts)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == ["epoch 1", "epoch 2"]


def test_an_old_run_without_the_series_is_refused(runs):
    """A run from before engine.inside: its artifacts folder has no gradients nor activations."""
    run, arts = loaded(runs, "mlp")
    old = {k: v for k, v in arts.items() if k not in ("gradients", "activations")}
    with pytest.raises(ConfigError, match="before they were recorded"):
        draw_gradients(run, old)
