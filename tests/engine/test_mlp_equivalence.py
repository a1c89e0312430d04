"""The four MLP implementations are one computation; they learn circles and digits;
resume is exact; artifacts have the promised shapes."""
import json
from pathlib import Path

import pytest
import torch

from engine.config import ConfigError
from engine.mlp.models import AutogradMLP, ManualMLP, TorchNNMLP, init_weights
from engine.mlp.runner import build
from engine.runner import StopRequested
from engine.stages import resolve_config

COURSE_CIRCLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "circles.mat"
CIRCLE_STAGES = ("circles-manual", "circles-autograd", "circles-nn", "circles-optim")


pytestmark = pytest.mark.usefixtures("one_thread")


def train(runner, first, last, total=None):
    """Drive a runner like the engine loop does; -> (metrics rows, artifacts by epoch)."""
    rows, arts = [], {}
    for epoch in range(first, last + 1):
        row = {"epoch": epoch, **runner.train_epoch(epoch, lambda b: False), **runner.evaluate(),
               "lr": runner.current_lr()}
        runner.end_epoch(epoch)
        arts[epoch] = runner.artifacts(epoch, last=epoch == (total or last))
        rows.append(row)
    return rows, arts


def run(stage, epochs, **overrides):
    config = resolve_config(stage, {"epochs": epochs, **overrides})
    return train(build(config, "unused-data-dir"), 1, epochs)[0]


# (a) same seed + same reduction -> same per-epoch losses, all four ways
@pytest.mark.parametrize("reduction,lr", [("sum", 0.03), ("mean", 0.5)])
def test_four_implementations_agree(reduction, lr):
    runs = {s: run(s, 8, reduction=reduction, lr=lr, seed=7) for s in CIRCLE_STAGES}
    ref = runs["circles-manual"]
    assert ref[-1]["train_loss"] < ref[0]["train_loss"] - 0.03  # it learns: the comparison is not vacuous
    for stage, rows in runs.items():
        for a, b in zip(rows, ref):
            for key in ("train_loss", "test_loss", "train_acc", "test_acc"):
                assert a[key] == pytest.approx(b[key], abs=1e-5), (stage, a["epoch"], key)


def test_seed_and_reduction_matter():
    base = run("circles-optim", 2, seed=1)
    assert run("circles-optim", 2, seed=2)[-1]["train_loss"] != pytest.approx(base[-1]["train_loss"], abs=1e-4)
    assert run("circles-optim", 2, seed=1, reduction="mean")[-1]["train_loss"] != pytest.approx(
        base[-1]["train_loss"], abs=1e-4)


def test_same_initial_weights_everywhere():
    w = init_weights(2, 10, 2, 0.3, seed=5)
    assert w["W_h"].shape == (10, 2) and w["W_y"].shape == (2, 10)
    assert torch.equal(w["b_h"], torch.zeros(10)) and torch.equal(w["b_y"], torch.zeros(2))
    assert 0.2 < float(torch.cat([w["W_h"].flatten(), w["W_y"].flatten()]).std()) < 0.4
    nn_model = TorchNNMLP(w, 0.1, "sum", "cpu")
    assert torch.equal(nn_model.net[0].weight, w["W_h"]) and torch.equal(nn_model.net[2].weight, w["W_y"])
    assert torch.equal(init_weights(2, 10, 2, 0.3, seed=5)["W_y"], w["W_y"])


# (b) the manual backward equals autograd in float64
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_manual_gradients_equal_autograd(reduction):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(17, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (17,), generator=gen)
    w = init_weights(5, 8, 3, 0.7, seed=11, dtype=torch.float64)
    w["b_h"] = torch.randn(8, generator=gen, dtype=torch.float64)
    w["b_y"] = torch.randn(3, generator=gen, dtype=torch.float64)
    grads, loss_sum, _ = ManualMLP(w, 0.1, reduction, "cpu").gradients(x, y)

    params = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    logits = torch.tanh(x @ params["W_h"].T + params["b_h"]) @ params["W_y"].T + params["b_y"]
    loss = torch.nn.functional.cross_entropy(logits, y, reduction=reduction)
    auto = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    for k in params:
        assert torch.allclose(grads[k], auto[k], rtol=0, atol=1e-8), k
    expected_sum = loss.detach() * (17 if reduction == "mean" else 1)
    assert float(loss_sum) == pytest.approx(float(expected_sum), abs=1e-10)


