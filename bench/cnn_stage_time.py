"""Wall time of a whole CNN stage through the engine (run store, events and per-epoch test
evaluation included) on CIFAR-shaped random data: by default cifar-batchnorm, 30 epochs of
50,000 training and 10,000 test images, on the best device (target: under 20 s on one
H100). A bare loop over the same batches, without augmentation or evaluation, is timed
in the same process as the baseline. The last line is one JSON object.

    python bench/cnn_stage_time.py [--stage S] [--epochs N] [--n-train N] [--n-test N] [--device D]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.cnn.model import build_model  # noqa: E402
from engine.cnn.runner import build_from_data  # noqa: E402
from engine.data import Dataset  # noqa: E402
from engine.data.dataset import numbered  # noqa: E402
from engine.devices import resolve_device  # noqa: E402
from engine.stages import resolve_config  # noqa: E402
from engine.train import train  # noqa: E402


def fake_cifar(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (n,), generator=g))


def bare_epoch_s(config, x_u8, y, device: str, batches: int) -> float:
    """Seconds per epoch of a bare loop (float batches already on the device, 28x28 or 32x32 as the
    stage trains, same model and optimizer), timed over `batches` batches and scaled to an epoch."""
    size = 28 if "crop-flip" in config["augment"] else 32
    cuda = device.startswith("cuda")
    model = build_model(config).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    bs = config["batch_size"]
    xf = (x_u8[: bs * batches, :, :size, :size].float() / 255).to(device).contiguous(
        memory_format=torch.channels_last)
    yd = y[: bs * batches].to(device)

    def run():
        for i in range(batches):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                loss = F.cross_entropy(model(xf[i * bs:(i + 1) * bs]), yd[i * bs:(i + 1) * bs])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if cuda:
            torch.cuda.synchronize()

    run()  # warm-up (cudnn.benchmark, allocator)
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * (len(y) / bs) / batches


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", default="cifar-batchnorm")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--n-train", type=int, default=50_000)
    p.add_argument("--n-test", type=int, default=10_000)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    device = resolve_device(args.device)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    config = resolve_config(args.stage, {"epochs": args.epochs, "device": device.split(":")[0],
                                         "compile": args.compile, "lr": 0.01})
    x, y = fake_cifar(args.n_train, 0)
    tx, ty = fake_cifar(args.n_test, 1)
    bare = bare_epoch_s(config, x, y, device, batches=min(40, args.n_train // config["batch_size"]))
    runner = build_from_data(config, Dataset("random", x, y, tx, ty, numbered(10)), device)
    epoch_times = []
    last = [time.perf_counter()]

    def on_event(event):
        if type(event).__name__ == "EpochEnd":
            now = time.perf_counter()
            epoch_times.append(now - last[0])
            last[0] = now

    with tempfile.TemporaryDirectory() as runs:
        start = last[0] = time.perf_counter()
        result = train(config, runs_dir=runs, data_dir=runs, runner=runner, emit=on_event)
        total = time.perf_counter() - start
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    print(f"{args.stage}: {args.epochs} epochs of {args.n_train:,} + test {args.n_test:,} on {name}: "
          f"{total:.1f} s ({result.status}); first epoch {epoch_times[0]:.2f} s, later "
          f"{min(epoch_times[1:] or epoch_times):.2f} s best; bare loop {bare:.2f} s/epoch")
    print(json.dumps({"stage": args.stage, "device": name, "epochs": args.epochs, "n_train": args.n_train,
                      "total_s": round(total, 2), "epoch_s_best": round(min(epoch_times), 3),
                      "bare_epoch_s": round(bare, 3),
                      "engine_epoch_over_bare": round(min(epoch_times) / bare, 3),
                      "train_img_s": round(args.n_train / min(epoch_times), 1)}))


if __name__ == "__main__":
    main()
