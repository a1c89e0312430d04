"""Gradient flow: per layer, the gradient norm, the weight norm and the update-to-weight ratio of one real
training step per epoch, the epoch's last.

Why one step and not a mean over the epoch's batches: a mean needs work after every step, and on the circles
MLP (a step takes microseconds) that work alone would cost more than the whole recording may. The last step
is a real step of the training (its gradient, the optimizer's real update with momentum and weight decay), so
its ratio reads like the classic per-step update-to-weight plot: about 1e-3 is healthy (engine.inside.limits
flags a layer that strays far from it).
"""
from __future__ import annotations

import torch


class LastStep:
    """Measures one step: call before() just ahead of it and after(grads) once it is done; take() reads the
    values (one device read) and forgets them. A handful of fused operations whatever the number of layers."""

    def __init__(self, layers: dict[str, list[torch.Tensor]]):
        self.layers = layers  # each layer's live parameter tensors (updated in place by the training)
        self.params = [p for params in layers.values() for p in params]
        owner = [i for i, params in enumerate(layers.values()) for _ in params]
        self._owner = torch.tensor(owner, device=self.params[0].device)
        self._before: list[torch.Tensor] | None = None
        self._values: torch.Tensor | None = None

    def before(self) -> None:
        self._before = [p.detach().clone() for p in self.params]

    def after(self, grads: dict[str, list[torch.Tensor | None]]) -> None:
        """grads: each layer's gradients of the step just taken (None where a tensor had none)."""
        if self._before is None:
            return
        flat = [g for name in self.layers for g in grads.get(name, [None] * len(self.layers[name]))]
        present = [g if g is not None else torch.zeros_like(p) for g, p in zip(flat, self.params)]
        weights = [p.detach() for p in self.params]
        moved = torch._foreach_sub(weights, self._before)
        norms = torch._foreach_norm([*present, *weights, *self._before, *moved])  # one fused call for all four
        squares = torch.stack(norms).float().square().view(4, len(self.params))
        per_layer = squares.new_zeros(4, len(self.layers)).index_add_(1, self._owner, squares).sqrt()
        grad, weight, old, step = per_layer
        self._values = torch.stack([grad, weight, step / old.clamp_min(1e-30)], dim=1)
        self._before = None

    def take(self) -> dict[str, tuple[float, float, float]] | None:
        """{layer: (grad norm, weight norm, update ratio)} of the step measured, or None if none was."""
        if self._values is None:
            return None
        values = self._values.cpu().tolist()
        self._values = None
        return {name: (v[0], v[1], v[2]) for name, v in zip(self.layers, values)}
