"""The CNN stage runner on scikit-learn's digits (offline, CPU)."""
import io
import json

import pytest
import torch

from engine.cnn.runner import build, build_from_data
from engine.config import ConfigError
from engine.data import Dataset
from engine.data.dataset import numbered
from engine.runner import StopRequested
from engine.stages import resolve_config


def runner(stage, **overrides):
    config = resolve_config(stage, {"dataset": "digits", "device": "cpu", **overrides})
    return build(config, "unused-data-dir")


def fit(r, epochs, start=1):
    rows = []
    for epoch in range(start, start + epochs):
        row = r.train_epoch(epoch, lambda i: False)
        row.update(r.evaluate())
        row["lr"] = r.current_lr()
        r.end_epoch(epoch)
        rows.append(row)
    return rows


def test_batchnorm_stage_learns_digits_in_five_epochs():
    r = runner("cifar-batchnorm", epochs=5)
    assert (r.n_train, r.n_test, r.batches_per_epoch) == (1348, 449, 11)
    rows = fit(r, 5)
    assert max(row["test_acc"] for row in rows) >= 0.95, rows


def test_base_stage_overfits_a_small_training_set():
    r = runner("cifar-base", epochs=30, limit_train=100, batch_size=10, limit_test=200)
    rows = fit(r, 30)
    last, best_loss = rows[-1], min(row["test_loss"] for row in rows)
    assert last["train_acc"] == 1.0 and last["train_loss"] < 0.01
    assert last["test_acc"] < last["train_acc"] - 0.05  # train pulls away from test
    assert last["test_loss"] > 1.1 * best_loss  # test loss rises again after its minimum
    assert last["test_loss"] > 20 * last["train_loss"]


def test_resume_after_two_epochs_gives_the_uninterrupted_metrics():
    kw = dict(epochs=4, limit_train=160, limit_test=100, batch_size=32)
    straight = fit(runner("cifar-batchnorm", **kw), 4)

    first = runner("cifar-batchnorm", **kw)
    fit(first, 2)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    resumed = runner("cifar-batchnorm", **kw)
    resumed.load_state_dict(state)
    assert fit(resumed, 2, start=3) == straight[2:]


@pytest.mark.parametrize("optimizer,scheduler,lr", [("momentum", "step", 0.05), ("adam", "cosine", 0.001),
                                                     ("rmsprop", "step", 0.001)])
def test_resume_restores_optimizer_and_scheduler_state(optimizer, scheduler, lr):
    """Momentum buffers, Adam/RMSprop moments and the scheduler's epoch count all shape the epochs after a
    resume: dropping any of them (or loading only param_groups) changes the metrics after the resume point.
    step_size=3 with a resume after epoch 2 puts the step decay after the resume point."""
    kw = dict(epochs=5, limit_train=96, limit_test=60, batch_size=32, optimizer=optimizer, lr=lr,
              scheduler=scheduler, step_size=3, gamma=0.5)
    straight = fit(runner("cifar-base", **kw), 5)
    assert len({row["lr"] for row in straight}) > 1  # the schedule changes the lr after the resume point

    first = runner("cifar-base", **kw)
    fit(first, 2)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert state["optimizer"]["state"], "the optimizer keeps per-parameter state"
    resumed = runner("cifar-base", **kw)
    resumed.load_state_dict(state)
    assert fit(resumed, 3, start=3) == straight[2:]


def test_artifacts():
    r = runner("cifar-norm", epochs=1, limit_train=64, batch_size=32)
    r.train_epoch(1, lambda i: False)
    r.evaluate()
    arts = r.artifacts(1, last=False)
    json.dumps(arts)
    conf = arts["confusion"]
    assert conf["kind"] == "confusion" and conf["epoch"] == 1 and conf["labels"] == [str(i) for i in range(10)]
    assert sum(map(sum, conf["matrix"])) == 449 and len(conf["matrix"]) == 10
    samples = arts["samples"]
    assert samples["kind"] == "samples" and len(samples["items"]) == 16
    item = samples["items"][3]
    assert len(item["image"]) == 32 and len(item["image"][0]) == 32 and len(item["image"][0][0]) == 3
    assert item["true"] == int(r.data.test_y[item["index"]]) and 0 <= item["pred"] < 10
    assert arts["summary"]["kind"] == "summary" and arts["summary"]["total_params"] == 1_191_170
    assert "summary" not in r.artifacts(2, last=True)
    # the confusion matrix agrees with the accuracy evaluate() reports
    acc = r.evaluate()["test_acc"]
    assert acc == pytest.approx(sum(conf["matrix"][i][i] for i in range(10)) / 449)


