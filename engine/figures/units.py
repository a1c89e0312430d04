"""The hidden units of a circles MLP (LAB.md Q3: why tanh, what the hidden layer learns): each unit's tanh
output over the course grid, one small heatmap per unit, a row per chosen epoch, so the units can be
watched turning into the half-planes whose combination is the decision boundary.

engine.figures.unit_codes reads back the runner's units-eNNNN artifacts (engine.mlp.runner._units). With many
units (hidden=50), the MAX_UNITS that weigh most in the output layer (norm of their W_y column, at the last
epoch drawn) are shown, and the title says so."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.config import ConfigError
from engine.figures.boundary import draw_points, pick
from engine.figures.mpl import Figure, new_figure
from engine.figures.unit_codes import by_weight, unit_maps
from engine.store import LoadedRun

MAX_UNITS = 12
MAX_ROWS = 4
UNIT_CMAP = "PuOr"


def unit_snapshots(artifacts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's units-eNNNN artifacts, by epoch."""
    found = [a for stem, a in artifacts.items() if stem.startswith("units-e") and isinstance(a.get("maps"), list)]
    return sorted(found, key=lambda a: int(a.get("epoch") or 0))


def shown_units(artifact: dict[str, Any], limit: int = MAX_UNITS) -> list[int]:
    """All units when they fit, else the `limit` with the largest output weight (in index order)."""
    return sorted(by_weight(artifact)[:limit])


def draw_units(run: LoadedRun, artifacts: dict[str, dict[str, Any]], epochs: Sequence[int] | None = None) -> Figure:
    snaps = unit_snapshots(artifacts)
    if not snaps:
        raise ConfigError(f"invalid value for --kind: 'units' for run {run.record.id} (stage {run.record.stage} "
                          "saves no hidden-unit maps; allowed for the circles MLP stages)")
    if epochs:
        wanted = [s for s in snaps if int(s.get("epoch") or 0) in set(epochs)]
        snaps = wanted or snaps
    snaps = pick(snaps, MAX_ROWS)
    units = shown_units(snaps[-1])
    total = len(snaps[-1]["maps"])
    cols, rows = len(units), len(snaps)
    fig = new_figure(1.25 * cols + 1.4, 1.35 * rows + 0.9, constrained=False)
    fig.subplots_adjust(left=0.09, right=0.9, bottom=0.04, top=1 - 0.75 / (1.35 * rows + 0.9), wspace=0.08,
                        hspace=0.3)
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    points = artifacts.get("points")
    lo, hi = float(snaps[0].get("lo", -2.0)), float(snaps[0].get("hi", 2.0))
    image = None
    for r, snap in enumerate(snaps):
        maps = unit_maps(snap)
        weight = snap.get("out_weight") or []
        for c, unit in enumerate(units):
            ax = axes[r, c]
            image = ax.imshow(maps[unit], origin="lower", cmap=UNIT_CMAP, vmin=-1, vmax=1, extent=(lo, hi, lo, hi),
                              interpolation="nearest")
            ax.contour(np.linspace(lo, hi, maps.shape[-1]), np.linspace(lo, hi, maps.shape[-1]), maps[unit],
                       levels=[0.0], colors="black", linewidths=0.6)
            draw_points(ax, points, size=1.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"unit {unit + 1}" + (f"\n|w_y| {weight[unit]:.2f}" if unit < len(weight) else ""),
                             fontsize=7)
            elif unit < len(weight):
                ax.set_title(f"|w_y| {weight[unit]:.2f}", fontsize=6)
        axes[r, 0].set_ylabel(f"epoch {snap.get('epoch')}", fontsize=8)
    if image is not None:
        fig.colorbar(image, cax=fig.add_axes((0.92, 0.2, 0.012, 0.6)), label="tanh output")
    more = f"; the {len(units)} of {total} units with the largest |w_y|" if len(units) < total else ""
    fig.suptitle(f"{run.record.id}: hidden units, tanh(x W_h^T + b_h) over the plane (black: 0){more}", fontsize=9)
    return fig
