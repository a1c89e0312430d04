"""The lab CNN (part 2-cd), built from one layer table that engine.cnn.summary also reads.

    conv1 5x5 32 pad 2 -> ReLU -> pool1 2/2
    conv2 5x5 64 pad 2 -> ReLU -> pool2 2/2
    conv3 5x5 64 pad 2 -> ReLU -> pool3 2/2 (ceil_mode: 28x28 crops still give 4x4x64)
    fc4 1024 -> 1000 -> ReLU -> [dropout p] -> fc5 1000 -> 10

batchnorm=True puts a BatchNorm2d right after each conv (bn1..bn3, +2*C parameters each).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Layer:
    """One row of the architecture: enough to build the module and to size it by hand."""

    name: str
    kind: str  # conv | bn | relu | pool | flatten | fc | dropout
    out: int = 0  # conv: filters; fc: units
    k: int = 1  # kernel (conv, pool)
    s: int = 1  # stride
    p: int = 0  # padding
    ceil: bool = False  # pool ceil_mode
    rate: float = 0.0  # dropout probability


IN_CHANNELS = 3
N_CLASSES = 10


def layer_table(batchnorm: bool = False, dropout: float = 0.0) -> list[Layer]:
    """The lab's layers in order. Block i: conv_i [bn_i] relu_i pool_i."""
    layers: list[Layer] = []
    for i, (filters, ceil) in enumerate([(32, False), (64, False), (64, True)], start=1):
        layers.append(Layer(f"conv{i}", "conv", out=filters, k=5, s=1, p=2))
        if batchnorm:
            layers.append(Layer(f"bn{i}", "bn"))
        layers.append(Layer(f"relu{i}", "relu"))
        layers.append(Layer(f"pool{i}", "pool", k=2, s=2, ceil=ceil))
    layers.append(Layer("flatten", "flatten"))
    layers.append(Layer("fc4", "fc", out=1000))
    layers.append(Layer("relu4", "relu"))
    if dropout > 0:
        layers.append(Layer("dropout", "dropout", rate=dropout))
    layers.append(Layer("fc5", "fc", out=N_CLASSES))
    return layers


def fc4_inputs(size: int = 32) -> int:
    """Features entering fc4 for a size x size input (1024 for both 32 and 28)."""
    from engine.cnn.summary import propagate

    rows = propagate(layer_table(), size)
    return next(r["in_features"] for r in rows if r["name"] == "fc4")


def build_model(config: dict[str, Any] | None = None, *, batchnorm: bool | None = None,
                dropout: float | None = None):
    """nn.Sequential with named children conv1, relu1, pool1, ..., fc4, relu4, [dropout], fc5.

    Parameters follow PyTorch's default init; seed the global RNG first for a reproducible model.
    fc4's input width comes from the layer table (1024 for 32x32 or 28x28 inputs).
    """
    from collections import OrderedDict

    from torch import nn

    config = config or {}
    bn = bool(config.get("batchnorm", False)) if batchnorm is None else batchnorm
    p = float(config.get("dropout", 0.0)) if dropout is None else dropout
    channels, features = IN_CHANNELS, fc4_inputs(32)
    modules = OrderedDict()
    for layer in layer_table(bn, p):
        if layer.kind == "conv":
            modules[layer.name] = nn.Conv2d(channels, layer.out, layer.k, layer.s, layer.p)
            channels = layer.out
        elif layer.kind == "bn":
            modules[layer.name] = nn.BatchNorm2d(channels)
        elif layer.kind == "relu":
            modules[layer.name] = nn.ReLU(inplace=True)
        elif layer.kind == "pool":
            modules[layer.name] = nn.MaxPool2d(layer.k, layer.s, ceil_mode=layer.ceil)
        elif layer.kind == "flatten":
            modules[layer.name] = nn.Flatten()
        elif layer.kind == "fc":
            modules[layer.name] = nn.Linear(features, layer.out)
            features = layer.out
        elif layer.kind == "dropout":
            modules[layer.name] = nn.Dropout(layer.rate)
        else:  # pragma: no cover - the table only holds the kinds above
            raise AssertionError(layer.kind)
    return nn.Sequential(modules)
