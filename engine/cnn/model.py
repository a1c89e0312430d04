"""The lab CNN as a torch module, built from the architecture table (engine.cnn.architecture)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import nn

from engine.cnn.architecture import IN_CHANNELS, fc4_inputs, layer_table


def build_model(config: dict[str, Any] | None = None) -> nn.Sequential:
    """nn.Sequential with named children conv1, [bn1], relu1, pool1, ..., fc4, relu4, [dropout], fc5,
    for config's batchnorm and dropout.

    Parameters follow PyTorch's default init; seed the global RNG first for a reproducible model.
    fc4's input width comes from the table (1024 for 32x32 or 28x28 inputs).
    """
    config = config or {}
    channels, features = IN_CHANNELS, fc4_inputs(32)
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for layer in layer_table(bool(config.get("batchnorm", False)), float(config.get("dropout", 0.0))):
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
