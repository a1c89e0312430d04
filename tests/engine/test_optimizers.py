"""engine.optim: each optimizer and scheduler name gives that torch object with the config's settings."""
import math

import pytest
import torch
from torch.optim import lr_scheduler

from engine.config import ConfigError
from engine.optim import make_optimizer, make_scheduler


def params():
    return [torch.nn.Parameter(torch.ones(3))]


@pytest.mark.parametrize("name,kind,settings", [
    ("sgd", torch.optim.SGD, {"momentum": 0, "nesterov": False}),
    ("momentum", torch.optim.SGD, {"momentum": 0.8, "nesterov": False}),
    ("nesterov", torch.optim.SGD, {"momentum": 0.8, "nesterov": True}),
    ("rmsprop", torch.optim.RMSprop, {"momentum": 0}),
    ("adam", torch.optim.Adam, {}),
])
def test_each_optimizer_name_gives_its_optimizer(name, kind, settings):
    opt = make_optimizer(params(), {"optimizer": name, "lr": 0.02, "momentum": 0.8, "weight_decay": 0.001})
    assert type(opt) is kind
    group = opt.param_groups[0]
    assert group["lr"] == 0.02 and group["weight_decay"] == 0.001
    assert {k: group[k] for k in settings} == settings


def test_optimizer_defaults():
    opt = make_optimizer(params(), {"lr": "0.5"})  # no name: sgd; momentum and weight_decay default to 0
    assert type(opt) is torch.optim.SGD
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.5, 0, 0, False)
    momentum = make_optimizer(params(), {"optimizer": "momentum", "lr": 0.1}).param_groups[0]
    assert momentum["momentum"] == 0 and momentum["weight_decay"] == 0


def test_unknown_names_are_config_errors():
    with pytest.raises(ConfigError, match=r"^invalid value for optimizer: 'lbfgs' \(allowed: one of sgd, momentum"):
        make_optimizer(params(), {"optimizer": "lbfgs", "lr": 0.1})
    opt = make_optimizer(params(), {"lr": 0.1})
    with pytest.raises(ConfigError, match=r"^invalid value for scheduler: 'plateau' \(allowed: one of none, "):
        make_scheduler(opt, {"scheduler": "plateau"})


def lrs(scheduler_config, steps=6, lr=0.1):
    opt = make_optimizer(params(), {"lr": lr})
    sched = make_scheduler(opt, scheduler_config)
    seen = []
    for _ in range(steps):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return sched, seen


def test_schedulers():
    sched, seen = lrs({"scheduler": "none"})
    assert sched is None and seen == [0.1] * 6
    assert make_scheduler(make_optimizer(params(), {"lr": 0.1}), {}) is None  # none is the default

    sched, seen = lrs({"scheduler": "exponential", "gamma": 0.5})
    assert type(sched) is lr_scheduler.ExponentialLR and sched.gamma == 0.5
    assert seen == pytest.approx([0.1 * 0.5 ** k for k in range(6)])

    sched, seen = lrs({"scheduler": "step", "gamma": 0.5, "step_size": 2})
    assert type(sched) is lr_scheduler.StepLR and (sched.step_size, sched.gamma) == (2, 0.5)
    assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])

    sched, seen = lrs({"scheduler": "cosine", "epochs": 4}, steps=5)
    assert type(sched) is lr_scheduler.CosineAnnealingLR and sched.T_max == 4 and sched.eta_min == 0
    assert seen == pytest.approx([0.05 * (1 + math.cos(math.pi * k / 4)) for k in range(5)], abs=1e-12)
