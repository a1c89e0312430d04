"""The headless command line (`nnlab ...`): parsing, `nnlab stages|summary`, and dispatch to the
commands that live in their own modules (run and resume: engine.cli.run; runs: engine.cli.runs;
sweep: engine.cli.sweep; worker, studies, plot, report, reproduce: engine.cli.<command>), each loaded only
when it is asked for so that every command starts fast.
Exit codes: engine.exits.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from engine.allocator import keep_freed_memory
from engine.config import ConfigError, parse_assignments
from engine.detached import hear_sigint
from engine.exits import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from engine.model_summary import render_summary, summarize_stage
from engine.stages import resolve_config, stage_listing
from engine.text import one_line


class BadUsage(Exception):
    """A command line argparse refused: shown as `nnlab: error: COMMAND: MESSAGE` (one prefix, like every
    error line; COMMAND, e.g. `runs show`, where a subcommand refused it)."""

    def __init__(self, prog: str, message: str) -> None:
        command = prog.removeprefix("nnlab").strip()
        super().__init__(f"nnlab: error: {command + ': ' if command else ''}{message}")
        self.prog, self.message = prog, message


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        # no prefix matching: `--d` must not silently mean --data-dir and swallow the next word
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage too by default)
        required = "the following arguments are required: "
        if message.startswith(required) and "stage" in message[len(required):].split(", "):
            from engine.stages import STAGES

            message = f"missing STAGE (allowed: {', '.join(STAGES)}; `nnlab stages` describes them)"
        elif message.startswith(required):
            names = [n for n in message[len(required):].split(", ") if n and n != "KEY=VALUE"]
            message = "missing " + ", ".join(n.upper() if n.isidentifier() else n for n in names)
        raise BadUsage(self.prog, message)


def parse_command_line(parser: Parser, argv: list[str]) -> argparse.Namespace:
    """argv -> the parsed arguments. KEY=VALUE words may stand anywhere among the options of a command that
    takes them (argparse alone ends its KEY=VALUE list at the first option, and its parse_intermixed_args
    does not work with subcommands): the words it leaves over join the command's assignments, in order."""
    args, extras = parser.parse_known_args(argv)
    if not extras:
        return args
    takes = isinstance(getattr(args, "assignments", None), list)  # run, resume, sweep, summary
    words = [a for a in extras if takes and not a.startswith("-")]  # a word that is no KEY=VALUE: parse says so
    unknown = [a for a in extras if not (takes and not a.startswith("-"))]
    if unknown:
        subcommands = ("command", "runs_command", "data_command", "studies_command")
        prog = " ".join(["nnlab"] + [str(getattr(args, attr)) for attr in subcommands
                                     if isinstance(getattr(args, attr, None), str)])
        raise BadUsage(prog, f"unrecognized arguments: {' '.join(unknown)}")
    args.assignments = list(args.assignments) + words
    return args


def default_runs_dir() -> str:
    return os.environ.get("NNLAB_RUNS_DIR") or "saved_runs"


def default_data_dir() -> str:
    return os.environ.get("NNLAB_DATA_DIR") or "datasets"


DETACH_HELP = "train in a process of its own, in its own session: print the run's id and return at once"


USER_FILE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                    errno.EISDIR, errno.ENAMETOOLONG}


