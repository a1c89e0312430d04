"""Sizes, parameters, receptive fields and FLOPs of the lab CNN, computed from its layer table."""
import json

import pytest
import torch

from engine.cnn.architecture import layer_table, out_size, propagate
from engine.cnn.model import build_model
from engine.cnn.summary import summarize
from engine.model_summary import render_summary

SHAPES_32 = {"conv1": "32x32x32", "pool1": "16x16x32", "conv2": "16x16x64", "pool2": "8x8x64",
             "conv3": "8x8x64", "pool3": "4x4x64", "fc4": "1000", "fc5": "10"}
SHAPES_28 = {"conv1": "28x28x32", "pool1": "14x14x32", "conv2": "14x14x64", "pool2": "7x7x64",
             "conv3": "7x7x64", "pool3": "4x4x64", "fc4": "1000", "fc5": "10"}
RF = {"conv1": 5, "pool1": 6, "conv2": 14, "pool2": 16, "conv3": 32, "pool3": 36}


def by_name(rows):
    return {r["name"]: r for r in rows}


def test_output_size_formula():
    assert out_size(32, 5, 1, 2, False) == 32  # floor((32 + 4 - 5) / 1) + 1
    assert out_size(7, 2, 2, 0, False) == 3
    assert out_size(7, 2, 2, 0, True) == 4  # ceil_mode: 28x28 crops keep 4x4 after pool3
    assert out_size(8, 2, 2, 0, True) == 4


def test_output_shapes_for_32_and_28_inputs():
    s = summarize({})
    assert {n: r["output"] for n, r in by_name(s["layers"]).items() if n in SHAPES_32} == SHAPES_32
    assert {n: r["output"] for n, r in by_name(s["layers_28"]).items() if n in SHAPES_28} == SHAPES_28
    assert by_name(s["layers"])["conv1"]["output_shape"] == [32, 32, 32]


@pytest.mark.parametrize("size,key", [(32, "layers"), (28, "layers_28")])
def test_shapes_agree_with_the_real_model(size, key):
    model = build_model({"batchnorm": True, "dropout": 0.5}).eval()
    seen = {}
    for name, module in model.named_children():
        module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, list(o.shape[1:])))
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    rows = summarize({"batchnorm": True, "dropout": 0.5})[key]
    assert {r["name"]: r["output_shape"] for r in rows} == seen


def test_receptive_fields():
    rows = by_name(summarize({})["layers"])
    assert {n: rows[n]["receptive_field"] for n in RF} == RF
    assert rows["fc4"]["receptive_field"] is None  # dense: the whole input


@pytest.mark.parametrize("batchnorm,total", [(False, 1_191_170), (True, 1_191_490)])
def test_params_match_the_table_and_the_real_model(batchnorm, total):
    s = summarize({"batchnorm": batchnorm})
    assert s["total_params"] == total
    model = build_model({"batchnorm": batchnorm})
    real = {n: sum(p.numel() for p in m.parameters()) for n, m in model.named_children()}
    assert {r["name"]: r["params"] for r in s["layers"]} == real
    assert sum(p.numel() for p in model.parameters()) == total


def test_flops():
    rows = by_name(summarize({})["layers"])
    assert rows["conv1"]["flops"] == 2 * 5 * 5 * 3 * 32 * 32 * 32
    assert rows["fc4"]["flops"] == 2 * 1024 * 1000
    rows28 = by_name(summarize({})["layers_28"])
    assert rows28["conv2"]["flops"] == 2 * 5 * 5 * 32 * 64 * 14 * 14


def test_summary_contract_and_input_size():
    s = summarize({"augment": "crop-flip"})
    json.dumps(s)
    assert s["input_size"] == 28 and summarize({})["input_size"] == 32
    assert s["forward_flops"] == sum(r["flops"] for r in s["layers_28"])
    for row in s["layers"]:
        assert {"name", "output_shape", "params", "receptive_field", "flops"} <= set(row)


def test_rendered_table():
    text = render_summary(summarize({"batchnorm": True}))
    assert "1,191,490" in text and "28x28x32" in text and "4x4x64" in text
    assert "1,191,170" in render_summary(summarize({}))


def test_propagate_rejects_unflattened_fc():
    layers = [l for l in layer_table() if l.kind != "flatten"]
    with pytest.raises(ValueError):
        propagate(layers, 32)
