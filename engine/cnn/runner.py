"""StageRunner for the CNN stages (cifar-base ... cifar-batchnorm); see engine.runner.

build(config, data_dir) loads the images (engine.data.load_images) and hands them to
build_from_data, which benchmarks and tests can call with a Dataset of their own.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager

import torch
import torch.nn.functional as F

from engine.cnn.model import build_model
from engine.cnn.pipeline import DevicePipeline
from engine.cnn.summary import summarize
from engine.config import ConfigError
from engine.data import Dataset, load_images
from engine.devices import resolve_device
from engine.optim import make_optimizer, make_scheduler
from engine.runner import StopRequested

INITIAL_TRAIN_N = 10_000  # training images scored before the first update (a fifth of CIFAR-10's)
EVAL_BATCH = 1000
N_SAMPLES = 16


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

    # ---- training ---------------------------------------------------------------------------
    def _autocast(self) -> ContextManager[Any]:
        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_epoch(self, epoch: int, on_batch: Callable[[int], bool]) -> dict[str, float]:
        self.model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self._dev)
        correct = torch.zeros((), dtype=torch.long, device=self._dev)
        for i, (x, y) in enumerate(self.data.train_batches(self.batch_size), start=1):
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
        return out

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
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.cuda and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self._dev)
        self._eval = None
