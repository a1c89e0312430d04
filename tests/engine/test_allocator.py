"""Training keeps freed memory for the next step (engine.allocator): blocks of a few MiB, the size of a
small CNN's activations, come from the heap and stay there when freed, instead of a fresh mapping each
time (whose pages fault in one by one, every batch). Checked in fresh processes through glibc's own
account (mallinfo2): how many blocks were mapped, and how much free memory the heaps hold once they
were freed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROBE = r"""
import ctypes, json, sys, tempfile
sys.path.insert(0, sys.argv[2])

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

applied = None
if sys.argv[1] == "direct":
    from engine.allocator import keep_freed_memory
    applied = keep_freed_memory()
elif sys.argv[1] == "train":  # what every front end does: one (tiny) run
    from engine.stages import resolve_config
    from engine.train import train
    with tempfile.TemporaryDirectory() as runs:
        assert train(resolve_config("circles-nn", {"epochs": "1"}), runs_dir=runs, data_dir=runs).status == "finished"

before = libc.mallinfo2()
blocks = [libc.malloc(4 << 20) for _ in range(8)]  # 32 MiB in blocks of 4 MiB
mapped = libc.mallinfo2().hblks - before.hblks
for block in blocks:
    libc.free(block)
free_in_heaps = libc.mallinfo2().fordblks  # freed and kept, ready for the next allocation
print(json.dumps({"applied": applied, "mapped": mapped, "kept_mib": free_in_heaps / 2**20}))
"""


def _glibc() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    try:
        return bool(ctypes.CDLL("libc.so.6").gnu_get_libc_version())
    except (OSError, AttributeError):
        return False


pytestmark = pytest.mark.skipif(not _glibc(), reason="the settings are glibc's (Linux)")


def probe(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode, ROOT], capture_output=True, text=True,
                         env={**clean, **env}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_glibc_defaults_map_each_block_and_keep_nothing():
    """The baseline the settings change (so the two tests below can fail)."""
    result = probe("none")
    assert result["mapped"] == 8 and result["kept_mib"] < 4


def test_keep_freed_memory_serves_blocks_from_the_heap_and_keeps_them():
    result = probe("direct")
    assert result["applied"] is True
    assert result["mapped"] == 0
    assert result["kept_mib"] >= 32  # freed, still there for the next step


def test_a_training_run_applies_the_settings_for_its_process():
    result = probe("train")
    assert result["mapped"] == 0 and result["kept_mib"] >= 32


def test_a_users_own_malloc_variables_win():
    result = probe("direct", MALLOC_TOP_PAD_="131072")
    assert result["applied"] is False
    assert result["mapped"] == 8  # glibc's behaviour, as the user asked
