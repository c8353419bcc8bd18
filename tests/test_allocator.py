"""``ecovalue.allocator``: freed block-sized temporaries are reused within a run, not handed
back to the kernel (counted in page faults, in a fresh process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import resource, sys, threading
import numpy as np
from ecovalue.allocator import keep_freed_memory

def work():  # a block's temporaries on two threads, as pass 1 makes them
    rng = np.random.default_rng(0)
    for _ in range(30):
        live = [np.ones(int(rng.integers(200_000, 1_200_000))) for _ in range(6)]
        del live

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

if sys.argv[1] == "plain":
    print(faults(), "-")
else:
    with keep_freed_memory() as tuned:
        print(faults(), tuned)
"""


def _run(mode: str, **malloc: str) -> tuple[int, str]:
    """The probe in a fresh process whose MALLOC_* variables are exactly ``malloc``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True,
        env={**env, **malloc},
    ).stdout.split()
    return int(out[0]), out[1]


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_freed_block_temporaries_are_reused_within_the_scope() -> None:
    plain, _ = _run("plain")
    kept, tuned = _run("kept")
    if tuned != "True":
        pytest.skip("not glibc")
    assert plain > 50_000  # the threads' freed arrays went back to the kernel, faulted again
    assert kept * 4 < plain, (kept, plain)


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")
def test_the_users_malloc_settings_win() -> None:
    _faults, tuned = _run("kept", MALLOC_TRIM_THRESHOLD_="131072")
    assert tuned == "False"
