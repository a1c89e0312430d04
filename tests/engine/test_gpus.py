"""GPU choice: device=cuda:N in the config, the rule of device=auto, CUDA_VISIBLE_DEVICES, and the GPU list read
from NVML (a stand-in pynvml module here: CI has no GPU)."""
from __future__ import annotations

import sys
import types

import pytest

from engine.config import ConfigError
from engine.gpus import GpuInfo, gpus_from_json, nvml_gpus, pick_gpu, visible_nvml_devices
from engine.stages import resolve_config

GIB = 2**30


@pytest.mark.parametrize("text, value", [("cuda:0", "cuda:0"), ("CUDA:3", "cuda:3"), (" cuda:012 ", "cuda:12"),
                                         ("cuda", "cuda"), ("auto", "auto")])
def test_device_accepts_a_gpu_index(text, value):
    assert resolve_config("cifar-base", {"device": text})["device"] == value


@pytest.mark.parametrize("text", ["cuda:", "cuda:-1", "cuda:x", "gpu1", "cuda:1:2", "cuda:1000"])
def test_device_refuses_what_is_not_a_device(text):
    with pytest.raises(ConfigError, match=r"invalid value for device.*cuda:N"):
        resolve_config("cifar-base", {"device": text})


def test_auto_takes_the_gpu_with_fewest_processes_then_most_free_memory():
    gpus = [GpuInfo(0, "A", 70 * GIB, 80 * GIB, 90.0, 3), GpuInfo(1, "B", 10 * GIB, 80 * GIB, 5.0, 1),
            GpuInfo(2, "C", 40 * GIB, 80 * GIB, 0.0, 1), GpuInfo(3, "D", 79 * GIB, 80 * GIB, 99.0, 4)]
    assert pick_gpu(gpus) == 1  # 1 and 2 have one process each; 1 has more free memory
    assert pick_gpu(gpus + [GpuInfo(4, "E", 1 * GIB, 16 * GIB, 0.0, 0)]) == 4  # nobody on it
    assert pick_gpu([GpuInfo(0, "A"), GpuInfo(1, "B")]) == 0  # nothing known: the first
    assert pick_gpu([]) == 0


def test_cuda_visible_devices_maps_torch_indices_to_nvml_ones():
    assert visible_nvml_devices(4, None) == [0, 1, 2, 3]
    assert visible_nvml_devices(4, "2,0") == [2, 0]  # cuda:0 is NVML's 2
    assert visible_nvml_devices(4, "GPU-aaaa,3") == ["GPU-aaaa", 3]
    assert visible_nvml_devices(4, "") == [] and visible_nvml_devices(4, "-1") == []


def fake_pynvml(devices: list[dict]) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    ns = types.SimpleNamespace
    module.nvmlInit = lambda: None
    module.nvmlShutdown = lambda: None
    module.nvmlDeviceGetCount = lambda: len(devices)
    module.nvmlDeviceGetHandleByIndex = lambda i: devices[i]
    module.nvmlDeviceGetHandleByUUID = lambda uuid: next(d for d in devices if d["uuid"] == uuid)
    module.nvmlDeviceGetName = lambda d: d["name"].encode()
    module.nvmlDeviceGetMemoryInfo = lambda d: ns(used=d["used"], total=d["total"])
    module.nvmlDeviceGetUtilizationRates = lambda d: ns(gpu=d["util"])
    module.nvmlDeviceGetComputeRunningProcesses = lambda d: [object()] * d["procs"]
    return module


def test_the_gpu_list_comes_from_nvml_in_torch_order(monkeypatch):
    devices = [{"uuid": f"GPU-{i}", "name": f"Card {i}", "used": i * GIB, "total": 80 * GIB, "util": 10.0 * i,
                "procs": i} for i in range(3)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(devices))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,GPU-0")
    gpus = nvml_gpus()
    assert [(g.device, g.name, g.processes) for g in gpus] == [("cuda:0", "Card 2", 2), ("cuda:1", "Card 0", 0)]
    assert gpus[0].line() == "cuda:0  Card 2  2.0/80.0 GiB  20%  2 procs"
    assert gpus_from_json([g.to_json() for g in gpus]) == gpus
    assert pick_gpu(gpus) == 1


def test_without_nvml_there_is_no_list_from_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert nvml_gpus() is None
