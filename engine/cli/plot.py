"""`nnlab plot RUN... [--kind curves|boundary|units|svm|confusion|samples|sweep] [--metric M] [--x epoch|wall]
[--smooth A] [--log-y] [-o FILE.png|.svg|.pdf]`: a figure of saved runs, written atomically; prints its
path. Without -o the figure goes to <runs dir>/.figures/."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.config import ConfigError
from engine.figures.curves import check_options, default_figure_path, draw_curves
from engine.figures.save import check_output, save_figure
from engine.store import list_runs, load_run, read_artifacts, resolve_run

ONE_RUN_KINDS = ("boundary", "units", "svm", "confusion", "samples")


def _draw_one(kind: str, run: Any, artifacts: dict[str, Any]) -> Any:
    if kind == "boundary":
        from engine.figures.boundary import draw_boundary

        return draw_boundary(run, artifacts)
    if kind == "units":
        from engine.figures.units import draw_units

        return draw_units(run, artifacts)
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
    check_options(args.metric, args.x, args.smooth)
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
                                  "(allowed: one RUN, or --kind curves for several)")
            run = load_run(dirs[0])
            fig = _draw_one(kind, run, read_artifacts(dirs[0]))
        else:
            fig = draw_curves([load_run(d) for d in dirs], metric=args.metric, x=args.x, smooth=args.smooth,
                              log_y=args.log_y)
    out = Path(args.output) if args.output is not None else default_figure_path(args.runs_dir, names, kind)
    print(save_figure(fig, out))
    return 0
