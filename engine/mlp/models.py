"""The lab's one-hidden-layer MLP, built the four ways of the practical.

    H~ = X W_h^T + b_h    H = tanh(H~)    Y~ = H W_y^T + b_y    Y^ = softmax(Y~)
    loss = cross-entropy(Y, Y^) reduced over the batch by mean or sum

1. ManualMLP     forward and backward from the equations, no autograd
2. AutogradMLP   the same forward, torch.autograd gradients, update by hand
3. TorchNNMLP    nn.Linear / nn.Tanh / nn.Linear + nn.CrossEntropyLoss, update by hand
4. OptimMLP      as 3, updated by torch.optim

All four draw their initial weights with init_weights (same generator, same
order: W_h then W_y), so with the same seed, data order and reduction they are
one computation. The learning rate is the config's (no scheduler on these
stages): state_dict() holds weights and optimizer state only. Each exposes
train_step(x, y) -> (summed loss, correct count) as detached 0-d tensors (the
caller reads them once per epoch), logits(x), lr, state_dict() and load_state_dict().
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import torch
from torch import nn

from engine.config import ConfigError
from engine.optim import make_optimizer


class MLP(Protocol):
    """What the MLP runner trains, whichever way the network is built."""

    @property
    def lr(self) -> float: ...

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...

    def logits(self, x: torch.Tensor) -> torch.Tensor: ...

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden layer's outputs tanh(x W_h^T + b_h), N x n_h."""
        ...

    def output_weights(self) -> torch.Tensor:
        """W_y, n_y x n_h: how much each hidden unit weighs in each class's score."""
        ...

    def layer_params(self) -> dict[str, list[torch.Tensor]]:
        """{"hidden": [W_h, b_h], "output": [W_y, b_y]}: the live tensors the training updates in place."""
        ...

    keep_grads: bool  # True: the next train_step keeps its gradients for last_grads()

    def last_grads(self) -> dict[str, list[torch.Tensor | None]]:
        """The gradients of the last train_step taken with keep_grads, by layer as layer_params."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def init_weights(n_x: int, n_h: int, n_y: int, std: float, seed: int,
                 dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Weights ~ normal(0, std) drawn W_h first, then W_y; biases 0."""
    gen = torch.Generator().manual_seed(seed)
    w_h = torch.randn(n_h, n_x, generator=gen, dtype=dtype) * std
    w_y = torch.randn(n_y, n_h, generator=gen, dtype=dtype) * std
    return {"W_h": w_h, "b_h": torch.zeros(n_h, dtype=dtype),
            "W_y": w_y, "b_y": torch.zeros(n_y, dtype=dtype)}


def _check_reduction(reduction: str) -> str:
    if reduction not in ("mean", "sum"):
        raise ConfigError(f"invalid value for reduction: {reduction!r} (allowed: one of mean, sum)")
    return reduction


