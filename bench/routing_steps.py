"""The routing's kernels one by one on a bench DEM, on one thread and on several: where a first
run's critical path goes (decision 0010).

Usage: ``.venv/bin/python bench/routing_steps.py [INPUTS] [--threads 2] [--repeat 3]
[--exponent 1.1] [--float64]`` with INPUTS a folder of bench inputs (default: the 4000² inputs
``bench/run.py --size 4000`` writes, ``bench/results/inputs/n4000-s42``).

Each step runs on the previous step's output, ``--repeat`` times on one thread and as many on
``--threads`` threads, interleaved (this machine is shared: the fastest of each is printed,
with the slowest beside it, and the CPU time of all threads against one thread's). Steps:
the depression fill (sequential, or Barnes 2016 in bands of rows), the flat resolution
(sequential), and the MFD accumulation with each cell's LS
computed as it is routed (rounds over bands of ``hydrology.MFD_BAND_ROWS`` rows; also its
number of rounds), as ``route_ls`` runs them.
Every step's result on several threads is checked against the one-thread result: the same
bits, or the step is reported as differing. Compile time is not counted (a warm-up on a
corner of the DEM first).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ecovalue  # noqa: F401  (before numpy, as the command line: its BLAS thread setting)

# isort: split
import numpy as np

from ecovalue.raster import hydrology as h
from ecovalue.raster import io

DEFAULT_INPUTS = Path(__file__).resolve().parent / "results" / "inputs" / "n4000-s42"


def _timed(fn: Callable[[], Any]) -> tuple[tuple[float, float], Any]:
    """(wall seconds, CPU seconds of the whole process: every thread), result."""
    t = time.perf_counter()
    c = time.process_time()
    out = fn()
    return (time.perf_counter() - t, time.process_time() - c), out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(a, b, equal_nan=True))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", type=Path, nargs="?", default=DEFAULT_INPUTS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--exponent", type=float, default=1.1, help="MFD exponent (account: 1.1)")
    ap.add_argument("--float64", action="store_true",
                    help="keep the elevations float64 (the routing keeps a DEM of float32 "
                         "values float32: the same bits in half the memory)")
    opts = ap.parse_args(argv)
    dem_path = opts.inputs / "rasters" / "dem.tif"
    if not dem_path.exists():
        print(f"no DEM at {dem_path}: write the inputs first (bench/run.py --size 4000 "
              "--no-invest, or give a folder of bench inputs)", file=sys.stderr)
        return 2
    dem, valid = io.read(dem_path)
    cell = io.info(dem_path).grid.cell_width
    z, v = h._check_grid(dem, valid, compact=not opts.float64)
    th = opts.threads
    e = opts.exponent

    # warm-up on a corner (compiles or loads every kernel used below)
    cz, cv = np.ascontiguousarray(z[:600, :80]), np.ascontiguousarray(v[:600, :80])
    cf = h._fill_parallel(cz, cv, 2, min_band_rows=1)
    h._fill(cz, cv)
    cm = h._flats(cf, cv, filled=True)
    h._mfd_ls_kernel(cf, cv, cm, cell, e, 122.0, False, 2)

    filled = h._fill(z, v)
    mask = h._flats(filled, v, filled=True)
    rounds = [0]
    merge = h._merge_outboxes

    def counted_merge(*a: Any) -> None:
        rounds[0] += 1
        merge(*a)

    steps: list[tuple[str, Callable[[int], tuple[tuple[float, float], Any]]]] = [
        ("depression fill", lambda n: _timed(
            lambda: h._fill_parallel(z, v, n) if n > 1 else h._fill(z, v))),
        ("flat resolution", lambda n: _timed(lambda: h._flats(filled, v, filled=True))),
        # the accumulation with each cell's LS computed as it is routed (as route_ls runs it)
        ("MFD + LS", lambda n: _timed(
            lambda: h._mfd_ls_kernel(filled, v, mask, cell, e, 122.0, False, n))),
    ]
    print(f"{opts.inputs.name}: {z.shape[0]}×{z.shape[1]} {z.dtype} cells, MFD exponent {e}, "
          f"bands of {h.MFD_BAND_ROWS} rows; fastest (slowest) of {opts.repeat}, seconds")
    print(f"{'step':<22} {'1 thread':>15} {f'{th} threads':>15} {'speed-up':>9} "
          f"{'CPU':>6} {'work':>6}  same bits")
    total = {1: 0.0, th: 0.0}
    cpu_total = {1: 0.0, th: 0.0}
    h._merge_outboxes = counted_merge
    try:
        for name, run in steps:
            times: dict[int, list[tuple[float, float]]] = {1: [], th: []}
            results: dict[int, Any] = {}
            for _ in range(opts.repeat):
                for n in (1, th):
                    rounds[0] = 0
                    dt, results[n] = run(n)
                    times[n].append(dt)
            if name.startswith("MFD"):
                name = f"MFD + LS ({rounds[0]} rounds)"
            best = {n: min(t) for n, t in times.items()}  # the fastest run: (wall, CPU)
            for n in total:
                total[n] += best[n][0]
                cpu_total[n] += best[n][1]
            slowest = {n: max(w for w, _ in t) for n, t in times.items()}
            print(f"{name:<22} {best[1][0]:>6.2f} ({slowest[1]:5.2f}) {best[th][0]:>6.2f} "
                  f"({slowest[th]:5.2f}) {best[1][0] / best[th][0]:>8.2f}× "
                  f"{best[th][1]:>6.2f} {best[th][1] / best[1][1]:>5.2f}×  "
                  f"{'yes' if _same(results[1], results[th]) else 'NO'}")
    finally:
        h._merge_outboxes = merge
    print(f"{'routing (sum)':<22} {total[1]:>15.2f} {total[th]:>15.2f} "
          f"{total[1] / total[th]:>8.2f}× {cpu_total[th]:>6.2f} "
          f"{cpu_total[th] / cpu_total[1]:>5.2f}×")
    print(f"CPU: seconds of CPU time on all threads in the fastest {th}-thread run; work: that "
          "against the 1-thread run's CPU time (above 1×: the threads' extra work and their "
          "slowing of each other: shared caches and memory; a first run's blocks share them too)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
