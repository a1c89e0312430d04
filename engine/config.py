"""One validated config schema; stages are presets over it.

A config is a plain dict of resolved values plus "stage". Every bad value
raises ConfigError with one line naming the key, the value and what is
allowed. Nothing here imports torch.
"""
from __future__ import annotations

import json
import math
import os
import re
import tomllib
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """Bad user input: the message is one line, shown as is, exit code 2."""


@dataclass(frozen=True)
class Key:
    name: str
    kind: str  # int | float | choice | bool | dataset | augment | svm_gamma
    help: str
    low: float | None = None
    low_open: bool = False  # True: value must be > low, else >= low
    high: float | None = None
    high_open: bool = True  # True: value must be < high, else <= high
    choices: tuple[str, ...] = ()
    mat_ok: bool = True  # kind dataset: a course .mat file is accepted too

    def allowed(self) -> str:
        if self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a number"
            parts = []
            if self.low is not None:
                parts.append(f"{'>' if self.low_open else '>='} {_fmt(self.low)}")
            if self.high is not None:
                parts.append(f"{'<' if self.high_open else '<='} {_fmt(self.high)}")
            return what + (" " + " and ".join(parts) if parts else "")
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "device":
            return "one of " + ", ".join(self.choices) + ", cuda:N (N: a GPU's index)"
        if self.kind == "augment":
            return "none, or one or more of " + ", ".join(self.choices) + " joined by '+'"
        if self.kind == "dataset":
            return "one of " + ", ".join(self.choices) + (", or a path to a .mat file" if self.mat_ok else "")
        if self.kind == "svm_gamma":
            return "scale, auto, or a number > 0"
        return "a value"

    def fail(self, raw: Any) -> ConfigError:
        return ConfigError(f"invalid value for {self.name}: {_show(raw)} (allowed: {self.allowed()})")

    def parse(self, raw: Any) -> Any:
        """Parse a raw value (a string from the command line, or a TOML/JSON value)."""
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise self.fail(raw)
        if self.kind in ("int", "float"):
            return self._parse_number(raw)
        if self.kind == "choice":
            text = str(raw).strip().lower()
            if isinstance(raw, bool) or text not in self.choices:
                raise self.fail(raw)
            return text
        if self.kind == "device":
            text = str(raw).strip().lower()
            if isinstance(raw, bool) or not (text in self.choices or re.fullmatch(r"cuda:\d{1,3}", text)):
                raise self.fail(raw)
            return text if text in self.choices else f"cuda:{int(text[5:])}"
        if self.kind == "augment":
            text = str(raw).strip().lower()
            if isinstance(raw, bool) or not text:
                raise self.fail(raw)
            if text == "none":
                return "none"
            parts = text.split("+")
            if any(p not in self.choices for p in parts) or len(set(parts)) != len(parts):
                raise self.fail(raw)
            return "+".join(parts)
        if self.kind == "dataset":
            if not isinstance(raw, str) or not raw.strip():
                raise self.fail(raw)
            text = raw.strip()
            if text.lower() in self.choices:
                return text.lower()
            if text.lower().endswith(".mat") and self.mat_ok:
                return os.path.abspath(os.path.expanduser(text))
            raise self.fail(raw)
        if self.kind == "svm_gamma":
            text = str(raw).strip().lower()
            if text in ("scale", "auto"):
                return text
            try:
                value = float(text)
            except ValueError:
                raise self.fail(raw) from None
            if isinstance(raw, bool) or not math.isfinite(value) or value <= 0:
                raise self.fail(raw)
            return value
        raise AssertionError(self.kind)

    def _parse_number(self, raw: Any) -> int | float:
        if isinstance(raw, bool):
            raise self.fail(raw)
        if isinstance(raw, str) and not raw.isascii():
            # Python reads full-width or Arabic-Indic digits as numbers; a value the user cannot see is what
            # was used is refused instead (lr=０.１ looks like 0.1, but is it?)
            raise ConfigError(f"invalid value for {self.name}: {raw!r} (allowed: {self.allowed()}, "
                              "written in ASCII digits)")
        try:
            if self.kind == "int":
                if isinstance(raw, float):
                    if not raw.is_integer():
                        raise ValueError
                    value: int | float = int(raw)
                else:
                    value = int(str(raw).strip())
            else:
                value = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
                if not math.isfinite(value):
                    raise ValueError
        except (ValueError, OverflowError):
            raise self.fail(raw) from None
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise self.fail(raw)
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            raise self.fail(raw)
        return value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show(raw: Any) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
