"""The lab CNN as a table of layers, and the sizes each layer gives (no torch: `nnlab summary`
and the stage listing stay instant; engine.cnn.model builds the network from the same table).

    conv1 5x5 32 pad 2 -> ReLU -> pool1 2/2
    conv2 5x5 64 pad 2 -> ReLU -> pool2 2/2
    conv3 5x5 64 pad 2 -> ReLU -> pool3 2/2 (ceil_mode: 28x28 crops still give 4x4x64)
    fc4 1024 -> 1000 -> ReLU -> [dropout p] -> fc5 1000 -> 10

batchnorm=True puts a BatchNorm2d right after each conv (bn1..bn3, +2*C parameters each).

Sizes follow from the table, for any square input:

    output  = floor((n + 2p - k) / s) + 1        (ceil instead of floor with ceil_mode,
                                                  as PyTorch: the last window must start
                                                  inside the input or its left padding)
    rf_out  = rf_in + (k - 1) * jump_in,  jump_out = jump_in * s
    conv params = k*k*C_in*C_out + C_out,  fc params = in*out + out,  bn params = 2*C

FLOPs count 2 per multiply-add (conv, fc), 1 per element for ReLU, k*k-1 comparisons per
output of a max-pool, 2 per element for an (inference) batch norm; flatten and dropout 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

IN_CHANNELS = 3
N_CLASSES = 10


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


def out_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    """Output side of a conv or pool over an n-wide input."""
    if not ceil:
        return (n + 2 * p - k) // s + 1
    out = math.ceil((n + 2 * p - k) / s) + 1
    if (out - 1) * s >= n + p:  # PyTorch drops a window that would start in the right padding
        out -= 1
    return out


def propagate(layers: list[Layer], size: int, channels: int = IN_CHANNELS) -> list[dict[str, Any]]:
    """Walk the layers from a size x size x channels input; one row per layer: name, kind,
    output_shape (C, H, W or units), output (text: HxWxC or units), params, receptive_field
    (None for dense layers: they see the whole input), flops, in_features (fc only)."""
    shape: tuple[int, ...] = (channels, size, size)  # C, H, W per example
    rf, jump = 1, 1
    rows: list[dict[str, Any]] = []
    for layer in layers:
        params = flops = 0
        in_features = None
        if layer.kind in ("conv", "pool"):
            c, h, w = shape
            oh = out_size(h, layer.k, layer.s, layer.p, layer.ceil)
            ow = out_size(w, layer.k, layer.s, layer.p, layer.ceil)
            rf, jump = rf + (layer.k - 1) * jump, jump * layer.s
            if layer.kind == "conv":
                shape = (layer.out, oh, ow)
                params = layer.k * layer.k * c * layer.out + layer.out
                flops = 2 * layer.k * layer.k * c * layer.out * oh * ow
            else:
                shape = (c, oh, ow)
                flops = (layer.k * layer.k - 1) * c * oh * ow
        elif layer.kind == "bn":
            params = 2 * shape[0]
            flops = 2 * math.prod(shape)
        elif layer.kind == "relu":
            flops = math.prod(shape)
        elif layer.kind == "flatten":
            shape = (math.prod(shape),)
        elif layer.kind == "fc":
            if len(shape) != 1:
                raise ValueError(f"{layer.name} needs a flattened input, got {shape}")
            in_features = shape[0]
            params = in_features * layer.out + layer.out
            flops = 2 * in_features * layer.out
            shape = (layer.out,)
        elif layer.kind != "dropout":
            raise ValueError(f"unknown layer kind {layer.kind!r}")
        spatial = len(shape) == 3
        rows.append({
            "name": layer.name,
            "kind": layer.kind,
            "output_shape": list(shape),
            "output": "x".join(str(d) for d in (shape[1], shape[2], shape[0])) if spatial else str(shape[0]),
            "params": params,
            "receptive_field": rf if spatial else None,
            "flops": flops,
            "in_features": in_features,
        })
    return rows


def fc4_inputs(size: int = 32) -> int:
    """Features entering fc4 for a size x size input (1024 for both 32 and 28)."""
    return next(r["in_features"] for r in propagate(layer_table(), size) if r["name"] == "fc4")
