"""`nnlab reproduce 2-ab|2-cd [--dataset NAME] [--quick]`: every experiment of the seed report's part, run (or reused: a
saved run whose config.json equals the experiment's config, finished or diverged, is not run again) and
written up as a report with the report's figures and LAB.md's reference numbers beside ours.

--dataset picks the data of mnist-mlp (2-ab: mnist, fashion-mnist, digits) or of the six CNN stages (2-cd:
cifar10, fashion-mnist, mnist, digits). --quick fits a CPU in minutes: the epochs of QUICK_EPOCHS (circles
keep their 150: seconds on a CPU), the 8x8 digits in place of MNIST or CIFAR-10 when those are not in the
data dir and no --dataset is given (no download is tried), and CIFAR-10, MNIST or Fashion-MNIST limited to
their first 10,000 training and 2,000 test images. NNLAB_REPRODUCE_EPOCH_SCALE (a number in (0, 1]) scales every
experiment's epochs further down (at least 1), for tests. The report states the data and epochs used.
A stop (Ctrl-C) ends the running experiment as `interrupted`; the finished ones stay and are reused by the
next call."""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import __version__
from engine.command_line import reproduce_command
from engine.config import ConfigError, applicable
from engine.data.cifar import CIFAR_FOLDER
from engine.data.mnist import IDX_SETS, MNIST_FILES
from engine.figures.artifacts import draw_confusion, draw_samples
from engine.figures.boundary import draw_boundary
from engine.figures.curves import draw_curves
from engine.figures.mpl import Figure as MplFigure
from engine.figures.save import save_figure
from engine.figures.svm import draw_svm
from engine.figures.sweep import draw_sweep, sweep_of_runs
from engine.report.document import Block, Code, Figure, Heading, Paragraph, ReportFolder, Table, figure_ext
from engine.report.tables import cell, results_table
from engine.stages import resolve_config
from engine.store import LoadedRun, compare, list_runs, load_run, read_artifacts, read_config, utc_now
from engine.store.status import REUSABLE

PARTS = ("2-ab", "2-cd")
SCALE_ENV = "NNLAB_REPRODUCE_EPOCH_SCALE"
QUICK_EPOCHS = {"circles": 150, "mnist": 10, "digits": 40, "cifar": 5}
CIFAR_QUICK_LIMITS = {"limit_train": 10000, "limit_test": 2000}  # --quick on CIFAR-10, MNIST, Fashion-MNIST
DATASETS = {"2-ab": ("mnist", "fashion-mnist", "digits"), "2-cd": ("cifar10", "fashion-mnist", "mnist", "digits")}
# the 2-cd stages' references on the other data sets (LAB.md's are CIFAR-10's)
CNN_BASE_REFERENCE = {"mnist": "98.1 % after 3 epochs (a student's run of the course's code)",
                      "fashion-mnist": "simple CNNs: 90-93 % test; a plain CNN overfits within a few epochs"}


@dataclass
class Experiment:
    """One of the seed report's experiments: its runs (stage, overrides), its figures, its reference."""

    key: str
    title: str
    figure: str  # what the report calls it (fig. 3 ...)
    runs: list[tuple[str, dict[str, Any]]]
    references: list[str]  # one per run: LAB.md's number for it ("" when none)
    configs: list[dict[str, Any]] = field(default_factory=list)
    loaded: list[LoadedRun] = field(default_factory=list)


def mnist_present(data_dir: str, name: str = "mnist") -> bool:
    """Are the four IDX files of mnist or fashion-mnist (name) in <data_dir>/<its folder>/raw, each unpacked or
    as its .gz."""
    raw = Path(data_dir) / IDX_SETS[name].folder / "raw"
    return all((raw / f).is_file() or (raw / f"{f}.gz").is_file() for f in MNIST_FILES)


def cifar_present(data_dir: str) -> bool:
    folder = Path(data_dir) / CIFAR_FOLDER
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    return all((folder / n).is_file() for n in names)


def epoch_scale() -> float:
    raw = os.environ.get(SCALE_ENV)
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise ConfigError(f"invalid value for {SCALE_ENV}: {raw!r} (allowed: a number > 0 and <= 1)")
    return value