def test_manual_and_autograd_steps_match_in_float64():
    x = torch.randn(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = (x.norm(dim=1) < 1).long()
    w = init_weights(2, 10, 2, 0.3, seed=0, dtype=torch.float64)
    manual, auto = ManualMLP(w, 0.05, "sum", "cpu"), AutogradMLP(w, 0.05, "sum", "cpu")
    for _ in range(5):
        la, _ = manual.train_step(x, y)
        lb, _ = auto.train_step(x, y)
        assert float(la) == pytest.approx(float(lb), abs=1e-12)
    for k in ManualMLP.NAMES:
        assert torch.allclose(manual.p[k], auto.p[k].detach(), atol=1e-12)


# (c) the reference accuracies
def test_circles_optim_defaults_reach_reference():
    config = resolve_config("circles-optim")
    assert (config["epochs"], config["lr"], config["reduction"], config["batch_size"]) == (150, 0.03, "sum", 10)
    rows, _ = train(build(config, "unused"), 1, 150)
    assert rows[-1]["test_acc"] >= 0.92
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] / 3


def test_circles_manual_sum_reaches_reference():
    rows = run("circles-manual", 150, reduction="sum", lr=0.03)
    assert rows[-1]["test_acc"] >= 0.92


def test_mnist_mlp_on_digits():
    # the stage defaults (lr 0.03, batch 100, reduction=mean); a summed loss at batch 100 diverges
    rows = run("mnist-mlp", 50, dataset="digits")
    assert rows[-1]["test_acc"] >= 0.93
    assert rows[-1]["lr"] == 0.03


# (d) the course file
def test_course_circles_mat():
    if not COURSE_CIRCLES.is_file():
        pytest.skip(f"no course file at {COURSE_CIRCLES}")
    rows = run("circles-optim", 150, dataset=str(COURSE_CIRCLES))
    assert rows[-1]["test_acc"] >= 0.92


# (g) resume is exact
@pytest.mark.parametrize("stage,overrides", [
    ("circles-manual", {}),
    ("circles-autograd", {"reduction": "mean", "lr": 0.2}),
    ("circles-optim", {"optimizer": "momentum", "momentum": 0.9, "lr": 0.01}),
    ("mnist-mlp", {"dataset": "digits", "optimizer": "adam", "lr": 0.01, "reduction": "mean"}),
])
def test_resume_is_exact(tmp_path, stage, overrides):
    config = resolve_config(stage, {"epochs": 5, "seed": 4, **overrides})
    straight, straight_art = train(build(config, "unused"), 1, 5)

    first = build(config, "unused")
    part1, _ = train(first, 1, 3, total=5)
    torch.save(first.state_dict(), tmp_path / "last.pt")
    torch.manual_seed(12345)  # disturb the global RNG: the checkpoint must restore it
    second = build(config, "unused")
    second.load_state_dict(torch.load(tmp_path / "last.pt", weights_only=True))
    part2, part2_art = train(second, 4, 5)
    assert part1 + part2 == straight
    assert part2_art[5] == straight_art[5]


# (h) artifacts
def test_circles_artifacts(tmp_path):
    config = resolve_config("circles-nn", {"epochs": 25, "grid_every": 10, "lr": 0.1, "reduction": "mean"})
    _, arts = train(build(config, "unused"), 1, 25)
    names = {e: set(a) for e, a in arts.items() if a}
    series = {"gradients", "activations"}  # rewritten with the maps (engine.inside)
    assert names == {1: {"points", "boundary-e0001", "units-e0001", *series},
                     10: {"boundary-e0010", "units-e0010", *series}, 20: {"boundary-e0020", "units-e0020", *series},
                     25: {"boundary-e0025", "units-e0025", *series}}
    points = arts[1]["points"]
    assert points["kind"] == "points" and len(points["train"]) == 200 and len(points["test"]) == 200
    assert all(len(p) == 3 and p[2] in (0, 1) for p in points["train"])
    assert sum(p[2] for p in points["test"]) == 100
    grid = arts[25]["boundary-e0025"]
    assert {k: grid[k] for k in ("kind", "epoch", "lo", "hi", "n")} == \
        {"kind": "boundary", "epoch": 25, "lo": -2.0, "hi": 2.0, "n": 40}
    assert len(grid["prob"]) == 40 and all(len(r) == 40 for r in grid["prob"])
    flat = [p for r in grid["prob"] for p in r]
    assert all(0.0 <= p <= 1.0 and round(p, 4) == p for p in flat)
    # row = y index, col = x index: (0, 0) is at row 20, col 20; the centre is class 1, a corner class 0
    assert grid["prob"][20][20] > 0.5 and grid["prob"][0][0] < 0.5 and grid["prob"][39][0] < 0.5
    json.dumps(arts)  # JSON-able


