"""The config's optimizer and scheduler keys -> torch.optim objects, for every stage that has them.

    optimizer = sgd | momentum | nesterov | rmsprop | adam   (momentum applies to momentum|nesterov)
    scheduler = none | exponential | step | cosine           (stepped once per epoch)
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import lr_scheduler

from engine.config import OPTIMIZERS, SCHEDULERS, ConfigError


def make_optimizer(params: Iterable[torch.nn.Parameter], config: dict[str, Any]) -> torch.optim.Optimizer:
    """config's optimizer, lr, momentum and weight_decay (the last two default to 0); a validated config
    (engine.stages) never asks for nesterov without momentum."""
    name = config.get("optimizer", "sgd")
    lr, momentum = float(config["lr"]), float(config.get("momentum", 0.0))
    weight_decay = float(config.get("weight_decay", 0.0))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"invalid value for optimizer: {name!r} (allowed: one of {', '.join(OPTIMIZERS)})")


def make_scheduler(optimizer: torch.optim.Optimizer, config: dict[str, Any]) -> lr_scheduler.LRScheduler | None:
    """config's scheduler (with gamma, step_size, epochs), or None for scheduler=none."""
    name = config.get("scheduler", "none")
    if name == "none":
        return None
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=config["gamma"])
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config["step_size"], gamma=config["gamma"])
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"])
    raise ConfigError(f"invalid value for scheduler: {name!r} (allowed: one of {', '.join(SCHEDULERS)})")
