"""``ecovalue warm-up``: compile the numeric kernels once, at set-up, not in a user's first run.

The engine's hot loops are numba kernels compiled on first use and kept in numba's cache
(``@njit(cache=True)``: a ``__pycache__`` folder beside each module, or ``$NUMBA_CACHE_DIR``);
compiling them costs a first account ≈ 30 s. ``make setup`` runs this command after the
install, so that cost is paid there. In a temporary folder it builds the demo city at 1 km
(large enough for the paths a bigger grid takes: the depression fill in bands on threads)
and runs its account on both engines — the in-memory one of ``make demo`` and plot-level
work, and the streamed one of large grids, in several blocks and with its layers — each a
first time and again as a rerun that finds its routing in a cache (a read-only array, which
numba compiles for apart); then the account of the demo at 3 km (fewer rows than two fill
bands: the fill in one piece, as small datasets have it); then the report, which also
builds matplotlib's font list and loads the CJK font. Nothing is kept but those caches: no
routing-cache entry of the user's, no output.

numba's cache is keyed by each module's source file and the CPU, so after an update of
ecovalue (or on another machine) the next warm-up, or first run, compiles again; ``make
setup`` runs it again whenever a module with kernels changed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from ecovalue.cli.common import console

RESOLUTION = 1000.0  # metres: 170 × 150 pixels of the demo city
BLOCK_ROWS = 64  # three blocks of the streamed engine
SMALL_RESOLUTION = 3000.0  # 53 rows: the depression fill in one piece, as small datasets have it


def _numba_cache_folder() -> str:
    from ecovalue.raster import hydrology

    cache = getattr(hydrology._fill_kernel, "_cache", None)
    return str(getattr(cache, "_cache_path", "numba's cache"))


def warm_up(
    resolution: Annotated[float, typer.Option(help="pixel size of the demo city it runs, metres")] = RESOLUTION,
) -> None:
    """Compile the numeric kernels into numba's cache (make setup runs this once)."""
    from ecovalue.accounting.pipeline import run_account
    from ecovalue.accounting.streaming import run_account_streamed
    from ecovalue.datasets.demo import build_demo
    from ecovalue.raster.routing_cache import RoutingCache
    from ecovalue.reports import write_all

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ecovalue-warm-up-") as tmp:
        steps = (  # (what it is called in the summary, what it does)
            ("demo", "the demo city"),
            ("in memory", "the account in memory, a first run and a rerun (numba kernels)"),
            ("streamed", "the streamed account, a first run and a rerun (block kernels)"),
            ("report", "the report (matplotlib's font list, the CJK font)"),
        )
        timings = []

        def step(n: int) -> None:
            timings.append(time.perf_counter())
            console.print(f"warm-up {n + 1}/{len(steps)}: {steps[n][1]}…")

        step(0)
        root = build_demo(Path(tmp) / "demo", resolution=resolution)
        # a routing cache of its own: a rerun reads the LS from it; the user's gets no entry
        cache = RoutingCache(Path(tmp) / "cache")
        step(1)
        result = run_account(root, "cn-2022", cache=cache)
        run_account(root, "cn-2022", cache=cache)
        # a grid of fewer rows than two fill bands is filled in one piece (another kernel)
        run_account(build_demo(Path(tmp) / "small", resolution=SMALL_RESOLUTION), "cn-2022", cache=None)
        step(2)
        # several blocks and the layers, as a large grid has them (a block's arrays can be views)
        for c in (None, cache):
            run_account_streamed(root, "cn-2022", out_dir=Path(tmp) / "streamed", block_rows=BLOCK_ROWS,
                                 cache=c)  # fmt: skip
        step(3)
        write_all(result, Path(tmp) / "report")
        timings.append(time.perf_counter())
    took = ", ".join(f"{short} {b - a:.1f} s" for (short, _), a, b in zip(steps, timings, timings[1:],
                                                                             strict=False))  # fmt: skip
    console.print(f"Warm-up done in {time.perf_counter() - t0:.1f} s ({took}); "
                  f"compiled kernels are in {_numba_cache_folder()}", soft_wrap=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``warm-up`` to the main typer app."""
    app.command("warm-up")(warm_up)
