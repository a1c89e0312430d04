"""On a machine with CUDA (skipped elsewhere, CI included): cuda:N resolves and trains, an index past the
visible GPUs is bad input, the GPU list and device=auto's pick name real devices, and a detached run on cuda:0
records that device."""
from __future__ import annotations

import json

import pytest
import torch

from engine.config import ConfigError
from engine.devices import gpu_list, resolve_device
from engine.gpus import pick_gpu

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_cuda_indices_resolve_and_one_past_the_last_is_refused():
    count = torch.cuda.device_count()
    assert resolve_device("cuda:0") == "cuda:0"
    assert resolve_device(f"cuda:{count - 1}") == f"cuda:{count - 1}"
    with pytest.raises(ConfigError, match=f"shows {count} GPU"):
        resolve_device(f"cuda:{count}")
    assert resolve_device("auto").startswith("cuda:")


def test_the_gpu_list_and_auto_name_real_devices():
    gpus = gpu_list()
    assert len(gpus) == torch.cuda.device_count()
    assert all(g.mem_total and g.mem_total > 0 for g in gpus)
    assert 0 <= pick_gpu(gpus) < len(gpus)


def test_a_detached_cnn_run_on_cuda_0_trains_there(cli):
    started = cli("run", "cifar-batchnorm", "dataset=digits", "epochs=2", "device=cuda:0", "--detach", "--json")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["run_id"]
    attached = cli("runs", "attach", run_id, timeout=600)
    assert attached.returncode == 0, attached.stdout + attached.stderr
    record = json.loads((cli.runs_dir / run_id / "run.json").read_text())
    assert record["status"] == "finished" and record["device"] == "cuda:0"
