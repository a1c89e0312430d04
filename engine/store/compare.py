"""Comparing saved runs: which hyperparameters differ, whether their curves agree, and the comparison
object both front ends show (`nnlab runs compare --json` prints it)."""
from __future__ import annotations

import json
from typing import Any

from engine.config import applicable
from engine.events import LOSS_ACC
from engine.store.reader import LoadedRun
from engine.store.records import Summary

FINAL_METRICS = LOSS_ACC
COMPARE_MAX = 8  # runs compared at once (Compare, a study's best trials)


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys (in first-seen order) whose values are not the same in every config. A key that does
    nothing in a config (momentum with optimizer=sgd: engine.config.inapplicable) counts as absent there:
    two sgd runs with different momentum do not differ."""
    configs = [applicable(c) for c in configs]
    keys: list[str] = []
    for config in configs:
        keys += [k for k in config if k not in keys]
    return [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]


def table_keys(configs: list[dict[str, Any]], all_keys: bool = False) -> list[str]:
    """The config columns of a comparison table: the keys that differ (or every key that applies to one of
    the runs), without stage, which such tables show in a column of their own."""
    keys = (list(dict.fromkeys(k for c in configs for k in applicable(c))) if all_keys
            else differing_keys(configs))
    return [k for k in keys if k != "stage"]


def curves_agree(histories: list[list[dict[str, Any]]], tol: float = 1e-5) -> bool | None:
    """True when all runs have the same number of epochs and per-epoch losses within tol; None when there
    is nothing to compare (fewer than two runs, no epochs, different lengths)."""
    if len(histories) < 2 or not histories[0] or any(len(h) != len(histories[0]) for h in histories):
        return None
    for rows in zip(*histories):
        for key in ("train_loss", "test_loss"):
            values = [row.get(key) for row in rows]
            if any(not isinstance(v, float) for v in values) or max(values) - min(values) > tol:
                return False
    return True


def compare(runs: list[LoadedRun]) -> dict[str, Any]:
    """differing_keys, one entry per run (final metrics, best test accuracy and its epoch, the values of
    the differing keys) and curves_agree."""
    diff = differing_keys([r.config for r in runs])
    out = []
    for run in runs:
        summary = Summary.from_history(run.history)
        best = summary.best_test_acc
        out.append({"run_id": run.record.id, "stage": run.record.stage, "name": run.record.name,
                    "status": run.record.status, "epochs_done": summary.epochs_done,
                    "final": {k: summary.last.get(k) for k in FINAL_METRICS},
                    "best": {"test_acc": best.value if best else None, "epoch": best.epoch if best else None},
                    "initial": run.initial,  # before the first update (None: not recorded)
                    "differs": {k: run.config.get(k) for k in diff}})
    return {"differing_keys": diff, "runs": out, "curves_agree": curves_agree([r.history for r in runs])}
