"""Making a study for a sweep (or joining the one of the same name): its nnlab description (stage, metric,
direction, search space) is a study user attr, and every trial it will run is queued at once."""
from __future__ import annotations

from typing import Any

from engine.config import ConfigError
from engine.stages import resolve_config
from engine.study.report import META_ATTR
from engine.study.space import Space
from engine.study.storage import describe, open_storage

METRICS = {"test_acc": "maximize", "train_acc": "maximize", "test_loss": "minimize", "train_loss": "minimize"}


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"invalid value for --metric: {metric!r} (allowed: {', '.join(METRICS)})")
    return METRICS[metric]


def study_meta(space: Space, *, metric: str, sampler: str, prune: str, trials: int | None, tag: str) -> dict[str, Any]:
    epochs = space.params.get("epochs", {}).get("high") or resolve_config(space.stage, space.fixed).get("epochs")
    return {"stage": space.stage, "metric": metric, "direction": METRICS[metric], "kind": space.kind,
            "sampler": sampler, "prune": prune, "trials": trials, "tag": tag, "epochs": epochs,
            "space": space.to_json()}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("stage", "metric", "kind", "space")
    return all(a.get(k) == b.get(k) for k in keys)


def check_existing(name: str, meta: dict[str, Any], storage: str | None, runs_dir: str) -> bool:
    """True when the study exists already with the same stage and search space (a sweep run again joins it);
    ConfigError when it exists for another stage, metric or search space. Creates nothing."""
    from engine.study.storage import exists

    if not exists(storage, runs_dir):
        return False
    store = open_storage(storage, runs_dir)
    found = next((s for s in store.get_all_studies() if s.study_name == name), None)
    if found is None:
        return False
    old = found.user_attrs.get(META_ATTR)
    if not isinstance(old, dict):
        raise ConfigError(f"study {name!r} in {describe(storage, runs_dir)} was not made by nnlab sweep "
                          "(choose another --study name)")
    if old.get("stage") != meta["stage"]:
        raise ConfigError(f"study {name!r} exists for stage {old.get('stage')}, not {meta['stage']} "
                          "(choose another --study name)")
    if not _same(old, meta):
        raise ConfigError(f"study {name!r} exists with another search space or metric "
                          f"({_describe_space(old)}; choose another --study name)")
    return True


def _describe_space(meta: dict[str, Any]) -> str:
    space = meta.get("space") or {}
    parts = [f"{k}={v}" for k, v in (space.get("fixed") or {}).items()]
    for key, spec in (space.get("params") or {}).items():
        if "raw" in spec:
            parts.append(f"{key}={(',' if spec['type'] == 'grid' else '|').join(spec['raw'])}")
        else:
            parts.append(f"{key}={spec.get('low')}..{spec.get('high')}{':log' if spec.get('log') else ''}")
    return f"{meta.get('metric')}: " + " ".join(parts)


def create(name: str, meta: dict[str, Any], space: Space, storage: str | None, runs_dir: str) -> None:
    """Make the study and queue its trials: every grid point once, or `trials` trials the sampler fills."""
    import optuna

    store = open_storage(storage, runs_dir, create=True)
    study = optuna.create_study(study_name=name, storage=store, direction=meta["direction"])
    study.set_user_attr(META_ATTR, meta)
    if space.kind == "grid":
        for point in space.grid_points():
            study.enqueue_trial(point)
    else:
        for _ in range(int(meta["trials"])):
            study.enqueue_trial({})
