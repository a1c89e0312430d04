"""StageRunner for the CNN stages (cifar-base ... cifar-batchnorm); see engine.runner.

build(config, data_dir) loads the images (engine.data.cifar) and hands them to
build_from_tensors, which benchmarks and tests can call with their own tensors.
"""
from __future__ import annotations

from typing import Any, Callable

from engine.config import ConfigError
from engine.devices import resolve_device
from engine.runner import StopRequested

EVAL_BATCH = 1000
N_SAMPLES = 16


def build(config: dict[str, Any], data_dir: str) -> "CNNRunner":
    from engine.data.cifar import load_images

    device = resolve_device(config.get("device", "auto"))  # before the (slow) data load
    data = load_images(config, data_dir)
    return build_from_tensors(config, data.train_x, data.train_y, data.test_x, data.test_y,
                              classes=data.classes, device=device, mirror_ok=data.mirror_ok)


def build_from_tensors(config: dict[str, Any], train_x, train_y, test_x, test_y, *,
                       classes: list[str] | None = None, device: str | None = None,
                       mirror_ok: bool = True) -> "CNNRunner":
    """A runner over given uint8 N x 3 x 32 x 32 images and int64 labels (no dataset loading).
    mirror_ok=False: crop-flip only crops (for data whose labels a mirror changes, e.g. digits)."""
    device = resolve_device(device or config.get("device", "auto"))
    if config["batch_size"] > len(train_y):
        raise ConfigError(f"invalid value for batch_size: {config['batch_size']} is larger than the "
                          f"training set ({len(train_y)} examples; allowed: 1 to {len(train_y)})")
    return CNNRunner(config, train_x, train_y, test_x, test_y, classes or [str(i) for i in range(10)], device,
                     mirror_ok)


def make_optimizer(config: dict[str, Any], params):
    import torch

    name, lr, wd = config["optimizer"], config["lr"], config.get("weight_decay", 0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=config["momentum"], nesterov=name == "nesterov",
                               weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=wd)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    raise ConfigError(f"invalid value for optimizer: {name!r}")


def make_scheduler(config: dict[str, Any], optimizer):
    from torch.optim import lr_scheduler

    name = config.get("scheduler", "none")
    if name == "none":
        return None
    if name == "exponential":
        return lr_scheduler.ExponentialLR(optimizer, gamma=config["gamma"])
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config["step_size"], gamma=config["gamma"])
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["epochs"])
    raise ConfigError(f"invalid value for scheduler: {name!r}")


class CNNRunner:
    def __init__(self, config, train_x, train_y, test_x, test_y, classes, device, mirror_ok=True):
        import torch

        from engine.cnn.model import build_model
        from engine.cnn.pipeline import DevicePipeline

        self.config = dict(config)
        self.classes = list(classes)
        self.batch_size = int(config["batch_size"])
        dev = torch.device(device)
        self.cuda = dev.type == "cuda"
        if self.cuda:
            dev = torch.device("cuda", torch.cuda.current_device())
            torch.backends.cudnn.benchmark = True
        self._dev = dev
        self.device = str(dev)
        self.data = DevicePipeline(train_x, train_y, test_x, test_y, augment=config.get("augment", "none"),
                                   normalize=config.get("normalize", "none"), device=self.device,
                                   seed=int(config.get("seed", 0)) + 1, channels_last=True,
                                   mirror_ok=mirror_ok)
        self.n_train, self.n_test = self.data.n_train, self.data.n_test
        self.batches_per_epoch = -(-self.n_train // self.batch_size)

        torch.manual_seed(int(config.get("seed", 0)))  # init; later the global RNG drives dropout
        self.model = build_model(config).to(dev, memory_format=torch.channels_last)
        self.optimizer = make_optimizer(config, self.model.parameters())
        self.scheduler = make_scheduler(config, self.optimizer)
        self.forward = self.model
        if config.get("compile") and self.cuda:
            self.forward = torch.compile(self.model)
        # fixed test images shown as sample predictions: spread over the test set
        step = max(self.n_test // N_SAMPLES, 1)
        self.sample_index = list(range(0, self.n_test, step))[:N_SAMPLES]
        self._eval: dict[str, Any] | None = None

    # ---- training ---------------------------------------------------------------------------
    def _autocast(self):
        import contextlib

        import torch

        if self.cuda:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_epoch(self, epoch: int, on_batch: Callable[[int], bool]) -> dict[str, float]:
        import torch
        import torch.nn.functional as F

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
        import torch
        import torch.nn.functional as F

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

    def current_lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def end_epoch(self, epoch: int) -> None:
        if self.scheduler is not None:
            self.scheduler.step()

    # ---- extras -----------------------------------------------------------------------------
    def artifacts(self, epoch: int, last: bool) -> dict[str, dict[str, Any]]:
        from engine.cnn.summary import summarize

        if self._eval is None:
            self.evaluate()
        out: dict[str, dict[str, Any]] = {
            "confusion": {"kind": "confusion", "epoch": epoch, "labels": self.classes,
                          "matrix": self._eval["confusion"]},
            "samples": self._samples(epoch),
        }
        if epoch == 1:
            out["summary"] = {"kind": "summary", "epoch": epoch, **summarize(self.config)}
        return out

    def _samples(self, epoch: int) -> dict[str, Any]:
        idx = self.sample_index
        images = self.data.test_x[idx].cpu().tolist()  # B x H x W x 3 ints 0-255
        truth = self.data.test_y[idx].cpu().tolist()
        items = [{"index": i, "true": t, "pred": p, "image": img}
                 for i, t, p, img in zip(idx, truth, self._eval["sample_pred"], images)]
        return {"kind": "samples", "epoch": epoch, "labels": self.classes, "items": items}

    # ---- resume -----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        import torch

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
        import torch

        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.data.load_state_dict(state["data"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.cuda and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self._dev)
        self._eval = None
