"""The C allocator's settings for training: freed memory is kept for the next step, not handed back.

torch allocates its tensors with the C library's malloc. glibc's defaults hand freed memory back to the
system early (a free block above 128 KiB at the top of a heap is trimmed; a thread's heap shrinks with
MADV_DONTNEED) and take it again on the next step, one zeroed page (a page fault) at a time. A training
step frees and allocates the same tensors every batch, so it can pay those faults every batch: from 25
thousand to 320 thousand of them in the same six epochs of a small CNN on digits, from one run to the next.
They cost the TUI (whose trainer is a thread beside the UI's, with a heap of its own) more than `nnlab
run`: bench/tui_speed.py measured 0.92-0.97 of the headless speed with glibc's defaults and 0.97-0.99
with these settings in both processes from their start (four to six runs each, before the UI's per-batch and
per-epoch messages were removed, which brought it to 0.98-1.0).

keep_freed_memory() sets, for the whole process and once (`nnlab`'s entry point and the TUI app call it
first thing, engine.train.train for any other caller: every front end trains with the same allocator):
- M_MMAP_THRESHOLD 32 MiB: blocks below it come from the heaps (reused), not from fresh mappings;
- M_TRIM_THRESHOLD 64 MiB: a heap keeps up to this much free memory at its top;
- M_TOP_PAD 16 MiB: a heap grows, and is trimmed back, by this much more than needed.
A process keeps at most some tens of MiB more memory than it uses, little beside torch's own: the peak
RSS of a 4-epoch digits CNN run was 1.01-1.07 GB with either setting.
Where the user set any MALLOC_*_ variable of these, glibc already has the user's choice, and nothing is
changed; elsewhere than glibc (macOS, musl, Windows) nothing is done.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
SETTINGS = ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 64 << 20), (M_TOP_PAD, 16 << 20))
USER_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_applied: bool | None = None  # None: not tried yet in this process


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version.restype = ctypes.c_char_p  # only glibc has it (musl does not)
        libc.gnu_get_libc_version()
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> bool:
    """Apply SETTINGS to glibc's malloc, once per process. True when they are in force (applied now or
    before); False where the user chose their own (a MALLOC_*_ variable) or the C library is not glibc."""
    global _applied
    if _applied is None:
        _applied = False
        if not any(os.environ.get(name) for name in USER_VARIABLES):
            libc = _glibc()
            if libc is not None:
                _applied = all(libc.mallopt(option, value) == 1 for option, value in SETTINGS)
    return _applied
