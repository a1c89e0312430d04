"""device=auto|cpu|cuda|mps -> the device a run trains on; an unavailable one is bad input.

`python -m engine.devices` prints one JSON line {"cuda": bool, "mps": bool}: what this machine
offers (the TUI asks it in a child process, so that its own process does not import torch).
"""
from __future__ import annotations

import json

import torch

from engine.config import ConfigError

ACCELERATORS = ("cuda", "mps")  # the accelerators a config may name, in the order auto prefers them


def available_devices() -> list[str]:
    """cpu, then the accelerator torch can use now (if it is one a config may name)."""
    accelerator = torch.accelerator.current_accelerator(check_available=True)
    if accelerator is not None and accelerator.type in ACCELERATORS:
        return ["cpu", accelerator.type]
    return ["cpu"]


def resolve_device(name: str, small: bool = False) -> str:
    """auto -> cuda, then mps, then cpu (small=True: cpu, where a toy model runs fastest).
    Returns a torch device string; cuda resolves to the current device, e.g. 'cuda:0'."""
    available = available_devices()
    if name == "auto":
        name = "cpu" if small else next((d for d in ACCELERATORS if d in available), "cpu")
    if name not in available:
        raise ConfigError(f"invalid value for device: {name!r} (not available on this machine; "
                          f"allowed: auto, {', '.join(available)})")
    if name == "cuda":
        return f"cuda:{torch.accelerator.current_device_index()}"
    return name


def probe() -> dict[str, bool]:
    """{"cuda": bool, "mps": bool}: which accelerators a run may use here."""
    available = available_devices()
    return {name: name in available for name in ACCELERATORS}


if __name__ == "__main__":
    print(json.dumps(probe()))
