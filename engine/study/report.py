"""Reading studies, for `nnlab studies`, `nnlab sweep --json` and the TUI's Studies view.

    list_studies(storage, runs_dir) -> [{"study", "stage", "metric", "direction", "n_trials", "states",
                                         "best_value"}]
    study_report(storage, runs_dir, name) -> the `studies show --json` object

storage None is the runs dir's journal file. Storages are cached per process (engine.study.storage), so
polling every second or two reads only what is new. Reading never creates a study or a storage file.
"""
from __future__ import annotations

import math
from typing import Any

from engine.config import ConfigError
from engine.study.storage import describe, exists, open_storage, redact

__all__ = ["list_studies", "study_report", "redact", "STATE_NAMES", "META_ATTR"]

META_ATTR = "nnlab"  # the study's user attr holding stage, metric, direction, search space
STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail", "RUNNING": "running",
               "WAITING": "waiting"}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _direction(frozen_study: Any) -> str:
    direction = frozen_study.directions[0] if frozen_study.directions else None
    return "minimize" if direction is not None and direction.name == "MINIMIZE" else "maximize"


def _trial_json(trial: Any) -> dict[str, Any]:
    attrs = trial.user_attrs
    curve = attrs.get("curve")
    if not isinstance(curve, list):  # still running: what it has reported so far (long runs: every k-th epoch)
        reported = trial.intermediate_values
        curve = [reported.get(epoch) for epoch in range(1, max(reported, default=0) + 1)]
    curve = [_number(v) for v in curve]
    value = _number(trial.value) if trial.values else None
    if value is None and trial.state.name == "PRUNED" and curve:
        value = curve[-1]
    config = attrs.get("config") if isinstance(attrs.get("config"), dict) else {}
    params = dict(trial.params) or dict(trial.system_attrs.get("fixed_params") or {})  # waiting: its queued point
    return {"number": trial.number, "state": STATE_NAMES.get(trial.state.name, trial.state.name.lower()),
            "params": params, "value": value, "epochs": len(curve),
            "host": attrs.get("host"), "run_id": attrs.get("run_id"), "curve": curve,
            "status": attrs.get("status"),
            "final": attrs.get("final") if isinstance(attrs.get("final"), dict) else None,
            "planned_epochs": config.get("epochs")}


def _best(trials: list[dict[str, Any]], direction: str) -> dict[str, Any] | None:
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    if not done:
        return None
    pick = min if direction == "minimize" else max
    best = pick(done, key=lambda t: t["value"])
    return {"number": best["number"], "value": best["value"], "params": best["params"], "run_id": best["run_id"]}


def _pruning_saved(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Epochs run by finished trials against the epochs they would have run without pruning."""
    ran = planned = 0
    for t in trials:
        if t["state"] in ("complete", "pruned") and isinstance(t["planned_epochs"], int):
            ran += t["epochs"]
            planned += t["planned_epochs"]
    return {"epochs_run": ran, "epochs_planned": planned, "pruned_trials": sum(t["state"] == "pruned" for t in trials),
            "saved_fraction": round(1 - ran / planned, 4) if planned else 0.0}


def _load(storage: str | None, runs_dir: str) -> Any:
    if not exists(storage, runs_dir):
        return None
    return open_storage(storage, runs_dir)


def _meta(frozen_study: Any) -> dict[str, Any]:
    meta = frozen_study.user_attrs.get(META_ATTR)
    return meta if isinstance(meta, dict) else {}


def list_studies(storage: str | None, runs_dir: str) -> list[dict[str, Any]]:
    """One dict per study in the storage (none when the default journal does not exist yet)."""
    store = _load(storage, runs_dir)
    if store is None:
        return []
    out = []
    for frozen in store.get_all_studies():
        meta = _meta(frozen)
        direction = _direction(frozen)
        trials = [_trial_json(t) for t in store.get_all_trials(frozen._study_id, deepcopy=False)]
        states: dict[str, int] = {}
        for t in trials:
            states[t["state"]] = states.get(t["state"], 0) + 1
        best = _best(trials, direction)
        out.append({"study": frozen.study_name, "stage": meta.get("stage"), "metric": meta.get("metric"),
                    "direction": direction, "n_trials": len(trials), "states": states,
                    "best_value": best["value"] if best else None})
    return out


def study_report(storage: str | None, runs_dir: str, name: str) -> dict[str, Any]:
    """The `studies show --json` object of one study; ConfigError (one line) when there is no such study."""
    store = _load(storage, runs_dir)
    study_id = None
    if store is not None:
        try:
            study_id = store.get_study_id_from_name(name)
        except KeyError:
            study_id = None
    if store is None or study_id is None:
        known = [s.study_name for s in store.get_all_studies()] if store is not None else []
        hint = f" (known: {', '.join(known[:8])}{' ...' if len(known) > 8 else ''})" if known else " (none yet)"
        raise ConfigError(f"no study named {name!r} in {describe(storage, runs_dir)}{hint}")
    frozen = next(s for s in store.get_all_studies() if s._study_id == study_id)
    meta = _meta(frozen)
    direction = _direction(frozen)
    trials = [_trial_json(t) for t in store.get_all_trials(study_id, deepcopy=False)]
    report = {"study": name, "stage": meta.get("stage"), "metric": meta.get("metric"), "direction": direction,
              "storage": describe(storage, runs_dir), "trials": trials, "best": _best(trials, direction),
              "pruning_saved": _pruning_saved(trials)}
    for t in trials:
        del t["planned_epochs"]
    return report
