"""Stage runner for the part 2-ab MLP stages (engine.runner.StageRunner).

circles-manual, circles-autograd, circles-nn and circles-optim train the four
implementations of engine.mlp.models on circles (or a course .mat file);
mnist-mlp trains implementation 4 on MNIST, the 8 x 8 digits, or a .mat file.

The data order is reshuffled every epoch by a torch.Generator of its own
(seeded from the run's seed), the weights come from init_weights (seeded from
the run's seed), and state_dict() holds the weights, the optimizer, the
shuffling generator and torch's global RNG, so a resumed run is exact.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from engine.config import ConfigError
from engine.data import Dataset, load_features
from engine.data.circles import GRID_HI, GRID_LO, GRID_N, course_grid
from engine.devices import resolve_device
from engine.inside.probe import layer_stats, read_all
from engine.inside.series import Series
from engine.inside.steps import LastStep
from engine.mlp.models import build_mlp, init_weights
from engine.runner import StopRequested

IMPLEMENTATION = {"circles-manual": "manual", "circles-autograd": "autograd", "circles-nn": "nn",
                  "circles-optim": "optim", "mnist-mlp": "optim"}
SHUFFLE_SEED_OFFSET = 1_000_003  # the data-order generator's seed is seed + this: a stream apart from init
N_SAMPLES = 16  # sample predictions shown for image data sets
PROBE_N = 1000  # the activations are measured on the first PROBE_N test examples


def check_batch_size(batch_size: int, n_train: int) -> None:
    if not 1 <= batch_size <= n_train:
        raise ConfigError(f"invalid value for batch_size: '{batch_size}' (allowed: an integer >= 1 and "
                          f"<= {n_train}, the training-set size)")


def sample_images(data: Dataset) -> np.ndarray | None:
    """uint8 N x H x W test images: the loader's, or square inputs in [0, 1] scaled to 0..255."""
    if data.test_images is not None:
        return data.test_images
    n_x = data.x_test.shape[1]
    side = int(round(n_x ** 0.5))
    if n_x < 16 or side * side != n_x:
        return None
    return np.rint(np.clip(data.x_test, 0.0, 1.0) * 255.0).astype(np.uint8).reshape(-1, side, side)


def _r4(values: Any) -> list:
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()


@contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run a block on n intra-op threads (None: leave as is). A 2-10-2 network on batches of 10 runs
    several times faster on one thread than on two that hand work back and forth."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


UNIT_SCALE = 100  # a unit's map stores round(UNIT_SCALE * tanh): two decimals


