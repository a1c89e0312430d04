"""Stage runner for circles-svm: a scikit-learn SVM, fitted once.

kernel=linear is LinearSVC (a linear SVM, which sits near chance on circles);
linear-svc is SVC(kernel="linear"); rbf and poly are SVC with C, gamma and
degree. The runner has one batch per epoch and the stage has no `epochs` key,
so the loop runs one epoch: train_epoch fits. Losses are the mean hinge loss of
the decision function (sklearn.metrics.hinge_loss).

Resume: a fitted scikit-learn model has no pickle-free form, so state_dict()
is {} and load_state_dict() refits, which is deterministic (same data, same
config, random_state = seed) and so gives the same model.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import hinge_loss
from sklearn.svm import SVC, LinearSVC

from engine.data import Dataset, load_features
from engine.data.circles import GRID_HI, GRID_LO, GRID_N, course_grid
from engine.runner import StopRequested


def make_svm(config: dict[str, Any]) -> SVC | LinearSVC:
    kernel, c, seed = config.get("kernel", "rbf"), float(config.get("C", 1.0)), int(config.get("seed", 0))
    if kernel == "linear":
        return LinearSVC(C=c, random_state=seed, max_iter=20_000)
    gamma = config.get("gamma", "scale")
    if kernel == "linear-svc":
        return SVC(kernel="linear", C=c, random_state=seed)
    if kernel == "rbf":
        return SVC(kernel="rbf", C=c, gamma=gamma, random_state=seed)
    return SVC(kernel="poly", C=c, gamma=gamma, degree=int(config.get("degree", 3)), random_state=seed)


class SVMRunner:
    device = "cpu"
    batches_per_epoch = 1

    def __init__(self, config: dict[str, Any], data: Dataset):
        self.config = config
        self.data = data
        self.n_train, self.n_test = data.n_train, data.n_test
        self.labels = np.arange(data.n_classes)
        self.model = make_svm(config)

    def _fit(self) -> None:
        model = make_svm(self.config)
        with warnings.catch_warnings():  # LinearSVC on circles cannot converge to a good fit: that is the lesson
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(self.data.x_train, self.data.y_train)
        self.model = model

    def _scores(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        decision = self.model.decision_function(x)
        labels = self.labels if decision.ndim == 2 else None
        return float(hinge_loss(y, decision, labels=labels)), float(np.mean(self.model.predict(x) == y))

    def train_epoch(self, epoch: int, on_batch: Callable[[int], bool]) -> dict[str, float]:
        self._fit()
        if on_batch(1):
            raise StopRequested()
        loss, acc = self._scores(self.data.x_train, self.data.y_train)
        return {"train_loss": loss, "train_acc": acc}

    def evaluate(self) -> dict[str, float]:
        loss, acc = self._scores(self.data.x_test, self.data.y_test)
        return {"test_loss": loss, "test_acc": acc}

    def current_lr(self) -> float:
        return 0.0  # no learning rate: the fit is a quadratic program

    def end_epoch(self, epoch: int) -> None:
        """Nothing to step."""

    def artifacts(self, epoch: int, last: bool) -> dict[str, dict[str, Any]]:
        if epoch != 1 or self.data.x_train.shape[1] != 2 or len(self.labels) != 2:
            return {}

        def rows(x: np.ndarray, y: np.ndarray) -> list[list[Any]]:
            return [[*np.round(p, 4).tolist(), int(c)] for p, c in zip(x, y)]

        grid = course_grid()
        shape = (GRID_N, GRID_N)
        if isinstance(self.model, SVC):
            support = self.model.support_
        else:  # LinearSVC keeps no support vectors: the points on or inside the margin, y f(x) <= 1
            signed = np.where(self.data.y_train == 1, 1.0, -1.0) * self.model.decision_function(self.data.x_train)
            support = np.flatnonzero(signed <= 1.0)
        return {
            "points": {"kind": "points", "train": rows(self.data.x_train, self.data.y_train),
                       "test": rows(self.data.x_test, self.data.y_test)},
            "regions": {"kind": "boundary", "epoch": epoch, "lo": GRID_LO, "hi": GRID_HI, "n": GRID_N,
                        "prob": self.model.predict(grid).reshape(shape).astype(int).tolist(),
                        "decision": np.round(self.model.decision_function(grid), 4).reshape(shape).tolist(),
                        "support": [int(i) for i in support]},
        }

    def state_dict(self) -> dict[str, Any]:
        return {}  # see the module docstring: load_state_dict refits

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._fit()


def build(config: dict[str, Any], data_dir: str) -> SVMRunner:
    return SVMRunner(config, load_features(config["dataset"], data_dir))
