"""What the teaching views' recording costs a circles run: the hidden-unit maps (units-eNNNN, at the boundary
snapshots) and the values before the first update (artifacts/initial.json).

Trains circles-optim (300 epochs, grid_every 10 by default) through engine.train.train with the recording
as shipped, and with both parts taken out of the runner, alternately in this process; keeps the best wall
time of each. The last line is a JSON object with "recording_over_none" (target <= 1.05) and the size of the
run's artifacts.

    python bench/recording_cost.py [--repeats 3] [--epochs 300] [--grid-every 10]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.mlp.runner import MLPRunner  # noqa: E402
from engine.stages import resolve_config  # noqa: E402
from engine.train import train  # noqa: E402


@contextmanager
def without_recording():
    """The runner as it was before: no unit maps, no initial values."""
    artifacts, initial = MLPRunner.artifacts, MLPRunner.initial_metrics

    def no_units(self, epoch, last):
        return {k: v for k, v in artifacts(self, epoch, last).items() if not k.startswith("units-")}

    MLPRunner.artifacts = no_units  # type: ignore[method-assign]
    del MLPRunner.initial_metrics
    try:
        yield
    finally:
        MLPRunner.artifacts = artifacts  # type: ignore[method-assign]
        MLPRunner.initial_metrics = initial  # type: ignore[method-assign]


def one(config: dict, folder: Path) -> tuple[float, int, int]:
    """(seconds, bytes of artifacts, of which unit maps and initial values)."""
    start = time.perf_counter()
    result = train(config, runs_dir=str(folder), data_dir=str(folder))
    seconds = time.perf_counter() - start
    arts = folder / result.run_id / "artifacts"
    total = sum(p.stat().st_size for p in arts.iterdir())
    ours = sum(p.stat().st_size for p in arts.iterdir() if p.name.startswith(("units-", "initial")))
    return seconds, total, ours


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--grid-every", type=int, default=10)
    args = parser.parse_args()
    config = resolve_config("circles-optim", {"epochs": str(args.epochs), "grid_every": str(args.grid_every)})
    best = {"recording": float("inf"), "none": float("inf")}
    sizes = (0, 0)
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats + 1):  # round 0 warms up
            for name in (("recording", "none") if r % 2 else ("none", "recording")):
                if name == "none":
                    with without_recording():
                        seconds, _, _ = one(config, Path(tmp) / f"{name}{r}")
                else:
                    seconds, total, ours = one(config, Path(tmp) / f"{name}{r}")
                    sizes = (total, ours)
                if r:
                    best[name] = min(best[name], seconds)
    print(f"circles-optim, {args.epochs} epochs, grid_every {args.grid_every}: with recording {best['recording']:.3f} s, "
          f"without {best['none']:.3f} s (best of {args.repeats}); artifacts {sizes[0] / 1024:.0f} kB, of which "
          f"unit maps and initial values {sizes[1] / 1024:.0f} kB")
    print(json.dumps({"recording_over_none": round(best["recording"] / best["none"], 3),
                      "artifacts_kb": round(sizes[0] / 1024), "recording_kb": round(sizes[1] / 1024)}))


if __name__ == "__main__":
    main()
