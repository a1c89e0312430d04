"""Start-up of a short run: what `nnlab run` costs beyond `import torch`, and what it imports that torch
does not.

Times, alternately in this process and keeping the best of each (the machine is noisy):
  - `python -c pass`                                 (the interpreter)
  - `python -c "import torch"`                       (the floor of any run)
  - `nnlab stages`                                   (the command line, without torch)
  - `nnlab run circles-manual epochs=1`              (a whole run: folder, data, 1 epoch, checkpoint)
Then, with `python -X importtime`, the modules that the run imports and `import torch` does not, with
their own import time: the audit of what nnlab loads before its first epoch.

    python bench/startup.py [--repeats 3]

The last line is a JSON object: "run_over_import_torch" (a run's wall time over torch's import) and
"nnlab_own_s" (the run's wall time minus torch's import and the epoch's own time).
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
NNLAB = [PY, "-m", "engine"]


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_times(argv: list[str]) -> dict[str, int]:
    """module -> its own import time (µs), from -X importtime."""
    err = subprocess.run([PY, "-X", "importtime", *argv], cwd=ROOT, capture_output=True, text=True).stderr
    out = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            out[m[2]] = int(m[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = str(Path(tmp) / "runs")
        cases = {"python": [PY, "-c", "pass"], "import_torch": [PY, "-c", "import torch"],
                 "cli_without_torch": [*NNLAB, "stages"],
                 "run": [*NNLAB, "run", "circles-manual", "epochs=1", "--runs-dir", runs]}
        best = {name: float("inf") for name in cases}
        for _ in range(args.repeats):
            for name, argv in cases.items():
                best[name] = min(best[name], wall(argv))
        last = sorted(Path(runs).iterdir())[-1]
        with open(last / "metrics.csv") as fh:
            epoch_s = float(list(csv.DictReader(fh))[0]["wall_time"])
        torch_only = import_times(["-c", "import torch"])
        run_imports = import_times(["-m", "engine", "run", "circles-manual", "epochs=1", "--runs-dir", runs])
    extra = {m: t for m, t in run_imports.items() if m not in torch_only}
    by_package: dict[str, int] = {}
    for module, t in extra.items():
        by_package[module.split(".")[0]] = by_package.get(module.split(".")[0], 0) + t
    for name, seconds in best.items():
        print(f"{name:>18}: {seconds:.3f} s (best of {args.repeats})")
    print(f"{'first epoch':>18}: {epoch_s:.3f} s (metrics.csv)")
    print(f"imported by the run, not by `import torch`: {len(extra)} modules, {sum(extra.values()) / 1e6:.3f} s")
    for package, t in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {package:<24} {t / 1e6:.3f} s")
    result = {"run_over_import_torch": round(best["run"] / best["import_torch"], 3),
              "nnlab_own_s": round(best["run"] - best["import_torch"] - epoch_s, 3),
              "cli_without_torch_s": round(best["cli_without_torch"], 3),
              "imports_beyond_torch_s": round(sum(extra.values()) / 1e6, 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
