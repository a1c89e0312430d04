"""Activations on a fixed probe batch: the pre-activation quantiles of each layer that feeds a nonlinearity,
the share of dead ReLU units and of saturated tanh outputs, batch norm's statistics and parameters, and
dropout's train-mode against eval-mode accuracy. Everything stays on the device until read_all."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from engine.inside.limits import QUANTILES, SATURATED

QUANTILE_SAMPLE = 65_536  # quantiles come from an even sample of at most this many values


def quantiles(values: torch.Tensor) -> torch.Tensor:
    """The QUANTILES of all values (an evenly strided sample of them when there are many)."""
    flat = values.detach().float().reshape(-1)
    step = max(1, math.ceil(flat.numel() / QUANTILE_SAMPLE))
    levels = torch.tensor(QUANTILES, dtype=torch.float32, device=flat.device)
    return torch.quantile(flat[::step], levels)


def dead_share(pre: torch.Tensor) -> torch.Tensor:
    """Share of units (dim 1: channels or neurons) whose pre-activation is never positive on the batch."""
    dims = [d for d in range(pre.dim()) if d != 1]
    return (pre.detach().amax(dim=dims) <= 0).float().mean()


def saturated_share(pre: torch.Tensor) -> torch.Tensor:
    """Share of tanh outputs beyond SATURATED in absolute value."""
    return (torch.tanh(pre.detach().float()).abs() > SATURATED).float().mean()


def layer_stats(pre: torch.Tensor, nonlinearity: str) -> dict[str, torch.Tensor]:
    share = dead_share(pre) if nonlinearity == "relu" else saturated_share(pre)
    return {"pre": quantiles(pre), "dead" if nonlinearity == "relu" else "saturated": share}


def walk(model: nn.Sequential, x: torch.Tensor, keep: frozenset[str] = frozenset()
         ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
    """Run x through a Sequential child by child. Returns ({layer: layer_stats} for each conv or linear layer
    whose output (after its batch norm) feeds a ReLU or tanh, {layer: that nonlinearity's output} for the
    layers named in keep)."""
    stats: dict[str, dict[str, torch.Tensor]] = {}
    maps: dict[str, torch.Tensor] = {}
    feeding = ""
    for name, module in model.named_children():
        if isinstance(module, (nn.ReLU, nn.Tanh)) and feeding:
            stats[feeding] = layer_stats(x, "relu" if isinstance(module, nn.ReLU) else "tanh")
            x = module(x)
            if feeding in keep:
                maps[feeding] = x
            feeding = ""
            continue
        x = module(x)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            feeding = name
    return stats, maps


def batchnorm_values(model: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
    """Each BatchNorm layer's running mean and variance, weight (gamma) and bias (beta), per channel."""
    out = {}
    for name, module in model.named_children():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            assert module.running_mean is not None and module.running_var is not None
            out[name] = {"running_mean": module.running_mean, "running_var": module.running_var,
                         "weight": module.weight, "bias": module.bias}
    return out


def dropout_gap(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    """Accuracy and mean loss on (x, y) in eval mode and with only the dropout layers in train mode. The draw
    of dropout masks uses a forked RNG: the training's own random stream is left as it was."""
    model.eval()
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    out = {}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        for mode in ("eval", "train"):
            for m in dropouts:
                m.train(mode == "train")
            logits = model(x).float()
            out[f"{mode}_acc"] = (logits.argmax(1) == y).float().mean()
            out[f"{mode}_loss"] = nn.functional.cross_entropy(logits, y)
    for m in dropouts:
        m.eval()
    return out


def read_all(tree: Any) -> Any:
    """The same nested dict/list with every tensor turned into a float or a list of floats, in one device
    read (the tensors are flattened into one, copied to the host, and cut back)."""
    tensors: list[torch.Tensor] = []

    def collect(node: Any) -> None:
        if isinstance(node, torch.Tensor):
            tensors.append(node.detach().float().reshape(-1))
        elif isinstance(node, dict):
            for v in node.values():
                collect(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                collect(v)

    collect(tree)
    if not tensors:
        return tree
    flat = torch.cat([t.to(tensors[0].device) for t in tensors]).cpu().tolist()
    position = 0

    def rebuild(node: Any) -> Any:
        nonlocal position
        if isinstance(node, torch.Tensor):
            n = node.numel()
            part = flat[position:position + n]
            position += n
            return part[0] if node.dim() == 0 else part
        if isinstance(node, dict):
            return {k: rebuild(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return [rebuild(v) for v in node]
        return node

    return rebuild(tree)
