"""Sizes of the lab CNN computed from its layer table (engine.cnn.model.layer_table).

For each layer: output shape, parameters, receptive field and FLOPs, for 32x32 inputs
and for the 28x28 crops of the augmented stages. Nothing is hard-coded: the formulas are

    output  = floor((n + 2p - k) / s) + 1        (ceil instead of floor with ceil_mode,
                                                  as PyTorch: the last window must start
                                                  inside the input or its left padding)
    rf_out  = rf_in + (k - 1) * jump_in,  jump_out = jump_in * s
    conv params = k*k*C_in*C_out + C_out,  fc params = in*out + out,  bn params = 2*C

FLOPs count 2 per multiply-add (conv, fc), 1 per element for ReLU, k*k-1 comparisons per
output of a max-pool, 2 per element for an (inference) batch norm; flatten and dropout 0.
Training costs about 3x the forward FLOPs (forward + ~2x backward).

No torch import: `nnlab summary` stays instant.
"""
from __future__ import annotations

import math
from typing import Any

from engine.cnn.model import IN_CHANNELS, Layer, layer_table


def _out_size(n: int, k: int, s: int, p: int, ceil: bool) -> int:
    if not ceil:
        return (n + 2 * p - k) // s + 1
    out = math.ceil((n + 2 * p - k) / s) + 1
    if (out - 1) * s >= n + p:  # PyTorch drops a window that would start in the right padding
        out -= 1
    return out


def propagate(layers: list[Layer], size: int, channels: int = IN_CHANNELS) -> list[dict[str, Any]]:
    """Walk the layers from a size x size x channels input; one row per layer."""
    shape: tuple[int, ...] = (channels, size, size)  # C, H, W per example
    rf, jump = 1, 1
    rows: list[dict[str, Any]] = []
    for layer in layers:
        params = flops = 0
        in_features = None
        if layer.kind in ("conv", "pool"):
            c, h, w = shape
            oh = _out_size(h, layer.k, layer.s, layer.p, layer.ceil)
            ow = _out_size(w, layer.k, layer.s, layer.p, layer.ceil)
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
            "receptive_field": rf if spatial else None,  # None: a dense layer sees the whole input
            "flops": flops,
            "in_features": in_features,
        })
    return rows


def train_input_size(config: dict[str, Any]) -> int:
    """28 when the stage trains on random 28x28 crops (augment contains crop-flip), else 32."""
    return 28 if "crop-flip" in str(config.get("augment", "none")).split("+") else 32


def summarize(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `nnlab summary STAGE --json` object.

    "layers" is for 32x32 inputs (the lab table's first column); "layers_28" for 28x28 crops.
    "input_size" is what this config trains on; "forward_flops" is per image at that size.
    """
    config = config or {}
    layers = layer_table(bool(config.get("batchnorm", False)), float(config.get("dropout", 0.0)))
    keep = ("name", "output_shape", "output", "params", "receptive_field", "flops")
    by_size = {n: [{k: r[k] for k in keep} for r in propagate(layers, n)] for n in (32, 28)}
    size = train_input_size(config)
    return {
        "layers": by_size[32],
        "total_params": sum(r["params"] for r in by_size[32]),
        "layers_28": by_size[28],
        "input_size": size,
        "forward_flops": sum(r["flops"] for r in by_size[size]),
        "total_flops": {str(n): sum(r["flops"] for r in rows) for n, rows in by_size.items()},
    }


def _human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def render_summary(summary: dict[str, Any]) -> str:
    """A plain-text table: both input sizes side by side, like the lab's sizes table."""
    head = f"{'layer':<8}{'out (32 in)':>13}{'out (28 in)':>13}{'params':>12}{'RF':>6}{'FLOPs 32':>10}{'FLOPs 28':>10}"
    lines = [head, "-" * len(head)]
    for r32, r28 in zip(summary["layers"], summary["layers_28"]):
        rf = "all" if r32["receptive_field"] is None else f"{r32['receptive_field']}"
        lines.append(f"{r32['name']:<8}{r32['output']:>13}{r28['output']:>13}{r32['params']:>12,}{rf:>6}"
                     f"{_human(r32['flops']):>10}{_human(r28['flops']):>10}")
    lines.append("-" * len(head))
    totals = summary["total_flops"]
    lines.append(f"{'total':<8}{'':>13}{'':>13}{summary['total_params']:>12,}{'':>6}"
                 f"{_human(totals['32']):>10}{_human(totals['28']):>10}")
    lines.append(f"trains on {summary['input_size']}x{summary['input_size']} inputs; "
                 f"training ~3x forward FLOPs per image")
    return "\n".join(lines)