def test_boundary_grid_orientation():
    """The grid rows are y: compare with the model's own prediction at known points."""
    config = resolve_config("circles-optim", {"epochs": 3})
    runner = build(config, "unused")
    train(runner, 1, 3)
    grid = runner.artifacts(3, last=True)["boundary-e0003"]["prob"]
    for x, y in [(-2.0, 1.5), (1.0, -1.7), (0.3, 0.6)]:
        with torch.inference_mode():
            p = torch.softmax(runner.model.logits(torch.tensor([[x, y]])), 1)[0, 1].item()
        row, col = round((y + 2) * 10), round((x + 2) * 10)
        assert grid[row][col] == pytest.approx(p, abs=1e-4)


def test_digits_artifacts():
    config = resolve_config("mnist-mlp", {"epochs": 3, "dataset": "digits", "reduction": "mean"})
    runner = build(config, "unused")
    rows, arts = train(runner, 1, 3)
    for epoch in (1, 3):
        conf = arts[epoch]["confusion"]
        assert conf["labels"] == [str(i) for i in range(10)] and conf["epoch"] == epoch
        matrix = conf["matrix"]
        assert len(matrix) == 10 and all(len(r) == 10 for r in matrix)
        assert sum(map(sum, matrix)) == runner.n_test == 450
        assert sum(matrix[i][i] for i in range(10)) / 450 == pytest.approx(rows[epoch - 1]["test_acc"])
        assert [sum(r) for r in matrix] == [int((runner.y_test == c).sum()) for c in range(10)]
    s1, s3 = arts[1]["samples"], arts[3]["samples"]
    assert s1["kind"] == "samples" and len(s1["items"]) == 16
    assert [i["index"] for i in s1["items"]] == [i["index"] for i in s3["items"]]
    item = s3["items"][0]
    assert len(item["image"]) == 8 and len(item["image"][0]) == 8
    assert all(0 <= v <= 255 and isinstance(v, int) for r in item["image"] for v in r)
    assert item["true"] == int(runner.y_test[item["index"]])
    json.dumps(arts)


# runner contract details
def test_stop_requested_between_batches():
    runner = build(resolve_config("circles-optim"), "unused")
    seen = []
    with pytest.raises(StopRequested):
        runner.train_epoch(1, lambda b: seen.append(b) or b == 3)
    assert seen == [1, 2, 3] and runner.batches_per_epoch == 20


def test_partial_last_batch():
    runner = build(resolve_config("circles-manual", {"batch_size": 64}), "unused")
    assert runner.batches_per_epoch == 4
    seen = []
    runner.train_epoch(1, lambda b: seen.append(b) or False)
    assert seen == [1, 2, 3, 4]


def test_batch_size_larger_than_training_set():
    with pytest.raises(ConfigError) as err:
        build(resolve_config("circles-optim", {"batch_size": 500}), "unused")
    assert str(err.value) == ("invalid value for batch_size: '500' (allowed: an integer >= 1 and <= 200, "
                              "the training-set size)")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable_is_a_config_error():
    with pytest.raises(ConfigError, match="^invalid value for device: 'cuda'"):
        build(resolve_config("circles-optim", {"device": "cuda"}), "unused")
    assert build(resolve_config("circles-optim", {"device": "auto"}), "unused").device == "cpu"


def test_nesterov_needs_momentum():
    with pytest.raises(ConfigError, match="momentum"):
        build(resolve_config("circles-optim", {"optimizer": "nesterov", "momentum": 0}), "unused")


@pytest.mark.parametrize("optimizer,lr", [("momentum", 0.05), ("nesterov", 0.05), ("rmsprop", 0.01),
                                          ("adam", 0.02)])
def test_other_optimizers_learn(optimizer, lr):
    rows = run("circles-optim", 30, optimizer=optimizer, lr=lr, reduction="mean", momentum=0.9)
    assert rows[-1]["test_acc"] >= 0.85, rows[-1]
