"""`nnlab run STAGE` and `nnlab resume RUN`: one engine.train call, shown by the headless printer,
stopped cleanly by Ctrl-C or SIGTERM."""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

from engine import train as engine_train
from engine.cli.printer import make_printer
from engine.config import ConfigError, load_config_file, parse_assignments
from engine.detached import (
    DroppingWriter,
    detached_run_id,
    keep_output_with_the_run,
    queued_turn,
    start_detached,
)
from engine.events import Emit, Event, RunFinished, RunStarted
from engine.exits import EXIT_ERROR, EXIT_OK
from engine.run_queue import Turn, mark_failed, occupy, set_slots, wait_for_turn, waiting
from engine.stages import get_stage, resolve_config
from engine.store import check_runs_dir, json_line, read_config, resolve_run
from engine.store.reader import checkpoint_source, has_checkpoint
from engine.store.status import EXIT_CODE
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
    if getattr(args, "detach", False) or getattr(args, "queue", False):
        saved = read_config(source) if resume else config
        device = (str(overrides.get("device", saved.get("device", "auto"))) if resume
                  else str(config.get("device", "auto")))
        return _detach(args, str(saved["stage"]), device if args.queue else None)
    run_id = detached_run_id()
    queued = queued_turn()
    if queued is not None:  # started by --queue: wait for the runs before it on its device (engine.run_queue)
        _HELD.append(wait_for_turn(runs_dir, queued[0], queued[1]))
    else:  # the runs queued on its device wait for it as well
        device = str(overrides.get("device", read_config(source).get("device", "auto"))) if resume \
            else str(config.get("device", "auto"))
        _SLOT.append(occupy(runs_dir, device))
    if run_id is not None:  # this process was started by --detach: nobody reads its output
        sys.stdout, sys.stderr = DroppingWriter(sys.stdout), DroppingWriter(sys.stderr)
    printer = make_printer(sys.stderr if args.json else sys.stdout)
    emit = printer if run_id is None else _keeping_output(printer, runs_dir, run_id, _HELD)
    stop = StopFlag()
    stop.install()
    try:
        if resume:
            result = engine_train.resume(source, overrides, runs_dir=runs_dir, data_dir=data_dir,
                                         emit=emit, should_stop=stop, run_id=run_id)
        else:
            result = engine_train.train(config, runs_dir=runs_dir, data_dir=data_dir, emit=emit,
                                        should_stop=stop, name=args.name, tags=args.tag, run_id=run_id)
    except (ConfigError, OSError) as exc:
        for turn in _HELD:  # a queued run that could not start: its ticket says why (no run folder says it)
            if not turn.is_started:
                mark_failed(turn.ticket, one_line(f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError)
                                                  else str(exc)))
        raise
    finally:
        printer.close()
    if args.json:
        out = _run_summary(result)
        print(json_line(out))
    if result.status == "failed" and result.message:
        print(f"nnlab: run failed: {one_line(result.message)}", file=sys.stderr)
    return EXIT_CODE.get(result.status, EXIT_ERROR)




_HELD: list[Turn] = []  # a queued run's slot, held until this process exits
_SLOT: list[int | None] = []  # the slot a run started without --queue took (engine.run_queue.occupy)


def _detach(args: argparse.Namespace, stage: str, queue_on: str | None) -> int:
    """Start the same command in a session of its own (engine.detached), queued on a device if asked, and
    return at once with its id."""
    if queue_on is not None and args.slots is not None:
        set_slots(args.runs_dir, queue_on, args.slots)
    run_id = start_detached(list(args.argv), args.runs_dir, args.data_dir, stage, queue_on)
    if queue_on is not None:
        position = next((i for i, t in enumerate(waiting(args.runs_dir, queue_on), 1) if t.run_id == run_id), 1)
    if args.json:
        out: dict[str, Any] = {"run_id": run_id, "stage": stage, "status": "queued" if queue_on else "starting",
                               "detached": True, "runs_dir": str(args.runs_dir)}
        if queue_on is not None:
            out.update(device=queue_on, position=position)
        print(json_line(out))
    elif queue_on is not None:
        print(f"{run_id}: queued on {queue_on}, position {position} (it starts when the runs before it end)\n"
              f"  follow it: nnlab runs attach {run_id}    cancel it: nnlab runs cancel {run_id}")
    else:
        print(f"{run_id}: started, detached (it keeps training when this terminal closes)\n"
              f"  follow it: nnlab runs attach {run_id}    stop it: nnlab runs stop {run_id}")
    return EXIT_OK


def _keeping_output(printer: Emit, runs_dir: str, run_id: str, turns: list[Turn]) -> Emit:
    """The printer, and once the run folder exists, the detached run's output moved into it (and a queued
    run's ticket removed: the folder lists it now)."""
    def emit(event: Event) -> None:
        if isinstance(event, RunStarted):
            keep_output_with_the_run(runs_dir, run_id, event.run_dir)
            for turn in turns:
                turn.started()
        printer(event)
    return emit
