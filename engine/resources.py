"""What a run costs the machine: this process's CPU and memory, and on CUDA the GPU's utilisation and
memory (NVML through nvidia-ml-py when it is installed and a driver answers; torch's own allocator
figures when torch has already set CUDA up). No UI here: front ends call `ResourceSampler.sample()`
from their own timer (never from the training loop); one sample reads a few /proc files and, on CUDA,
makes three NVML calls, well under a millisecond.

    python -m engine.resources      prints one sample as JSON
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

import psutil

MIB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """One sample. None: not known here (no GPU, no NVML, CUDA not set up yet)."""

    cpu_percent: float | None  # this process, all its threads: 100 = one core busy
    cores: int  # logical CPUs of the machine (the most cpu_percent can reach is 100 x cores)
    rss_bytes: int | None  # this process's resident memory
    mem_percent: float | None  # rss as a share of the machine's memory
    gpu_index: int | None = None  # the GPU sampled (NVML's numbering)
    gpu_util: float | None = None  # percent of the last sample period the GPU was busy
    gpu_mem_used: int | None = None  # bytes used on the GPU, all processes (NVML)
    gpu_mem_total: int | None = None
    torch_allocated: int | None = None  # bytes held by this process's tensors (torch.cuda.memory_allocated)
    torch_reserved: int | None = None  # bytes torch's caching allocator holds (torch.cuda.memory_reserved)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def cuda_index(device: str) -> int | None:
    """'cuda' -> 0, 'cuda:1' -> 1; anything else (cpu, mps, '') -> None."""
    if not device.startswith("cuda"):
        return None
    _, _, index = device.partition(":")
    return int(index) if index.isdigit() else 0


def nvml_index(torch_index: int, visible: str | None) -> int | str:
    """The NVML device of torch's `cuda:torch_index`: NVML ignores CUDA_VISIBLE_DEVICES, torch numbers the
    visible devices from 0. Returns an NVML index, or the UUID string when the variable lists UUIDs."""
    if not visible:
        return torch_index
    listed = [v.strip() for v in visible.split(",") if v.strip()]
    if torch_index >= len(listed):
        return torch_index
    chosen = listed[torch_index]
    return int(chosen) if chosen.isdigit() else chosen


class ResourceSampler:
    """Samples one process (default: this one) and, for a cuda device, its GPU.

    `sample()` never raises: what cannot be read is None (a process gone, NVML missing or failing)."""

    def __init__(self, device: str = "cpu", pid: int | None = None) -> None:
        self.device = device
        self._proc: psutil.Process | None
        try:
            self._proc = psutil.Process(pid)
            self._proc.cpu_percent(None)  # the first call only starts the interval
        except (psutil.Error, OSError):
            self._proc = None
        self._total_mem = psutil.virtual_memory().total
        self._cores = psutil.cpu_count() or 1
        self._nvml: Any = None
        self._handle: Any = None
        self._gpu_index: int | None = None
        torch_index = cuda_index(device)
        if torch_index is not None:
            self._torch_index = torch_index
            self._open_nvml(nvml_index(torch_index, os.environ.get("CUDA_VISIBLE_DEVICES")))

    def _open_nvml(self, which: int | str) -> None:
        try:
            import pynvml  # nvidia-ml-py: optional
        except ImportError:
            return
        try:
            pynvml.nvmlInit()
            if isinstance(which, str):
                self._handle = pynvml.nvmlDeviceGetHandleByUUID(which)
                self._gpu_index = int(pynvml.nvmlDeviceGetIndex(self._handle))
            else:
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(which)
                self._gpu_index = which
            self._nvml = pynvml
        except Exception:  # noqa: BLE001 - no driver, no such device: the GPU figures stay unknown
            self._handle = None

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass
            self._nvml = None
            self._handle = None

    def sample(self) -> Usage:
        cpu = rss = None
        if self._proc is not None:
            try:
                with self._proc.oneshot():
                    cpu = self._proc.cpu_percent(None)
                    rss = self._proc.memory_info().rss
            except (psutil.Error, OSError):
                pass
        mem_pct = 100.0 * rss / self._total_mem if rss is not None and self._total_mem else None
        usage = Usage(cpu, self._cores, rss, mem_pct)
        gpu: dict[str, Any] = {}
        if self._handle is not None:
            try:
                util = self._nvml.nvmlDeviceGetUtilizationRates(self._handle)
                mem = self._nvml.nvmlDeviceGetMemoryInfo(self._handle)
                gpu.update(gpu_index=self._gpu_index, gpu_util=float(util.gpu), gpu_mem_used=int(mem.used),
                           gpu_mem_total=int(mem.total))
            except Exception:  # noqa: BLE001 - a GPU that stopped answering: unknown, not fatal
                pass
        gpu.update(self._torch_memory())
        if gpu:
            usage = Usage(**{**asdict(usage), **gpu})
        return usage

    def _torch_memory(self) -> dict[str, int]:
        """torch's allocator figures, only when torch is already imported and CUDA already set up (reading
        them must neither import torch nor start CUDA)."""
        if cuda_index(self.device) is None:
            return {}
        torch = sys.modules.get("torch")
        if torch is None:
            return {}
        try:
            if not torch.cuda.is_initialized():
                return {}
            return {"torch_allocated": int(torch.cuda.memory_allocated(self._torch_index)),
                    "torch_reserved": int(torch.cuda.memory_reserved(self._torch_index))}
        except Exception:  # noqa: BLE001
            return {}

    def __enter__(self) -> ResourceSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def size_text(n: int | None) -> str:
    """Bytes as a short size: 812M, 3.1G (binary units)."""
    if n is None:
        return "-"
    if n < 1024 * MIB:
        return f"{n / MIB:.0f}M"
    return f"{n / (1024 * MIB):.1f}G"


def usage_line(u: Usage) -> str:
    """One line of a sample, e.g. 'cpu 187% of 2 cores  mem 812M (5%)  gpu 93%  vram 3.1G/80.0G (torch 2.4G)'."""
    parts = []
    if u.cpu_percent is not None:
        parts.append(f"cpu {u.cpu_percent:.0f}% of {u.cores} cores")
    if u.rss_bytes is not None:
        share = f" ({u.mem_percent:.0f}%)" if u.mem_percent is not None else ""
        parts.append(f"mem {size_text(u.rss_bytes)}{share}")
    if u.gpu_util is not None:
        parts.append(f"gpu {u.gpu_util:.0f}%")
    if u.gpu_mem_used is not None:
        parts.append(f"vram {size_text(u.gpu_mem_used)}/{size_text(u.gpu_mem_total)}")
    if u.torch_allocated is not None:
        parts.append(f"torch {size_text(u.torch_allocated)} ({size_text(u.torch_reserved)} reserved)")
    return "  ".join(parts) or "resource use unknown"


def main() -> None:
    device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    with ResourceSampler(device) as sampler:
        print(json.dumps(sampler.sample().to_json()))


if __name__ == "__main__":
    main()