def experiments(part: str, quick: bool, data_dir: str, dataset: str | None = None) -> list[Experiment]:
    """The experiments of a part, their configs resolved (bad input raises before anything runs). dataset:
    the data set of mnist-mlp (2-ab) or of the six CNN stages (2-cd); None: the lab's (MNIST, CIFAR-10), or
    with --quick the 8x8 digits where those are absent."""
    if part not in PARTS:
        raise ConfigError(f"invalid value for PART: {part!r} (allowed: {', '.join(PARTS)})")
    if dataset is not None and dataset not in DATASETS[part]:
        raise ConfigError(f"invalid value for --dataset: {dataset!r} (allowed for {part}: "
                          f"{', '.join(DATASETS[part])})")
    scale = epoch_scale()

    def epochs(full: int, quick_value: int) -> dict[str, Any]:
        return {"epochs": max(1, round((quick_value if quick else full) * scale))}

    if part == "2-ab":
        circles = epochs(150, QUICK_EPOCHS["circles"])
        mnist = dataset or ("mnist" if (not quick or mnist_present(data_dir)) else "digits")
        mnist_epochs = epochs(50, QUICK_EPOCHS["digits"] if mnist == "digits" else QUICK_EPOCHS["mnist"])
        digits_title = "the 8x8 digits" + ("" if dataset else " (MNIST absent)")
        mnist_title = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(mnist, digits_title)
        mnist_ref = {"mnist": "~92 % test (MNIST, 50 epochs)",
                     "fashion-mnist": "no reference in the lab for Fashion-MNIST"}.get(mnist, "no reference for digits")
        circ_ref = "93.5-95 % test after 150 epochs; the report: 96.5 % train / 93.5 % test"
        exps = [
            Experiment("levels", "The four implementations on circles (one computation)", "fig. 2",
                       [(s, dict(circles)) for s in ("circles-manual", "circles-autograd", "circles-nn",
                                                     "circles-optim")], [circ_ref] * 4),
            Experiment("lr", "Learning rates at batch size 10", "fig. 3",
                       [("circles-optim", {**circles, "lr": lr, "batch_size": 10}) for lr in (0.001, 0.1, 0.3, 0.5)],
                       ["too small: learns slowly", "", "", "too large: does not converge (report)"]),
            Experiment("batch", "Batch sizes at learning rate 0.03", "fig. 4",
                       [("circles-optim", {**circles, "lr": 0.03, "batch_size": b}) for b in (1, 10, 50, 200)],
                       ["", "93.5-95 % test (the course defaults)", "", "larger batches are not better here "
                        "(report)"]),
            Experiment("mnist", f"The same MLP on {mnist_title}", "figs. 5-7",
                       [("mnist-mlp", {**mnist_epochs, "dataset": mnist})], [mnist_ref]),
            Experiment("svm", "Linear SVM against an RBF SVC on circles", "figs. 8-9",
                       [("circles-svm", {"kernel": "linear"}), ("circles-svm", {"kernel": "rbf", "C": 1.0})],
                       ["LinearSVC ~50 % train / 53 % test", "RBF C=1: 96.0 % train / 94.0 % test"]),
        ]
    else:
        cifar = dataset or ("cifar10" if (not quick or cifar_present(data_dir)) else "digits")
        extra: dict[str, Any] = dict(CIFAR_QUICK_LIMITS) if quick and cifar != "digits" else {}
        common = {**epochs(30, QUICK_EPOCHS["cifar"]), "dataset": cifar, **extra}
        stages = ["cifar-base", "cifar-norm", "cifar-augment", "cifar-scheduler", "cifar-dropout", "cifar-batchnorm"]
        refs = ["72.7 % test (train 100 %, overfits after ~10 epochs)", "75.2 %", "81.4 %",
                "about +augment, smoother (report)", "83.0 %", "85.0 %"]
        if cifar != "cifar10":
            refs = [f"{r} on CIFAR-10" for r in refs]
            refs[0] += f"; {cifar}: {CNN_BASE_REFERENCE.get(cifar, 'no reference')}"
        on = {"cifar10": "", "fashion-mnist": " on Fashion-MNIST", "mnist": " on MNIST"}.get(cifar,
                                                                                              " on the 8x8 digits")
        exps = [Experiment("cnn", f"The CNN and each improvement (each stage keeps the ones before){on}", "figs. 10-16",
                           [(s, dict(common)) for s in stages], refs)]
    for exp in exps:
        exp.configs = [resolve_config(stage, overrides) for stage, overrides in exp.runs]
    return exps


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a == b  # config.json holds JSON values: equal dicts are the same experiment


def find_existing(runs_dir: str, configs: Sequence[dict[str, Any]]) -> list[Path | None]:
    """For each config, the newest saved run (finished or diverged) with exactly that config."""
    stages = {c["stage"] for c in configs}
    candidates: list[tuple[Path, dict[str, Any]]] = []
    for rec in list_runs(runs_dir):
        if rec.stage in stages and rec.status in REUSABLE:
            try:
                candidates.append((rec.run_dir, read_config(rec.run_dir)))
            except ConfigError:
                continue
    return [next((d for d, saved in candidates if _same(saved, config)), None) for config in configs]


Log = Callable[[str], None]


