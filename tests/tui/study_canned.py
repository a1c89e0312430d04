"""Canned study reports for the Studies screen tests: the shape of `nnlab studies show --json`, fixed values.

CannedStudies is the screen's input (a StudySource's two functions over dicts the test changes between
polls), standing in for a storage that workers on other machines fill.
"""
from __future__ import annotations

import copy
import math
import threading
from typing import Any

PASSWORD = "s3cret-Pw0rd"
STORAGE = f"postgresql://nnlab:{PASSWORD}@db.lab:5432/studies"


def lr_curve(lr: float, epochs: int, batch_size: int = 10) -> list[float]:
    """test_acc per epoch: best near lr 0.1, slower with big batches; fixed values."""
    peak = 0.97 - 0.09 * abs(math.log10(lr) + 1) ** 1.5 - 0.01 * (batch_size == 200)
    return [round(0.5 + (peak - 0.5) * (1 - math.exp(-5 * e / 10)), 4) for e in range(1, epochs + 1)]


def trial(number: int, state: str, lr: float, batch_size: int, epochs: int, host: str = "gpu-a",
          run_id: str | None = "auto") -> dict[str, Any]:
    curve = lr_curve(lr, epochs, batch_size)
    return {"number": number, "state": state, "params": {"lr": lr, "batch_size": batch_size},
            "value": curve[-1] if state == "complete" and curve else None, "epochs": len(curve), "host": host,
            "run_id": (f"20250310-1000{number:02d}-circles-optim-a{number:03x}" if run_id == "auto" else run_id),
            "curve": curve}


def lr_search() -> dict[str, Any]:
    """A TPE search over lr (log) and batch_size: 9 trials, every state but waiting."""
    trials = [
        trial(0, "complete", 0.001, 10, 10),
        trial(1, "complete", 0.3, 50, 10, host="gpu-b"),
        trial(2, "pruned", 0.0025, 200, 3, host="gpu-b"),
        trial(3, "complete", 0.1, 10, 10),
        trial(4, "complete", 0.6, 200, 10, host="gpu-b"),
        trial(5, "pruned", 0.9, 50, 4),
        trial(6, "complete", 0.03, 50, 10, host="gpu-b"),
        trial(7, "fail", 0.5, 10, 1),
        trial(8, "running", 0.12, 10, 6, host="gpu-b"),
    ]
    trials[7]["curve"] = []
    trials[7]["epochs"] = 0
    return report("lr-search", trials)


def grid_batch() -> dict[str, Any]:
    trials = [trial(i, "complete", 0.03, bs, 5, host="gpu-c") for i, bs in enumerate((1, 10, 50, 200))]
    return report("grid-batch", trials)


def report(name: str, trials: list[dict[str, Any]], metric: str = "test_acc",
           direction: str = "maximize") -> dict[str, Any]:
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    best = max(done, key=lambda t: t["value"]) if done else None
    return {"study": name, "stage": "circles-optim", "metric": metric, "direction": direction, "storage": STORAGE,
            "trials": trials,
            "best": ({"number": best["number"], "value": best["value"], "params": best["params"],
                      "run_id": best["run_id"]} if best else None)}


class CannedStudies:
    """Two studies behind the StudySource functions; tests change them between polls with `update`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reports = {"grid-batch": grid_batch(), "lr-search": lr_search()}  # oldest first, as storages list
        self.calls = 0
        self.seen_storage: list[str | None] = []

    def list_studies(self, storage: str | None, runs_dir: str) -> list[dict[str, Any]]:
        with self.lock:
            self.calls += 1
            self.seen_storage.append(storage)
            out = []
            for r in self.reports.values():
                states: dict[str, int] = {}
                for t in r["trials"]:
                    states[t["state"]] = states.get(t["state"], 0) + 1
                out.append({"study": r["study"], "stage": r["stage"], "metric": r["metric"],
                            "direction": r["direction"], "n_trials": len(r["trials"]), "states": states,
                            "best_value": r["best"]["value"] if r["best"] else None})
            return out

    def study_report(self, storage: str | None, runs_dir: str, name: str) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            if name not in self.reports:
                raise KeyError(f"no study {name!r}")
            return copy.deepcopy(self.reports[name])

    def update(self, name: str, trials: list[dict[str, Any]]) -> None:
        with self.lock:
            self.reports[name] = report(name, trials)


class Unreachable:
    """A storage that refuses every read, with the password in its message as a careless driver might."""

    def list_studies(self, storage: str | None, runs_dir: str) -> list[dict[str, Any]]:
        raise ConnectionError(f"could not connect to {storage}: password {PASSWORD} rejected")

    def study_report(self, storage: str | None, runs_dir: str, name: str) -> dict[str, Any]:
        raise ConnectionError(f"could not connect to {storage}")
