"""engine.resources: what a run costs the machine, read without any UI and without touching torch."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from engine.resources import ResourceSampler, Usage, cuda_index, nvml_index, size_text, usage_line


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1


def test_sample_sees_this_process_working():
    sampler = ResourceSampler("cpu")
    worker = threading.Thread(target=burn, args=(0.6,))
    worker.start()
    worker.join()
    usage = sampler.sample()
    assert usage.cpu_percent is not None and usage.cpu_percent > 20  # ~100: one core busy for the interval
    assert usage.rss_bytes is not None and usage.rss_bytes > 10 * 1024 * 1024
    assert 0 < usage.mem_percent < 100
    assert usage.cores >= 1
    assert usage.gpu_util is None and usage.torch_allocated is None  # a cpu run reads no GPU figures
    # a second sample right after, with nothing done in between, sees the process idle
    time.sleep(0.3)
    assert sampler.sample().cpu_percent < usage.cpu_percent


def test_another_process_and_a_gone_one():
    child = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: pass"])
    try:
        sampler = ResourceSampler("cpu", pid=child.pid)
        time.sleep(0.5)
        assert sampler.sample().cpu_percent > 20
    finally:
        child.kill()
        child.wait(timeout=10)
    gone = sampler.sample()  # never raises: what cannot be read is unknown
    assert gone.cpu_percent is None and gone.rss_bytes is None
    assert usage_line(gone).startswith("resource use unknown")


def test_device_names_and_visible_devices():
    assert cuda_index("cpu") is None and cuda_index("mps") is None and cuda_index("") is None
    assert cuda_index("cuda") == 0 and cuda_index("cuda:3") == 3
    assert nvml_index(0, None) == 0 and nvml_index(1, "") == 1
    assert nvml_index(0, "2,3") == 2 and nvml_index(1, "2,3") == 3  # NVML ignores CUDA_VISIBLE_DEVICES
    assert nvml_index(0, "GPU-abc,GPU-def") == "GPU-abc"


def test_cuda_device_without_a_driver_or_cuda_set_up_is_not_an_error():
    """Asking for a cuda device on a machine where NVML or CUDA is missing (or CUDA is not set up yet)
    gives a sample with the CPU figures and unknown GPU figures; it never imports torch."""
    code = ("import json, sys\nfrom engine.resources import ResourceSampler\n"
            "s = ResourceSampler('cuda:0'); u = s.sample(); s.close()\n"
            "print(json.dumps({'u': u.to_json(), 'torch': 'torch' in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["torch"] is False
    assert got["u"]["rss_bytes"] > 0 and got["u"]["torch_allocated"] is None


def test_usage_line():
    u = Usage(187.4, 2, 812 * 1024 * 1024, 5.2, 0, 93.0, 3 * 1024 ** 3, 80 * 1024 ** 3, 2 * 1024 ** 3,
              int(2.5 * 1024 ** 3))
    assert usage_line(u) == "cpu 187% of 2 cores  mem 812M (5%)  gpu 93%  vram 3.0G/80.0G  torch 2.0G (2.5G reserved)"
    assert size_text(None) == "-" and size_text(1536 * 1024 * 1024) == "1.5G"


@pytest.mark.skipif(os.environ.get("NNLAB_TEST_CUDA") != "1", reason="needs a CUDA GPU (NNLAB_TEST_CUDA=1)")
def test_cuda_figures():
    import torch

    x = torch.ones(64, 1024, 1024, device="cuda:0")  # 256 MiB
    with ResourceSampler("cuda:0") as sampler:
        for _ in range(20):
            (x @ x[0].T).sum().item()
        u = sampler.sample()
    assert u.torch_allocated >= 256 * 1024 * 1024 and u.torch_reserved >= u.torch_allocated
    assert u.gpu_mem_total > u.gpu_mem_used >= u.torch_reserved
    assert u.gpu_util is not None and 0 <= u.gpu_util <= 100
