"""StageRunner for the CNN stages (cifar-base ... cifar-batchnorm); see engine.runner.

build(config, data_dir) loads the images (engine.data.load_images) and hands them to
build_from_data, which benchmarks and tests can call with a Dataset of their own.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch
import torch.nn.functional as F

from engine.cnn.model import build_model
from engine.cnn.pipeline import DevicePipeline
from engine.cnn.summary import summarize
from engine.config import ConfigError
from engine.data import Dataset, load_images
from engine.devices import resolve_device
from engine.inside.maps import N_FEATURE_IMAGES, features_payload, filters_payload
from engine.inside.probe import batchnorm_values, dropout_gap, read_all, walk
from engine.inside.series import Series
from engine.inside.steps import LastStep
from engine.optim import make_optimizer, make_scheduler
from engine.runner import StopRequested

INITIAL_TRAIN_N = 10_000  # training images scored before the first update (a fifth of CIFAR-10's)
EVAL_BATCH = 1000
N_SAMPLES = 16
PROBE_N = 128  # the activations are measured on the first PROBE_N test images
CONV_LAYERS = frozenset({"conv1", "conv2", "conv3"})


def build(config: dict[str, Any], data_dir: str) -> CNNRunner:
    device = resolve_device(config.get("device", "auto"))  # before the (slow) data load
    data = load_images(config["dataset"], data_dir).limit(int(config.get("limit_train", 0) or 0),
                                                          int(config.get("limit_test", 0) or 0))
    return build_from_data(config, data, device)


def build_from_data(config: dict[str, Any], data: Dataset, device: str | None = None) -> CNNRunner:
    """A runner over a Dataset of uint8 N x 3 x 32 x 32 images and int64 labels. A data set whose
    mirror_ok is False (digits: a mirrored 2 is no digit) is cropped but never flipped."""
    device = resolve_device(device or config.get("device", "auto"))
    if config["batch_size"] > data.n_train:
        raise ConfigError(f"invalid value for batch_size: {config['batch_size']} is larger than the "
                          f"training set ({data.n_train} examples; allowed: 1 to {data.n_train})")
    return CNNRunner(config, data, device)


class CNNRunner:
    def __init__(self, config: dict[str, Any], data: Dataset, device: str):
        self.config = dict(config)
        self.classes = list(data.classes)
        self.batch_size = int(config["batch_size"])
        dev = torch.device(device)
        self.cuda = dev.type == "cuda"
        if self.cuda:
            dev = torch.device("cuda", torch.cuda.current_device())
            torch.backends.cudnn.benchmark = True
        self._dev = dev
        self.device = str(dev)
        self.data = DevicePipeline(data.x_train, data.y_train, data.x_test, data.y_test,
                                   augment=config.get("augment", "none"), normalize=config.get("normalize", "none"),
                                   device=self.device, seed=int(config.get("seed", 0)) + 1, channels_last=True,
                                   mirror_ok=data.mirror_ok)
        self.n_train, self.n_test = self.data.n_train, self.data.n_test
        self.batches_per_epoch = -(-self.n_train // self.batch_size)

        torch.manual_seed(int(config.get("seed", 0)))  # init; later the global RNG drives dropout
        self.model = build_model(config).to(dev).to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model.parameters(), config)
        self.scheduler = make_scheduler(self.optimizer, config)
        self.forward: Callable[[torch.Tensor], torch.Tensor] = self.model
        if config.get("compile") and self.cuda:
            self.forward = torch.compile(self.model)
        # fixed test images shown as sample predictions: spread over the test set
        step = max(self.n_test // N_SAMPLES, 1)
        self.sample_index = list(range(0, self.n_test, step))[:N_SAMPLES]
        self._eval: dict[str, Any] | None = None
        self.inspect = config.get("inspect", "full")
        self.maps_every = int(config.get("maps_every", 10))
        weighted: dict[str, list[torch.Tensor]] = {
            name: [m.weight, m.bias] for name, m in self.model.named_children()
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None}
        self.steps = LastStep(weighted) if self.inspect != "off" else None
        nonlinearity = {name: "relu" for name in weighted if name != "fc5"}
        probe_n = min(PROBE_N, self.n_test)
        self.series = Series(list(weighted), nonlinearity, f"the first {probe_n} test images, eval mode")

    # ---- training ---------------------------------------------------------------------------
    def _autocast(self) -> AbstractContextManager[Any]:
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_epoch(self, epoch: int, on_batch: Callable[[int], bool]) -> dict[str, float]:
        self.model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self._dev)
        correct = torch.zeros((), dtype=torch.long, device=self._dev)
        measured = self.batches_per_epoch if self.steps is not None else 0  # the step whose gradient flow is kept
        for i, (x, y) in enumerate(self.data.train_batches(self.batch_size), start=1):
            if i == measured and self.steps is not None:
                self.steps.before()
            with self._autocast():
                logits = self.forward(x)
                loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                loss_sum += loss.detach().double() * len(y)
                correct += (logits.argmax(1) == y).sum()
            if on_batch(i):
                raise StopRequested()
        if self.steps is not None:  # zero_grad(set_to_none) comes before backward: .grad is the last step's
            self.steps.after({name: [p.grad for p in params] for name, params in self.steps.layers.items()})
        stats = torch.stack([loss_sum, correct.double()]).tolist()  # the one device read
        return {"train_loss": stats[0] / self.n_train, "train_acc": stats[1] / self.n_train}

    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self._dev)
        preds = []
        with torch.inference_mode(), self._autocast():
            for x, y in self.data.test_batches(EVAL_BATCH):
                logits = self.forward(x)
                loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
                preds.append(logits.argmax(1))
            pred = torch.cat(preds) if preds else self.data.test_y.new_zeros(0)
            k = len(self.classes)
            confusion = torch.bincount(self.data.test_y * k + pred, minlength=k * k).view(k, k)
            loss = loss_sum.item()
            confusion = confusion.cpu()
        self._eval = {"confusion": confusion.tolist(),
                      "sample_pred": pred[self.sample_index].tolist()}
        n = max(self.n_test, 1)
        return {"test_loss": loss / n, "test_acc": float(confusion.diagonal().sum()) / n}

    def initial_metrics(self) -> dict[str, float]:
        """Loss and accuracy before the first update: on the test set (the confusion and samples too), and on
        the first INITIAL_TRAIN_N training images, seen as the test images are (no augmentation)."""
        test = self.evaluate()
        self.model.eval()
        n = min(self.n_train, INITIAL_TRAIN_N)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self._dev)
        correct = torch.zeros((), dtype=torch.long, device=self._dev)
        with torch.inference_mode(), self._autocast():
            for start in range(0, n, EVAL_BATCH):
                stop = min(start + EVAL_BATCH, n)
                x = self.data.test_transform(self.data.train_x[start:stop])
                y = self.data.train_y[start:stop]
                logits = self.forward(x)
                loss_sum += F.cross_entropy(logits.float(), y, reduction="sum").double()
                correct += (logits.argmax(1) == y).sum()
        totals = torch.stack([loss_sum, correct.double()]).tolist()  # one device read
        if self.inspect != "off":
            self._record_activations(0)
        return {"train_loss": totals[0] / max(n, 1), "train_acc": totals[1] / max(n, 1), **test}

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def end_epoch(self, epoch: int) -> None:
        if self.scheduler is not None:
            self.scheduler.step()

    # ---- extras -----------------------------------------------------------------------------
    def artifacts(self, epoch: int, last: bool) -> dict[str, dict[str, Any]]:
        if self._eval is None:
            self.evaluate()
        evaluation = self._eval
        assert evaluation is not None  # evaluate() sets it
        out: dict[str, dict[str, Any]] = {
            "confusion": {"kind": "confusion", "epoch": epoch, "labels": self.classes,
                          "matrix": evaluation["confusion"]},
            "samples": self._samples(epoch, evaluation["sample_pred"]),
        }
        if epoch == 1:
            out["summary"] = {"kind": "summary", "epoch": epoch, **summarize(self.config)}
        if self.steps is not None:
            step = self.steps.take()
            if step is not None:
                self.series.add_step(epoch, step)
            self._record_activations(epoch)
            out["gradients"] = self.series.gradients_payload(epoch)
            out["activations"] = self.series.activations_payload(epoch)
            if self.inspect == "full" and (epoch == 1 or last or epoch % self.maps_every == 0):
                out[f"filters-e{epoch:04d}"] = filters_payload(epoch, self._conv1_weight())
                out[f"features-e{epoch:04d}"] = self._features(epoch)
        return out

    # ---- inside the network ---------------------------------------------------------------------
    def _record_activations(self, epoch: int) -> None:
        """Pre-activations, dead ReLUs, batch norm values and dropout's train/eval gap on the probe images."""
        n = min(PROBE_N, self.n_test)
        self.model.eval()
        with torch.inference_mode(), self._autocast():
            x = self.data.test_transform(self.data.test_x[:n])
            stats, _ = walk(self.model, x)
            has_dropout = float(self.config.get("dropout", 0.0)) > 0
            gap = dropout_gap(self.model, x, self.data.test_y[:n], self._dev) if has_dropout else {}
            record = read_all({"stats": stats, "bn": batchnorm_values(self.model), "dropout": gap})
        self.series.add_activations(epoch, {
            "pre": {k: v["pre"] for k, v in record["stats"].items()},
            "dead": {k: v["dead"] for k, v in record["stats"].items() if "dead" in v},
            "saturated": {}, "bn": record["bn"], "dropout": record["dropout"]})

    def _conv1_weight(self) -> torch.Tensor:
        conv1 = self.model.get_submodule("conv1")
        assert isinstance(conv1, torch.nn.Conv2d)
        return conv1.weight

    def _features(self, epoch: int) -> dict[str, Any]:
        """The post-ReLU maps of each conv layer for the first N_FEATURE_IMAGES sample images."""
        index = self.sample_index[:N_FEATURE_IMAGES]
        self.model.eval()
        with torch.inference_mode(), self._autocast():
            _, maps = walk(self.model, self.data.test_transform(self.data.test_x[index]), keep=CONV_LAYERS)
            arrays = {name: maps[name].float().cpu().numpy() for name in sorted(maps)}
        return features_payload(epoch, arrays, index, self.data.test_y[index].cpu().tolist(), self.classes)

    def _samples(self, epoch: int, predicted: list[int]) -> dict[str, Any]:
        idx = self.sample_index
        images = self.data.test_x[idx].cpu().tolist()  # B x H x W x 3 ints 0-255
        truth = self.data.test_y[idx].cpu().tolist()
        items = [{"index": i, "true": t, "pred": p, "image": img}
                 for i, t, p, img in zip(idx, truth, predicted, images)]
        return {"kind": "samples", "epoch": epoch, "labels": self.classes, "items": items}

    # ---- resume -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "data": self.data.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "inside": self.series.state_dict(),
        }
        if self.cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state(self._dev)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.data.load_state_dict(state["data"])
        self.series.load_state_dict(state.get("inside"))
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.cuda and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self._dev)
        self._eval = None