SCHEDULERS = ("none", "exponential", "step", "cosine")
AUGMENTATIONS = ("crop-flip", "jitter", "rotate", "noise")
MAX_INT = 2**31 - 1
MAX_CONFIG_BYTES = 1024 * 1024  # a --config file larger than this is refused

# The shared schema. Stage presets (engine.stages) pick which keys apply.
KEYS: dict[str, Key] = {k.name: k for k in [
    Key("epochs", "int", "number of passes over the training set", low=1, high=100_000, high_open=False),
    Key("lr", "float", "learning rate (the lab's mu)", low=0, low_open=True, high=1e6, high_open=False),
    Key("batch_size", "int", "examples per gradient step", low=1, high=MAX_INT, high_open=False),
    Key("hidden", "int", "hidden units n_h", low=1, high=100_000, high_open=False),
    Key("init_std", "float", "std of the normal init of the weights (biases start at 0)", low=0, high=1e3,
        high_open=False),
    Key("reduction", "choice", "how the loss is reduced over a batch (sum: the course's manual gradients)",
        choices=("mean", "sum")),
    Key("seed", "int", "random seed: init, data order, augmentation", low=0, high=MAX_INT, high_open=False),
    Key("dataset", "dataset", "circles | mnist | fashion-mnist | digits | cifar10, or a course .mat file",
        choices=("circles", "mnist", "fashion-mnist", "digits", "cifar10")),
    Key("device", "device", "where to train (cuda:N: GPU N; cuda and auto: the least busy GPU)",
        choices=("auto", "cpu", "cuda", "mps")),
    Key("optimizer", "choice", "torch.optim update rule", choices=OPTIMIZERS),
    Key("momentum", "float", "momentum for optimizer=momentum|nesterov", low=0, high=1),
    Key("weight_decay", "float", "L2 penalty", low=0, high=1, high_open=False),
    Key("scheduler", "choice", "learning-rate schedule, stepped each epoch", choices=SCHEDULERS),
    Key("gamma", "float", "decay factor of the exponential/step scheduler", low=0, low_open=True, high=1,
        high_open=False),
    Key("step_size", "int", "epochs between decays for scheduler=step", low=1, high=100_000, high_open=False),
    Key("normalize", "choice", "input normalization, statistics from the training set only",
        choices=("none", "standard", "zca")),
    Key("augment", "augment", "training-time augmentation", choices=AUGMENTATIONS),
    Key("dropout", "float", "dropout probability between fc4 and fc5", low=0, high=1),
    Key("batchnorm", "bool", "BatchNorm2d after each conv"),
    Key("compile", "bool", "torch.compile the model (CUDA)"),
    Key("limit_train", "int", "use only the first N training examples (0: all)", low=0, high=MAX_INT, high_open=False),
    Key("limit_test", "int", "use only the first N test examples (0: all)", low=0, high=MAX_INT, high_open=False),
    Key("grid_every", "int", "save the decision-boundary grid every k-th epoch", low=1, high=100_000, high_open=False),
    Key("inspect", "choice", "record the network's inside: full (gradients, activations, maps), light (no maps), off",
        choices=("full", "light", "off")),
    Key("maps_every", "int", "save conv1's filters and the feature maps every k-th epoch (inspect=full)", low=1,
        high=100_000, high_open=False),
    Key("kernel", "choice", "linear: LinearSVC; linear-svc: SVC(kernel=linear); rbf; poly",
        choices=("linear", "linear-svc", "rbf", "poly")),
    Key("C", "float", "SVM regularization: larger C, fewer margin violations", low=0, low_open=True, high=1e9,
        high_open=False),
    Key("degree", "int", "degree of the poly kernel", low=1, high=20, high_open=False),
]}
# The SVM's own gamma (kernel coefficient) shares the lab's name `gamma` on circles-svm.
SVM_GAMMA = Key("gamma", "svm_gamma", "kernel coefficient of rbf/poly: scale, auto or a number > 0")


