"""Listing a store of 10,000 runs: engine.store.list_runs cold (no index: every run.json is read and the
index written) against a process reading the index file, and one that listed before (the TUI, every
1.5 s); list_runs_json (no records built) from the index file; the newest 100 runs (list_runs with a limit,
the TUI's first screen); and `nnlab runs list [--json]` as a subprocess (interpreter start and output
included).

The store is built in a temp folder: a few small runs written by RunWriter (metrics, artifacts, a finished
run.json), copied under fresh run ids. The last line printed is a JSON object with "cold_over_file",
"cold_over_memory" and the times in seconds (target: `runs list --json` under 0.5 s).

    python bench/runs_list_scale.py [--runs 10000] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.stages import resolve_config  # noqa: E402
from engine.store import INDEX_NAME, RunWriter, Summary, list_runs, list_runs_json, utc_now  # noqa: E402
from engine.store import index as index_module  # noqa: E402
from engine.store.index import SETTLE_NS  # noqa: E402

TEMPLATES = ("circles-optim", "circles-nn", "mnist-mlp", "cifar-base")


def make_template(root: Path, stage: str, epochs: int) -> Path:
    """One finished run written through the store's writer, with `epochs` metrics rows."""
    config = resolve_config(stage, {"epochs": str(epochs)})
    writer = RunWriter.create(root, config, device="cpu", name=f"bench {stage}", tags=["bench", stage])
    history = []
    for epoch in range(1, epochs + 1):
        row = {"epoch": epoch, "train_loss": 1.0 / epoch, "train_acc": 1 - 0.5 / epoch, "test_loss": 1.1 / epoch,
               "test_acc": 1 - 0.6 / epoch, "lr": 0.01, "wall_time": 0.1 * epoch}
        history.append(row)
        writer.append_metrics(row)
    writer.save_artifact("confusion", {"matrix": [[5, 1], [0, 6]]})
    writer.update(final=True, status="finished", ended=utc_now(), duration_s=0.1 * epochs,
                  summary=Summary.from_history(history).to_json())
    writer.close()
    return writer.run_dir


def build_store(root: Path, count: int) -> None:
    """`count` runs: copies of the templates under distinct ids (one second apart), their run.json saying
    their own id; written without fsync (a benchmark store, not a real one)."""
    templates = [make_template(root / ".templates", stage, 10 + 5 * i) for i, stage in enumerate(TEMPLATES)]
    start = time.time() - count - 3600
    for i in range(count):
        source = templates[i % len(templates)]
        record = json.loads((source / "run.json").read_text())
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(start + i))
        run_id = f"{stamp}-{record['stage']}-{i % 65536:04x}"
        target = root / run_id
        shutil.copytree(source, target)
        record.update(id=run_id, name=f"bench run {i}", seed=i)
        (target / "run.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(root / ".templates")
    time.sleep(SETTLE_NS / 1e9 + 0.5)  # past the index's settle time, as a real store's past runs are


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def cli_list(root: Path, *extra: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NNLAB_RUNS_DIR=str(root))
    env.pop("NNLAB_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "engine", "runs", "list", *extra], capture_output=True, env=env,
                            cwd=ROOT, check=True)
    if not result.stdout:
        raise SystemExit("runs list printed nothing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnlab-bench-") as tmp:
        root = Path(tmp) / "runs"
        started = time.perf_counter()
        build_store(root, args.runs)
        print(f"built {args.runs} runs in {time.perf_counter() - started:.1f} s")
        index = root / INDEX_NAME

        def cold() -> None:  # a process that never listed, no index file: every run.json read
            index.unlink(missing_ok=True)
            index_module.forget_indexes()
            list_runs(root)

        def from_file() -> None:  # a process that never listed, with the index file
            index_module.forget_indexes()
            list_runs(root)

        def json_from_file() -> None:
            index_module.forget_indexes()
            list_runs_json(root)

        cold_s = best_of(args.repeats, cold)
        file_s = best_of(args.repeats, from_file)
        json_file_s = best_of(args.repeats, json_from_file)
        head_s = best_of(args.repeats, lambda: list_runs(root, limit=100))
        list_runs(root)
        memory_s = best_of(args.repeats, lambda: list_runs(root))  # the TUI, listing again
        assert len(list_runs(root)) == args.runs
        cli_cold_s = best_of(args.repeats, lambda: (index.unlink(missing_ok=True), cli_list(root, "--json")))
        cli_warm_s = best_of(args.repeats, lambda: cli_list(root, "--json"))
        cli_table_s = best_of(max(1, args.repeats // 2), lambda: cli_list(root))
        cli_start_s = best_of(args.repeats, lambda: subprocess.run(
            [sys.executable, "-c", "import engine.cli.main"], cwd=ROOT, check=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT))))
    print(f"list_runs, {args.runs} runs: no index {cold_s:.3f} s, index file {file_s:.3f} s, "
          f"listed before in this process {memory_s:.3f} s; newest 100 {head_s:.3f} s; "
          f"list_runs_json, index file {json_file_s:.3f} s")
    print(f"nnlab runs list --json: no index {cli_cold_s:.3f} s, index file {cli_warm_s:.3f} s "
          f"(of which interpreter and imports {cli_start_s:.3f} s); text table {cli_table_s:.3f} s")
    print(json.dumps({"runs": args.runs, "cold_over_file": round(cold_s / file_s, 2),
                      "cold_over_memory": round(cold_s / memory_s, 2),
                      "list_runs_cold_s": round(cold_s, 4), "list_runs_file_s": round(file_s, 4),
                      "list_runs_memory_s": round(memory_s, 4), "list_runs_head_s": round(head_s, 4),
                      "list_runs_json_file_s": round(json_file_s, 4), "cli_json_cold_s": round(cli_cold_s, 4),
                      "cli_json_warm_s": round(cli_warm_s, 4), "cli_table_warm_s": round(cli_table_s, 4),
                      "cli_start_s": round(cli_start_s, 4)}))


if __name__ == "__main__":
    main()
