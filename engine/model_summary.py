"""`nnlab summary STAGE`: per-layer shapes, parameters, receptive fields and FLOPs of a stage's model."""
from __future__ import annotations

from typing import Any

from engine.config import ConfigError

INPUTS = {"circles": (2, 2), "mnist": (784, 10), "digits": (64, 10)}


def _mlp_sizes(config: dict[str, Any]) -> tuple[int, int]:
    dataset = config["dataset"]
    if dataset in INPUTS:
        return INPUTS[dataset]
    from engine.data.mat import load_mat  # a course .mat file: read its shapes

    data = load_mat(dataset)
    return int(data["x_train"].shape[1]), int(data["n_classes"])


def mlp_summary(config: dict[str, Any]) -> dict[str, Any]:
    n_x, n_y = _mlp_sizes(config)
    n_h = config["hidden"]
    layers = [
        {"name": "fc_h", "output_shape": [n_h], "params": n_x * n_h + n_h, "receptive_field": None,
         "flops": 2 * n_x * n_h},
        {"name": "tanh", "output_shape": [n_h], "params": 0, "receptive_field": None, "flops": n_h},
        {"name": "fc_y", "output_shape": [n_y], "params": n_h * n_y + n_y, "receptive_field": None,
         "flops": 2 * n_h * n_y},
        {"name": "softmax", "output_shape": [n_y], "params": 0, "receptive_field": None, "flops": 3 * n_y},
    ]
    return {"layers": layers, "total_params": sum(r["params"] for r in layers), "input_shape": [n_x]}


def summarize_stage(config: dict[str, Any]) -> dict[str, Any]:
    stage = config["stage"]
    if stage.startswith("cifar-"):
        from engine.cnn.summary import summarize

        return summarize(config)
    if stage == "circles-svm":
        raise ConfigError("stage circles-svm has no layers to summarize (allowed: the MLP and CNN stages)")
    return mlp_summary(config)


def render_summary(summary: dict[str, Any]) -> str:
    if "layers_28" in summary:
        from engine.cnn.summary import render_summary as render_cnn

        return render_cnn(summary)
    lines = [f"{'layer':<9}{'output':>10}{'params':>10}{'FLOPs':>10}", "-" * 39]
    for r in summary["layers"]:
        lines.append(f"{r['name']:<9}{'x'.join(map(str, r['output_shape'])):>10}{r['params']:>10,}{r['flops']:>10,}")
    lines += ["-" * 39, f"{'total':<9}{'':>10}{summary['total_params']:>10,}",
              f"input: {summary['input_shape'][0]} features; every unit sees the whole input"]
    return "\n".join(lines)
