"""device=auto|cpu|cuda|mps -> the device a run trains on; an unavailable one is bad input."""
from __future__ import annotations

from engine.config import ConfigError


def available_devices() -> list[str]:
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def resolve_device(name: str, small: bool = False) -> str:
    """auto -> cuda, then mps, then cpu (small=True: cpu, where a toy model runs fastest).
    Returns a torch device string; cuda resolves to the current device, e.g. 'cuda:0'."""
    import torch

    available = available_devices()
    if name == "auto":
        name = "cpu" if small else next((d for d in ("cuda", "mps") if d in available), "cpu")
    if name not in available:
        raise ConfigError(f"invalid value for device: {name!r} (not available on this machine; "
                          f"allowed: auto, {', '.join(available)})")
    if name == "cuda":
        return f"cuda:{torch.cuda.current_device()}"
    return name
