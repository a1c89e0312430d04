"""The GPUs of the box, as torch numbers them (cuda:0, cuda:1, ... of the devices CUDA_VISIBLE_DEVICES leaves
visible): name, memory used of total, utilisation, and how many processes use each; and which one
`device=auto` takes.

Read from NVML (nvidia-ml-py) when it is there: no torch, so a front end can refresh the list every few
seconds. Without NVML, `python -m engine.devices` (which imports torch, in a child process) gives the names and
memory from torch, without utilisation or processes.

The rule of `device=auto` (pick_gpu): the GPU with the fewest processes on it, then the most free memory, then
the lowest index. On a shared box a GPU nobody uses is the one that trains fastest and cannot run out of memory
because of someone else; between busy ones, free memory is what decides whether the run fits at all. When
nothing is known beyond the count, cuda:0.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any

from engine.resources import nvml_index


@dataclass(frozen=True)
class GpuInfo:
    index: int  # torch's index: the device is f"cuda:{index}"
    name: str
    mem_used: int | None = None  # bytes
    mem_total: int | None = None
    util: float | None = None  # percent, over NVML's last sample period
    processes: int | None = None  # compute processes on it (any user's)

    @property
    def device(self) -> str:
        return f"cuda:{self.index}"

    @property
    def mem_free(self) -> int | None:
        if self.mem_used is None or self.mem_total is None:
            return None
        return self.mem_total - self.mem_used

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """`cuda:1 NVIDIA H100 80GB HBM3  12.3/79.6 GiB  45%  2 procs`, what is unknown left out."""
        parts = [self.device, self.name]
        if self.mem_used is not None and self.mem_total is not None:
            parts.append(f"{self.mem_used / 2**30:.1f}/{self.mem_total / 2**30:.1f} GiB")
        if self.util is not None:
            parts.append(f"{self.util:.0f}%")
        if self.processes is not None:
            parts.append(f"{self.processes} proc{'s' if self.processes != 1 else ''}")
        return "  ".join(parts)


def visible_nvml_devices(count: int, visible: str | None) -> list[int | str]:
    """The NVML devices behind torch's cuda:0..count-1 (see engine.resources.nvml_index)."""
    if visible is not None and visible.strip() in ("", "-1"):
        return []
    if visible:
        listed = [v.strip() for v in visible.split(",") if v.strip()]
        count = min(count, len(listed))
    return [nvml_index(i, visible) for i in range(count)]


def nvml_gpus() -> list[GpuInfo] | None:
    """The visible GPUs read from NVML; None when NVML is not installed or has no driver to talk to."""
    try:
        import pynvml  # nvidia-ml-py: optional
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - no driver: nothing to list
        return None
    try:
        found: list[GpuInfo] = []
        for torch_index, which in enumerate(visible_nvml_devices(pynvml.nvmlDeviceGetCount(),
                                                                 os.environ.get("CUDA_VISIBLE_DEVICES"))):
            try:
                handle = (pynvml.nvmlDeviceGetHandleByUUID(which) if isinstance(which, str)
                          else pynvml.nvmlDeviceGetHandleByIndex(which))
                name = pynvml.nvmlDeviceGetName(handle)
                mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                util = pynvml.nvmlDeviceGetUtilizationRates(handle)
                procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
                found.append(GpuInfo(torch_index, name.decode() if isinstance(name, bytes) else str(name),
                                     int(mem.used), int(mem.total), float(util.gpu), len(procs)))
            except Exception:  # noqa: BLE001 - a device that does not answer: listed by index only
                found.append(GpuInfo(torch_index, "unknown GPU"))
        return found
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def torch_gpus() -> list[GpuInfo]:
    """The visible GPUs as torch sees them (imports torch): names and memory, no utilisation nor processes."""
    import torch

    if not torch.cuda.is_available():
        return []
    found = []
    for i in range(torch.cuda.device_count()):
        try:
            free, total = torch.cuda.mem_get_info(i)
            found.append(GpuInfo(i, torch.cuda.get_device_name(i), int(total - free), int(total)))
        except Exception:  # noqa: BLE001 - a device that cannot be queried: by index only
            found.append(GpuInfo(i, "unknown GPU"))
    return found


def pick_gpu(gpus: list[GpuInfo]) -> int:
    """The index `device=auto` trains on (see the module docstring for the rule); 0 when nothing is known."""
    if not gpus:
        return 0

    def busy(g: GpuInfo) -> tuple[int, int, int]:
        return (g.processes if g.processes is not None else 0,
                -(g.mem_free if g.mem_free is not None else 0), g.index)

    return min(gpus, key=busy).index


def gpus_from_json(items: list[dict[str, Any]]) -> list[GpuInfo]:
    """GpuInfo records from their JSON (the device probe's output); malformed items are left out."""
    def number(value: Any) -> Any:
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    out = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("index"), int):
            out.append(GpuInfo(item["index"], str(item.get("name") or "GPU"), number(item.get("mem_used")),
                               number(item.get("mem_total")), number(item.get("util")),
                               number(item.get("processes"))))
    return out
