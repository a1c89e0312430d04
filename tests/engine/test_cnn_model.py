"""The lab CNN: parameter counts from the lab's table, shapes for 32x32 and 28x28 inputs."""
import pytest
import torch

from engine.cnn.architecture import fc4_inputs, layer_table
from engine.cnn.model import build_model

LAB_PARAMS = {"conv1": 2_432, "conv2": 51_264, "conv3": 102_464, "fc4": 1_025_000, "fc5": 10_010}


def module_params(model):
    return {name: sum(p.numel() for p in m.parameters()) for name, m in model.named_children()}


def test_per_layer_parameters_match_the_lab_table():
    params = module_params(build_model({}))
    assert {k: params[k] for k in LAB_PARAMS} == LAB_PARAMS
    assert all(params[k] == 0 for k in params if k not in LAB_PARAMS)


@pytest.mark.parametrize("batchnorm,total", [(False, 1_191_170), (True, 1_191_490)])
def test_total_parameters(batchnorm, total):
    model = build_model({"batchnorm": batchnorm})
    assert sum(p.numel() for p in model.parameters()) == total


def test_batchnorm_sits_right_after_each_conv():
    names = [n for n, _ in build_model({"batchnorm": True}).named_children()]
    for i in (1, 2, 3):
        assert names[names.index(f"conv{i}") + 1] == f"bn{i}"
    params = module_params(build_model({"batchnorm": True}))
    assert (params["bn1"], params["bn2"], params["bn3"]) == (64, 128, 128)


def test_dropout_only_when_positive_and_between_fc4_and_fc5():
    assert "dropout" not in dict(build_model({"dropout": 0.0}).named_children())
    names = [n for n, _ in build_model({"dropout": 0.5}).named_children()]
    assert names[-3:] == ["relu4", "dropout", "fc5"]
    assert build_model({"dropout": 0.5}).dropout.p == 0.5


@pytest.mark.parametrize("size", [32, 28])
def test_fc4_sees_1024_features_for_32_and_28_inputs(size):
    model = build_model({}).eval()
    seen = {}
    model.fc4.register_forward_hook(lambda m, inp, out: seen.update(fc4=inp[0].shape))
    with torch.no_grad():
        out = model(torch.zeros(2, 3, size, size))
    assert seen["fc4"] == (2, 1024)
    assert out.shape == (2, 10)
    assert fc4_inputs(size) == 1024


def test_pool3_uses_ceil_mode_only():
    pools = {layer.name: layer.ceil for layer in layer_table() if layer.kind == "pool"}
    assert pools == {"pool1": False, "pool2": False, "pool3": True}
    assert build_model({}).pool3.ceil_mode is True
