"""`nnlab plot RUN... [--kind KIND] [--metric M] [--x epoch|wall] [--smooth A] [--log-y] [--epochs E,E,...]
[--image N] [-o FILE.png|.svg|.pdf]`: a figure of saved runs, written atomically; prints its path. Without
-o the figure goes to <runs dir>/.figures/.

KIND: curves (default; one or several runs), boundary, units, svm, confusion, samples (one run each), sweep
(a sweep tag, a study or runs), and the network's inside (engine.inside): gradients (one run: gradient norm,
weight norm and update ratio per layer; several runs: their update ratios side by side), activations,
filters and features (one run each).

--epochs (filters, features, units): recorded epochs, comma-separated (e.g. 1,10,30); default the first and
the last (units: up to 4 spread over the run). --image (features): the position of the image among the
recorded ones, default 0."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.config import ConfigError
from engine.figures.curves import check_options, default_figure_path, draw_curves
from engine.figures.save import check_output, save_figure
from engine.store import list_runs, load_run, read_artifacts, resolve_run

ONE_RUN_KINDS = ("boundary", "units", "svm", "confusion", "samples", "activations", "filters", "features")
EPOCHS_KINDS = ("filters", "features", "units")  # the kinds that take --epochs
IMAGE_KINDS = ("features",)  # the kinds that take --image


def check_picks(kind: str, epochs: str | None, image: str | None) -> None:
    """--epochs and --image only with the kinds that use them (checked before any work)."""
    if epochs is not None and kind not in EPOCHS_KINDS:
        raise ConfigError(f"invalid value for --epochs: {epochs!r} with --kind {kind} (allowed: with --kind "
                          f"{', '.join(EPOCHS_KINDS)})")
    if image is not None and kind not in IMAGE_KINDS:
        raise ConfigError(f"invalid value for --image: {image!r} with --kind {kind} (allowed: with --kind "
                          f"{', '.join(IMAGE_KINDS)})")


def _draw_one(kind: str, run: Any, artifacts: dict[str, Any], epochs: str | None = None,
              image: str | None = None) -> Any:
    if kind == "boundary":
        from engine.figures.boundary import draw_boundary

        return draw_boundary(run, artifacts)
    if kind == "units":
        from engine.figures.inside_picks import pick_epochs
        from engine.figures.units import MAX_ROWS, draw_units, unit_snapshots

        snaps = unit_snapshots(artifacts)
        chosen = (pick_epochs(epochs, [int(s.get("epoch") or 0) for s in snaps], run.record.id, limit=MAX_ROWS)
                  if epochs is not None and snaps else None)
        return draw_units(run, artifacts, chosen)
    if kind == "activations":
        from engine.figures.activations import draw_activations

        return draw_activations(run, artifacts)
    if kind == "filters":
        from engine.figures.filters import draw_filters

        return draw_filters(run, artifacts, epochs)
    if kind == "features":
        from engine.figures.filters import draw_features

        return draw_features(run, artifacts, epochs, image)
    if kind == "svm":
        from engine.figures.svm import draw_svm

        return draw_svm(run, artifacts)
    from engine.figures.artifacts import draw_confusion, draw_samples

    return (draw_confusion if kind == "confusion" else draw_samples)(run, artifacts)


def sweep_figure(refs: list[str], runs_dir: str, storage: str | None, metric: str | None = None
                 ) -> tuple[Any, list[str]]:
    """A sweep tag, a study name, or the runs themselves -> (figure, names for the file). `metric` (one of
    the loss and accuracy columns) is drawn against the swept parameter; default test_acc."""
    from engine.figures.sweep import (
        SWEEP_METRICS,
        draw_sweep,
        load_study_report,
        sweep_of_runs,
        sweep_of_study,
        tag_runs,
    )

    if metric is not None and metric not in SWEEP_METRICS:
        raise ConfigError(f"invalid value for --metric: {metric!r} with --kind sweep (allowed: "
                          f"{', '.join(SWEEP_METRICS)})")
    metric = metric or "test_acc"

    if len(refs) == 1:
        tags = {t for r in list_runs(runs_dir) for t in r.tags}
        if refs[0] in tags:
            runs = tag_runs(runs_dir, refs[0])
            stage = runs[0].record.stage
            return draw_sweep(sweep_of_runs(runs, f"sweep {refs[0]} ({stage})", metric)), [refs[0]]
    try:
        dirs = [resolve_run(runs_dir, ref) for ref in refs]
    except ConfigError:
        if len(refs) != 1:
            raise
        try:
            report = load_study_report(storage, runs_dir, refs[0])
        except (ImportError, ConfigError):
            report = None
        if not report:
            raise ConfigError(f"invalid value for RUN: {refs[0]!r} with --kind sweep (allowed: a sweep tag, a study "
                              "name, or runs; see `nnlab runs list`)") from None
        return draw_sweep(sweep_of_study(report)), [refs[0]]
    runs = [load_run(d) for d in dirs]
    return draw_sweep(sweep_of_runs(runs, f"{len(runs)} runs", metric)), [d.name for d in dirs]


def cmd_plot(args: argparse.Namespace) -> int:
    kind = args.kind
    epochs, image = getattr(args, "epochs", None), getattr(args, "image", None)
    check_options(args.metric, args.x, args.smooth)
    check_picks(kind, epochs, image)
    if args.output is not None:
        check_output(args.output)  # before any work: a bad name or folder leaves nothing behind
    if kind == "sweep":
        fig, names = sweep_figure(args.runs, args.runs_dir, args.storage, args.metric)
    else:
        dirs = [resolve_run(args.runs_dir, ref) for ref in args.runs]
        names = [d.name for d in dirs]
        if kind in ONE_RUN_KINDS:
            if len(dirs) != 1:
                raise ConfigError(f"invalid value for --kind: {kind!r} draws one run, {len(dirs)} were given "
                                  "(allowed: one RUN, or --kind curves or gradients for several)")
            run = load_run(dirs[0])
            fig = _draw_one(kind, run, read_artifacts(dirs[0]), epochs, image)
        elif kind == "gradients":
            from engine.figures.gradients import gradients_figure

            fig = gradients_figure(dirs)
        else:
            fig = draw_curves([load_run(d) for d in dirs], metric=args.metric, x=args.x, smooth=args.smooth,
                              log_y=args.log_y)
    out = Path(args.output) if args.output is not None else default_figure_path(args.runs_dir, names, kind)
    print(save_figure(fig, out))
    return 0