def test_stop_request_abandons_the_epoch():
    r = runner("cifar-base", limit_train=64, batch_size=16)
    seen = []
    with pytest.raises(StopRequested):
        r.train_epoch(1, lambda i: seen.append(i) or i == 2)
    assert seen == [1, 2]


OPTIMIZER_KINDS = {  # name -> (torch class, extra settings, per-parameter state keys after a step)
    "sgd": (torch.optim.SGD, {"momentum": 0, "nesterov": False}, set()),
    "momentum": (torch.optim.SGD, {"momentum": 0.9, "nesterov": False}, {"momentum_buffer"}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}, {"momentum_buffer"}),
    "rmsprop": (torch.optim.RMSprop, {}, {"step", "square_avg"}),
    "adam": (torch.optim.Adam, {}, {"step", "exp_avg", "exp_avg_sq"}),
}


@pytest.mark.parametrize("optimizer", list(OPTIMIZER_KINDS))
def test_optimizers_train(optimizer):
    lr = 0.001 if optimizer in ("rmsprop", "adam") else 0.05
    r = runner("cifar-batchnorm", optimizer=optimizer, lr=lr, limit_train=64, limit_test=50, batch_size=32)
    row = r.train_epoch(1, lambda i: False)
    assert torch.isfinite(torch.tensor(row["train_loss"]))
    kind, settings, state_keys = OPTIMIZER_KINDS[optimizer]
    assert type(r.optimizer) is kind, r.optimizer
    group = r.optimizer.param_groups[0]
    assert group["lr"] == lr and {k: group[k] for k in settings} == settings
    states = [r.optimizer.state[p] for p in r.model.parameters()]
    assert {k for s in states for k, v in s.items() if v is not None} == state_keys


@pytest.mark.parametrize("scheduler,lrs", [
    ("none", [0.1, 0.1, 0.1]),
    ("exponential", [0.1, 0.05, 0.025]),
    ("step", [0.1, 0.1, 0.05]),
    ("cosine", [0.1, 0.05 * (1 + 2 ** -0.5), 0.05]),  # T_max = epochs = 4
])
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
def test_schedulers_step_in_end_epoch(scheduler, lrs):
    r = runner("cifar-base", scheduler=scheduler, gamma=0.5, step_size=2, epochs=4, limit_train=16, batch_size=16)
    seen = []
    for epoch in (1, 2, 3):
        seen.append(r.current_lr())
        r.end_epoch(epoch)
    assert seen == pytest.approx(lrs)


@pytest.mark.parametrize("augment,normalize", [("jitter+rotate+noise", "standard"),
                                               ("crop-flip+jitter+rotate+noise", "zca"),
                                               ("crop-flip", "none")])
def test_augmentations_and_normalizations_run(augment, normalize):
    r = runner("cifar-dropout", augment=augment, normalize=normalize, limit_train=64, limit_test=40, batch_size=32)
    row = r.train_epoch(1, lambda i: False)
    row.update(r.evaluate())
    assert all(torch.isfinite(torch.tensor(v)) for v in row.values())


@pytest.mark.parametrize("key,value", [("dropout", "1.0"), ("optimizer", "foo"), ("scheduler", "foo"),
                                       ("augment", "foo"), ("gamma", "0")])
def test_bad_values_are_config_errors(key, value):
    with pytest.raises(ConfigError) as err:
        resolve_config("cifar-batchnorm", {key: value})
    assert key in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        runner("cifar-base", device="cuda")
    assert "cuda" in str(err.value) and "cpu" in str(err.value)


def test_batch_larger_than_training_set_is_a_config_error():
    with pytest.raises(ConfigError) as err:
        runner("cifar-base", limit_train=100, batch_size=128)
    assert "batch_size" in str(err.value)


def test_build_from_data_hook():
    x = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8)
    y = torch.randint(0, 10, (40,))
    config = resolve_config("cifar-augment", {"batch_size": 20, "device": "cpu"})
    r = build_from_data(config, Dataset("random", x, y, x[:10], y[:10], numbered(10)))
    assert r.batches_per_epoch == 2 and r.device == "cpu"
    assert 0 <= r.train_epoch(1, lambda i: False)["train_acc"] <= 1