class _HandUpdated:
    """Shared by the variants that keep W_h, b_h, W_y, b_y as plain tensors."""

    NAMES = ("W_h", "b_h", "W_y", "b_y")

    def __init__(self, weights: dict[str, torch.Tensor], lr: float, reduction: str, device: torch.device):
        self.p = {k: weights[k].to(device).clone() for k in self.NAMES}
        self.lr = float(lr)
        self.reduction = _check_reduction(reduction)
        self.n_y = self.p["W_y"].shape[0]
        self.keep_grads = False
        self.kept: dict[str, torch.Tensor | None] = {}

    def layer_params(self) -> dict[str, list[torch.Tensor]]:
        return {"hidden": [self.p["W_h"], self.p["b_h"]], "output": [self.p["W_y"], self.p["b_y"]]}

    def last_grads(self) -> dict[str, list[torch.Tensor | None]]:
        return {"hidden": [self.kept.get("W_h"), self.kept.get("b_h")],
                "output": [self.kept.get("W_y"), self.kept.get("b_y")]}

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.tanh(x @ self.p["W_h"].T + self.p["b_h"])
        return h, h @ self.p["W_y"].T + self.p["b_y"]

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)[1]

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x)[0]

    def output_weights(self) -> torch.Tensor:
        return self.p["W_y"]

    def state_dict(self) -> dict[str, Any]:
        return {"params": {k: v.detach().clone() for k, v in self.p.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for k in self.NAMES:
                self.p[k].copy_(state["params"][k])


class ManualMLP(_HandUpdated):
    """1. The lab's equations, forward and backward, without autograd."""

    def gradients(self, x: torch.Tensor, y: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """-> (gradients of the reduced loss, summed loss, logits)."""
        h, y_tilde = self._forward(x)
        shifted = y_tilde - y_tilde.max(dim=1, keepdim=True).values
        log_y_hat = shifted - shifted.exp().sum(dim=1, keepdim=True).log()  # log softmax
        onehot = torch.nn.functional.one_hot(y, self.n_y).to(x.dtype)
        loss_sum = -(onehot * log_y_hat).sum()
        d_y_tilde = log_y_hat.exp() - onehot  # Y^ - Y
        if self.reduction == "mean":
            d_y_tilde = d_y_tilde / x.shape[0]  # every gradient below is then divided by N
        d_h_tilde = (d_y_tilde @ self.p["W_y"]) * (1 - h * h)  # tanh' = 1 - H^2
        grads = {"W_y": d_y_tilde.T @ h, "b_y": d_y_tilde.sum(dim=0),
                 "W_h": d_h_tilde.T @ x, "b_h": d_h_tilde.sum(dim=0)}
        return grads, loss_sum, y_tilde

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        grads, loss_sum, y_tilde = self.gradients(x, y)
        if self.keep_grads:
            self.kept = dict(grads)
        for k in self.NAMES:
            self.p[k].sub_(self.lr * grads[k])
        return loss_sum, (y_tilde.argmax(dim=1) == y).sum()


class AutogradMLP(_HandUpdated):
    """2. The same forward; loss.backward() computes the gradients; the update is by hand."""

    def __init__(self, weights: dict[str, torch.Tensor], lr: float, reduction: str, device: torch.device):
        super().__init__(weights, lr, reduction, device)
        for v in self.p.values():
            v.requires_grad_(True)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, y_tilde = self._forward(x)
        log_y_hat = torch.log_softmax(y_tilde, dim=1)
        losses = -log_y_hat.gather(1, y[:, None])
        loss = losses.sum() if self.reduction == "sum" else losses.mean()
        loss.backward()
        if self.keep_grads:
            self.kept = {k: v.grad for k, v in self.p.items()}
        sgd_update(self.p.values(), self.lr)
        loss_sum = loss.detach() if self.reduction == "sum" else loss.detach() * x.shape[0]
        return loss_sum, (y_tilde.detach().argmax(dim=1) == y).sum()


def sgd_update(params: Iterable[torch.Tensor], lr: float) -> None:
    """The update by hand of levels 2 and 3: p -= lr * p.grad, then the gradient is cleared."""
    with torch.no_grad():
        for p in params:
            grad = p.grad
            assert grad is not None  # loss.backward() filled it
            p.sub_(lr * grad)
            p.grad = None


def _torch_net(weights: dict[str, torch.Tensor], device: torch.device) -> nn.Sequential:
    n_h, n_x = weights["W_h"].shape
    n_y = weights["W_y"].shape[0]
    hidden, output = nn.Linear(n_x, n_h), nn.Linear(n_h, n_y)
    net = nn.Sequential(hidden, nn.Tanh(), output).to(weights["W_h"].dtype)
    with torch.no_grad():
        hidden.weight.copy_(weights["W_h"])
        hidden.bias.copy_(weights["b_h"])
        output.weight.copy_(weights["W_y"])
        output.bias.copy_(weights["b_y"])
    return net.to(device)


class _NetMLP:
    """Shared by 3 and 4: the torch.nn network and its loss."""

    def __init__(self, weights: dict[str, torch.Tensor], reduction: str, device: torch.device):
        self.net = _torch_net(weights, device)
        self.reduction = _check_reduction(reduction)
        self.loss_fn = nn.CrossEntropyLoss(reduction=reduction)
        self.keep_grads = False
        self.kept: list[torch.Tensor | None] = []

    def layer_params(self) -> dict[str, list[torch.Tensor]]:
        hidden, output = self.net[0], self.net[2]
        assert isinstance(hidden, nn.Linear) and isinstance(output, nn.Linear)
        return {"hidden": [hidden.weight, hidden.bias], "output": [output.weight, output.bias]}

    def _keep(self) -> None:
        """Before the update clears them: the gradients of this step, in layer_params order."""
        if self.keep_grads:
            self.kept = [p.grad for params in self.layer_params().values() for p in params]

    def last_grads(self) -> dict[str, list[torch.Tensor | None]]:
        kept = self.kept or [None] * 4
        return {"hidden": kept[:2], "output": kept[2:4]}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[1](self.net[0](x))

    def output_weights(self) -> torch.Tensor:
        output = self.net[2]
        assert isinstance(output, nn.Linear)
        return output.weight

    def _backward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        loss = self.loss_fn(out, y)
        loss.backward()
        loss_sum = loss.detach() if self.reduction == "sum" else loss.detach() * x.shape[0]
        return loss_sum, (out.detach().argmax(dim=1) == y).sum()


class TorchNNMLP(_NetMLP):
    """3. torch.nn layers and CrossEntropyLoss on the logits; SGD update by hand."""

    def __init__(self, weights: dict[str, torch.Tensor], lr: float, reduction: str, device: torch.device):
        super().__init__(weights, reduction, device)
        self.lr = float(lr)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        result = self._backward(x, y)
        self._keep()
        sgd_update(self.net.parameters(), self.lr)
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])


class OptimMLP(_NetMLP):
    """4. As 3, with torch.optim doing the update."""

    def __init__(self, weights: dict[str, torch.Tensor], lr: float, reduction: str, device: torch.device,
                 optimizer: str = "sgd", momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(weights, reduction, device)
        self.base_lr = float(lr)
        self.optimizer = make_optimizer(self.net.parameters(), {
            "optimizer": optimizer, "lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        result = self._backward(x, y)
        self._keep()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # no scheduler here: lr is the config's
            group["lr"] = self.base_lr


HAND_UPDATED: dict[str, type[ManualMLP | AutogradMLP | TorchNNMLP]] = {
    "manual": ManualMLP, "autograd": AutogradMLP, "nn": TorchNNMLP}


def build_mlp(kind: str, weights: dict[str, torch.Tensor], config: dict[str, Any], device: torch.device) -> MLP:
    """kind = manual | autograd | nn | optim (optim reads the config's optimizer keys)."""
    lr, reduction = float(config["lr"]), config["reduction"]
    if kind == "optim":
        return OptimMLP(weights, lr, reduction, device, optimizer=config.get("optimizer", "sgd"),
                        momentum=config.get("momentum", 0.0), weight_decay=config.get("weight_decay", 0.0))
    return HAND_UPDATED[kind](weights, lr, reduction, device)
