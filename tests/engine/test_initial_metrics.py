"""The loss and accuracy before the first update (2-cd Q17): recorded in artifacts/initial.json, shown as
epoch 0 by `runs show`, `runs compare`, the figures and the report table; metrics.csv keeps one row per
epoch, as every reader of it expects."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from engine.data.circles import make_circles
from engine.mlp.models import init_weights
from engine.stages import resolve_config
from engine.store import load_run, read_initial
from engine.train import train
from tests.conftest import run_cli

LEVELS = ("circles-manual", "circles-autograd", "circles-nn", "circles-optim")


def _run(tmp_path, stage, **overrides):
    result = train(resolve_config(stage, {k: str(v) for k, v in overrides.items()}), runs_dir=str(tmp_path / "runs"),
                   data_dir=str(tmp_path / "data"))
    assert result.status == "finished", result.message
    return tmp_path / "runs" / result.run_id


def test_circles_initial_values_equal_the_initial_model_computed_here(tmp_path):
    """The four levels record the same values, equal to numpy's forward pass with the lab's init."""
    recorded = [read_initial(_run(tmp_path, stage, epochs=2)) for stage in LEVELS]
    config = resolve_config("circles-manual")
    w = {k: v.double().numpy() for k, v in init_weights(2, config["hidden"], 2, config["init_std"],
                                                        config["seed"]).items()}
    data = make_circles()

    def scores(x, y):
        logits = np.tanh(x @ w["W_h"].T + w["b_h"]) @ w["W_y"].T + w["b_y"]
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -log_p[np.arange(len(y)), y].mean(), (log_p.argmax(axis=1) == y).mean()

    train_loss, train_acc = scores(data.x_train, data.y_train)
    test_loss, test_acc = scores(data.x_test, data.y_test)
    for values in recorded:
        assert values is not None
        assert values["train_loss"] == pytest.approx(train_loss, abs=1e-5)
        assert values["test_loss"] == pytest.approx(test_loss, abs=1e-5)
        assert (values["train_acc"], values["test_acc"]) == (pytest.approx(train_acc), pytest.approx(test_acc))
    assert abs(test_loss - math.log(2)) < 0.05  # two classes, small weights: about ln 2


def test_cnn_starts_near_ln_10_and_every_reader_shows_epoch_0(tmp_path):
    run_dir = _run(tmp_path, "cifar-base", dataset="digits", epochs=2, limit_train=256, limit_test=128,
                   batch_size=64, device="cpu")
    initial = read_initial(run_dir)
    assert initial is not None and abs(initial["test_loss"] - math.log(10)) < 0.1
    with open(run_dir / "metrics.csv") as fh:  # unchanged: one row per epoch, from epoch 1
        assert [row["epoch"] for row in csv.DictReader(fh)] == ["1", "2"]
    assert load_run(run_dir).history[0]["epoch"] == 1
    runs = tmp_path / "runs"
    shown = run_cli("runs", "show", run_dir.name, runs_dir=runs)
    before = next(line for line in shown.stdout.splitlines() if line.startswith("before"))
    assert before.split()[1:6] == ["0", f"{initial['train_loss']:.4f}", f"{initial['train_acc']:.4f}",
                                   f"{initial['test_loss']:.4f}", f"{initial['test_acc']:.4f}"]
    compared = json.loads(run_cli("runs", "compare", run_dir.name, run_dir.name, "--json", runs_dir=runs).stdout)
    assert compared["runs"][0]["initial"] == initial
    from engine.figures.curves import draw_curves

    fig = draw_curves([load_run(run_dir)], metric="test_loss")
    line = next(line for line in fig.axes[0].get_lines() if len(line.get_xdata()) == 3)
    assert list(line.get_xdata()) == [0, 1, 2] and line.get_ydata()[0] == pytest.approx(initial["test_loss"])


def test_a_resumed_run_keeps_the_values_of_the_run_it_continues(tmp_path):
    from engine.train import resume

    source = _run(tmp_path, "circles-optim", epochs=2)
    result = resume(source, {"epochs": "4"}, runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    assert result.status == "finished"
    assert read_initial(tmp_path / "runs" / result.run_id) == read_initial(source)
