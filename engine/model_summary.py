"""`nnlab summary STAGE`: per-layer shapes, parameters, receptive fields and FLOPs of a stage's model.

summarize_stage(config) gives the JSON object; summary_rows(summary) the one table every front
end shows of it (the CLI renders it with engine.text.render_table, the TUI with its own widget).
No torch import.
"""
from __future__ import annotations

from typing import Any

from engine.cnn.summary import summarize as summarize_cnn
from engine.config import ConfigError
from engine.text import render_table

INPUTS = {"circles": (2, 2), "mnist": (784, 10), "digits": (64, 10)}  # dataset -> (n_x, n_y)
CNN_HEADERS = ["layer", "out (32 in)", "out (28 in)", "params", "RF", "FLOPs 32", "FLOPs 28"]
MLP_HEADERS = ["layer", "output", "params", "FLOPs"]
SHAPELESS = ("relu", "flatten", "dropout")  # layers without parameters that keep the size


def _mlp_sizes(config: dict[str, Any]) -> tuple[int, int]:
    dataset = config["dataset"]
    if dataset in INPUTS:
        return INPUTS[dataset]
    from engine.data.mat import load_mat  # numpy and scipy, only to read a course .mat file's shapes

    data = load_mat(dataset)
    return int(data.x_train.shape[1]), data.n_classes


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
    """The `nnlab summary STAGE --json` object of a resolved config."""
    stage = config["stage"]
    if stage.startswith("cifar-"):
        return summarize_cnn(config)
    if stage == "circles-svm":
        raise ConfigError("stage circles-svm has no layers to summarize (allowed: the MLP and CNN stages)")
    return mlp_summary(config)


def human(n: float) -> str:
    """A FLOP count in k, M or G, two decimals."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(int(n))


def summary_rows(summary: dict[str, Any], compact: bool = False) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of a summary's table, the last row the totals. A CNN summary has both input
    sizes side by side; compact=True keeps only the layers that have parameters or change the size."""
    if "layers_28" not in summary:
        rows = [[r["name"], "x".join(map(str, r["output_shape"])), f"{r['params']:,}", f"{r['flops']:,}"]
                for r in summary["layers"]]
        return MLP_HEADERS, rows + [["total", "", f"{summary['total_params']:,}", ""]]
    rows = []
    for r32, r28 in zip(summary["layers"], summary["layers_28"]):
        if compact and r32["name"].startswith(SHAPELESS):
            continue
        rf = r32["receptive_field"]
        rows.append([r32["name"], r32["output"], r28["output"], f"{r32['params']:,}",
                     "all" if rf is None else str(rf), human(r32["flops"]), human(r28["flops"])])
    totals = summary["total_flops"]
    rows.append(["total", "", "", f"{summary['total_params']:,}", "", human(totals["32"]), human(totals["28"])])
    return CNN_HEADERS, rows


def summary_note(summary: dict[str, Any]) -> str:
    """The line under the table."""
    if "layers_28" in summary:
        size = summary["input_size"]
        return f"trains on {size}x{size} inputs; training ~3x forward FLOPs per image"
    return f"input: {summary['input_shape'][0]} features; every unit sees the whole input"


def render_summary(summary: dict[str, Any]) -> str:
    """What `nnlab summary STAGE` prints."""
    return render_table(*summary_rows(summary), total=True) + "\n" + summary_note(summary)
