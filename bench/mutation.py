"""Mutation testing of the modules whose bugs cost users most (mutmut 3; slow: not part of CI).

    python bench/mutation.py                          # every module in [tool.mutmut] only_mutate
    python bench/mutation.py --modules engine/store/compare.py engine/optim.py
    python bench/mutation.py --jobs 2 --work /tmp/nnlab-mutation --show-survivors

The settings live in pyproject.toml under [tool.mutmut]: the modules (only_mutate) and the fast test
subset that judges them (pytest_add_cli_args_test_selection: in-process tests; mutmut maps each mutant
to the tests that run its function, so CLI-subprocess tests would never be picked). This script copies
engine/, tests/ and pyproject.toml into a scratch folder (mutmut writes its mutants/ folder next to the
code; the working tree stays clean), narrows only_mutate to --modules when given, runs `mutmut run`
there, and prints each module's killed / survived / no-tests / timeout counts. Surviving mutants can be
read afterwards with `cd WORK && mutmut show NAME` (their names are printed with --show-survivors).
The last line is one JSON object: {"mutants": N, "killed": N, "survived": N, ..., "by_module": {...}}.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("engine", "tests", "pyproject.toml")
IGNORED = shutil.ignore_patterns("__pycache__", ".pytest_cache", "__snapshots__", "*.pyc")
RESULT = re.compile(r"^\s*(\S+): (.+)$")


def toml_value(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans as TOML reads them


def mutmut_section(settings: dict) -> str:
    return "[tool.mutmut]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in settings.items())


def prepare(tree: Path, work: Path, modules: list[str] | None) -> dict:
    """Copy the tree into work and write its [tool.mutmut] section (the repository's, narrowed)."""
    settings = dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"])
    if modules:
        settings["only_mutate"] = modules
    # a test file that is not in the copied tree (an older tree) is left out rather than failing the run
    selection = settings.get("pytest_add_cli_args_test_selection", [])
    settings["pytest_add_cli_args_test_selection"] = [t for t in selection if (tree / t.split("::")[0]).exists()]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in COPIED:
        source = tree / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=IGNORED)
        else:
            shutil.copy2(source, work / name)
    text = (work / "pyproject.toml").read_text()
    text = text.split("[tool.mutmut]")[0].rstrip() + "\n\n" + mutmut_section(settings)
    (work / "pyproject.toml").write_text(text)
    return settings


def summarize(work: Path, env: dict) -> tuple[dict, list[str]]:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=work, env=env,
                         capture_output=True, text=True, check=True).stdout
    by_module: dict[str, Counter] = {}
    survivors = []
    for line in out.splitlines():
        match = RESULT.match(line)
        if not match:
            continue
        name, status = match.groups()
        module = name.split(".x_")[0].split(".xǁ")[0]  # engine.optim.x_make_optimizer__mutmut_3 -> engine.optim
        by_module.setdefault(module, Counter())[status] += 1
        if status in ("survived", "no tests"):
            survivors.append(f"{name}: {status}")
    return {m: dict(c) for m, c in sorted(by_module.items())}, survivors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", help="files to mutate (default: only_mutate of [tool.mutmut])")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the source tree to copy (default: this one)")
    parser.add_argument("--show-survivors", action="store_true", help="print the name of every survivor")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="nnlab-mutation-"))
    settings = prepare(args.tree.resolve(), work, args.modules)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("NNLAB_RUNS_DIR", None)
    env.pop("NNLAB_DATA_DIR", None)
    print(f"mutating {', '.join(settings['only_mutate'])} in {work}", file=sys.stderr)
    print(f"judged by {' '.join(settings['pytest_add_cli_args_test_selection'])}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)], cwd=work, env=env,
                   check=False)
    by_module, survivors = summarize(work, env)
    totals: Counter = Counter()
    for counts in by_module.values():
        totals.update(counts)
    for module, counts in by_module.items():
        print(f"{module:28} " + "  ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if args.show_survivors:
        print("\n".join(survivors))
    print(f"read a survivor: cd {work} && {Path(sys.executable).name} -m mutmut show NAME")
    print(json.dumps({"mutants": sum(totals.values()), **dict(totals), "by_module": by_module}))


if __name__ == "__main__":
    main()
