"""`nnlab run STAGE` and `nnlab resume RUN`: one engine.train call, shown by the headless printer,
stopped cleanly by Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from engine import train as engine_train
from engine.cli.exits import EXIT_ERROR, EXIT_OK, STATUS_EXIT
from engine.cli.printer import make_printer
from engine.config import load_config_file, parse_assignments
from engine.detached import DroppingWriter, detached_run_id, keep_output_with_the_run, start_detached
from engine.events import Emit, Event, RunFinished, RunStarted
from engine.stages import get_stage, resolve_config
from engine.store import check_runs_dir, json_line, read_config, resolve_run
from engine.store.reader import checkpoint_source, has_checkpoint
from engine.text import one_line


class StopFlag:
    """SIGINT/SIGTERM set a flag that the loop polls between batches."""

    def __init__(self) -> None:
        self.stopped = False

    def __call__(self) -> bool:
        return self.stopped

    def install(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            if self.stopped and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now
            self.stopped = True

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The --config file's keys (TOML, or JSON such as a saved run's config.json), then the KEY=VALUE words."""
    values: dict[str, Any] = {}
    assignments = parse_assignments(args.assignments)  # a key given twice is refused before any file is read
    if getattr(args, "config_file", None):
        stage = get_stage(args.stage)
        # a saved config.json also holds preset values that cannot be set on its stage: the preset gives them
        values.update({k: v for k, v in load_config_file(args.config_file, stage.id).items()
                       if not (k in stage.defaults and k not in stage.keys)})
    values.update(assignments)
    return values


def _run_summary(event: RunFinished) -> dict[str, Any]:
    return {"run_id": event.run_id, "stage": event.stage,
            "status": event.status, "run_dir": event.run_dir, "epochs_done": event.epochs_done,
            "final": event.final, "best": event.best}


def cmd_run(args: argparse.Namespace, resume: bool = False) -> int:
    runs_dir, data_dir = args.runs_dir, args.data_dir
    if resume:
        source = resolve_run(runs_dir, args.run)
        overrides = parse_assignments(args.assignments)
        if not has_checkpoint(source):
            engine_train.resume_config(read_config(source), overrides)  # bad input: its one line, and no note
            earlier = checkpoint_source(source)
            what = ("training it again from epoch 1 with its saved config and seed" if earlier is None else
                    f"continuing from the checkpoint of {earlier.name}, which it was resumed from")
            print(f"nnlab: {source.name} has no checkpoint of its own (it stopped before its first one was "
                  f"written): {what}", file=sys.stderr)
    else:
        config = resolve_config(args.stage, _overrides(args))
    check_runs_dir(runs_dir)
    if getattr(args, "detach", False):
        stage = read_config(source)["stage"] if resume else config["stage"]
        return _detach(args, stage)
    run_id = detached_run_id()
    if run_id is not None:  # this process was started by --detach: nobody reads its output
        sys.stdout, sys.stderr = DroppingWriter(sys.stdout), DroppingWriter(sys.stderr)
    printer = make_printer(sys.stderr if args.json else sys.stdout)
    emit = printer if run_id is None else _keeping_output(printer, runs_dir, run_id)
    stop = StopFlag()
    stop.install()
    try:
        if resume:
            result = engine_train.resume(source, overrides, runs_dir=runs_dir, data_dir=data_dir,
                                         emit=emit, should_stop=stop, run_id=run_id)
        else:
            result = engine_train.train(config, runs_dir=runs_dir, data_dir=data_dir, emit=emit,
                                        should_stop=stop, name=args.name, tags=args.tag, run_id=run_id)
    finally:
        printer.close()
    if args.json:
        out = _run_summary(result)
        print(json_line(out))
    if result.status == "failed" and result.message:
        print(f"nnlab: run failed: {one_line(result.message)}", file=sys.stderr)
    return STATUS_EXIT.get(result.status, EXIT_ERROR)




def _detach(args: argparse.Namespace, stage: str) -> int:
    """Start the same command in a session of its own (engine.cli.detach) and return at once with its id."""
    run_id = start_detached(list(args.argv), args.runs_dir, args.data_dir, stage)
    if args.json:
        print(json_line({"run_id": run_id, "stage": stage, "status": "starting", "detached": True,
                         "runs_dir": str(args.runs_dir)}))
    else:
        print(f"{run_id}: started, detached (it keeps training when this terminal closes)\n"
              f"  follow it: nnlab runs attach {run_id}    stop it: nnlab runs stop {run_id}")
    return EXIT_OK


def _keeping_output(printer: Emit, runs_dir: str, run_id: str) -> Emit:
    """The printer, and once the run folder exists, the detached run's output moved into it."""
    def emit(event: Event) -> None:
        if isinstance(event, RunStarted):
            keep_output_with_the_run(runs_dir, run_id, event.run_dir)
        printer(event)
    return emit
