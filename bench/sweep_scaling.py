"""Sweeps as Optuna studies: what workers, the study's bookkeeping and pruning cost or save, on circles.

1. 2 workers vs 1: the same grid of --trials circles-optim trials of --workers-epochs epochs,
   `nnlab sweep ... --jobs 1` against `--jobs 2`, wall time of the whole command, start-up included (target
   >= 1.8 on 2 cores). The trials must be long enough for the start-up (about 3 s: the interpreter, torch,
   Optuna, forking the second worker) to be small beside them: 1500 epochs is about 4 s a trial.
2. Bookkeeping overhead per trial: the same trials run in this process by engine.train.train alone, and
   as a study (queued, popped, epochs reported as a trial does (engine.study.trial.reported), curve and run
   id stored: engine.study.workers.work), alternately after a warm-up of each, best of --repeats;
   (study - plain) / plain (target <= 0.05).
3. Pruning: the report's lr sweep, --lrs lrs log-spaced over 0.001..1 (a fixed shuffled order), with the
   median pruner against the same trials unpruned: the fraction of epochs run (target <= 0.6), and how far
   apart, in decades, the best lrs of the two are (the same region: <= 0.5).

    python bench/sweep_scaling.py [--trials 8] [--workers-epochs 1500] [--epochs 300] [--lrs 12]
                                  [--prune-epochs 60] [--repeats 3]

The last line printed is one JSON object of ratios.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.stages import resolve_config  # noqa: E402
from engine.study.create import create, study_meta  # noqa: E402
from engine.study.space import parse_space  # noqa: E402
from engine.study.workers import StopFlag, work  # noqa: E402
from engine.train import train  # noqa: E402


def sweep_cli(runs_dir: Path, *args: str) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env.pop("NNLAB_STORAGE", None)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "engine", "sweep", *args, "--runs-dir", str(runs_dir), "--json"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=3600)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"sweep failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed, json.loads(result.stdout)


def lr_list(n: int, low: float = 0.001, high: float = 1.0) -> list[str]:
    return [f"{low * (high / low) ** (i / (n - 1)):.4g}" for i in range(n)]


def workers_ratio(trials: int, epochs: int) -> float:
    lrs = ",".join(lr_list(trials, 0.01, 0.5))
    times = {}
    for jobs in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            times[jobs], _ = sweep_cli(Path(tmp), "circles-optim", f"lr={lrs}", f"epochs={epochs}", "--jobs", str(jobs))
        print(f"  {trials} trials, {epochs} epochs, --jobs {jobs}: {times[jobs]:.2f} s", file=sys.stderr)
    return times[1] / times[2]


def plain_runs(lrs: list[str], epochs: int) -> float:
    """Seconds for engine.train.train alone over these lrs."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        for lr in lrs:
            train(resolve_config("circles-optim", {"lr": lr, "epochs": epochs}), runs_dir=tmp, data_dir=tmp,
                  tags=["plain"])
        return time.perf_counter() - start


def study_runs(name: str, lrs: list[str], epochs: int) -> float:
    """Seconds for the same runs as a grid study on a journal file, made and worked in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        space = parse_space("circles-optim", [f"lr={','.join(lrs)}", f"epochs={epochs}"])
        create(name, study_meta(space, metric="test_acc", sampler="grid", prune="none", trials=len(lrs), tag=name),
               space, None, tmp)
        work(name, None, tmp, tmp, StopFlag())
        return time.perf_counter() - start


def overhead(trials: int, epochs: int, repeats: int) -> float:
    lrs = lr_list(trials, 0.01, 0.5)
    plain_runs(lrs[:1], epochs)  # warm-up of both paths: imports, the data, the journal code
    study_runs("warm-up", lrs[:1], epochs)
    best_plain = best_study = math.inf
    for r in range(repeats):
        best_plain = min(best_plain, plain_runs(lrs, epochs))
        best_study = min(best_study, study_runs(f"bench-{r}", lrs, epochs))
        print(f"  repeat {r + 1}: plain {best_plain:.2f} s, study {best_study:.2f} s", file=sys.stderr)
    return (best_study - best_plain) / best_plain


def pruning(n: int, epochs: int) -> dict[str, float]:
    lrs = lr_list(n)
    random.Random(0).shuffle(lrs)
    out = {}
    for prune in ("none", "median"):
        with tempfile.TemporaryDirectory() as tmp:
            _, report = sweep_cli(Path(tmp), "circles-optim", f"lr={','.join(lrs)}", f"epochs={epochs}",
                                  "--prune", prune)
        out[prune] = report
        saved = report["pruning_saved"]
        print(f"  --prune {prune}: {saved['epochs_run']} of {saved['epochs_planned']} epochs, best lr "
              f"{report['best']['params']['lr']} ({report['metric']} {report['best']['value']:.4f})", file=sys.stderr)
    fraction = out["median"]["pruning_saved"]["epochs_run"] / out["none"]["pruning_saved"]["epochs_run"]
    lr_pruned, lr_full = (out[p]["best"]["params"]["lr"] for p in ("median", "none"))
    return {"pruned_epoch_fraction": round(fraction, 3),
            "best_lr_decades_apart": round(abs(math.log10(lr_pruned) - math.log10(lr_full)), 3),
            "best_lr_pruned": lr_pruned, "best_lr_unpruned": lr_full}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--workers-epochs", type=int, default=1500, help="epochs of a trial in part 1")
    p.add_argument("--epochs", type=int, default=300, help="epochs of a trial in part 2")
    p.add_argument("--lrs", type=int, default=12)
    p.add_argument("--prune-epochs", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    print("1. workers", file=sys.stderr)
    ratio = workers_ratio(args.trials, args.workers_epochs)
    print("2. study bookkeeping", file=sys.stderr)
    over = overhead(args.trials, args.epochs, args.repeats)
    print("3. pruning", file=sys.stderr)
    pruned = pruning(args.lrs, args.prune_epochs)
    print(json.dumps({"workers_2_over_1": round(ratio, 3), "study_overhead_per_trial": round(over, 4), **pruned}))


if __name__ == "__main__":
    main()