class MLPRunner:
    def __init__(self, config: dict[str, Any], data: Dataset, device: torch.device):
        self.stage = config["stage"]
        self.device = str(device)
        self.data = data
        self.n_classes = data.n_classes
        self.n_train, self.n_test = data.n_train, data.n_test
        self.batch_size = int(config["batch_size"])
        check_batch_size(self.batch_size, self.n_train)
        self.batches_per_epoch = -(-self.n_train // self.batch_size)
        self.grid_every = int(config.get("grid_every", 10))
        self.epochs = int(config.get("epochs", 1))

        def as_x(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float32), device=device)

        def as_y(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.int64), device=device)

        self.x_train, self.y_train = as_x(data.x_train), as_y(data.y_train)
        self.x_test, self.y_test = as_x(data.x_test), as_y(data.y_test)
        self.n_x = self.x_train.shape[1]

        seed = int(config["seed"])
        torch.manual_seed(seed)
        self.shuffle = torch.Generator().manual_seed(seed + SHUFFLE_SEED_OFFSET)
        weights = init_weights(self.n_x, int(config["hidden"]), self.n_classes, float(config["init_std"]), seed)
        self.model = build_mlp(IMPLEMENTATION[self.stage], weights, config, device)
        self.planar = self.n_x == 2 and self.n_classes == 2
        self.threads = 1 if device.type == "cpu" and self.n_x * int(config["hidden"]) <= 4096 else None
        self.images = None if self.planar else sample_images(data)
        if self.images is not None:
            self.sample_index = np.linspace(0, self.n_test - 1, min(N_SAMPLES, self.n_test)).astype(int)
        self.inspect = config.get("inspect", "full")
        self.steps = LastStep(self.model.layer_params()) if self.inspect != "off" else None
        probe_n = min(PROBE_N, self.n_test)
        self.series = Series(["hidden", "output"], {"hidden": "tanh"},
                             f"the first {probe_n} test examples" if probe_n < self.n_test else "the test set")

    # -- training ---------------------------------------------------------------
    def snapshot_epoch(self, epoch: int) -> bool:
        """The epochs whose maps and inside-the-network values are recorded: the first, every grid_every-th
        and the last. An epoch of these small networks takes milliseconds: measuring every one would cost
        the run a fifth of its time (grid_every=1 records them all)."""
        return epoch == 1 or epoch == self.epochs or epoch % self.grid_every == 0

    def train_epoch(self, epoch: int, on_batch: Callable[[int], bool]) -> dict[str, float]:
        with threads(self.threads):
            return self._train_epoch(on_batch, measure=self.steps is not None and self.snapshot_epoch(epoch))

    def _train_epoch(self, on_batch: Callable[[int], bool], measure: bool) -> dict[str, float]:
        order = torch.randperm(self.n_train, generator=self.shuffle).to(self.x_train.device)
        xs = self.x_train[order].split(self.batch_size)
        ys = self.y_train[order].split(self.batch_size)
        losses, correct = [], []
        step = self.model.train_step
        measured = len(xs) if measure else 0  # the step whose gradient flow is recorded
        for i, (xb, yb) in enumerate(zip(xs, ys), 1):
            if i == measured:
                self._measure_next_step()
            loss_sum, n_correct = step(xb, yb)
            losses.append(loss_sum)
            correct.append(n_correct)
            if on_batch(i):
                raise StopRequested()
        if measured and self.steps is not None:
            self.steps.after(self.model.last_grads())
            self.model.keep_grads = False
        # one read of the device per epoch
        totals = torch.stack([torch.stack(losses).sum().double(), torch.stack(correct).sum().double()]).tolist()
        return {"train_loss": totals[0] / self.n_train, "train_acc": totals[1] / self.n_train}

    def _measure_next_step(self) -> None:
        assert self.steps is not None
        self.steps.before()
        self.model.keep_grads = True

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.logits(x)

    def _scores(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the model as it is on (x, y): one device read."""
        with threads(self.threads), torch.inference_mode():
            logits = self.model.logits(x)
            loss = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
            correct = (logits.argmax(dim=1) == y).sum()
            totals = torch.stack([loss.double(), correct.double()]).tolist()
        return totals[0] / len(y), totals[1] / len(y)

    def evaluate(self) -> dict[str, float]:
        loss, acc = self._scores(self.x_test, self.y_test)
        return {"test_loss": loss, "test_acc": acc}

    def initial_metrics(self) -> dict[str, float]:
        """Loss and accuracy on the whole train and test sets before the first update (2-cd Q17: about ln k
        for k classes)."""
        train_loss, train_acc = self._scores(self.x_train, self.y_train)
        if self.inspect != "off":
            self._record_activations(0)
        return {"train_loss": train_loss, "train_acc": train_acc, **self.evaluate()}

    def current_lr(self) -> float:
        return float(self.model.lr)

    def end_epoch(self, epoch: int) -> None:
        """No scheduler on the MLP stages."""

    # -- artifacts ----------------------------------------------------------------
    def artifacts(self, epoch: int, last: bool) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        snapshot = last or self.snapshot_epoch(epoch)
        if self.steps is not None and snapshot:
            self._record(epoch)
            out["gradients"] = self.series.gradients_payload(epoch)
            out["activations"] = self.series.activations_payload(epoch)
        if self.planar:
            if epoch == 1:
                out["points"] = self._points()
            if snapshot:
                out[f"boundary-e{epoch:04d}"] = self._boundary(epoch)
                if self.inspect == "full":
                    out[f"units-e{epoch:04d}"] = self._units(epoch)
        else:
            pred = self._logits(self.x_test).argmax(dim=1)
            out["confusion"] = self._confusion(epoch, pred)
            if self.images is not None:
                out["samples"] = self._samples(epoch, pred)
        return out

    def _record(self, epoch: int) -> None:
        """This epoch's gradient flow (its last step) and activations into the series."""
        assert self.steps is not None
        step = self.steps.take()
        if step is not None:
            self.series.add_step(epoch, step)
        self._record_activations(epoch)

    def _record_activations(self, epoch: int) -> None:
        """The hidden layer's pre-activations H~ on the probe examples: quantiles and saturated share."""
        w_h, b_h = self.model.layer_params()["hidden"]
        with threads(self.threads), torch.inference_mode():
            pre = self.x_test[:PROBE_N] @ w_h.detach().T + b_h.detach()
            stats = read_all({"hidden": layer_stats(pre, "tanh")})
        self.series.add_activations(epoch, {"pre": {"hidden": stats["hidden"]["pre"]},
                                            "dead": {}, "saturated": {"hidden": stats["hidden"]["saturated"]},
                                            "bn": {}, "dropout": {}})

    def _points(self) -> dict[str, Any]:
        def rows(x: np.ndarray, y: np.ndarray) -> list[list[Any]]:
            return [[*_r4(p), int(c)] for p, c in zip(x, y)]
        return {"kind": "points", "train": rows(self.data.x_train, self.data.y_train),
                "test": rows(self.data.x_test, self.data.y_test)}

    def _boundary(self, epoch: int) -> dict[str, Any]:
        grid = torch.as_tensor(course_grid(), dtype=torch.float32, device=self.x_train.device)
        prob = torch.softmax(self._logits(grid), dim=1)[:, 1].reshape(GRID_N, GRID_N)
        return {"kind": "boundary", "epoch": epoch, "lo": GRID_LO, "hi": GRID_HI, "n": GRID_N,
                "prob": _r4(prob.cpu().numpy())}

    def _units(self, epoch: int) -> dict[str, Any]:
        """Each hidden unit's tanh output over the course grid at half its resolution (20 x 20 over
        [-2, 2)^2, rows = y), as round(100 * tanh) + 100 (0..200) in one hex string per unit, two digits a
        point, row-major (engine.figures.units.unit_maps reads it back); with each unit's weight in the output
        layer (the norm of its column of W_y). About 8 kB for 10 units."""
        grid = torch.as_tensor(course_grid().reshape(GRID_N, GRID_N, 2)[::2, ::2].reshape(-1, 2), dtype=torch.float32,
                               device=self.x_train.device)
        n = GRID_N // 2
        with torch.inference_mode():
            h = self.model.hidden(grid)  # (n * n) x n_h
            codes = (torch.round(h * UNIT_SCALE) + UNIT_SCALE).to(torch.uint8).T.contiguous()  # n_h x (n * n)
            weight = torch.linalg.vector_norm(self.model.output_weights().detach().float(), dim=0)
        return {"kind": "units", "epoch": epoch, "lo": GRID_LO, "hi": GRID_HI, "n": n, "scale": UNIT_SCALE,
                "maps": [bytes(row).hex() for row in codes.cpu().numpy()], "out_weight": _r4(weight.cpu().numpy())}

    def _confusion(self, epoch: int, pred: torch.Tensor) -> dict[str, Any]:
        k = self.n_classes
        counts = torch.bincount(self.y_test * k + pred, minlength=k * k).reshape(k, k)
        return {"kind": "confusion", "epoch": epoch, "labels": list(self.data.classes),
                "matrix": counts.cpu().tolist()}

    def _samples(self, epoch: int, pred: torch.Tensor) -> dict[str, Any]:
        assert self.images is not None
        predicted = pred.cpu().numpy()
        items = [{"index": int(i), "true": int(self.data.y_test[i]), "pred": int(predicted[i]),
                  "image": self.images[i].tolist()} for i in self.sample_index]
        return {"kind": "samples", "epoch": epoch, "labels": list(self.data.classes),
                "items": items}

    # -- resume ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "shuffle_rng": self.shuffle.get_state(),
                "torch_rng": torch.get_rng_state(), "inside": self.series.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.shuffle.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["torch_rng"])
        self.series.load_state_dict(state.get("inside"))


def build(config: dict[str, Any], data_dir: str) -> MLPRunner:
    """The factory named by the MLP stages (engine.stages): loads the data, builds the model."""
    device = torch.device(resolve_device(config.get("device", "cpu"), small=config["stage"] != "mnist-mlp"))
    data = load_features(config["dataset"], data_dir)
    return MLPRunner(config, data, device)
