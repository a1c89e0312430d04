"""While its epochs run, the training loop keeps what existed before it out of the cyclic GC's full
collections (gc.freeze): in a process holding a TUI, one full collection took 0.3 s of a 3 s run, with the
GIL held. It hands those objects back when the run ends, however it ends, so a worker that runs trial after
trial never keeps a run's cyclic garbage."""
from __future__ import annotations

import gc

from engine.events import EpochEnd
from engine.stages import resolve_config
from engine.train import train


def _run(tmp_path, should_stop=None):
    frozen_during: list[int] = []

    def emit(event):
        if isinstance(event, EpochEnd):
            frozen_during.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    result = train(resolve_config("circles-nn", {"epochs": "3"}), runs_dir=str(tmp_path / "runs"),
                   data_dir=str(tmp_path / "data"), emit=emit, should_stop=should_stop)
    return result, frozen_during


def test_what_existed_before_training_is_frozen_while_it_runs_and_handed_back(tmp_path):
    before = len(gc.get_objects())
    result, frozen_during = _run(tmp_path)
    assert result.status == "finished" and len(frozen_during) == 3
    assert all(count > before // 2 for count in frozen_during)  # the objects of the process, not a few
    assert gc.get_freeze_count() == 0


def test_a_stopped_run_hands_them_back_too(tmp_path):
    calls = iter(range(10_000))
    result, _ = _run(tmp_path, should_stop=lambda: next(calls) > 5)
    assert result.status == "interrupted"
    assert gc.get_freeze_count() == 0
