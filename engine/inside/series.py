"""The per-epoch series of gradient flow and activations that a runner keeps (in its state, so a resumed run
goes on with them) and writes as the gradients and activations artifacts (see engine.inside)."""
from __future__ import annotations

import json
from typing import Any

from engine.inside.limits import QUANTILES, flag

GRADIENTS_HOW = "the epoch's last training step: its gradient, the weights after it, its update over the weights"


class Series:
    def __init__(self, layers: list[str], nonlinearity: dict[str, str], probe: str):
        self.layers = layers  # the layers of the gradient flow
        self.nonlinearity = nonlinearity  # the layers of the activations and their nonlinearity
        self.probe = probe
        self.steps: list[dict[str, Any]] = []  # {"epoch", "layers": {layer: [grad, weight, ratio]}}
        self.activations: list[dict[str, Any]] = []  # {"epoch", "pre", "dead", "saturated", "bn", "dropout"}
        self._text: dict[str, list[str]] = {"steps": [], "activations": []}  # each row as JSON, for state_dict

    # -- recording -------------------------------------------------------------------------------
    def add_step(self, epoch: int, values: dict[str, tuple[float, float, float]]) -> None:
        self._add("steps", {"epoch": epoch, "layers": {k: [float(x) for x in v] for k, v in values.items()}})

    def add_activations(self, epoch: int, record: dict[str, Any]) -> None:
        self._add("activations", {"epoch": epoch, **record})

    def _add(self, name: str, row: dict[str, Any]) -> None:
        rows: list[dict[str, Any]] = getattr(self, name)
        keep = sum(1 for r in rows if r["epoch"] < row["epoch"])  # an epoch done again replaces its row
        del rows[keep:], self._text[name][keep:]
        rows.append(row)
        self._text[name].append(json.dumps(row))

    # -- artifacts ---------------------------------------------------------------------------------
    def gradients_payload(self, epoch: int) -> dict[str, Any]:
        def column(i: int) -> dict[str, list[float]]:
            return {layer: [_r(r["layers"][layer][i]) for r in self.steps] for layer in self.layers}

        ratios = column(2)
        return {"kind": "gradients", "epoch": epoch, "how": GRADIENTS_HOW, "layers": list(self.layers),
                "epochs": [r["epoch"] for r in self.steps], "grad_norm": column(0), "weight_norm": column(1),
                "update_ratio": ratios, "flags": {layer: flag(values) for layer, values in ratios.items()}}

    def activations_payload(self, epoch: int) -> dict[str, Any]:
        rows = self.activations
        layers = list(self.nonlinearity)

        def per_layer(field: str, kind: str) -> dict[str, list[float]]:
            return {layer: [_r(r[field][layer]) for r in rows] for layer in layers
                    if self.nonlinearity[layer] == kind}

        bn_names = list(rows[-1]["bn"]) if rows else []
        dropout_keys = list(rows[-1]["dropout"]) if rows and rows[-1]["dropout"] else []
        return {
            "kind": "activations", "epoch": epoch, "probe": self.probe, "layers": layers,
            "nonlinearity": dict(self.nonlinearity), "epochs": [r["epoch"] for r in rows],
            "quantiles": list(QUANTILES),
            "pre": {layer: [[_r(v) for v in r["pre"][layer]] for r in rows] for layer in layers},
            "dead": per_layer("dead", "relu"), "saturated": per_layer("saturated", "tanh"),
            "bn": {name: {part: [[_r(v) for v in r["bn"][name][part]] for r in rows]
                          for part in ("running_mean", "running_var", "weight", "bias")} for name in bn_names},
            "dropout": {key: [_r(r["dropout"][key]) for r in rows] for key in dropout_keys},
        }

    # -- resume --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Each series as one JSON text: the run's state is copied at every epoch's end, and a text is copied
        whole, where rows of lists would be walked value by value."""
        return {name: "[" + ",".join(self._text[name]) + "]" for name in ("steps", "activations")}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """A checkpoint written before these series existed has none: they start again from the resumed epoch."""
        state = state or {}
        for name in ("steps", "activations"):
            rows = list(json.loads(state.get(name, "[]")))
            setattr(self, name, rows)
            self._text[name] = [json.dumps(row) for row in rows]


def _r(value: float) -> float:
    """Five significant digits: plenty for a plot, a third of the bytes of a float's repr."""
    return float(f"{float(value):.5g}")
