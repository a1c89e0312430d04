"""A key that does nothing in a config (momentum with optimizer=sgd, gamma/step_size without a scheduler that
uses them, degree without the poly kernel, the SVM's gamma with a linear kernel) is never shown as if it
applied: not as a difference between runs, not in comparison tables, not in the reproduce command."""
from __future__ import annotations

from engine.command_line import reproduce_command
from engine.config import applicable, inapplicable
from engine.stages import resolve_config
from engine.store import differing_keys, table_keys


def test_which_keys_do_nothing():
    assert set(inapplicable(resolve_config("cifar-base", {}))) == {"momentum", "gamma", "step_size"}
    assert set(inapplicable(resolve_config("cifar-base", {"optimizer": "nesterov", "scheduler": "exponential"}))) \
        == {"step_size"}
    assert inapplicable(resolve_config("cifar-base", {"optimizer": "momentum", "scheduler": "step"})) == {}
    assert set(inapplicable(resolve_config("circles-svm", {"kernel": "linear"}))) == {"gamma", "degree"}
    assert set(inapplicable(resolve_config("circles-svm", {"kernel": "rbf"}))) == {"degree"}
    assert inapplicable(resolve_config("circles-svm", {"kernel": "poly"})) == {}
    assert "momentum" not in applicable(resolve_config("cifar-base", {}))


def test_runs_that_differ_only_where_a_key_does_nothing_do_not_differ():
    a = resolve_config("cifar-base", {"momentum": "0.5"})
    b = resolve_config("cifar-base", {"momentum": "0.9", "gamma": "0.5"})
    assert differing_keys([a, b]) == []
    assert "momentum" not in table_keys([a, b], all_keys=True)
    c = resolve_config("cifar-base", {"optimizer": "momentum", "momentum": "0.5"})
    assert differing_keys([a, c]) == ["optimizer", "momentum"]  # applies to one: shown (absent in the other)


def test_the_reproduce_command_leaves_out_what_does_nothing():
    config = resolve_config("cifar-base", {"momentum": "0.5", "lr": "0.05"})
    command = reproduce_command(config)
    assert "momentum" not in command and "lr=0.05" in command
    assert "momentum=0.5" in reproduce_command(resolve_config("cifar-base", {"optimizer": "momentum",
                                                                             "momentum": "0.5"}))
    svm = resolve_config("circles-svm", {"kernel": "linear", "gamma": "2"})
    assert "gamma" not in reproduce_command(svm)
