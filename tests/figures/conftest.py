"""A small real run store, made once for the figure and report tests: real trainings, a few epochs each."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.stages import resolve_config
from engine.train import train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_run(runs_dir: Path, stage: str, tags: list[str] | None = None, **overrides) -> str:
    result = train(resolve_config(stage, {k: str(v) for k, v in overrides.items()}), runs_dir=str(runs_dir),
                   data_dir=str(runs_dir.parent / "data"), tags=tags)
    assert result.status == "finished", result.message
    return result.run_id


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """runs_dir and the ids of: a circles MLP run, two more of a sweep tag, an RBF SVM, a digits MLP, a CNN."""
    root = tmp_path_factory.mktemp("figstore")
    runs = root / "runs"
    (root / "data").mkdir()
    ids = {
        "circles": make_run(runs, "circles-manual", epochs=12),
        "sweep_a": make_run(runs, "circles-optim", tags=["sweep-t1"], epochs=4, lr=0.1),
        "sweep_b": make_run(runs, "circles-optim", tags=["sweep-t1"], epochs=4, lr=0.3),
        "svm": make_run(runs, "circles-svm", kernel="rbf"),
        "digits": make_run(runs, "mnist-mlp", dataset="digits", epochs=2),
        "cnn": make_run(runs, "cifar-base", dataset="digits", epochs=1, limit_train=128, limit_test=64,
                        batch_size=64, device="cpu"),
    }
    return runs, ids
