"""Canned runs and events for the TUI tests: fixed ids, dates and values (deterministic)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from engine.events import METRIC_COLUMNS, EpochEnd, RunFinished, RunStarted
from engine.stages import STAGES

DEVICES = {"auto": True, "cpu": True, "cuda": False, "mps": False}


def curve(epochs: int, final_acc: float, lr: float = 0.03, diverge_at: int | None = None,
          peak: float | None = None) -> list[dict[str, Any]]:
    """Rising accuracy and falling loss; with `peak` (a fraction of the run) the test curves overfit after it:
    test accuracy falls and test loss rises again while the train curves keep improving, so that the best
    test values are not the last ones."""
    def acc_at(t: float) -> float:
        return 0.5 + (final_acc - 0.5) * (1 - math.exp(-4 * t))

    def loss_at(t: float) -> float:
        return 0.7 * math.exp(-2.5 * t) + 0.12

    rows = []
    for e in range(1, epochs + 1):
        t = e / epochs
        acc, loss = acc_at(t), loss_at(t)
        train_acc, train_loss = min(1.0, acc + 0.02), loss * 0.95
        if peak is not None and t > peak:
            past = (t - peak) / (1 - peak)
            acc, loss = acc_at(peak) - 0.05 * past, loss_at(peak) + 0.08 * past
        if diverge_at is not None and e >= diverge_at:
            loss = train_loss = float("nan")
        rows.append({"epoch": e, "train_loss": round(train_loss, 4), "train_acc": round(train_acc, 4),
                     "test_loss": round(loss, 4), "test_acc": round(acc, 4), "lr": lr,
                     "wall_time": round(0.25 * e, 3)})
    return rows


PEAK = 0.7  # the saved runs' test curves peak at 70 % of their epochs (best != last)


def boundary(epoch: int, radius: float = 0.7) -> dict[str, Any]:
    n, lo, hi = 40, -2.0, 2.0
    prob = []
    for i in range(n):
        y = lo + (hi - lo) * (i + 0.5) / n
        prob.append([round(1 / (1 + math.exp(6 * (math.hypot(lo + (hi - lo) * (j + 0.5) / n, y) - radius))), 4)
                     for j in range(n)])
    return {"kind": "boundary", "epoch": epoch, "lo": lo, "hi": hi, "n": n, "prob": prob}


def points() -> dict[str, Any]:
    pts = []
    for k in range(24):
        a = 2 * math.pi * k / 24
        r = 1.1 if k % 2 else 0.35
        pts.append([round(r * math.cos(a), 4), round(r * math.sin(a), 4), 0 if k % 2 else 1])
    return {"kind": "points", "train": pts, "test": pts}


def digits_artifacts(epoch: int) -> dict[str, dict[str, Any]]:
    labels = [str(i) for i in range(10)]
    matrix = [[(30 if i == j else (2 if (i + j) % 3 == 0 else 0)) for j in range(10)] for i in range(10)]
    items = []
    for k in range(8):
        img = [[(255 if (abs(r - 3.5) + abs(c - 3.5) < 2 + k % 3) else 0) for c in range(8)] for r in range(8)]
        items.append({"index": k, "true": k, "pred": k if k != 5 else 3, "image": img})
    return {"confusion": {"kind": "confusion", "epoch": epoch, "labels": labels, "matrix": matrix},
            "samples": {"kind": "samples", "epoch": epoch, "labels": labels, "items": items}}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from engine.store import Summary

    return Summary.from_history(rows).to_json()


def write_run(runs_dir: Path, run_id: str, *, stage: str = "circles-nn", status: str = "finished",
              rows: list[dict[str, Any]] | None = None, overrides: dict[str, Any] | None = None,
              name: str | None = None, tags: list[str] | None = None, host: str = "elsewhere",
              pid: int = 1, notes: str = "", epochs: int | None = None) -> Path:
    """A saved run as the engine writes it, with fixed dates (from the id) and values."""
    config = {"stage": stage, **STAGES[stage].defaults, **(overrides or {})}
    rows = rows if rows is not None else curve(10, 0.9)
    if epochs is not None:
        config["epochs"] = epochs
    run_dir = Path(runs_dir) / run_id
    (run_dir / "artifacts").mkdir(parents=True)
    (run_dir / "checkpoints").mkdir()
    stamp = run_id[:15]
    created = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"
    record = {"id": run_id, "stage": stage, "name": name or run_id, "status": status, "created": created,
              "ended": created if status != "running" else None,
              "duration_s": rows[-1]["wall_time"] if rows else 0.0, "pid": pid, "pid_start": None,
              "host": host, "versions": {"python": "3.11", "nnlab": "0.1.0"}, "device": "cpu",
              "seed": config.get("seed"), "resumed_from": None, "tags": list(tags or []), "notes": notes,
              "epochs": config.get("epochs", 1), "summary": summarize(rows)}
    (run_dir / "run.json").write_text(json.dumps(record))
    (run_dir / "config.json").write_text(json.dumps(config))
    lines = [",".join(METRIC_COLUMNS)]
    for r in rows:
        lines.append(",".join("" if r.get(c) is None else repr(r[c]) if isinstance(r[c], float) else str(r[c])
                              for c in METRIC_COLUMNS))
    (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    return run_dir


def populate(runs_dir: Path) -> list[str]:
    """A run store with every kind of row History must show."""
    ids = []
    ids.append(write_run(runs_dir, "20250301-101500-circles-nn-aa01", overrides={"lr": 0.1},
                         rows=curve(20, 0.945, 0.1, peak=PEAK), name="nn lr 0.1", tags=["baseline"]).name)
    ids.append(write_run(runs_dir, "20250301-102000-circles-nn-aa02", overrides={"lr": 0.03},
                         rows=curve(20, 0.91, peak=PEAK), name="nn lr 0.03", tags=["baseline"], notes="slower").name)
    ids.append(write_run(runs_dir, "20250302-090000-circles-manual-bb01", stage="circles-manual",
                         status="diverged", overrides={"lr": 0.5}, rows=curve(4, 0.5, 0.5, diverge_at=4)).name)
    ids.append(write_run(runs_dir, "20250302-091000-circles-optim-bb02", stage="circles-optim", status="running",
                         rows=curve(6, 0.8, peak=PEAK), epochs=150).name)
    ids.append(write_run(runs_dir, "20250302-092000-circles-autograd-bb03", stage="circles-autograd",
                         status="running", host=_this_host(), pid=2**22 + 12345, rows=curve(3, 0.7, peak=PEAK)).name)
    ids.append(write_run(runs_dir, "20250303-080000-mnist-mlp-cc01", stage="mnist-mlp", status="interrupted",
                         overrides={"dataset": "digits"}, rows=curve(5, 0.93, peak=PEAK)).name)
    damaged = Path(runs_dir) / "20250304-080000-cifar-base-dd01"
    damaged.mkdir()
    (damaged / "run.json").write_text("{not json")
    ids.append(damaged.name)
    return ids


def populate_cifar_and_sweep(runs_dir: Path) -> None:
    accs = {"cifar-base": 0.727, "cifar-norm": 0.752, "cifar-augment": 0.814, "cifar-scheduler": 0.82,
            "cifar-dropout": 0.83, "cifar-batchnorm": 0.85}
    for i, (stage, acc) in enumerate(accs.items()):
        write_run(runs_dir, f"20250305-0{i}0000-{stage}-ee0{i}", stage=stage, rows=curve(8, acc, 0.1, peak=PEAK),
                  overrides={"dataset": "digits"})
    for i, lr in enumerate((0.001, 0.1, 0.3, 0.5)):
        write_run(runs_dir, f"20250306-10000{i}-circles-nn-ff0{i}", overrides={"lr": lr},
                  rows=curve(12, 0.55 + 0.1 * i, lr, peak=PEAK), tags=["sweep-20250306-100000-abcd"],
                  name=f"sweep-20250306-100000-abcd lr={lr}")


def _this_host() -> str:
    import socket

    return socket.gethostname()


def circles_events(epochs: int = 12, total: int = 20, status: str | None = None) -> list[Any]:
    config = {"stage": "circles-nn", **STAGES["circles-nn"].defaults, "epochs": total}
    run_id = "20250301-101500-circles-nn-aa01"
    events: list[Any] = [RunStarted(run_id, f"/runs/{run_id}", "circles-nn", config, total, 1, 20, "cpu")]
    rows = curve(total, 0.945)[:epochs]
    for r in rows:
        arts = {}
        if r["epoch"] == 1:
            arts["points"] = points()
        if r["epoch"] % 5 == 0 or r["epoch"] == 1:
            arts[f"boundary-e{r['epoch']:04d}"] = boundary(r["epoch"], 0.3 + 0.04 * r["epoch"])
        events.append(EpochEnd(r["epoch"], r, arts, {"test_acc": r["test_acc"], "epoch": r["epoch"]}))
    if status:
        last = rows[-1]
        events.append(RunFinished(run_id, f"/runs/{run_id}", "circles-nn", status, len(rows),
                                  {k: last[k] for k in ("train_loss", "train_acc", "test_loss", "test_acc")},
                                  {"test_acc": last["test_acc"], "epoch": last["epoch"]},
                                  "non-finite loss at epoch 4 (try a smaller lr)" if status == "diverged" else ""))
    return events


def digits_cnn_events(epochs: int = 3) -> list[Any]:
    config = {"stage": "cifar-base", **STAGES["cifar-base"].defaults, "dataset": "digits", "epochs": 10}
    run_id = "20250305-000000-cifar-base-ee00"
    events: list[Any] = [RunStarted(run_id, f"/runs/{run_id}", "cifar-base", config, 10, 1, 12, "cpu")]
    for r in curve(10, 0.9, 0.1)[:epochs]:
        events.append(EpochEnd(r["epoch"], r, digits_artifacts(r["epoch"]), {"test_acc": r["test_acc"],
                                                                             "epoch": r["epoch"]}))
    return events
