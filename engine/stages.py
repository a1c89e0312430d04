"""The lab's stages: named presets over the one config schema (engine.config), and the
resolution of a stage plus key=value overrides into a validated config.

Each stage says which keys apply, their defaults, what it teaches, and where
its runner lives (imported lazily, so listing stages never imports torch).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Any

from engine.cnn.summary import summarize as summarize_cnn
from engine.config import KEYS, SVM_GAMMA, ConfigError, Key
from engine.lab_questions import questions
from engine.model_summary import summary_rows
from engine.runner import StageRunner
from engine.text import render_table

MLP_EQUATIONS = """\
H~ = X W_h^T + b_h     H = tanh(H~)
Y~ = H W_y^T + b_y     Y^ = softmax(Y~)
loss = cross-entropy(Y, Y^), reduced by mean or sum
dY~ = Y^ - Y           dW_y = dY~^T H    db_y = sum_rows dY~
dH~ = (dY~ W_y) * (1 - H^2)
dW_h = dH~^T X         db_h = sum_rows dH~   (/N for mean)
init: W ~ normal(0, init_std), b = 0"""

SAME_COMPUTATION = (
    "circles-manual, -autograd, -nn and -optim are one computation: with the same seed "
    "and reduction their per-epoch losses agree to float precision (compare the runs)."
)

@dataclass(frozen=True)
class Stage:
    id: str
    part: str  # "2-ab" | "2-cd"
    title: str  # one line
    teaches: str  # a few lines for the TUI and `nnlab stages`
    keys: dict[str, Key]
    defaults: dict[str, Any]
    runner: str  # "module:function" building the stage runner (engine.runner)
    datasets: tuple[str, ...]  # named datasets accepted (plus .mat paths when mat_ok)
    mat_ok: bool = False

    def __post_init__(self) -> None:
        """The dataset key of this stage names this stage's data sets (form, `nnlab stages`, messages)."""
        if "dataset" in self.keys:
            self.keys["dataset"] = replace(
                self.keys["dataset"], choices=self.datasets, mat_ok=self.mat_ok,
                help=" | ".join(self.datasets) + (", or a course .mat file" if self.mat_ok else ""))

    def check(self, config: dict[str, Any]) -> None:
        ds = config.get("dataset")
        if ds is not None:
            is_mat = isinstance(ds, str) and ds.lower().endswith(".mat")
            if (is_mat and not self.mat_ok) or (not is_mat and ds not in self.datasets):
                allowed = ", ".join(self.datasets) + (", or a path to a .mat file" if self.mat_ok else "")
                raise ConfigError(f"invalid value for dataset: {ds!r} on stage {self.id} (allowed: {allowed})")
        if config.get("optimizer") == "nesterov" and config.get("momentum", 0) <= 0:
            raise ConfigError(f"invalid value for momentum: {str(float(config.get('momentum', 0)))!r} "
                              "(allowed: a number > 0 and < 1 with optimizer=nesterov)")

    def build_runner(self, config: dict[str, Any], data_dir: str) -> StageRunner:
        module, func = self.runner.split(":")
        return getattr(importlib.import_module(module), func)(config, data_dir)


def _pick(*names: str) -> dict[str, Key]:
    return {n: KEYS[n] for n in names}


MLP_KEYS = ("epochs", "lr", "batch_size", "hidden", "init_std", "reduction", "seed", "dataset", "device", "inspect")
MLP_DEFAULTS = dict(epochs=150, lr=0.03, batch_size=10, hidden=10, init_std=0.3, reduction="sum",
                    seed=0, dataset="circles", device="cpu", inspect="full")
OPTIM_KEYS = ("optimizer", "momentum", "weight_decay")
OPTIM_DEFAULTS = dict(optimizer="sgd", momentum=0.9, weight_decay=0.0)

CNN_KEYS = ("epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay", "scheduler", "gamma",
            "step_size", "normalize", "augment", "dropout", "batchnorm", "seed", "dataset", "device",
            "compile", "limit_train", "limit_test", "inspect", "maps_every")
CNN_BASE = dict(epochs=30, lr=0.1, batch_size=128, optimizer="sgd", momentum=0.9, weight_decay=0.0,
                scheduler="none", gamma=0.95, step_size=10, normalize="none", augment="none",
                dropout=0.0, batchnorm=False, seed=0, dataset="cifar10", device="auto", compile=False,
                limit_train=0, limit_test=0, inspect="full", maps_every=10)


def _circles_stage(sid: str, title: str, how: str, optim: bool = False) -> Stage:
    keys = _pick(*MLP_KEYS, "grid_every", *(OPTIM_KEYS if optim else ()))
    defaults = dict(MLP_DEFAULTS, grid_every=10, **(OPTIM_DEFAULTS if optim else {}))
    return Stage(
        id=sid, part="2-ab", title=title,
        teaches=f"{how}\n{MLP_EQUATIONS}\n{SAME_COMPUTATION}",
        keys=keys, defaults=defaults, runner="engine.mlp.runner:build",
        datasets=("circles",), mat_ok=True,
    )


def cnn_table(config: dict[str, Any]) -> str:
    """The lab's sizes table of the CNN a config builds: layer, output for 32x32 and for 28x28
    inputs, parameters (the first four columns of the model summary's table)."""
    headers, rows = summary_rows(summarize_cnn(config), compact=True)
    return render_table(headers[:4], [row[:4] for row in rows], total=True)


def _cnn_stage(sid: str, title: str, adds: str, **overrides: Any) -> Stage:
    defaults = dict(CNN_BASE, **overrides)
    return Stage(
        id=sid, part="2-cd", title=title,
        teaches=f"{adds}\n{cnn_table(defaults)}",
        keys=_pick(*CNN_KEYS), defaults=defaults,
        runner="engine.cnn.runner:build", datasets=("cifar10", "fashion-mnist", "mnist", "digits"),
    )


