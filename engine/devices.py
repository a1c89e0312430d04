"""device=auto|cpu|cuda|cuda:N|mps -> the device a run trains on; an unavailable one is bad input.

cuda:N is torch's N-th visible GPU (CUDA_VISIBLE_DEVICES decides which are visible, as for any CUDA program);
cuda alone, and auto on a box with GPUs, take the GPU that engine.gpus.pick_gpu picks (the least busy one), not
always GPU 0.

`python -m engine.devices` prints one JSON line {"cuda": bool, "mps": bool, "gpus": [...]}: what this machine
offers (the TUI asks it in a child process, so that its own process does not import torch).
"""
from __future__ import annotations

import json
from typing import Any

import torch

from engine.config import ConfigError
from engine.gpus import GpuInfo, nvml_gpus, pick_gpu, torch_gpus

ACCELERATORS = ("cuda", "mps")  # the accelerators a config may name, in the order auto prefers them


def available_devices() -> list[str]:
    """cpu, then the accelerator torch can use now (if it is one a config may name)."""
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    if accelerator is not None and accelerator.type in ACCELERATORS:
        return ["cpu", accelerator.type]
    return ["cpu"]


def resolve_device(name: str, small: bool = False) -> str:
    """auto -> cuda, then mps, then cpu (small=True: cpu, where a toy model runs fastest); cuda and auto -> the
    least busy GPU (engine.gpus.pick_gpu); cuda:N -> that GPU if it exists. Returns a torch device string."""
    available = available_devices()
    if name == "auto":
        name = "cpu" if small else next((d for d in ACCELERATORS if d in available), "cpu")
    kind, _, index = name.partition(":")
    if kind not in available:
        raise ConfigError(f"invalid value for device: {name!r} (not available on this machine; "
                          f"allowed: auto, {', '.join(available)})")
    if kind == "cuda":
        count = torch.cuda.device_count()
        if index:
            if int(index) >= count:
                raise ConfigError(f"invalid value for device: {name!r} (this machine shows {count} GPU"
                                  f"{'s' if count != 1 else ''}; allowed: auto, cpu, cuda, "
                                  f"{', '.join(f'cuda:{i}' for i in range(count))})")
            return f"cuda:{int(index)}"
        return f"cuda:{pick_gpu(gpu_list())}"
    return name


def gpu_list() -> list[GpuInfo]:
    """The visible GPUs: NVML's figures where it is there, else torch's."""
    found = nvml_gpus()
    return found if found is not None else torch_gpus()


def probe() -> dict[str, Any]:
    """{"cuda": bool, "mps": bool, "gpus": [GpuInfo as JSON, ...]}: what a run may use here."""
    available = available_devices()
    out: dict[str, Any] = {name: name in available for name in ACCELERATORS}
    out["gpus"] = [g.to_json() for g in gpu_list()] if out["cuda"] else []
    return out


if __name__ == "__main__":
    print(json.dumps(probe()))
