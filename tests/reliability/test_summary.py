"""Summary.add (one epoch at a time, as training keeps its summary) always agrees with Summary.from_history,
the one definition: the best of a metric is its first epoch among equal values; NaN and infinities never
count."""
import json
import math
import random

import pytest

from engine.store import Summary
from engine.store.records import BEST_OF

METRICS = [metric for metric, _ in BEST_OF] + ["lr", "wall_time"]
ODD = [math.nan, math.inf, -math.inf, None, 0.0, -0.0, 1, 0]


def random_history(rng: random.Random, n: int) -> list[dict]:
    pool = [round(rng.uniform(-1, 2), 1) for _ in range(4)]  # few distinct values: many ties
    rows = []
    for epoch in range(1, n + 1):
        row: dict = {"epoch": epoch}
        for metric in METRICS:
            pick = rng.random()
            if pick < 0.1:
                continue  # a metric missing from the row
            row[metric] = rng.choice(ODD) if pick < 0.35 else rng.choice(pool)
        rows.append(row)
    return rows


def chain(history: list[dict]) -> Summary:
    summary = Summary()
    for row in history:
        summary = summary.add(row)
    return summary


def same(a: Summary, b: Summary) -> bool:
    """Equal, NaN included (NaN != NaN), key order included (run.json is written from to_json)."""
    return json.dumps(a.to_json()) == json.dumps(b.to_json()) and \
        all(type(x.value) is type(y.value) for x, y in zip(a.best.values(), b.best.values()))


@pytest.mark.parametrize("seed", range(300))
def test_add_agrees_with_from_history(seed):
    rng = random.Random(seed)
    history = random_history(rng, rng.randint(0, 40))
    assert same(chain(history), Summary.from_history(history))
    # from any point: a summary read back from a checkpoint's history, then trained on
    k = rng.randint(0, len(history))
    resumed = Summary.from_history(history[:k])
    for row in history[k:]:
        resumed = resumed.add(row)
    assert same(resumed, Summary.from_history(history))


def test_ties_keep_the_first_epoch_and_non_finite_values_never_count():
    history = [{"epoch": 1, "test_acc": 0.5, "test_loss": math.nan},
               {"epoch": 2, "test_acc": math.inf, "test_loss": 0.3},
               {"epoch": 3, "test_acc": 0.5, "test_loss": 0.3},
               {"epoch": 4, "test_acc": 0.5, "test_loss": -math.inf}]
    summary = chain(history)
    assert summary.best_of("test_acc").epoch == 1 and summary.best_of("test_loss").epoch == 2
    assert summary.best_of("train_acc") is None
    assert summary.epochs_done == 4 and summary.last == history[-1]
    assert same(summary, Summary.from_history(history))


def test_add_leaves_its_summary_and_row_unchanged():
    first = Summary.from_history([{"epoch": 1, "test_acc": 0.5}])
    row = {"epoch": 2, "test_acc": 0.7}
    second = first.add(row)
    row["test_acc"] = 0.0
    assert first.best_of("test_acc").value == 0.5 and second.best_of("test_acc").value == 0.7
    assert second.last["test_acc"] == 0.7