_NORM = dict(normalize="standard")
_AUG = dict(_NORM, augment="crop-flip")
_SCHED = dict(_AUG, scheduler="exponential", gamma=0.95)
_DROP = dict(_SCHED, dropout=0.5)
_BN = dict(_DROP, batchnorm=True)

STAGES: dict[str, Stage] = {s.id: s for s in [
    _circles_stage("circles-manual", "MLP on circles, manual forward and backward",
                   "Forward and backward written out by hand from the equations; no autograd."),
    _circles_stage("circles-autograd", "MLP on circles, autograd gradients, manual update",
                   "torch.autograd computes the gradients; the SGD update is written by hand."),
    _circles_stage("circles-nn", "MLP on circles from torch.nn layers and loss",
                   "nn.Linear, nn.Tanh, nn.Linear and nn.CrossEntropyLoss on the logits; manual update."),
    _circles_stage("circles-optim", "MLP on circles, updated by torch.optim",
                   "As circles-nn, with torch.optim doing the update (optimizer=sgd by default).", optim=True),
    Stage(
        id="mnist-mlp", part="2-ab", title="The same MLP on MNIST (offline: dataset=digits)",
        teaches=("The circles MLP generalised to n_x = 784 (64 for digits), n_y = 10, trained with "
                 "torch.optim. dataset=fashion-mnist: the same on 10 classes of clothing.\n" + MLP_EQUATIONS),
        keys=_pick(*MLP_KEYS, *OPTIM_KEYS),
        defaults=dict(MLP_DEFAULTS, **OPTIM_DEFAULTS, epochs=50, hidden=100, batch_size=100, lr=0.03,
                      reduction="mean", dataset="mnist"),
        runner="engine.mlp.runner:build", datasets=("mnist", "fashion-mnist", "digits"), mat_ok=True,
    ),
    Stage(
        id="circles-svm", part="2-ab", title="scikit-learn SVM on circles (linear, rbf, poly)",
        teaches=("A max-margin classifier, fitted once. kernel=linear (LinearSVC) sits near chance on "
                 "circles; rbf and poly (degree 2) separate the rings.\nC trades margin for violations; "
                 "gamma sets the rbf/poly kernel width."),
        keys={**_pick("kernel", "C", "degree", "seed", "dataset"), "gamma": SVM_GAMMA},
        defaults=dict(kernel="rbf", C=1.0, gamma="scale", degree=3, seed=0, dataset="circles"),
        runner="engine.svm.runner:build", datasets=("circles",), mat_ok=True,
    ),
    _cnn_stage("cifar-base", "The lab CNN on CIFAR-10, plain SGD",
               "3 conv 5x5 + ReLU + maxpool blocks, fc4 1000, fc5 10; SGD lr 0.1, batch 128."),
    _cnn_stage("cifar-norm", "+ standardization (training-set statistics)",
               "Per-channel mean/std from the training set only, applied to train and test.", **_NORM),
    _cnn_stage("cifar-augment", "+ random 28x28 crop and horizontal flip",
               "Train on random 28x28 crops with random flips, test on the centre crop (pool3 ceil_mode).",
               **_AUG),
    _cnn_stage("cifar-scheduler", "+ ExponentialLR(0.95), stepped each epoch",
               "The learning rate decays by gamma each epoch.", **_SCHED),
    _cnn_stage("cifar-dropout", "+ dropout 0.5 between fc4 and fc5",
               "Dropout regularizes the large fc4 layer.", **_DROP),
    _cnn_stage("cifar-batchnorm", "+ BatchNorm2d after each conv",
               "Batch normalization after each convolution.", **_BN),
]}


def get_stage(stage_id: str) -> Stage:
    try:
        return STAGES[stage_id]
    except KeyError:
        raise ConfigError(f"unknown stage {stage_id!r} (allowed: {', '.join(STAGES)})") from None


def stage_listing() -> list[dict[str, Any]]:
    """What `nnlab stages --json` prints: one object per stage."""
    return [
        {"id": s.id, "part": s.part, "description": s.title, "teaches": s.teaches,
         "keys": {k: {"help": spec.help, "allowed": spec.allowed()} for k, spec in s.keys.items()},
         "defaults": dict(s.defaults), "datasets": list(s.datasets), "mat_ok": s.mat_ok,
         "questions": list(questions(s.id))}
        for s in STAGES.values()
    ]


def resolve_config(stage_id: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stage defaults + overrides, each validated. Returns a new dict with 'stage'."""
    stage = get_stage(stage_id)
    config: dict[str, Any] = {"stage": stage.id}
    config.update(stage.defaults)
    for key, raw in (overrides or {}).items():
        if key == "stage":
            raise ConfigError("stage is not a config key: give the stage as the first argument")
        spec = stage.keys.get(key)
        if spec is None:
            raise ConfigError(
                f"unknown key {key!r} for stage {stage.id} (allowed keys: {', '.join(stage.keys)})"
            )
        config[key] = spec.parse(raw)
    stage.check(config)
    return config


def revalidate(saved: dict[str, Any], overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """A saved config.json (plus overrides) validated again like a new run's, to run it again or resume
    it. Preset values a user cannot set on that stage (e.g. one a newer version stopped exposing) come
    from the preset."""
    if not isinstance(saved.get("stage"), str):
        raise ConfigError("the saved config names no stage")
    stage = get_stage(saved["stage"])
    base = {k: v for k, v in saved.items()
            if k != "stage" and not (k in stage.defaults and k not in stage.keys)}
    return resolve_config(stage.id, {**base, **(overrides or {})})
