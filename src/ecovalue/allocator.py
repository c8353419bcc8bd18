"""glibc's allocator kept from handing block-sized temporaries back to the kernel during a run.

A streamed account allocates and frees thousands of block-sized numpy temporaries (a block of
256 rows × 4000 columns in float64 is 8 MB). glibc serves every allocation above its mmap
threshold (128 KiB at first, raised up to 32 MiB as it sees large blocks freed) with a fresh
``mmap`` and returns it with ``munmap``, and it trims freed memory at the top of its heaps
above 128 KiB: the next temporary then costs the kernel a page fault per 4 KiB page touched,
zeroed. At 4000² that was about 400 000 faults and 0.6 s of system time in a 6 s rerun
(``bench/``, ``docs/benchmarks.md``).

:func:`keep_freed_memory` sets the mmap threshold to glibc's largest (32 MiB: block
temporaries come from the heap and are reused) and the trim threshold to 1 GiB for the
duration of a run, then gives the free memory back (``malloc_trim``) and restores glibc's
default trim threshold. The peak resident memory grows by what fragmentation keeps (≈ 70 MB at
4000²); whole-grid arrays (> 32 MiB) are still mapped and unmapped on their own. Nothing
happens off glibc (macOS, Windows, musl) or when the user set ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` (theirs win).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20
"""glibc's largest mmap threshold on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``)."""
TRIM_THRESHOLD_BYTES = 2**30
DEFAULT_TRIM_THRESHOLD_BYTES = 128 * 2**10
"""glibc's default ``M_TRIM_THRESHOLD``, restored after the last run."""

_lock = threading.Lock()
_scopes = 0


def _libc() -> Any | None:
    """glibc's handle, or None off Linux/glibc or where the user tuned the allocator."""
    if sys.platform != "linux" or any(
        k in os.environ for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    ):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


@contextmanager
def keep_freed_memory() -> Iterator[bool]:
    """Within this scope glibc keeps freed block-sized memory for reuse (module docstring);
    yields whether the allocator was tuned. Scopes may nest and overlap across threads: the
    memory is given back when the last one ends."""
    global _scopes
    libc = _libc()
    tuned = False
    with _lock:
        _scopes += 1
        if libc is not None:
            tuned = bool(
                libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
            )
    try:
        yield tuned
    finally:
        with _lock:
            _scopes -= 1
            if libc is not None and _scopes == 0:
                libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD_BYTES)
                libc.malloc_trim(0)
