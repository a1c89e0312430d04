"""What recording the inside of the network costs a run: inspect=full (gradient flow, activations, unit maps or
conv1's filters and feature maps) against inspect=off, alternately in this process, best wall time of each.
The values before the first update (artifacts/initial.json) are a one-off cost per run, timed on their own.

    python bench/recording_cost.py                           # circles-optim, 300 epochs (target <= 1.05)
    python bench/recording_cost.py --stage cifar-batchnorm   # the CNN (target <= 1.03), 2 epochs of 10,000
                                                             # CIFAR-sized images (--n-train; CIFAR-10: 50,000)

The last line is a JSON object: "recording_over_none", the one-off "initial_s" against one epoch, and the size
on disk of the artifacts of the run timed and of a --size-epochs run (300 for circles, 30 for the CNN).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cnn.runner import CNNRunner, build_from_data  # noqa: E402
from engine.data.dataset import Dataset, numbered  # noqa: E402
from engine.mlp.runner import MLPRunner  # noqa: E402
from engine.stages import get_stage, resolve_config  # noqa: E402
from engine.train import prepare, train  # noqa: E402

CNN_DEFAULTS = {"dataset": "digits", "device": "cpu"}


def cifar_sized(n_train: int, n_test: int = 1000) -> Dataset:
    """Random uint8 3 x 32 x 32 images and labels: what a CNN epoch costs depends on their number, not on
    what they show."""
    import torch

    gen = torch.Generator().manual_seed(0)

    def images(n: int) -> tuple[Any, Any]:
        return (torch.randint(0, 256, (n, 3, 32, 32), generator=gen, dtype=torch.uint8),
                torch.randint(0, 10, (n,), generator=gen))

    return Dataset("random", *images(n_train), *images(n_test), numbered(10))


@contextmanager
def without_initial(runner_class: type):
    """The runner class without initial_metrics: engine.train then records no initial values."""
    initial = runner_class.initial_metrics
    del runner_class.initial_metrics
    try:
        yield
    finally:
        runner_class.initial_metrics = initial


ARTIFACTS_S = [0.0]  # seconds spent in the runner's artifacts() (where the epoch-end recording happens)


@contextmanager
def timing_artifacts(runner_class: type):
    artifacts = runner_class.artifacts

    def timed(self: Any, epoch: int, last: bool) -> Any:
        start = time.perf_counter()
        try:
            return artifacts(self, epoch, last)
        finally:
            ARTIFACTS_S[0] += time.perf_counter() - start

    runner_class.artifacts = timed
    try:
        yield
    finally:
        runner_class.artifacts = artifacts


def timed_run(config: dict[str, Any], folder: Path, data: Dataset | None = None) -> tuple[float, int, int]:
    """(seconds, bytes of artifacts, bytes of the inside-the-network ones). data: the CNN's images."""
    runner = build_from_data(config, data) if data is not None else None
    start = time.perf_counter()
    result = train(config, runs_dir=str(folder), data_dir=str(folder), runner=runner)
    seconds = time.perf_counter() - start
    assert result.status == "finished", result.message
    arts = folder / result.run_id / "artifacts"
    total = sum(p.stat().st_size for p in arts.iterdir())
    inside = sum(p.stat().st_size for p in arts.iterdir()
                 if p.name.startswith(("units-", "gradients", "activations", "filters-", "features-")))
    return seconds, total, inside


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stage", default="circles-optim")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=0, help="default: 300 (circles), 2 (CNN)")
    parser.add_argument("--n-train", type=int, default=10_000, help="the CNN's training images")
    parser.add_argument("--size-epochs", type=int, default=0, help="default: 300 (circles), 30 (CNN)")
    parser.add_argument("--device", default="cpu", help="the CNN's device (cpu, cuda, cuda:N)")
    args = parser.parse_args()
    cnn = get_stage(args.stage).part == "2-cd"
    epochs = args.epochs or (2 if cnn else 300)
    data = cifar_sized(args.n_train) if cnn else None
    base = dict(dict(CNN_DEFAULTS, device=args.device) if cnn else {}, epochs=str(epochs))
    configs = {name: resolve_config(args.stage, dict(base, inspect=name if name == "off" else "full"))
               for name in ("off", "full")}
    best = {"full": float("inf"), "off": float("inf")}
    in_artifacts = {"full": float("inf"), "off": float("inf")}
    cls = CNNRunner if cnn else MLPRunner
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with without_initial(cls), timing_artifacts(cls):
            for r in range(args.repeats + 1):  # round 0 warms up
                for name in (("full", "off") if r % 2 else ("off", "full")):
                    ARTIFACTS_S[0] = 0.0
                    seconds, _, _ = timed_run(configs[name], root / f"{name}{r}", data)
                    if r:
                        best[name] = min(best[name], seconds)
                        in_artifacts[name] = min(in_artifacts[name], ARTIFACTS_S[0])
        runner = build_from_data(configs["full"], data) if data is not None else prepare(configs["full"], tmp)
        start = time.perf_counter()
        runner.initial_metrics()
        initial_s = time.perf_counter() - start
        size_epochs = args.size_epochs or (30 if cnn else 300)
        size_config = resolve_config(args.stage, dict(base, epochs=str(size_epochs),
                                                      **({"limit_train": "128", "limit_test": "128"} if cnn else {})))
        _, total, inside = timed_run(size_config, root / "size")
    epoch_s = best["off"] / epochs
    # the recording's own time, counted where it happens: steadier than the difference of two noisy runs
    share = (in_artifacts["full"] - in_artifacts["off"]) / best["off"]
    what = f"{args.n_train} CIFAR-sized images, " if cnn else ""
    print(f"{args.stage}, {what}{epochs} epochs: inspect=full {best['full']:.3f} s, inspect=off {best['off']:.3f} s "
          f"(best of {args.repeats}); initial values {initial_s:.3f} s once ({initial_s / epoch_s:.2f} of an "
          f"epoch); a {size_epochs}-epoch run's artifacts {total / 1024:.0f} kB, of which inside the network "
          f"{inside / 1024:.0f} kB; the epoch-end recording itself: {share:.1%} of the training time")
    print(json.dumps({"stage": args.stage, "epoch_s": round(epoch_s, 3),
                      "recording_over_none": round(best["full"] / best["off"], 3),
                      "recording_share": round(share, 4),
                      "initial_over_epoch": round(initial_s / epoch_s, 3), "size_epochs": size_epochs,
                      "artifacts_kb": round(total / 1024), "inside_kb": round(inside / 1024)}))


if __name__ == "__main__":
    main()
