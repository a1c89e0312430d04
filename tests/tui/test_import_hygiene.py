"""The engine and the headless CLI never load textual; the TUI loads torch only after its first paint."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_py(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_engine_and_nnlab_run_load_no_textual(tmp_path):
    code = f"""
import io, json, sys, contextlib
import engine, engine.cli, engine.train, engine.store, engine.stages, engine.config, engine.events
from engine.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
    rc = main(["run", "circles-nn", "epochs=2", "--runs-dir", {str(tmp_path)!r}, "--json"])
mods = [m for m in sys.modules if m == "textual" or m.startswith(("textual.", "textual_plotext", "plotext", "tui"))]
print(json.dumps({{"rc": rc, "mods": mods, "torch": "torch" in sys.modules}}))
"""
    result = run_py(code)
    assert result["rc"] == 0
    assert result["torch"]  # the run really trained
    assert result["mods"] == []


def test_tui_modules_do_not_import_torch():
    code = """
import json, sys
import tui.app, tui.launch, tui.commands, tui.run_state, engine.detached, engine.store.follow
import tui.screens.lab, tui.screens.train, tui.screens.history, tui.screens.compare, tui.screens.help
print(json.dumps({"torch": "torch" in sys.modules}))
"""
    assert run_py(code) == {"torch": False}


def test_lab_paints_before_torch_is_imported(tmp_path):
    """The first screen is painted with torch not yet imported; the device probe comes after."""
    code = f"""
import asyncio, json, sys, time
from tui.app import NNLabApp
seen = {{}}
async def main():
    app = NNLabApp(runs_dir={str(tmp_path)!r}, data_dir={str(tmp_path)!r})
    async with app.run_test(size=(80, 24)) as pilot:
        seen["screen"] = type(app.screen).__name__
        end = time.monotonic() + 60
        while app.painted_at is None and time.monotonic() < end:
            await pilot.pause(0.01)
        seen["torch_at_paint"] = app.torch_at_first_paint
        while app.devices is None and time.monotonic() < end:
            await pilot.pause(0.05)
        seen["devices"] = app.devices
        seen["cpu_enabled"] = not app.screen.query_one("#dev-cpu").disabled
        seen["cuda_enabled"] = not app.screen.query_one("#dev-cuda").disabled
asyncio.run(main())
import torch
seen["cuda_available"] = torch.cuda.is_available()
print(json.dumps(seen))
"""
    seen = run_py(code)
    assert seen["screen"] == "LabScreen"
    assert seen["torch_at_paint"] is False
    assert seen["devices"]["cpu"] is True and seen["cpu_enabled"]
    assert seen["cuda_enabled"] == seen["cuda_available"]
