"""`nnlab worker --study NAME [--storage URL] [--jobs N | --gpus LIST] [--slurm N [--partition P] [--time MIN]]`:
join an existing study from any machine; stops when the study's trials are done, or on Ctrl-C (exit 130).
With --slurm, submits N workers as a SLURM job array through submitit (`pip install 'nnlab[slurm]'`)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.cli.sweep import check_workers
from engine.config import ConfigError
from engine.store import check_runs_dir, json_line
from engine.study.report import study_report
from engine.study.storage import STUDIES_DIR
from engine.study.workers import load, slurm_worker, start_workers


def submit_slurm(args: argparse.Namespace) -> int:
    """Submit args.slurm workers as one job array; with NNLAB_SUBMITIT_CLUSTER=local (or debug) they run
    on this machine through submitit's local executor and this command waits for them."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--slurm needs submitit: pip install 'nnlab[slurm]'") from None
    if args.slurm < 1:
        raise ConfigError(f"invalid value for --slurm: {args.slurm!r} (allowed: an integer >= 1)")
    if args.time is not None and args.time < 1:
        raise ConfigError(f"invalid value for --time: {args.time!r} (allowed: minutes >= 1)")
    cluster = os.environ.get("NNLAB_SUBMITIT_CLUSTER") or None
    folder = Path(args.runs_dir) / STUDIES_DIR / "slurm" / args.study / "%j"
    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params: dict[str, object] = {"name": f"nnlab-{args.study}"[:60]}
    if args.time is not None:
        params["timeout_min"] = args.time
    if args.gpus is None and executor.cluster == "slurm":
        params["slurm_array_parallelism"] = args.slurm
    if args.partition:
        if executor.cluster != "slurm":
            raise ConfigError("--partition needs a SLURM cluster (no sbatch found on this machine)")
        params["slurm_partition"] = args.partition
    if args.gpus is not None and executor.cluster == "slurm":
        params["gpus_per_node"] = 1
    executor.update_parameters(**params)
    runs_dir, data_dir = str(Path(args.runs_dir).resolve()), str(Path(args.data_dir).resolve())
    storage = args.storage
    jobs = executor.map_array(slurm_worker, *zip(*[(args.study, storage, runs_dir, data_dir)] * args.slurm))
    print(f"submitted {len(jobs)} workers for study {args.study}: " + " ".join(j.job_id for j in jobs),
          file=sys.stderr)
    if executor.cluster in ("local", "debug"):
        for job in jobs:
            job.result()
    if args.json:
        print(json_line({"study": args.study, "jobs": [j.job_id for j in jobs]}))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    load(args.study, args.storage, args.runs_dir)  # an unknown study or unreachable storage: exit 2 first
    if args.slurm is not None:
        return submit_slurm(args)
    gpus = check_workers(args)
    check_runs_dir(args.runs_dir)
    log = (lambda text: print(text, file=sys.stderr, flush=True))
    code = start_workers(args.study, args.storage, args.runs_dir, args.data_dir, jobs=args.jobs, gpus=gpus, log=log)
    if args.json:
        print(json_line(study_report(args.storage, args.runs_dir, args.study)))
    return code