def run_all(exps: Sequence[Experiment], *, runs_dir: str, data_dir: str, part: str, log: Log,
            should_stop: Callable[[], bool]) -> bool:
    """Run (or reuse) every experiment's runs; fills exp.loaded. False when stopped before the end."""
    from engine.train import train  # torch loads only when something runs

    flat = [(exp, i) for exp in exps for i in range(len(exp.configs))]
    existing = find_existing(runs_dir, [exp.configs[i] for exp, i in flat])
    done_here: list[tuple[dict[str, Any], Path]] = []  # an experiment that two figures share runs once
    for n, ((exp, i), found) in enumerate(zip(flat, existing), start=1):
        config = exp.configs[i]
        what = reproduce_command(config)
        found = found or next((d for c, d in done_here if _same(c, config)), None)
        if found is not None:
            log(f"[{n}/{len(flat)}] reused {found.name}: {what}")
            exp.loaded.append(load_run(found))
            continue
        if should_stop():
            return False
        log(f"[{n}/{len(flat)}] running: {what}")
        started = time.perf_counter()
        result = train(config, runs_dir=runs_dir, data_dir=data_dir, should_stop=should_stop,
                       tags=[f"reproduce-{part}"])
        if result.status == "interrupted":
            log(f"[{n}/{len(flat)}] interrupted: {result.run_id} (kept as interrupted)")
            return False
        acc = (result.final or {}).get("test_acc")
        log(f"[{n}/{len(flat)}] {result.status} in {time.perf_counter() - started:.1f} s: {result.run_id}"
            + (f", test_acc {acc:.4f}" if isinstance(acc, float) else ""))
        exp.loaded.append(load_run(Path(result.run_dir)))
        if result.status in REUSABLE:
            done_here.append((config, Path(result.run_dir)))
    return True


# ---- the report ------------------------------------------------------------------------------------
def _pct(value: Any) -> str:
    return f"{100 * value:.1f} %" if isinstance(value, float) else "-"


def _fig(folder: ReportFolder, blocks: list[Block], fig: MplFigure, name: str, caption: str) -> None:
    save_figure(fig, folder.path(name))
    blocks.append(Figure(name, caption))


def _figures(folder: ReportFolder, exp: Experiment, ext: str) -> list[Block]:
    blocks: list[Block] = []
    runs = exp.loaded
    if exp.key == "levels":
        _fig(folder, blocks, draw_boundary(runs[0], read_artifacts(runs[0].record.run_dir)),
             f"fig2-boundary{ext}", f"{runs[0].record.stage}: decision boundary over epochs and the loss and "
                                    "accuracy curves (the report's fig. 2)")
        _fig(folder, blocks, draw_curves(runs, title="the four implementations"), f"fig2-levels{ext}",
             "the four implementations' curves (one computation: they lie on each other)")
        agree = compare(runs)["curves_agree"]
        blocks.append(Paragraph("Per-epoch train and test losses of the four implementations "
                                + ("agree to 1e-5: the same computation." if agree else
                                   "do NOT agree to 1e-5.")))
    elif exp.key in ("lr", "batch"):
        key = "lr" if exp.key == "lr" else "batch_size"
        fixed = "batch size 10" if key == "lr" else "lr 0.03"
        _fig(folder, blocks, draw_sweep(sweep_of_runs(runs, f"{key} on circles-optim ({fixed})")),
             f"{'fig3-lr' if key == 'lr' else 'fig4-batch'}{ext}",
             f"curves per {key} and the final and best test accuracy against {key} (the report's {exp.figure})")
    elif exp.key == "mnist":
        run, arts = runs[0], read_artifacts(runs[0].record.run_dir)
        _fig(folder, blocks, draw_curves(runs, title=f"mnist-mlp on {run.config.get('dataset')}"),
             f"mnist-curves{ext}", "loss and accuracy per epoch")
        _fig(folder, blocks, draw_samples(run, arts), f"fig5-7-samples{ext}",
             "test digits with their predicted labels (the report's figs. 5-7)")
        _fig(folder, blocks, draw_confusion(run, arts), f"mnist-confusion{ext}", "confusion matrix on the test set")
    elif exp.key == "svm":
        for run, name in zip(runs, ("fig8-linear-svm", "fig9-rbf-svm")):
            _fig(folder, blocks, draw_svm(run, read_artifacts(run.record.run_dir)), f"{name}{ext}",
                 f"kernel={run.config.get('kernel')}: decision regions, margins and support vectors")
    elif exp.key == "cnn":
        _fig(folder, blocks, draw_curves(runs, metric="test_acc", title="the six CNN stages"),
             f"cnn-ablation{ext}", "test accuracy per epoch of the six stages")
        for n, run in enumerate(runs, start=11):  # the report: fig. 11 the baseline ... fig. 16 batchnorm
            _fig(folder, blocks, draw_curves([run], title=str(run.record.stage)), f"fig{n}-{run.record.stage}{ext}",
                 f"{run.record.stage}: loss and accuracy, train solid and test dashed")
        last = runs[-1]
        arts = read_artifacts(last.record.run_dir)
        _fig(folder, blocks, draw_samples(last, arts), f"cnn-samples{ext}",
             f"{last.record.stage}: test images with their predicted labels")
        _fig(folder, blocks, draw_confusion(last, arts), f"cnn-confusion{ext}",
             f"{last.record.stage}: confusion matrix on the test set")
    return blocks


