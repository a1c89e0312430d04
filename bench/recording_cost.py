"""What recording the inside of the network costs a run: inspect=full (gradient flow, activations, unit maps or
conv1's filters and feature maps) against inspect=off, alternately in this process, best wall time of each.
The values before the first update (artifacts/initial.json) are a one-off cost per run, timed on their own.

    python bench/recording_cost.py                           # circles-optim, 300 epochs (target <= 1.05)
    python bench/recording_cost.py --stage cifar-batchnorm   # the CNN on digits (target <= 1.03)

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

from engine.cnn.runner import CNNRunner  # noqa: E402
from engine.mlp.runner import MLPRunner  # noqa: E402
from engine.stages import get_stage, resolve_config  # noqa: E402
from engine.train import prepare, train  # noqa: E402

CNN_DEFAULTS = {"dataset": "digits", "device": "cpu"}


@contextmanager
def without_initial(runner_class: type):
    """The runner class without initial_metrics: engine.train then records no initial values."""
    initial = runner_class.initial_metrics
    del runner_class.initial_metrics
    try:
        yield
    finally:
        runner_class.initial_metrics = initial


def timed_run(config: dict[str, Any], folder: Path) -> tuple[float, int, int]:
    """(seconds, bytes of artifacts, bytes of the inside-the-network ones)."""
    start = time.perf_counter()
    result = train(config, runs_dir=str(folder), data_dir=str(folder))
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
    parser.add_argument("--epochs", type=int, default=0, help="default: 300 (circles), 3 (CNN)")
    parser.add_argument("--size-epochs", type=int, default=0, help="default: 300 (circles), 30 (CNN)")
    parser.add_argument("--device", default="cpu", help="the CNN's device (cpu, cuda, cuda:N)")
    args = parser.parse_args()
    cnn = get_stage(args.stage).part == "2-cd"
    epochs = args.epochs or (3 if cnn else 300)
    base = dict(dict(CNN_DEFAULTS, device=args.device) if cnn else {}, epochs=str(epochs))
    configs = {name: resolve_config(args.stage, dict(base, inspect=name if name == "off" else "full"))
               for name in ("off", "full")}
    best = {"full": float("inf"), "off": float("inf")}
    cls = CNNRunner if cnn else MLPRunner
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with without_initial(cls):
            for r in range(args.repeats + 1):  # round 0 warms up
                for name in (("full", "off") if r % 2 else ("off", "full")):
                    seconds, _, _ = timed_run(configs[name], root / f"{name}{r}")
                    if r:
                        best[name] = min(best[name], seconds)
        runner = prepare(configs["full"], tmp)
        start = time.perf_counter()
        runner.initial_metrics()
        initial_s = time.perf_counter() - start
        size_epochs = args.size_epochs or (30 if cnn else 300)
        size_config = resolve_config(args.stage, dict(base, epochs=str(size_epochs),
                                                      **({"limit_train": "128", "limit_test": "128"} if cnn else {})))
        _, total, inside = timed_run(size_config, root / "size")
    epoch_s = best["off"] / epochs
    print(f"{args.stage}, {epochs} epochs: inspect=full {best['full']:.3f} s, inspect=off {best['off']:.3f} s "
          f"(best of {args.repeats}); initial values {initial_s:.3f} s once ({initial_s / epoch_s:.2f} of an "
          f"epoch); a {size_epochs}-epoch run's artifacts {total / 1024:.0f} kB, of which inside the network "
          f"{inside / 1024:.0f} kB")
    print(json.dumps({"stage": args.stage, "recording_over_none": round(best["full"] / best["off"], 3),
                      "initial_over_epoch": round(initial_s / epoch_s, 3), "size_epochs": size_epochs,
                      "artifacts_kb": round(total / 1024), "inside_kb": round(inside / 1024)}))


if __name__ == "__main__":
    main()