def build_parser() -> Parser:
    p = Parser(prog="nnlab", description="Run, watch and compare the RDFIA neural-network lab. "
                                         "Without a command, opens the TUI.")
    p.add_argument("--runs-dir", default=None, help="run store (default ./saved_runs or $NNLAB_RUNS_DIR)")
    p.add_argument("--data-dir", default=None, help="datasets folder (default ./datasets or $NNLAB_DATA_DIR)")
    p.add_argument("--no-mouse", action="store_true", help="TUI: do not capture the mouse")
    p.add_argument("--storage", default=None, help="study storage URL (default: a journal file in the runs dir, "
                                                   "or $NNLAB_STORAGE)")
    sub = p.add_subparsers(dest="command", parser_class=Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--runs-dir", default=argparse.SUPPRESS)
        sp.add_argument("--data-dir", default=argparse.SUPPRESS)

    def storage(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--storage", default=argparse.SUPPRESS, metavar="URL")

    def queue_options(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--queue", action="store_true", help="queue it on its device: detached, it starts when the "
                        "runs queued before it on that device have ended")
        sp.add_argument("--slots", type=int, default=None, metavar="N",
                        help="with --queue: how many runs may train at once on the device (default 1)")

    def workers(sp: argparse.ArgumentParser) -> None:
        group = sp.add_mutually_exclusive_group()
        group.add_argument("--jobs", type=int, default=None, help="CPU workers (the cores are split between them)")
        group.add_argument("--gpus", default=None, metavar="0,1,...", help="one worker per GPU")

    sp = sub.add_parser("stages", help="list the lab's stages and their defaults")
    sp.add_argument("--json", action="store_true")

    sp = sub.add_parser("run", help="train one stage")
    sp.add_argument("stage")
    sp.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    sp.add_argument("--config", dest="config_file", metavar="FILE.toml|.json",
                    help="config keys from a TOML file, or a JSON one such as a saved run's config.json")
    sp.add_argument("--json", action="store_true", help="print one JSON summary object on stdout")
    sp.add_argument("--name")
    sp.add_argument("--tag", action="append", default=[], help="tag the run (repeatable)")
    sp.add_argument("--detach", action="store_true", help=DETACH_HELP)
    queue_options(sp)
    common(sp)

    sp = sub.add_parser("resume", help="continue a run from its last checkpoint")
    sp.add_argument("run")
    sp.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--detach", action="store_true", help=DETACH_HELP)
    queue_options(sp)
    common(sp)

    sp = sub.add_parser("sweep", help="a grid or a search over hyperparameters, as an Optuna study")
    sp.add_argument("stage")
    sp.add_argument("assignments", nargs="+", metavar="KEY=V1,V2,...|KEY=LOW..HIGH[:log]|KEY=a|b")
    sp.add_argument("--trials", type=int, default=None, help="a search's total trials over all workers")
    sp.add_argument("--sampler", choices=["grid", "random", "tpe"], default=None)
    sp.add_argument("--prune", choices=["none", "median", "hyperband"], default="none")
    sp.add_argument("--metric", default="test_acc")
    sp.add_argument("--study", default=None, help="study name (default: the sweep tag)")
    storage(sp)
    workers(sp)
    sp.add_argument("--json", action="store_true")
    common(sp)

    sp = sub.add_parser("worker", help="join an existing study from any machine")
    sp.add_argument("--study", required=True)
    storage(sp)
    workers(sp)
    sp.add_argument("--slurm", type=int, default=None, metavar="N", help="submit N workers as a SLURM job array")
    sp.add_argument("--partition", default=None)
    sp.add_argument("--time", type=int, default=None, metavar="MIN")
    sp.add_argument("--json", action="store_true")
    common(sp)

    sp = sub.add_parser("studies", help="list studies, or show one's trials")
    ssub = sp.add_subparsers(dest="studies_command", parser_class=Parser, required=True)
    sp = ssub.add_parser("list")
    storage(sp)
    sp.add_argument("--json", action="store_true")
    common(sp)
    sp = ssub.add_parser("show")
    sp.add_argument("study")
    storage(sp)
    sp.add_argument("--json", action="store_true")
    common(sp)

    sp = sub.add_parser("plot", help="figures of saved runs (PNG, SVG or PDF)")
    sp.add_argument("runs", nargs="+", metavar="RUN")
    sp.add_argument("--kind", choices=["curves", "boundary", "units", "svm", "confusion", "samples", "sweep",
                                       "gradients", "activations", "filters", "features"], default="curves")
    sp.add_argument("--metric", default=None)
    sp.add_argument("--x", choices=["epoch", "wall"], default="epoch")
    sp.add_argument("--smooth", type=float, default=0.0, metavar="A")
    sp.add_argument("--log-y", action="store_true")
    sp.add_argument("--epochs", default=None, metavar="E,E,...",
                    help="filters, features, units: recorded epochs to draw, e.g. 1,10,30 (default: the first and "
                         "the last; units: up to 4 spread over the run)")
    sp.add_argument("--image", default=None, metavar="N", help="features: which recorded test image (default 0)")
    sp.add_argument("-o", "--output", default=None, metavar="FILE")
    storage(sp)
    common(sp)

    sp = sub.add_parser("report", help="a report folder: figures, tables and reproduce commands")
    sp.add_argument("runs", nargs="*", metavar="RUN")
    sp.add_argument("--tag", default=None)
    sp.add_argument("--study", default=None)
    sp.add_argument("-o", "--output", default=None, metavar="DIR")
    sp.add_argument("--format", choices=["md", "html", "latex"], default="md")
    storage(sp)
    common(sp)

    sp = sub.add_parser("reproduce", help="run every experiment of a part of the lab and write its report")
    sp.add_argument("part", choices=["2-ab", "2-cd"])
    sp.add_argument("--quick", action="store_true", help="minutes on a CPU: fewer epochs, digits for absent data")
    sp.add_argument("--dataset", default=None, help="the data of mnist-mlp (2-ab: mnist, fashion-mnist, digits) "
                    "or of the CNN stages (2-cd: cifar10, fashion-mnist, mnist, digits)")
    sp.add_argument("-o", "--output", default=None, metavar="DIR")
    sp.add_argument("--format", choices=["md", "html", "latex"], default="md")
    sp.add_argument("--queue", action="store_true", help="queue the experiments still to run, each a detached run "
                    "on its device, and return; run the command again once they have ended for the report")
    common(sp)

    sp = sub.add_parser("summary", help="per-layer shapes, parameters, receptive fields and FLOPs")
    sp.add_argument("stage")
    sp.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    sp.add_argument("--json", action="store_true")

    from engine.cli.data import build_data_parser  # the data sets on disk: status, fetch, pack, import

    build_data_parser(sub, common)

    runs = sub.add_parser("runs", help="browse saved runs")
    rsub = runs.add_subparsers(dest="runs_command", parser_class=Parser, required=True)
    sp = rsub.add_parser("list")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--stage", help="only this stage")
    sp.add_argument("--status", help="only this status (running, finished, crashed, queued ...)")
    sp.add_argument("--tag", help="only runs with this tag")
    sp.add_argument("--since", help="only runs started since: YYYY-MM-DD[THH:MM] (UTC), or 30m, 12h, 7d ago")
    sp.add_argument("--search", help="History's search: fuzzy text, stage:… status:… tag:… name:…, lr=0.1 exact")
    sp.add_argument("--wide", action="store_true", help="every column, however wide the terminal")
    common(sp)
    sp = rsub.add_parser("show")
    sp.add_argument("run")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--all", action="store_true", help="every epoch (default: the best and the last few)")
    common(sp)
    sp = rsub.add_parser("compare")
    sp.add_argument("runs", nargs="+")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--wide", action="store_true", help="every column, however wide the terminal")
    common(sp)
    sp = rsub.add_parser("export")
    sp.add_argument("run")
    sp.add_argument("--csv", action="store_true", help="metrics.csv instead of JSON")
    common(sp)
    sp = rsub.add_parser("rm")
    sp.add_argument("runs", nargs="+")
    common(sp)
    sp = rsub.add_parser("attach", help="follow a run going in another process; Ctrl-C detaches")
    sp.add_argument("run")
    common(sp)
    sp = rsub.add_parser("stop", help="stop runs going in other processes (they end interrupted, resumable)")
    sp.add_argument("runs", nargs="+")
    common(sp)
    sp = rsub.add_parser("tag", help="add a tag to runs: RUN... TAG")
    sp.add_argument("words", nargs="+", metavar="RUN... TAG")
    common(sp)
    sp = rsub.add_parser("untag", help="remove a tag from runs: RUN... TAG")
    sp.add_argument("words", nargs="+", metavar="RUN... TAG")
    common(sp)
    sp = rsub.add_parser("rename", help="a run's name")
    sp.add_argument("run")
    sp.add_argument("name")
    common(sp)
    sp = rsub.add_parser("note", help="a run's notes (replaced; --append adds a line)")
    sp.add_argument("run")
    sp.add_argument("text")
    sp.add_argument("--append", action="store_true")
    common(sp)
    sp = rsub.add_parser("cancel", help="take queued runs out of their queue (nothing else is lost)")
    sp.add_argument("runs", nargs="+")
    common(sp)
    return p


def cmd_stages(args: argparse.Namespace) -> int:
    listing = stage_listing()
    if args.json:
        print(json.dumps(listing, indent=1))
        return 0
    part = None
    for s in listing:
        if s["part"] != part:
            part = s["part"]
            print(f"part {part}")
        print(f"  {s['id']:<17} {s['description']}")
        defaults = " ".join(f"{k}={v}" for k, v in s["defaults"].items())
        print(f"  {'':<17} {defaults}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    config = resolve_config(args.stage, parse_assignments(args.assignments))
    summary = summarize_stage(config)
    if args.json:
        print(json.dumps(summary))
    else:
        print(render_summary(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    hear_sigint()  # Ctrl-C reaches every command, and every run it starts (engine.detached.hear_sigint)
    keep_freed_memory()  # before torch or the TUI allocate anything: the same allocator for every command
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_command_line(build_parser(), argv)
    except BadUsage as exc:
        print(one_line(str(exc)), file=sys.stderr)
        return EXIT_BAD_INPUT
    args.argv = argv
    runs_dir_given = bool(args.runs_dir)  # on the command line (an unset $NNLAB_RUNS_DIR folder: no runs yet)
    args.runs_dir = args.runs_dir or default_runs_dir()
    args.data_dir = args.data_dir or default_data_dir()
    args.storage = args.storage or os.environ.get("NNLAB_STORAGE") or None
    try:
        if args.command is None:
            from engine.store.writer import check_readable_runs_dir

            check_readable_runs_dir(args.runs_dir, must_exist=False)  # a file: refused now, not at the first run
            from tui.launch import launch  # the TUI (textual) loads only when it is asked for

            return launch(runs_dir=args.runs_dir, data_dir=args.data_dir, mouse=not args.no_mouse,
                          storage=args.storage)
        if args.command == "runs" and getattr(args, "runs_command", None) == "list":
            from engine.store.writer import check_readable_runs_dir

            # a folder named by the user that does not exist is a typo, not an empty store
            check_readable_runs_dir(args.runs_dir, must_exist=runs_dir_given)
        if args.command == "stages":
            return cmd_stages(args)
        if args.command == "summary":
            return cmd_summary(args)
        # the other commands load their modules when asked for: `runs list` needs no trainer nor progress bar
        if args.command in ("run", "resume"):
            from engine.cli.run import cmd_run

            return cmd_run(args, resume=args.command == "resume")
        if args.command == "sweep":
            from engine.cli.sweep import cmd_sweep

            return cmd_sweep(args)
        if args.command == "worker":
            from engine.cli.worker import cmd_worker

            return cmd_worker(args)
        if args.command == "studies":
            from engine.cli.studies import cmd_studies

            return cmd_studies(args)
        if args.command == "plot":
            from engine.cli.plot import cmd_plot

            return cmd_plot(args)
        if args.command == "report":
            from engine.cli.report import cmd_report

            return cmd_report(args)
        if args.command == "reproduce":
            from engine.cli.reproduce import cmd_reproduce

            return cmd_reproduce(args)
        if args.command == "runs":
            from engine.cli.runs import dispatch

            return dispatch(args)
        if args.command == "data":
            from engine.cli.data import cmd_data

            return cmd_data(args)
    except ConfigError as exc:
        print(f"nnlab: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("nnlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        if exc.errno in USER_FILE_ERRORS:  # the user's files: a read-only store, a full disk, no permission
            where = f" {exc.filename!r}" if exc.filename else ""
            print(f"nnlab: error: cannot use{where}: {exc.strerror or exc} (check the folder's permissions and "
                  "free space, or choose another with --runs-dir / -o)", file=sys.stderr)
            return EXIT_BAD_INPUT
        if os.environ.get("NNLAB_DEBUG"):
            raise
        print(f"nnlab: error: {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("NNLAB_DEBUG"):
            raise
        print(f"nnlab: error: {type(exc).__name__}: {one_line(str(exc).splitlines()[0]) if str(exc) else ''}",
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