def comparison_rows(exps: Sequence[Experiment]) -> tuple[list[str], list[list[str]]]:
    """Ours against the reference: one row per run."""
    headers = ["experiment", "run", "stage", "setting", "data", "epochs", "status", "train_acc", "test_acc",
               "best_test_acc", "reference (LAB.md)"]
    rows = []
    for exp in exps:
        diff = [k for k in compare(exp.loaded)["differing_keys"]
                if k != "stage" and all(k in r.config for r in exp.loaded)] if len(exp.loaded) > 1 else []
        for run, ref in zip(exp.loaded, exp.references):
            last = run.history[-1] if run.history else {}
            best = max((r["test_acc"] for r in run.history if isinstance(r.get("test_acc"), float)
                        and math.isfinite(r["test_acc"])), default=None)
            applies = applicable(run.config)  # a key that does nothing in this run is not part of its setting
            setting = ", ".join(f"{k}={cell(run.config.get(k))}" for k in diff if k in applies)
            rows.append([exp.figure, run.record.id, str(run.record.stage), setting, str(run.config.get("dataset")),
                         str(len(run.history)), run.record.status, _pct(last.get("train_acc")),
                         _pct(last.get("test_acc")), _pct(best), ref])
    return headers, rows


def report_blocks(folder: ReportFolder, exps: Sequence[Experiment], part: str, quick: bool,
                  elapsed_s: float) -> list[Block]:
    ext = figure_ext(folder.fmt)
    runs = [r for exp in exps for r in exp.loaded]
    data = sorted({str(r.config.get("dataset")) for r in runs})
    epochs = sorted({len(r.history) for r in runs})
    scale = epoch_scale()
    blocks: list[Block] = [
        Paragraph(f"Part {part} of the RDFIA practical, every experiment of the seed report, "
                  f"{'--quick' if quick else 'full'} settings"
                  + (f" with epochs scaled by {scale:g} ({SCALE_ENV})" if scale != 1 else "")
                  + f". Data used: {', '.join(data)}; epochs per run: {', '.join(map(str, epochs))}. "
                  f"Written {utc_now()} by nnlab {__version__}; {elapsed_s:.0f} s of running and reuse."),
    ]
    if quick:
        blocks.append(Paragraph("Quick settings are not the report's: fewer epochs, the first 10,000 training and "
                                "2,000 test images of CIFAR-10, MNIST or Fashion-MNIST, and the 8x8 digits where "
                                "MNIST or CIFAR-10 were not in the data dir. Compare the reference numbers with "
                                "that in mind; the full run is the same command without --quick."))
    if any(d in data for d in ("mnist", "fashion-mnist")) and part == "2-cd":
        blocks.append(Paragraph("The 28x28 grey images enter the lab's 32x32x3 network unchanged: each is padded "
                                "with 2 black pixels per side and its grey repeated in the 3 channels; "
                                "standardization statistics come from the training set; crop-flip flips "
                                "Fashion-MNIST but never MNIST's digits."))
    headers, rows = comparison_rows(exps)
    blocks += [Heading("Ours against the reference"),
               Table(headers, rows, "accuracies of our runs (last epoch, and best test) beside LAB.md's numbers",
                     "comparison.csv")]
    for exp in exps:
        blocks.append(Heading(f"{exp.figure}: {exp.title}"))
        blocks += _figures(folder, exp, ext)
        blocks.append(Paragraph("Commands that reproduce these runs:"))
        blocks.append(Code("\n".join(reproduce_command(r.config) for r in exp.loaded)))
    headers, rows = results_table(runs)
    blocks += [Heading("All runs"), Table(headers, rows, "every run of this report", "results.csv")]
    return blocks


def write(target: Path, fmt: str, exps: Sequence[Experiment], part: str, quick: bool, elapsed_s: float,
          dataset: str | None = None) -> Path:
    title = f"nnlab reproduce {part}" + (f" --dataset {dataset}" if dataset else "") + (" --quick" if quick else "")
    with ReportFolder(target, fmt) as folder:
        return folder.publish(title, report_blocks(folder, exps, part, quick, elapsed_s))
