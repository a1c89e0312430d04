"""The report of a set of saved runs: the results table (also as CSV), a curves figure per group of
comparable runs, each run's own figures (decision boundary, SVM regions, samples and confusion matrix)
and under each run the command that reproduces it."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import __version__
from engine.command_line import reproduce_command
from engine.figures.artifacts import draw_confusion, draw_samples
from engine.figures.boundary import draw_boundary
from engine.figures.curves import draw_curves
from engine.figures.mpl import Figure as MplFigure
from engine.figures.save import save_figure
from engine.figures.svm import draw_svm
from engine.report.document import Block, Code, Figure, Heading, Paragraph, ReportFolder, Table, figure_ext
from engine.report.tables import results_table, shown_table
from engine.store import LoadedRun, read_artifacts, utc_now

GROUP_OF = {"circles-manual": "circles MLP", "circles-autograd": "circles MLP", "circles-nn": "circles MLP",
            "circles-optim": "circles MLP", "mnist-mlp": "MNIST MLP", "circles-svm": "circles SVM"}
CURVES_PER_FIGURE = 8  # the palette's colours
MAX_RUN_FIGURES = 12  # runs that get their own figures (boundary, SVM, samples, confusion)


def group_of(stage: str | None) -> str:
    return GROUP_OF.get(stage or "", "CIFAR CNN" if (stage or "").startswith("cifar-") else str(stage))


def groups(runs: Sequence[LoadedRun]) -> list[tuple[str, list[LoadedRun]]]:
    """Comparable runs (same family of stages) in first-seen order."""
    out: dict[str, list[LoadedRun]] = {}
    for run in runs:
        out.setdefault(group_of(run.record.stage), []).append(run)
    return list(out.items())


def run_figures(run: LoadedRun) -> list[tuple[str, Callable[[LoadedRun, dict[str, Any]], MplFigure], str]]:
    """(kind, draw, caption) of the figures a run of this stage has."""
    stage = run.record.stage or ""
    if stage.startswith("circles-") and stage != "circles-svm":
        return [("boundary", draw_boundary, "decision boundary over epochs, and the loss and accuracy curves")]
    if stage == "circles-svm":
        return [("svm", draw_svm, "SVM decision regions, margins and support vectors")]
    return [("samples", draw_samples, "test samples with their predicted labels"),
            ("confusion", draw_confusion, "confusion matrix on the test set")]


def add_figure(folder: ReportFolder, blocks: list[Block], fig: MplFigure, name: str, caption: str) -> None:
    save_figure(fig, folder.path(name))
    blocks.append(Figure(name, caption))


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:80]


def curves_blocks(folder: ReportFolder, title: str, runs: Sequence[LoadedRun], ext: str, stem: str) -> list[Block]:
    """A loss-and-accuracy figure per at most CURVES_PER_FIGURE runs of a group."""
    blocks: list[Block] = []
    chunks = [runs[i:i + CURVES_PER_FIGURE] for i in range(0, len(runs), CURVES_PER_FIGURE)]
    for n, chunk in enumerate(chunks, start=1):
        part = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        name = f"{stem}{'-' + str(n) if len(chunks) > 1 else ''}{ext}"
        add_figure(folder, blocks, draw_curves(chunk, title=f"{title}{part}"), name,
                   f"{title}{part}: loss and accuracy per epoch (train solid, test dashed)")
    return blocks


def runs_blocks(folder: ReportFolder, runs: Sequence[LoadedRun], ext: str) -> list[Block]:
    """Each run: its status line, its own figures (the first MAX_RUN_FIGURES runs) and its command."""
    blocks: list[Block] = [Heading("Runs and the commands that reproduce them")]
    for i, run in enumerate(runs):
        rec = run.record
        blocks.append(Heading(f"{rec.id}" + (f" ({rec.name})" if rec.has_name else ""), 3))
        last = run.history[-1] if run.history else {}
        blocks.append(Paragraph(f"stage {rec.stage}, {rec.status}, {len(run.history)} epochs, device "
                                f"{rec.device}, seed {run.config.get('seed')}; last test accuracy "
                                f"{last.get('test_acc')}, train accuracy {last.get('train_acc')}."))
        if i < MAX_RUN_FIGURES:
            artifacts = read_artifacts(rec.run_dir)
            for kind, draw, caption in run_figures(run):
                try:
                    fig = draw(run, artifacts)
                except Exception:  # noqa: BLE001 - a run without that artifact (stopped early): no figure
                    continue
                add_figure(folder, blocks, fig, f"{safe_name(rec.id)}-{kind}{ext}", f"{rec.id}: {caption}")
        blocks.append(Code(reproduce_command(run.config)))
    if len(runs) > MAX_RUN_FIGURES:
        blocks.insert(1, Paragraph(f"The first {MAX_RUN_FIGURES} runs have their own figures; all have their "
                                   "command."))
    return blocks


def report_blocks(folder: ReportFolder, runs: Sequence[LoadedRun], source: str) -> list[Block]:
    ext = figure_ext(folder.fmt)
    headers, rows = results_table(runs)
    blocks: list[Block] = [
        Paragraph(f"{len(runs)} runs ({source}), written {utc_now()} by nnlab {__version__}. Accuracies are "
                  "fractions in [0, 1]; the numbers are those of each run's metrics.csv."),
        Heading("Results"),
        Table(headers, shown_table(headers, rows), "one row per run: stage, the hyperparameters that differ, best "
              "and last metrics (4 decimals; results.csv holds the exact values)", "results.csv", rows),
    ]
    for name, members in groups(runs):
        blocks.append(Heading(f"{name}: curves"))
        blocks += curves_blocks(folder, name, members, ext, "curves-" + safe_name(name.replace(" ", "-").lower()))
    blocks += runs_blocks(folder, runs, ext)
    return blocks


def write_report(runs: Sequence[LoadedRun], target: str | os.PathLike, fmt: str, title: str, source: str) -> Path:
    """The report folder of `runs` at `target` (complete or absent; see engine.report.document)."""
    with ReportFolder(target, fmt) as folder:
        return folder.publish(title, report_blocks(folder, runs, source))