def inapplicable(config: dict[str, Any]) -> dict[str, str]:
    """The keys of a config that do nothing in it, each with the condition under which it would: momentum
    with optimizer=sgd, gamma and step_size without a scheduler that uses them, degree without the poly
    kernel, the SVM's gamma with a linear kernel. They stay in config.json (the saved record is whole), but
    nothing shows them as if they applied: not the Lab form, runs show, compare, reports, nor the command that
    reproduces a run."""
    out: dict[str, str] = {}
    optimizer = config.get("optimizer")
    if "momentum" in config and optimizer is not None and optimizer not in ("momentum", "nesterov"):
        out["momentum"] = "applies with optimizer=momentum or nesterov"
    kernel = config.get("kernel")
    if kernel is not None:  # the SVM stage: gamma is the kernel's coefficient
        if "gamma" in config and kernel not in ("rbf", "poly"):
            out["gamma"] = "applies with kernel=rbf or poly"
        if "degree" in config and kernel != "poly":
            out["degree"] = "applies with kernel=poly"
    else:
        scheduler = config.get("scheduler")
        if "gamma" in config and scheduler is not None and scheduler not in ("exponential", "step"):
            out["gamma"] = "applies with scheduler=exponential or step"
        if "step_size" in config and scheduler is not None and scheduler != "step":
            out["step_size"] = "applies with scheduler=step"
    if "maps_every" in config and config.get("inspect", "full") != "full":
        out["maps_every"] = "applies with inspect=full"
    return out


def applicable(config: dict[str, Any]) -> dict[str, Any]:
    """The config without the keys that do nothing in it (see inapplicable)."""
    skip = inapplicable(config)
    return {k: v for k, v in config.items() if k not in skip}


def split_assignment(text: str) -> tuple[str, str]:
    """'key=value' -> (key, value); raises ConfigError otherwise."""
    if "=" not in text:
        raise ConfigError(f"expected KEY=VALUE, got {_show(text)}")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"expected KEY=VALUE, got {_show(text)}")
    return key, value


def parse_assignments(items: list[str]) -> dict[str, str]:
    """KEY=VALUE words -> {key: value text}; ConfigError for a word that is not one, or a key given twice."""
    out: dict[str, str] = {}
    for item in items:
        key, value = split_assignment(item)
        if key in out:
            raise ConfigError(f"key {_show(key)} is given twice ({_show(f'{key}={out[key]}')} and "
                              f"{_show(item)}; allowed: each key once)")
        out[key] = value
    return out


def load_toml(path: str) -> dict[str, Any]:
    """Read a TOML --config file: flat `key = value` pairs (an optional [config] table)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--config: file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {str(exc).splitlines()[0]}") from None
    return _flat(data, path)


def load_json_config(path: str) -> dict[str, Any]:
    """Read a JSON --config file: one object of `key: value` pairs, such as a saved run's config.json."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(f"--config: {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB (allowed: a "
                              "config file of key: value pairs)")
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"--config: file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"--config: {path} is not valid JSON: {str(exc).splitlines()[0][:120]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path} must hold one JSON object of key: value pairs")
    return _flat(data, path)


def _flat(data: dict[str, Any], path: str) -> dict[str, Any]:
    if isinstance(data.get("config"), dict):
        data = {**{k: v for k, v in data.items() if k != "config"}, **data["config"]}
    for key, value in data.items():
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"--config: key {key} in {path} must be a single value, not "
                              f"{'null' if value is None else 'a table or list'}")
    return data


def load_config_file(path: str, stage: str) -> dict[str, Any]:
    """The keys of a --config file (TOML, or JSON when it ends in .json) for a run of `stage`. A `stage`
    key in the file must name that same stage; it is not returned."""
    data = load_json_config(path) if path.lower().endswith(".json") else load_toml(path)
    if "stage" in data:
        named = data.pop("stage")
        if named != stage:
            raise ConfigError(f"--config: {path} is for stage {_show(named)}, not {stage!r} as given "
                              f"(allowed: no stage key, or stage = {stage!r})")
    return data
