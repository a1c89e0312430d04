"""Training throughput of the lab CNN at batch 128 on random uint8 data shaped as the chosen data set's
(--dataset cifar10: 32x32 colour; mnist or fashion-mnist: 28x28 grey, made 32x32x3 by the loader's own
engine.data.mnist.lab_images; crop-flip flips fashion-mnist, only crops mnist), three ways, in one process:

  a  a bare loop over float tensors already cropped to 28x28 (the model work, no data work);
     also a_cl: the same loop in channels_last, for reference
  b  the engine: engine.cnn.runner with cifar-augment settings (random 28x28 crop + flip,
     standardization, all on the device), fed the same kind of data through build_from_data
  c  the usual torchvision pipeline: PIL images, RandomCrop(28) + RandomHorizontalFlip +
     ToTensor + Normalize, DataLoader(num_workers=2)

They alternate in short chunks (--chunk batches, --rounds rounds, after a warm-up round) and
each reports its best chunk (and the median): on a shared machine the best chunk is the one
least disturbed by other processes.
Also the engine's training GFLOP/s (3x the summary's forward FLOPs per image) against a large
torch.mm timed here. The last line is one JSON object.

    python bench/cnn_throughput.py [--rounds N] [--chunk N] [--device cpu|cuda|auto]
                                   [--dataset cifar10|mnist|fashion-mnist]

On CUDA every method runs the same model step as the engine (bf16 autocast, channels_last for a_cl
and b), so the ratios measure the data path; use a larger --chunk there (e.g. 100).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from engine.cnn.model import build_model  # noqa: E402
from engine.cnn.runner import build_from_data  # noqa: E402
from engine.cnn.summary import summarize  # noqa: E402
from engine.data import Dataset  # noqa: E402
from engine.data.dataset import numbered  # noqa: E402
from engine.data.mnist import IDX_SETS, lab_images  # noqa: E402
from engine.devices import resolve_device  # noqa: E402
from engine.stages import resolve_config  # noqa: E402

BATCH = 128
LR = 0.01  # random labels: keep the weights finite (the speed of NaNs is not the point)
MEAN, STD = (0.491, 0.482, 0.447), (0.247, 0.243, 0.261)
POOL = 48  # batches of distinct images for a and c
DEVICE = torch.device("cpu")  # set by --device


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def autocast():
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=DEVICE.type == "cuda")


def fake_images(n: int, dataset: str = "cifar10", seed: int = 0):
    """Random images as the loader of `dataset` hands them to the engine (uint8 N x 3 x 32 x 32)."""
    g = torch.Generator().manual_seed(seed)
    if dataset == "cifar10":
        x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    else:
        x = lab_images(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g))
    return x, torch.randint(0, 10, (n,), generator=g)


def sgd_step(model, opt):
    def step(x, y):
        with autocast():
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


class Bare:
    """a: the model on float batches already cropped and normalized (cycled)."""

    def __init__(self, x_u8, y, channels_last: bool):
        torch.manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = build_model({}).to(DEVICE, memory_format=fmt)
        self.step = sgd_step(model, torch.optim.SGD(model.parameters(), lr=LR))
        mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
        xf = ((x_u8[:, :, 2:30, 2:30].float() / 255 - mean) / std).to(DEVICE).contiguous(memory_format=fmt)
        y = y.to(DEVICE)
        self.batches = [(xf[i:i + BATCH], y[i:i + BATCH]) for i in range(0, len(y), BATCH)]
        self.i = 0

    def run(self, k: int) -> float:
        start = time.perf_counter()
        for _ in range(k):
            self.step(*self.batches[self.i % len(self.batches)])
            self.i += 1
        sync()
        return time.perf_counter() - start


class Engine:
    """b: engine.cnn.runner (cifar-augment) on uint8 images; one epoch is one chunk, timed whole
    (the epoch's shuffle/augmentation draw and its one metrics read included)."""

    def __init__(self, x_u8, y, chunk: int, mirror_ok: bool = True):
        config = resolve_config("cifar-augment", {"device": DEVICE.type, "lr": LR})
        n = chunk * BATCH
        data = Dataset("random", x_u8[:n], y[:n], x_u8[:1000], y[:1000], numbered(10), mirror_ok=mirror_ok)
        self.runner = build_from_data(config, data, DEVICE.type)
        self.epoch = 0

    def run(self, k: int) -> float:
        assert k == self.runner.batches_per_epoch
        self.epoch += 1
        start = time.perf_counter()
        self.runner.train_epoch(self.epoch, lambda i: False)
        return time.perf_counter() - start


class PILDataset(torch.utils.data.Dataset):
    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


class Torchvision:
    """c: PIL images, RandomCrop(28) + RandomHorizontalFlip + ToTensor + Normalize,
    DataLoader(batch 128, shuffle, num_workers=2; fork, as on Linux by default)."""

    def __init__(self, x_u8, y):
        from PIL import Image
        from torchvision import transforms

        images = [Image.fromarray(img) for img in x_u8.permute(0, 2, 3, 1).numpy()]
        transform = transforms.Compose([transforms.RandomCrop(28), transforms.RandomHorizontalFlip(),
                                        transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
        self.loader = torch.utils.data.DataLoader(PILDataset(images, y.tolist(), transform), batch_size=BATCH,
                                                  shuffle=True, num_workers=2, drop_last=True,
                                                  pin_memory=DEVICE.type == "cuda")
        torch.manual_seed(0)
        model = build_model({}).to(DEVICE)
        step = sgd_step(model, torch.optim.SGD(model.parameters(), lr=LR))
        self.step = lambda x, y: step(x.to(DEVICE, non_blocking=True), y.to(DEVICE, non_blocking=True))
        self.it, self.left = None, 0

    def run(self, k: int) -> float:
        if self.left < k:  # a new epoch: workers start; not timed, like a warm-up
            self.it, self.left = iter(self.loader), len(self.loader)
            for _ in range(2):
                self.step(*next(self.it))
                self.left -= 1
        start = time.perf_counter()
        for _ in range(k):
            self.step(*next(self.it))
        self.left -= k
        sync()
        return time.perf_counter() - start


def mm_gflops(n: int = 2048, reps: int = 10, tries: int = 3) -> float:
    """A large matmul's GFLOP/s on the device (bf16 on CUDA, like the engine's autocast)."""
    if DEVICE.type == "cuda":
        n, reps = 8192, 20
    dtype = torch.bfloat16 if DEVICE.type == "cuda" else torch.float32
    a, b = torch.randn(n, n, device=DEVICE, dtype=dtype), torch.randn(n, n, device=DEVICE, dtype=dtype)
    for _ in range(3):
        a @ b
    sync()
    best = 0.0
    for _ in range(tries):
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync()
        best = max(best, reps * 2 * n ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="timed rounds (each method once per round)")
    parser.add_argument("--chunk", type=int, default=10, help="batches per timed chunk")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "mnist", "fashion-mnist"))
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(resolve_device(args.device))
    if DEVICE.type == "cuda":
        torch.backends.cudnn.benchmark = True
    x, y = fake_images(POOL * BATCH, args.dataset)
    mirror_ok = IDX_SETS[args.dataset].mirror_ok if args.dataset in IDX_SETS else True
    methods = {"a": Bare(x, y, channels_last=False), "a_cl": Bare(x, y, channels_last=True),
               "b": Engine(x, y, args.chunk, mirror_ok), "c": Torchvision(x, y)}
    rates: dict[str, list[float]] = {k: [] for k in methods}
    for r in range(args.rounds + 1):  # round 0 warms up
        order = list(methods) if r % 2 else list(reversed(methods))
        for name in order:
            seconds = methods[name].run(args.chunk)
            if r:
                rates[name].append(args.chunk * BATCH / seconds)
        if r:
            print(f"round {r}: " + "  ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()) + " img/s",
                  flush=True)
    best = {k: max(v) for k, v in rates.items()}
    median = {k: statistics.median(v) for k, v in rates.items()}
    flops_per_img = 3 * summarize({"augment": "crop-flip"})["forward_flops"]
    engine_gflops = best["b"] * flops_per_img / 1e9
    peak = mm_gflops()
    print(f"{args.dataset}: device {DEVICE}, threads {torch.get_num_threads()}, batch {BATCH}, "
          f"{args.rounds} rounds of {args.chunk} batches; "
          f"best (median) img/s")
    print(f"a  bare loop, pre-cropped float (NCHW):  {best['a']:,.0f} ({median['a']:,.0f})")
    print(f"a' bare loop, channels_last:             {best['a_cl']:,.0f} ({median['a_cl']:,.0f})")
    print(f"b  engine (cifar-augment):               {best['b']:,.0f} ({median['b']:,.0f})")
    print(f"c  torchvision PIL + DataLoader(2):      {best['c']:,.0f} ({median['c']:,.0f})")
    print(f"engine {engine_gflops:.1f} GFLOP/s ({flops_per_img / 1e6:.0f} MFLOP per image) vs mm {peak:.1f} GFLOP/s")
    print(json.dumps({
        "dataset": args.dataset, "a_img_s": round(best["a"], 1), "a_cl_img_s": round(best["a_cl"], 1),
        "b_img_s": round(best["b"], 1), "c_img_s": round(best["c"], 1),
        "b_over_a": round(best["b"] / best["a"], 3), "b_over_a_cl": round(best["b"] / best["a_cl"], 3),
        "b_over_c": round(best["b"] / best["c"], 3),
        "median_b_over_a": round(median["b"] / median["a"], 3),
        "median_b_over_c": round(median["b"] / median["c"], 3),
        "engine_gflops": round(engine_gflops, 1), "mm_gflops": round(peak, 1),
        "gflops_fraction": round(engine_gflops / peak, 3),
    }))


if __name__ == "__main__":
    main()
