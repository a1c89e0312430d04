"""The MNIST/digits and CIFAR artifacts: the confusion matrix of the test set (the last saved epoch) and
the sample predictions (the report's figs. 5-7), each image titled with its predicted and true label."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.figures.mpl import Figure, new_figure
from engine.store import LoadedRun

WRONG, RIGHT = "#c0392b", "#1e6b30"


def _needs(run: LoadedRun, artifacts: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    art = artifacts.get(kind)
    if not art:
        raise ConfigError(f"invalid value for --kind: {kind!r} for run {run.record.id} (stage {run.record.stage} "
                          f"saves no {kind}; allowed for mnist-mlp and the cifar stages)")
    return art


def draw_confusion(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> Figure:
    art = _needs(run, artifacts, "confusion")
    matrix = np.asarray(art.get("matrix") or [], dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ConfigError(f"run {run.record.id}: its confusion matrix artifact is damaged")
    k = matrix.shape[0]
    labels = [str(v) for v in (art.get("labels") or range(k))][:k]
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    side = 1.6 + 0.55 * k
    fig = new_figure(side + 1.2, side)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=7 if k > 10 else 8,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(k), labels, rotation=45 if max(map(len, labels)) > 2 else 0, ha="right"
                  if max(map(len, labels)) > 2 else "center", fontsize=8)
    ax.set_yticks(range(k), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    correct = float(np.trace(matrix)) / max(float(matrix.sum()), 1.0)
    ax.set_title(f"{run.record.id}\nconfusion on the test set, epoch {art.get('epoch')}: accuracy {100 * correct:.1f}%",
                 fontsize=9)
    return fig


def draw_samples(run: LoadedRun, artifacts: dict[str, dict[str, Any]]) -> Figure:
    art = _needs(run, artifacts, "samples")
    items = [it for it in art.get("items") or [] if isinstance(it, dict) and it.get("image") is not None]
    if not items:
        raise ConfigError(f"run {run.record.id}: its samples artifact holds no images")
    labels = [str(v) for v in art.get("labels") or []]
    cols = min(8, len(items))
    rows = math.ceil(len(items) / cols)
    fig = new_figure(1.45 * cols, 1.65 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()

    def name(i: Any) -> str:
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else str(i)

    wrong = 0
    for ax, item in zip(axes, items):
        image = np.asarray(item["image"], dtype=np.uint8)
        if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
            image = image.transpose(1, 2, 0)  # C x H x W -> H x W x C
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        ax.imshow(image, cmap="gray_r" if image.ndim == 2 else None, interpolation="nearest")
        ok = item.get("pred") == item.get("true")
        wrong += not ok
        ax.set_title(f"pred {name(item.get('pred'))}" + ("" if ok else f"\ntrue {name(item.get('true'))}"),
                     fontsize=8, color=RIGHT if ok else WRONG)
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(RIGHT if ok else WRONG)
            spine.set_linewidth(1.0 if ok else 2.0)
    for ax in axes[len(items):]:
        ax.set_visible(False)
    fig.suptitle(f"{run.record.id}: test samples, epoch {art.get('epoch')} ({wrong} of {len(items)} wrong, "
                 "framed red)", fontsize=9)
    return fig
