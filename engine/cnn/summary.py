"""The lab CNN's summary (`nnlab summary cifar-...`): per layer output shape, parameters,
receptive field and FLOPs for 32x32 inputs and for the 28x28 crops of the augmented stages,
all computed from the architecture table (engine.cnn.architecture). Training costs about 3x the
forward FLOPs (forward + ~2x backward). No torch import.
"""
from __future__ import annotations

from typing import Any

from engine.cnn.architecture import layer_table, propagate

ROW_KEYS = ("name", "output_shape", "output", "params", "receptive_field", "flops")


def train_input_size(config: dict[str, Any]) -> int:
    """28 when the stage trains on random 28x28 crops (augment contains crop-flip), else 32."""
    return 28 if "crop-flip" in str(config.get("augment", "none")).split("+") else 32


def summarize(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `nnlab summary STAGE --json` object.

    "layers" is for 32x32 inputs; "layers_28" for 28x28 crops. "input_size" is what this config
    trains on; "forward_flops" is per image at that size.
    """
    config = config or {}
    layers = layer_table(bool(config.get("batchnorm", False)), float(config.get("dropout", 0.0)))
    by_size = {n: [{k: r[k] for k in ROW_KEYS} for r in propagate(layers, n)] for n in (32, 28)}
    size = train_input_size(config)
    return {
        "layers": by_size[32],
        "total_params": sum(r["params"] for r in by_size[32]),
        "layers_28": by_size[28],
        "input_size": size,
        "forward_flops": sum(r["flops"] for r in by_size[size]),
        "total_flops": {str(n): sum(r["flops"] for r in rows) for n, rows in by_size.items()},
    }
