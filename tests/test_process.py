"""``ecovalue.process``: a command's process ends with its heap frozen, after every other exit
handler, and still writes what it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CODE = """
import atexit, gc, sys
from ecovalue.process import freeze_heap_at_exit
freeze_heap_at_exit()
freeze_heap_at_exit()  # once only
out = open(sys.argv[1], "w")
out.write("written before exit\\n")  # not closed: the shutdown closes and flushes it
order = []
atexit.register(lambda: order.append(gc.get_freeze_count()))
atexit._run_exitfuncs()
print(order[0], gc.get_freeze_count() > 0)
"""


def test_the_heap_is_frozen_last_and_files_are_still_flushed(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    res = subprocess.run(
        [sys.executable, "-c", CODE, str(target)], capture_output=True, text=True, check=True
    )
    # the handler registered after it ran first (nothing frozen yet); then the heap was frozen
    assert res.stdout.split() == ["0", "True"]
    assert target.read_text() == "written before exit\n"


def test_the_command_line_registers_it(tmp_path: Path) -> None:
    code = (
        "import atexit, gc, sys\n"
        "from ecovalue.cli.main import app\n"
        "try:\n"
        "    app(['validate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "atexit._run_exitfuncs()\n"
        "print(gc.get_freeze_count() > 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "True"


THREADS = """
import os
import ecovalue
import numpy, scipy.linalg  # both start their OpenBLAS thread pool when loaded
print(os.environ["OPENBLAS_NUM_THREADS"], len(os.listdir("/proc/self/task")))
"""


def test_blas_runs_on_the_calling_thread_unless_the_environment_says_otherwise() -> None:
    """Importing ecovalue keeps OpenBLAS from starting busy-waiting thread pools beside the
    engine's own threads; an explicit OPENBLAS_NUM_THREADS is kept."""
    import os

    if not Path("/proc/self/task").is_dir():
        import pytest

        pytest.skip("needs /proc to count the process's threads")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    res = subprocess.run([sys.executable, "-c", THREADS], capture_output=True, text=True,
                         check=True, env=env)
    assert res.stdout.split() == ["1", "1"]  # the main thread alone
    res = subprocess.run([sys.executable, "-c", THREADS], capture_output=True, text=True,
                         check=True, env={**env, "OPENBLAS_NUM_THREADS": "2"})
    setting, threads = res.stdout.split()
    assert setting == "2" and int(threads) > 1  # a pool beside the main thread


LEAN = """
import sys
from ecovalue.process import lean_numba
if sys.argv[1] == "lean":
    lean_numba()
    assert "numba" not in sys.modules  # set, not loaded: a command that never uses it
import numpy as np
from numba import njit
from ecovalue.raster.pixelwise import load_kernels, range_facts
load_kernels()
loaded = ("scipy.linalg" in sys.modules, "cffi" in sys.modules)
n, lo, hi, below, above = range_facts(np.arange(6, dtype=np.float32).reshape(2, 3),
                                      np.ones((2, 3), bool), 1.0, 4.0)

@njit
def products(a, b):
    return np.dot(a, b), np.dot(a.reshape(2, 2), b.reshape(2, 2)), np.correlate(a, b)

import scipy.linalg.cython_blas  # importable again afterwards
v, m, c = products(np.arange(4.0), np.arange(4.0) + 1.0)
print(*loaded, n, lo, hi, below, above, v, m.sum(), c[0])
"""


def test_a_command_loads_numba_without_the_support_its_kernels_do_not_use() -> None:
    """lean_numba: numba's registries load without importing scipy.linalg or cffi; the
    kernels, np.dot, np.correlate and scipy.linalg work as before afterwards; a library
    user's process loads both."""
    out = {}
    for mode in ("lean", "library"):
        res = subprocess.run([sys.executable, "-c", LEAN, mode], capture_output=True, text=True,
                             check=True)
        out[mode] = res.stdout.split()
    assert out["lean"][:2] == ["False", "False"]
    assert out["library"][:2] == ["True", "True"]
    # the same numbers either way: 6 pixels, min 0, max 5, one below 1, one above 4;
    # a·b = 0·1+1·2+2·3+3·4 = 20, [[0,1],[2,3]]·[[1,2],[3,4]] sums to 34, the correlation 20
    assert out["lean"][2:] == out["library"][2:] == ["6", "0.0", "5.0", "1", "1", "20.0",
                                                       "34.0", "20.0"]
