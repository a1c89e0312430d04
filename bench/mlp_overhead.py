"""Engine overhead on the smallest stage: circles-optim, 150 epochs, batch 10.

Times the full engine (engine.train.train: run folder, metrics.csv, run.json,
artifacts, checkpoints, events) against a bare torch loop doing the same steps
(same data, same initial weights, same data order, SGD, the test set evaluated
each epoch), alternately in this process, and keeps the best of each.
The last line printed is a JSON object with "engine_over_bare" (target <= 1.3).

    python bench/mlp_overhead.py [--repeats 3] [--epochs 150] [--threads 1]

Threads default to 1: the matrices are 10 x 10, intra-op threads only add
synchronisation (and on a busy 2-core machine they cost several times the work).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.data.circles import make_circles  # noqa: E402
from engine.mlp.models import init_weights  # noqa: E402
from engine.mlp.runner import SHUFFLE_SEED_OFFSET  # noqa: E402
from engine.stages import resolve_config  # noqa: E402
from engine.train import train  # noqa: E402


def bare_loop(config: dict) -> float:
    """The same computation as circles-optim, written as a plain torch loop. -> final test acc."""
    data = make_circles()
    x_train = torch.as_tensor(data.x_train, dtype=torch.float32)
    y_train = torch.as_tensor(data.y_train)
    x_test = torch.as_tensor(data.x_test, dtype=torch.float32)
    y_test = torch.as_tensor(data.y_test)
    w = init_weights(2, config["hidden"], 2, config["init_std"], config["seed"])
    net = torch.nn.Sequential(torch.nn.Linear(2, config["hidden"]), torch.nn.Tanh(),
                              torch.nn.Linear(config["hidden"], 2))
    with torch.no_grad():
        net[0].weight.copy_(w["W_h"]), net[2].weight.copy_(w["W_y"])
        net[0].bias.zero_(), net[2].bias.zero_()
    loss_fn = torch.nn.CrossEntropyLoss(reduction=config["reduction"])
    opt = torch.optim.SGD(net.parameters(), lr=config["lr"])
    gen = torch.Generator().manual_seed(config["seed"] + SHUFFLE_SEED_OFFSET)
    bs = config["batch_size"]
    acc = 0.0
    for _ in range(config["epochs"]):
        order = torch.randperm(len(y_train), generator=gen)
        losses = []
        for xb, yb in zip(x_train[order].split(bs), y_train[order].split(bs)):
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.detach())
        train_loss = torch.stack(losses).sum().item() / len(y_train)  # noqa: F841 - read once per epoch, like the engine
        with torch.inference_mode():
            acc = (net(x_test).argmax(1) == y_test).sum().item() / len(y_test)
    return acc


def engine_run(config: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        events = []
        done = train(config, runs_dir=str(Path(tmp) / "runs"), data_dir=str(Path(tmp) / "data"),
                     emit=events.append, should_stop=lambda: False)
        if done.status != "finished":
            raise SystemExit(f"engine run ended {done.status}: {done.message}")
        return done.final["test_acc"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    config = resolve_config("circles-optim", {"epochs": args.epochs})
    times: dict[str, list[float]] = {"engine": [], "bare": []}
    accs: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, fn in (("bare", bare_loop), ("engine", engine_run)):
            start = time.perf_counter()
            accs[name] = fn(config)
            times[name].append(time.perf_counter() - start)
            print(f"{name:6s} {times[name][-1]:.3f} s  test_acc {accs[name]:.4f}", file=sys.stderr)
    best = {k: min(v) for k, v in times.items()}
    print(json.dumps({"engine_over_bare": round(best["engine"] / best["bare"], 3),
                      "engine_s": round(best["engine"], 3), "bare_s": round(best["bare"], 3),
                      "epochs": args.epochs, "steps": args.epochs * -(-200 // config["batch_size"]),
                      "threads": args.threads,
                      "same_test_acc": accs["engine"] == accs["bare"]}))


if __name__ == "__main__":
    main()
