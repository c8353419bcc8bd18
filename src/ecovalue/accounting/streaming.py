"""The streamed GEP account: the same results table as ``pipeline.run_account`` with memory
bounded by the block size for the per-pixel work, on one machine or a dask.distributed cluster.

How it runs (docs/scaling.md explains it in plain language):

1. **Metadata and tables.** The manifest, regions, vectors and tables are read and checked
   with the loader's own functions; rasters only by their headers (every raster must be on
   the land-cover grid: the streamed path does not resample). On one machine the regions
   are rasterized on the whole grid, and with a routing cache the cache's key is made from
   the DEM (:func:`_regions_and_key`), while the main thread loads numba's kernels.
2. **Scan pass (blocks).** Every block of ``block_rows`` rows reads its window of every
   raster: physical ranges, coverage holes, land-cover codes (the checks of
   ``datasets.validation``, accumulated), valid pixel counts per (region, ecosystem type)
   and per lake/reservoir polygon, and each raster's row digests (the dataset hash of the
   in-memory loader is joined from them). Errors raise :class:`ValidationFailed`.
3. **Global steps.** Routing (fill, flow accumulation, LS; needs the whole DEM) and the
   landscape premium (nearest green/blue pixel within ``landscape.distance``; a whole-grid
   distance transform) — see :data:`GLOBAL_BYTES_PER_PIXEL`. The LS reaches the blocks
   as an array (one machine) or a float64 GeoTIFF that they read by window (a cluster).
4. **Pass 1 (chunks of blocks).** The tasks are chunks of ``AGG_ROWS`` = 1024 grid rows (the
   in-memory aggregation chunk); each computes block by block (``block_rows``), running the
   in-memory indicator functions on a windowed dataset, and continues float64 sums per
   (region, ecosystem type) in the in-memory pixel order, so the sums equal
   ``aggregation.zonal_sums``' bit for bit whatever the block size. Statistics-based
   indicators are spread with the whole-region pixel counts of step 2; air and water
   purification are summed per pollutant, uncapped. The client adds the chunk sums in grid
   order, so results do not depend on the worker count.

   **One reading for steps 2 and 4** (on one machine, when no routing is to wait for: the
   profile has none, or the LS factor is in the routing cache): each chunk scans its blocks
   and computes, on the same windows, every indicator that does not need the whole scan
   (:func:`streaming_blocks.scan_pass1_chunk`); the sums are kept only if the whole scan
   then validates. The indicators of :data:`SECOND_PASS` follow in a pass that reads only
   their rasters, and the landscape premium runs beside from the start. When the routing
   has to run (a first run), the scan comes first and pass 1 runs beside the routing; on one
   machine the routing starts as soon as the regions' pixels are known, before the scan (it
   needs only the DEM and them), and a failed validation stops it (a ``RoutingStop``).
5. **Region steps** on the sums, as the in-memory path: caps by reported emissions/loads
   (a scale per region and pollutant), reported quantities replace/complement (an affine
   map per region × type), then the table (Decimal once, 0.01 元).
6. **Pass 2 (blocks, only with ``out_dir``)**: final per-pixel layers, written window by
   window into one GeoTIFF per indicator and quantity, then copied to COG.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting import streaming_blocks as B
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.checks import result_warnings
from ecovalue.accounting.context import Context, statistic_sums
from ecovalue.accounting.indicators import POLLUTANT_MODELS
from ecovalue.accounting.outputs import PIXEL_VALUE_UNIT
from ecovalue.accounting.pipeline import (
    IndicatorSums,
    check_every_indicator,
    code_version,
    constant_factor,
    dataset_prices,
    gdp_by_region,
    indicator_rows,
    parameters_used,
    result_tables,
)
from ecovalue.accounting.profiles import Profile, load_profile
from ecovalue.accounting.reported import Sources
from ecovalue.accounting.result import (
    SUB_ITEM_COLUMNS,
    ParameterUsed,
    Region,
    RunResult,
)
from ecovalue.accounting.streaming_meta import dataset_hash, open_meta, validate_scan
from ecovalue.allocator import keep_freed_memory
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.datasets.loader import Dataset
from ecovalue.errors import InputError, NotApplicable, Problem
from ecovalue.raster import io
from ecovalue.raster.digest import join_row_digests
from ecovalue.raster.file_digests import DigestCache, FileStamp, facts_code_hash
from ecovalue.raster.grid import Grid
from ecovalue.raster.pixelwise import load_kernels
from ecovalue.raster.routing_cache import RoutingCache, ls_params, route_ls_cached, store
from ecovalue.units import format_unit

Progress = Callable[[str, int, int], None]  # (what the run is doing, done, of total)

#: What a streamed run reports to its ``progress`` callback, English and Chinese; each with
#: the blocks, chunks or layers done of the stage's total (0 of 1, then 1 of 1, for a stage
#: of one piece).
STAGES = MappingProxyType({
    "scan": "scan · 检查输入",
    "scan and pass 1": "scan + pass 1 · 检查并计算",
    "pass 1": "pass 1 · 逐块计算",
    "pass 1 beside the routing": "pass 1 + routing · 计算与汇流",
    "routing": "routing · 汇流",
    "soil retention": "soil retention · 土壤保持",
    "landscape premium": "landscape premium · 景观溢价",
    "tables": "tables · 汇总表",
    "layers": "layers · 写出图层",
    "cog": "COG copies · 压缩图层",
})
N_TYPES = len(ECOSYSTEM_TYPES)

#: Peak bytes per pixel of the global steps, a conservative planning figure first measured on
#: the 30 m demo (23.3 M pixels: 2.16 GB peak, ≈ 0.3 GB of it the interpreter and libraries).
#: The MFD routing now holds ≈ 35 (the DEM as read and as float64 until filled, the valid
#: mask, filled DEM, flat mask, in-degree, accumulation and LS; decision 0012), D8 ≈ 47; the
#: landscape premium ≈ 10 (≈ 30 writing layers); the two may run side by side (decision 0010). Per-block work adds
#: ≈ 200 bytes per pixel of one block.
GLOBAL_BYTES_PER_PIXEL = 80

#: Peak bytes per pixel of the landscape-premium step alone, a conservative planning figure:
#: the land cover as stored, two type masks and the column pass of the feature transform hold
#: ≈ 10 bytes per pixel (4000²: 152 MB, tracemalloc); with an output folder the table rows and
#: the stock and value layers add ≈ 20 (first measured at 42 with whole-grid property values,
#: rows, indices and the attributed grid).
LANDSCAPE_BYTES_PER_PIXEL = 45
#: Block-wise indicators that need the whole scan first: the flood storage (each polygon's
#: pixel counts) and the statistics spreads (each region's pixel counts). When the scan and
#: pass 1 share one reading of the rasters, these follow in a pass of their own, which reads
#: only the rasters they use. (The soil retention needs the global LS factor: a shared reading
#: happens only when the LS was read from the routing cache before it.)
SECOND_PASS = (*B.POLYGONS, *B.STATISTICS)


def landscape_beside_routing(pixels: int, available: int | None = None) -> bool:
    """Whether the landscape premium may run while the routing is still running.

    Beside the routing it uses a core the routing leaves idle (4000²: ≈ 11 s instead of
    ≈ 14 s), at the price of both global steps' memory at once. It does so when its own peak
    (:data:`LANDSCAPE_BYTES_PER_PIXEL` × pixels) is at most half the memory available now
    (``available`` bytes; by default what the operating system reports as available),
    and otherwise waits for the routing to end. Results are the same either way.
    """
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    return LANDSCAPE_BYTES_PER_PIXEL * pixels <= available // 2


@dataclass
class StreamedResult:
    """What a streamed run returns: the results table and its context (no per-pixel arrays)."""

    dataset_name: str
    year: int
    profile_id: str
    base_year: int
    grid: Grid
    regions: list[Region]
    table: pd.DataFrame
    parameters: list[ParameterUsed]
    not_applicable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    gdp: dict[str, Decimal] = field(default_factory=dict)
    dataset_title_zh: str = ""
    dataset_title_en: str = ""
    synthetic: bool = False
    layer_paths: dict[str, Path] = field(
        default_factory=dict
    )  # "<indicator>_physical|_value" -> GeoTIFF
    n_blocks: int = 0
    routing_from_cache: bool = False
    """True when the LS factor was read from the routing cache instead of computed."""
    sub_items: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SUB_ITEM_COLUMNS)))
    """The table's indicators with sub-items, by sub-item (``RunResult.sub_items``)."""
    warnings: list[Problem] = field(default_factory=list)
    """As ``RunResult.warnings``."""

    def totals(self) -> dict[str, Any]:
        """GEP and its parts (as ``RunResult.totals``)."""
        return RunResult.totals(self)  # type: ignore[arg-type]

    def report_view(self, max_px: int = 1200) -> RunResult:
        """This run as a :class:`RunResult` for the reports (workbook, maps, HTML).

        The per-pixel layers are the written GeoTIFFs read back with at most ``max_px`` pixels
        on the long side (GDAL's average of the valid pixels of each block) — maps draw no
        more than that — so the reports of a city too big for memory need only a thumbnail of
        each layer. ``landcover`` and ``region_index`` are empty (the reports do not use them).
        """
        import math

        import rasterio
        from rasterio.enums import Resampling

        from ecovalue.accounting.result import IndicatorLayer

        g = self.grid
        f = max(1, math.ceil(max(g.height, g.width) / max_px))
        shape = (math.ceil(g.height / f), math.ceil(g.width / f))

        def thumb(path: Path) -> np.ndarray:
            with rasterio.open(path) as src:
                arr = src.read(1, out_shape=shape, resampling=Resampling.average, masked=True)
            return np.ma.filled(arr.astype(np.float64), np.nan)

        units = self.table.drop_duplicates("indicator").set_index("indicator")["physical_unit"]
        layers = {}
        for ind in INDICATORS:
            phys, val = self.layer_paths.get(f"{ind}_physical"), self.layer_paths.get(f"{ind}_value")
            if phys is None or val is None:
                continue
            unit = str(units.get(ind, INDICATORS[ind].physical_unit))
            layers[ind] = IndicatorLayer(ind, thumb(phys), unit, thumb(val))
        return RunResult(
            dataset_name=self.dataset_name,
            dataset_title_zh=self.dataset_title_zh,
            dataset_title_en=self.dataset_title_en,
            synthetic=self.synthetic,
            year=self.year,
            profile_id=self.profile_id,
            base_year=self.base_year,
            grid=self.grid,
            regions=self.regions,
            table=self.table,
            layers=layers,
            landcover=np.zeros((0, 0), np.int32),
            region_index=np.zeros((0, 0), np.int32),
            parameters=self.parameters,
            not_applicable=self.not_applicable,
            notes=self.notes,
            hashes=self.hashes,
            timings=self.timings,
            gdp=self.gdp,
            sub_items=self.sub_items,
            warnings=self.warnings,
        )


# ------------------------------------------------------------------ execution of block tasks


class _Executor:
    """Runs a block function over all blocks: on local threads, or as dask.distributed tasks.

    Locally (no ``scheduler``, ``workers`` ≤ 1) blocks run on ``threads`` threads of this
    process (the numba kernels, numpy's array loops, GDAL reads and hashing release the GIL);
    results come back in block order either way, so sums do not depend on the workers.
    """

    def __init__(self, workers: int, scheduler: str | None, threads: int | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.client: Any = None
        self.cluster: Any = None
        self.pool: ThreadPoolExecutor | None = None
        self.side: ThreadPoolExecutor | None = None
        if workers < 1:
            raise InputError(f"workers must be ≥ 1, got {workers}")
        if scheduler or workers > 1:
            from distributed import Client, LocalCluster

            if scheduler:
                self.client = Client(scheduler)
            else:
                # the scheduler's HTTP server on a free port (":0"): with None it still takes
                # 8787, and a second run at the same time warns that the port is in use
                self.cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
                )
                self.client = Client(self.cluster)
        self.n_workers = workers
        if self.client is not None and scheduler:
            self.n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        from ecovalue.raster.hydrology import default_threads

        n = threads if threads is not None else default_threads()
        if n < 1:
            raise InputError(f"threads must be ≥ 1, got {n}")
        self.threads = n
        # local threads also serve the steps that overlap (hashing beside routing)
        self.pool = ThreadPoolExecutor(max_workers=max(n, 2), thread_name_prefix="ecovalue")
        self.block_niceness: int | None = None  # see yield_to_the_critical_path

    def yield_to_the_critical_path(self) -> None:
        """From now on, the pool's threads run at a lower priority (:data:`BLOCKS_NICENESS`
        above this thread's) while the thread of ``beside`` keeps it: a long step started
        there (a first run's routing, the run's longest chain) gets a core of its own and the
        blocks use what it leaves. Linux only (elsewhere a thread's priority cannot be set on
        its own); a thread's lowered priority cannot be raised again, so it lasts until the
        run's pool ends."""
        if sys.platform.startswith("linux") and self.client is None:
            base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            self.block_niceness = min(19, base + BLOCKS_NICENESS)

    @property
    def local(self) -> bool:
        """True when blocks run in this process (arrays can be shared instead of files)."""
        return self.client is None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a local thread; returns a ``concurrent.futures.Future``."""
        assert self.pool is not None
        if self.block_niceness is not None:
            return self.pool.submit(_yielding, self.block_niceness, fn, *args)
        return self.pool.submit(fn, *args)

    def beside(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a thread outside the pool (a whole-grid step beside the blocks,
        which keep every pool thread); returns a ``concurrent.futures.Future``. Two such
        threads: the landscape premium started early for a damaged cache entry and the
        routing that replaces the entry do not wait for each other."""
        from concurrent.futures import ThreadPoolExecutor

        if self.side is None:
            self.side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ecovalue-side")
        return self.side.submit(fn, *args)

    def map(
        self, fn: Callable[..., Any], plan: B.Plan, blocks: list[tuple[int, int]], *args: Any,
        small: bool = False,
    ) -> Iterator[Any]:
        """Results in block order (a fixed reduction order: sums do not depend on the workers).

        Locally at most ``threads`` blocks are computed at once. ``small``: the results are
        small (scan facts, zonal sums), so a thread whose block is done takes the next one
        while an earlier block is still running, its result kept until its turn; otherwise
        (block-sized results: the layers of pass 2) the next block starts only when the
        earliest one's result is taken, so at most ``threads`` results exist at once."""
        if self.client is None:
            if self.threads == 1 or len(blocks) == 1:
                for start, stop in blocks:
                    yield fn(plan, start, stop, *args)
                return
            yield from self._threaded(fn, plan, blocks, *args, small=small)
            return
        remote_plan = self.client.scatter(plan, broadcast=True, hash=False)
        extra = [self.client.scatter(a, broadcast=True, hash=False) for a in args]
        futures = [self.client.submit(fn, remote_plan, s, e, *extra, pure=False) for s, e in blocks]
        for fut in futures:
            yield fut.result()
            fut.release()

    def _threaded(
        self, fn: Callable[..., Any], plan: B.Plan, blocks: list[tuple[int, int]], *args: Any,
        small: bool = False,
    ) -> Iterator[Any]:
        """At most ``threads`` blocks running (bounded memory), results yielded in order
        (``small``: as :meth:`map`'s; without it at most ``threads`` blocks started and not
        yet yielded)."""
        from collections import deque
        from concurrent.futures import FIRST_COMPLETED, wait

        started: deque[Any] = deque()  # in block order, not yet yielded
        running: set[Any] = set()
        todo = iter(blocks)

        def start_more() -> None:
            while len(running) < self.threads and (small or len(started) < self.threads):
                nxt = next(todo, None)
                if nxt is None:
                    return
                fut = self.submit(fn, plan, nxt[0], nxt[1], *args)
                started.append(fut)
                running.add(fut)

        start_more()
        while started:
            head = started[0]
            if not head.done():
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                running.difference_update(done)
                start_more()
                continue
            started.popleft()
            running.discard(head)
            start_more()
            yield head.result()

    def close(self) -> None:
        for pool in (self.pool, self.side):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


#: How much lower the priority (Linux niceness) of a first run's block threads is than the
#: routing's once the scan has validated the inputs (:meth:`_Executor.
#: yield_to_the_critical_path`); 10 gives the routing ≈ 90 % of a core it shares with one
#: block thread. 4000² on 2 cores, all threads lowered from the start: first run 10.2–11.6 s
#: without, 8.1–8.5 s with 10, 8.8–9.8 s with 5 (docs/benchmarks.md); lowered after the scan
#: instead, the same within the noise and validation ≈ 1.8 s sooner.
BLOCKS_NICENESS = 10


def _yielding(niceness: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on a pool thread whose niceness is first set to ``niceness`` (the same
    value every time, so setting it again changes nothing; a refusal leaves it as it was)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    return fn(*args)


def _blocks(height: int, block_rows: int) -> list[tuple[int, int]]:
    if block_rows < 1:
        raise InputError(f"block_rows must be ≥ 1, got {block_rows}; use e.g. 512")
    return [(s, min(s + block_rows, height)) for s in range(0, height, block_rows)]


# ------------------------------------------------------------------ the run


def run_account_streamed(
    dataset_folder: str | Path,
    profile: Profile | str | Path = "cn-2022",
    year: int | None = None,
    out_dir: str | Path | None = None,
    block_rows: int = 256,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    cache: RoutingCache | None = None,
) -> StreamedResult:
    """Run the GEP account block by block; the table equals ``run_account``'s.

    Args:
        dataset_folder: dataset folder (``dataset.toml``); on a multi-machine cluster a path
            every worker sees (shared filesystem).
        profile, year: as :func:`ecovalue.accounting.pipeline.run_account`.
        out_dir: when given, per-indicator GeoTIFFs ``layers/<indicator>_{physical,value}.tif``
            are written block by block (and the LS intermediate goes to ``out_dir/_work``).
        block_rows: rows per block; memory of the per-pixel work grows with
            ``block_rows × width``, results do not depend on it (≤ 1e-9 relative).
        workers: > 1 runs blocks on a local dask.distributed cluster of that many processes.
        scheduler: ``tcp://host:8786`` of a running dask scheduler (overrides ``workers``).
        progress: callback ``(stage, done, total)``: the run's stage (:data:`STAGES`) and
            its blocks, chunks or layers done of the stage's total, at the start of each
            stage (0 done) and as each piece ends.
        threads: threads of a local run (default: the CPU count, at most 4); each holds one
            block in memory. Ignored on a dask cluster (``threads_per_worker`` is 1 there).
        cache: where the LS factor of the routing is kept and found again for the same DEM,
            parameters and routing code (:mod:`ecovalue.raster.routing_cache`); None: always
            route. On a cluster the folder is the one the worker that routes sees.

    Raises:
        ValidationFailed: the dataset has errors (nothing computed).
        InputError: bad block size, or a raster is not on the land-cover grid.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prof = profile if isinstance(profile, Profile) else load_profile(profile)

    def step(stage: str, done: int = 0, total: int = 1) -> None:
        if progress:
            progress(STAGES[stage], done, total)

    def counted(stage: str, items: Iterable[Any], total: int) -> Iterator[Any]:
        """``items`` as they come, each reported as done in ``stage`` once the caller has
        handled it (asks for the next one, or ends the loop)."""
        step(stage, 0, total)
        for done, item in enumerate(items, 1):
            yield item
            step(stage, done, total)

    if scheduler and not out_dir and "soil_retention" in prof.indicators:
        raise InputError(
            "a run on a dask scheduler needs an output folder on a filesystem every worker sees "
            "(--out): the LS factor of the global routing step is shared through it"
        )
    # absolute paths: workers on other machines do not share this process's working directory
    meta = open_meta(Path(dataset_folder).resolve(), prof, year)
    year = meta.year
    blocks = _blocks(meta.grid.height, block_rows)
    out_dir = Path(out_dir).resolve() if out_dir else None
    work = out_dir / "_work" if out_dir else Path(tempfile.mkdtemp(prefix="ecovalue-stream-"))
    work.mkdir(parents=True, exist_ok=True)
    ex = _Executor(workers, scheduler, threads)
    # this process's threads keep the rasters they read open for the run (io.kept_open)
    kept = ExitStack()
    kept.enter_context(io.kept_open())
    memory = ExitStack()  # freed block temporaries reused, not unmapped (ecovalue.allocator)
    memory.enter_context(keep_freed_memory())
    from ecovalue.raster.hydrology import RoutingStop

    stop_routing = RoutingStop()
    stores: list[threading.Thread] = []  # the routing cache's new entry, being written
    try:
        plan, notes, params = _make_plan(meta, prof, year)
        # digests of unchanged files remembered by an earlier run: the scan skips their hashing
        remembered = _Remembered(plan, DigestCache(cache.folder) if cache is not None else None)
        plan.known_digests = frozenset(remembered.digests)
        plan.known_ranges = remembered.known_ranges()
        needs_global = "soil_retention" in prof.indicators or "landscape_premium" in prof.indicators
        needs_routing = _needs_routing(plan)
        chunks = _blocks(meta.grid.height, B.AGG_ROWS)  # the tasks of pass 1: aggregation chunks
        rows = min(block_rows, B.AGG_ROWS)
        landscape = routing = None
        from_cache = fused = False
        key: str | None = None
        if ex.local:
            # the regions' pixels on the whole grid (a run that passes validation has no hole
            # inside them, so they are its valid pixels) and the routing cache's key, on a
            # thread while this one loads numba and the compiled kernels (each ≈ 0.3–0.5 s)
            # and the LS factor when the cache has it (read and its content checked)
            # The landscape premium starts there too, on a thread of its own, as soon as the
            # run is known to take one reading (its whole-grid reads overlap numba's loading)

            def landscape_early(region_index: np.ndarray, valid: np.ndarray) -> Any:
                if not landscape_beside_routing(meta.grid.width * meta.grid.height):
                    return None
                return ex.beside(
                    _timed, _landscape_step, plan, valid, work, out_dir is not None,
                    region_index,
                )

            def routing_early(missed: str | None, dem: Any) -> Any:
                # the routing needs only the DEM (every pixel where it has data): it starts
                # as soon as the cache has been asked, on a thread of its own, while this
                # thread still loads the kernels and then the scan runs; a failed validation
                # stops it (``finally``). ``dem``: its values and mask as read for the cache's
                # key (None: not read there)
                return ex.beside(
                    _timed, _routing_step, plan, work, True, ex.threads, cache, missed,
                    stop_routing, stores, dem,
                )

            prep = ex.submit(
                _regions_key_and_ls, plan, cache if needs_routing else None, remembered,
                landscape_early if not needs_routing or cache is not None else None,
                routing_early if needs_routing else None,
            )
            load_kernels()
            plan.region_index, plan.valid, key, cached_ls, t_ls, landscape, routing = (
                prep.result()
            )
            if cached_ls is not None:  # (else a routing started above sets plan.ls itself)
                plan.ls = cached_ls
            # one reading of the rasters for the scan and pass 1 when no routing is to wait
            # for: the profile has none, or its LS factor was in the cache (a rerun)
            from_cache = cached_ls is not None
            fused = not needs_routing or from_cache
            if from_cache:
                timings["routing"] = t_ls
        if fused:
            assert plan.valid is not None
            # the landscape premium runs on a thread of its own since the preparation (the
            # chunks keep both pool threads; the OS shares the cores among the three)
            first = tuple(i for i in plan.indicators if i not in SECOND_PASS)
            tables_ok = not any(p.severity == "error" for p in meta.problems)
            results = list(counted("scan and pass 1", ex.map(
                B.scan_pass1_chunk, plan, chunks, rows, first, tables_ok, small=True
            ), len(chunks)))
            scan = _reduce_scan(f for r in results for f in r["scans"])
            remembered.complete(scan)
            validate_scan(meta, scan)
            for r in results:  # an indicator's own error, now that the input is known good
                if r["error"] is not None:
                    raise r["error"]
            block_sums, block_notes = _reduce_pass1(iter(results))
            scan["valid"], scan["region_index"] = plan.valid, plan.region_index
            timings["scan_pass1_and_validate"] = time.perf_counter() - t0
            hashing = ex.submit(_timed, dataset_hash, meta, plan, scan["digests"])
            probe = _probe_context(plan)
            not_applicable, meta_by_ind = _prepare_block_indicators(plan, probe, scan)
            t = time.perf_counter()
            second = tuple(i for i in plan.indicators if i in SECOND_PASS)
            if second:
                more_sums, more_notes = _reduce_pass1(counted("pass 1", ex.map(
                    B.pass1_chunk, plan, chunks, rows, second, small=True
                ), len(chunks)))
                block_sums.update(more_sums)
                block_notes += more_notes
            timings["pass1_rest"] = time.perf_counter() - t
        else:
            # the scan reads every raster; then pass 1 (and the routing, with the soil
            # retention after it) read them again
            keep_valid = needs_global and plan.valid is None  # else the regions' pixels
            # (on one machine the routing started with the preparation: ``routing_early``)
            scan = _reduce_scan(counted(
                "scan", ex.map(B.scan_block, plan, blocks, keep_valid, small=True), len(blocks)
            ))
            remembered.complete(scan)
            validate_scan(meta, scan)
            if routing is not None:
                # the inputs are good: from now on the blocks yield to the routing (the scan
                # did not, so a bad input is named as soon as without the routing beside it)
                ex.yield_to_the_critical_path()
            timings["scan_and_validate"] = time.perf_counter() - t0
            if plan.valid is not None:
                scan["valid"], scan["region_index"] = plan.valid, plan.region_index
            elif ex.local:  # blocks in this process share the scan's mask (see open_block)
                plan.valid, plan.region_index = scan["valid"], scan["region_index"]
            t = time.perf_counter()
            # Routing (whole grid, one long numba kernel that releases the GIL) runs on a
            # thread while the content hash and the block-wise indicators that do not need
            # it go on; soil retention follows once the LS factor is there.
            hashing = ex.submit(_timed, dataset_hash, meta, plan, scan["digests"])
            if needs_routing and routing is None:
                routing = ex.submit(
                    _timed, _routing_step, plan, work, ex.local, ex.threads, cache, key, None,
                    stores,
                )
            probe = _probe_context(plan)
            not_applicable, meta_by_ind = _prepare_block_indicators(plan, probe, scan)
            first = tuple(i for i in plan.indicators if routing is None or i != "soil_retention")
            if routing is None and landscape_beside_routing(meta.grid.width * meta.grid.height):
                # no routing step: the landscape premium (whole grid) beside pass 1
                landscape = ex.submit(
                    _timed, _landscape_step, plan, scan["valid"], work,
                    out_dir is not None, scan["region_index"],
                )
            block_sums, block_notes = _reduce_pass1(counted(
                "pass 1" if routing is None else "pass 1 beside the routing",
                ex.map(B.pass1_chunk, plan, chunks, rows, first, small=True), len(chunks),
            ))
            timings["pass1"] = time.perf_counter() - t
            if routing is not None:
                # the landscape premium (whole grid, mostly in scipy) beside the rest of the
                # routing when memory allows (the blocks of pass 1 are gone), else after it,
                # beside the soil-retention pass (docs/scaling.md)
                if landscape is None:  # (else started early: the cache's entry was damaged)
                    if not landscape_beside_routing(meta.grid.width * meta.grid.height):
                        routing.result()
                    landscape = ex.submit(
                        _timed, _landscape_step, plan, scan["valid"], work,
                        out_dir is not None, scan["region_index"],
                    )
                step("routing")  # what is left of it
                from_cache, timings["routing"] = routing.result()  # a hit on a cluster's path
                step("routing", 1)
                t = time.perf_counter()
                soil_sums, soil_notes = _reduce_pass1(counted("soil retention", ex.map(
                    B.pass1_chunk, plan, chunks, rows, ("soil_retention",), small=True
                ), len(chunks)))
                block_sums.update(soil_sums)
                block_notes += soil_notes
                timings["pass1_soil"] = time.perf_counter() - t
        premium = "landscape_premium" in plan.profile.indicators
        if premium:
            step("landscape premium")
        if landscape is None:
            global_sums, timings["landscape"] = _timed(
                _landscape_step, plan, scan["valid"], work, out_dir is not None,
                scan["region_index"],
            )
        else:
            global_sums, timings["landscape"] = landscape.result()
        # the whole-grid mask and region index are not needed any more
        scan["valid"] = plan.valid = scan["region_index"] = plan.region_index = None
        content_hash, timings["hash"] = hashing.result()
        if premium:
            step("landscape premium", 1)
        step("tables")
        t = time.perf_counter()
        for ind, (lay_sums, lay_meta) in global_sums.items():
            block_sums[ind], meta_by_ind[ind] = lay_sums, lay_meta
        sums, factors, cap_notes = _apply_caps(plan, probe, block_sums, scan["counts"], meta_by_ind)
        sums, sources, rep_notes = _apply_reported(
            plan, probe, sums, scan["counts"], meta_by_ind, factors, not_applicable
        )
        check_every_indicator(prof.indicators, sums, not_applicable, "streamed")
        note_order = _notes(meta_by_ind, block_notes, probe.notes, cap_notes, rep_notes)
        const = constant_factor(probe, notes)
        table, sub_items = _table(plan, probe, sums, meta_by_ind, sources, const)
        timings["tables"] = time.perf_counter() - t
        step("tables", 1)
        paths: dict[str, Path] = {}
        if out_dir:
            t = time.perf_counter()
            paths.update(
                _write_layers(
                    ex, plan, blocks, factors, Path(out_dir) / "layers", meta_by_ind, kept.close,
                    counted,
                )
            )
            timings["pass2_write"] = time.perf_counter() - t
    finally:
        stop_routing.set()  # a routing still running after an error ends soon (RoutingStop)
        ex.close()  # waits for the routing's thread, so every store has been started
        for writer in stores:  # the cache's entry is complete when the run returns
            writer.join()
        kept.close()
        memory.close()
        shutil.rmtree(work, ignore_errors=True)
    timings["total"] = time.perf_counter() - t0
    all_notes = list(dict.fromkeys(notes + note_order))
    return StreamedResult(
        dataset_name=meta.info.name,
        year=year,
        profile_id=prof.id,
        base_year=prof.base_year,
        grid=meta.grid,
        regions=meta.regions,
        table=table,
        parameters=parameters_used(params, list(prof.indicators)),
        not_applicable=not_applicable,
        notes=all_notes,
        hashes={"dataset": content_hash, "profile": prof.hash, "code": code_version()},
        timings=timings,
        routing_from_cache=from_cache,
        gdp=gdp_by_region(probe),
        layer_paths=paths,
        dataset_title_zh=meta.info.title_zh,
        dataset_title_en=meta.info.title_en,
        synthetic=meta.info.synthetic,
        n_blocks=len(blocks),
        sub_items=sub_items,
        warnings=meta.warnings + result_warnings(table, meta.regions, prof.indicators, not_applicable),
    )


def _timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    return fn(*args), time.perf_counter() - t


def _make_plan(meta: Any, prof: Profile, year: int) -> tuple[B.Plan, list[str], Any]:
    """Restated parameters (as ``run_account``) and the plan sent to the workers."""
    notes: list[str] = []
    if year != meta.info.year:
        notes.append(f"the rasters describe {meta.info.year}; statistics and prices are of {year}")
    shell = _shell_dataset(meta)
    params = prof.parameters.with_overrides(dataset_prices(shell))
    if prof.switches.get("restate_prices", True):
        if meta.price_index:
            params, restate_notes = params.adjusted_to_year(year, meta.price_index)
            notes += restate_notes
        else:
            notes.append(
                "prices were not restated to the accounting year: the dataset has no price index"
            )
    block_wise = tuple(i for i in prof.indicators if i not in B.GLOBAL)
    plan = B.Plan(
        root=meta.root,
        info=meta.info,
        grid=meta.grid,
        raster_paths=meta.raster_paths,
        factors=meta.factors,
        regions=meta.regions,
        landcover_table=meta.landcover_table,
        statistics=meta.statistics,
        reported=meta.reported,
        prices=meta.prices,
        price_index=meta.price_index,
        vectors=meta.vectors,
        profile=prof,
        params=params,
        year=year,
        indicators=block_wise,
        routing_method=prof.methods.get("routing", "mfd"),
        landcover_dtype=(
            io.info(meta.raster_paths["landcover"]).dtype if "landcover" in meta.raster_paths else ""
        ),
        stat_sums=statistic_sums(meta.statistics, year),
    )
    return plan, notes, params


def _shell_dataset(meta: Any) -> Dataset:
    """A dataset from the metadata with one pixel per region (the probe of region-level
    totals)."""
    n = len(meta.regions)
    g = Grid(meta.grid.crs, meta.grid.transform, max(n, 1), 1)
    region_index = np.arange(g.width, dtype=np.int32).reshape(1, -1)
    region_index[region_index >= n] = -1
    first = int(meta.landcover_table["code"].iloc[0])
    rasters = {"landcover": np.full(g.shape, first, np.int32)}
    return B.dataset_on(meta, g, rasters, region_index >= 0, region_index)


def _probe_context(plan: B.Plan) -> Context:
    """A context of one pixel per region: statistics, parameters and region-level totals.

    A statistics indicator spread over it gives each region's total in its single pixel.
    """
    return B.block_context(plan, _shell_dataset(plan))


def _reduce_scan(results: Iterator[dict[str, Any]]) -> dict[str, Any]:
    """The scan's facts over all blocks (given in block order), with ``"digests"``: each
    raster's digest joined from the blocks' row digests (``raster.digest``)."""
    rows: dict[str, list[bytes]] = {}
    out: dict[str, Any] = {
        "ranges": {},
        "holes": {},
        "hole_regions": {},
        "inside_regions": None,
        "nonint": 0,
        "codes": set(),
        "inside": 0,
        "counts": None,
        "water_balance": None,
        "polygons": {},
        "valid": None,
        "region_index": None,
    }
    valid_parts = []
    region_parts = []
    for r in results:
        for key, (lo, hi, nlo, nhi) in r["ranges"].items():
            a = out["ranges"].get(key)
            out["ranges"][key] = (
                (lo, hi, nlo, nhi)
                if a is None
                else (min(a[0], lo), max(a[1], hi), a[2] + nlo, a[3] + nhi)
            )
        for key, (n, row, col) in r["holes"].items():
            a = out["holes"].get(key)
            out["holes"][key] = (n, row, col) if a is None else (a[0] + n, a[1], a[2])
            h = out["hole_regions"].get(key)
            out["hole_regions"][key] = r["hole_regions"][key] + (0 if h is None else h)
        ir = r.get("inside_regions")
        if ir is not None:
            out["inside_regions"] = ir if out["inside_regions"] is None else out["inside_regions"] + ir
        out["nonint"] += r["nonint"]
        out["codes"] |= r["codes"]
        if r.get("water_balance") is not None:  # (pixels, negative, ΣP, ΣET) in water conservation's scope
            wb = out["water_balance"]
            out["water_balance"] = r["water_balance"] if wb is None else tuple(
                a + b for a, b in zip(wb, r["water_balance"], strict=True))
        out["inside"] += r["inside"]
        if "counts" in r:
            out["counts"] = r["counts"] if out["counts"] is None else out["counts"] + r["counts"]
            for layer, c in r["polygons"].items():
                out["polygons"][layer] = (
                    c if layer not in out["polygons"] else out["polygons"][layer] + c
                )
        if "valid" in r:
            valid_parts.append(r["valid"])
            region_parts.append(r["region_index"])
        for key, part in r["row_digests"].items():
            rows.setdefault(key, []).append(part)
    if valid_parts:
        out["valid"] = np.concatenate(valid_parts, axis=0)
        out["region_index"] = np.concatenate(region_parts, axis=0)
    out["digests"] = {key: join_row_digests(parts) for key, parts in rows.items()}
    return out


def _reduce_pass1(results: Iterator[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Add partial sums in block order; count-bearing notes are summed across blocks."""
    sums: dict[str, Any] = {}
    notes: dict[str, list[Any]] = {}
    for r in results:  # chunk order; the first chunk's sums are kept as they are (0 + x = x)
        for ind, s in r["sums"].items():
            if isinstance(s, dict):
                acc = sums.setdefault(ind, {})
                for pol, arr in s.items():
                    acc[pol] = arr.copy() if pol not in acc else acc[pol] + arr
            else:
                sums[ind] = s.copy() if ind not in sums else sums[ind] + s
        for note in r["notes"]:
            m = re.search(r"\d+", note)
            tmpl = note if m is None else note[: m.start()] + "{}" + note[m.end() :]
            entry = notes.setdefault(tmpl, [0, m is not None])
            entry[0] += int(m.group()) if m else 0
    out_notes = [t.replace("{}", str(n), 1) if has else t for t, (n, has) in notes.items()]
    return sums, out_notes


# ------------------------------------------------------------------ global steps


def _needs_routing(plan: B.Plan) -> bool:
    return "soil_retention" in plan.indicators and "dem" in plan.raster_paths


def _routing_step(
    plan: B.Plan,
    work: Path,
    share_arrays: bool,
    threads: int,
    cache: RoutingCache | None = None,
    missed: str | None = None,
    stop: threading.Event | None = None,
    stores: list[threading.Thread] | None = None,
    dem: tuple[np.ndarray, np.ndarray] | None = None,
) -> bool:
    """Global routing → the LS factor for the blocks; True when it came from ``cache``.

    The routing runs on every pixel where the DEM has data, inside the regions or not (as
    ``Context.routing_valid`` in memory): upslope area beyond the districts counts, and a
    district's boundary is no edge of the slope; the blocks account inside the regions.

    It reaches them through ``plan.ls`` when they run in this process (``share_arrays``), else
    through a float64 GeoTIFF in ``work`` (workers on other processes or machines read their
    windows of it). ``missed``: the key of a cache lookup that missed (:func:`_ls_from_cache`);
    the LS is then computed and stored under it. ``stop`` set: the routing ends early
    (:class:`ecovalue.raster.hydrology.RoutingStop`, :class:`~ecovalue.raster.hydrology.RoutingStopped`).
    ``stores``: the new entry is written to the cache on a thread of its own, appended there,
    while the blocks go on with the LS (4000²: 128 MB and its digest, ≈ 0.4–0.5 s that are
    not on the run's longest chain any more); the caller joins it before it returns. None:
    written before this function returns. ``dem``: the DEM and its mask as
    :func:`streaming_blocks.read_block` gives them, when the caller has read them already (for
    the cache's key).
    """
    values, valid = dem if dem is not None else B.read_block(plan, "dem", 0, plan.grid.height)
    dem = None  # (the DEM is held once, as ``values``)
    if missed is not None and cache is not None:
        from ecovalue.raster.hydrology import route_ls

        ls = route_ls(
            values, valid, plan.grid.cell_width, method=plan.routing_method,
            formulation=_formulation(plan), threads=threads, stop=stop,
        )
        from_cache = False
        args = (cache, missed, ls, _ls_params(plan), values.shape)
        if stores is None:
            store(*args)
        else:
            writer = threading.Thread(target=store, args=args, name="ecovalue-cache-store")
            writer.start()
            stores.append(writer)
    else:
        ls, from_cache = route_ls_cached(
            values,
            valid,
            plan.grid.cell_width,
            method=plan.routing_method,
            formulation=_formulation(plan),
            threads=threads,
            cache=cache,
            stop=stop,
        )
    del values, valid
    if share_arrays:
        plan.ls = ls
    else:
        plan.ls_path = io.write(work / "ls.tif", ls, plan.grid, nodata=float("nan"), cog=False)
    return from_cache


def _formulation(plan: B.Plan) -> str:
    return str(plan.profile.methods.get("ls_formulation", "desmet_govers"))


def _ls_params(plan: B.Plan) -> dict[str, Any]:
    return ls_params(plan.grid.cell_width, plan.routing_method, formulation=_formulation(plan))


class _Remembered:
    """The run's rasters' digests remembered by file identity (:mod:`ecovalue.raster.
    file_digests`), with each file's value range (the scan's ``range_facts`` over the whole
    file, under the same bounds and code): looked up before the scan reads anything, the
    scan's new ones stored after. Without a cache (``digests`` None) nothing is remembered."""

    def __init__(self, plan: B.Plan, digests: DigestCache | None) -> None:
        self.cache = digests
        self.started_ns = time.time_ns()  # before the stamps: the reading starts after both
        self.stamps: dict[str, FileStamp | None] = {}
        self.digests: dict[str, bytes] = {}
        # key → (min, max, n below, n above) of its data pixels, None without data pixels
        self.ranges: dict[str, tuple[float, float, int, int] | None] = {}
        self.plan = plan
        if digests is None:
            return
        for key, path in plan.raster_paths.items():
            self.stamps[key] = FileStamp.of(path)
            found = digests.lookup(self.stamps[key], self.what(key))
            if found is not None:
                self.digests[key] = found.digest
                facts = self._range_of(key, found.facts)
                if facts is not False:
                    self.ranges[key] = facts  # type: ignore[assignment]

    def what(self, key: str, dtype: str = "") -> str:
        """What the scan hashes of raster ``key`` (``B._converted``), or ``dtype`` of it."""
        conv = "int32" if key == "landcover" else f"float32 × {self.plan.factors.get(key, 1.0)!r}"
        return f"band 1 as {conv}" + (f", then {dtype}" if dtype else "")

    @staticmethod
    def _bounds(key: str) -> list[float | None]:
        from ecovalue.datasets.validation import RASTERS

        _canonical, lo, hi, _res = RASTERS.get(key, ("", None, None, ""))
        return [lo, hi]

    def _range_of(self, key: str, facts: dict[str, Any] | None) -> Any:
        """The remembered range of raster ``key`` (None: no data pixel), False when the entry
        has none for the current bounds and code."""
        if key == "landcover" or not facts or facts.get("code") != facts_code_hash():
            return False
        if facts.get("bounds") != self._bounds(key) or "range" not in facts:
            return False
        r = facts["range"]
        if r is None:
            return None
        try:
            vmin, vmax, n_lo, n_hi = r
            return (float(vmin), float(vmax), int(n_lo), int(n_hi))
        except (TypeError, ValueError):
            return False

    def _facts(self, key: str, found: tuple[float, float, int, int] | None) -> dict[str, Any] | None:
        if key == "landcover":
            return None
        return {
            "code": facts_code_hash(), "bounds": self._bounds(key),
            "range": None if found is None else [float(found[0]), float(found[1]),
                                                 int(found[2]), int(found[3])],
        }

    def known_ranges(self) -> frozenset[str]:
        """The rasters whose range the scan need not find: all remembered ones when none of
        them is out of its bounds (else none: a file with bad values is scanned as always)."""
        if any(r is not None and (r[2] or r[3]) for r in self.ranges.values()):
            return frozenset()
        return frozenset(self.ranges)

    def complete(self, scan: dict[str, Any]) -> None:
        """Add the remembered digests to the scan's ``digests`` and the remembered ranges to
        its ``ranges``; remember the scan's new ones."""
        digests = scan["digests"]
        for key in self.plan.known_ranges:
            found = self.ranges[key]
            if found is not None:
                scan["ranges"][key] = found
        if self.cache is not None:
            for key in self.plan.raster_paths:
                digest = digests.get(key, self.digests.get(key))
                if digest is None:
                    continue
                if key in self.digests and (key in self.ranges or key == "landcover"):
                    continue  # the entry has all this run would store
                facts = self._facts(key, scan["ranges"].get(key))
                self.cache.put(self.stamps.get(key), self.what(key), digest, self.started_ns, facts)
        digests.update(self.digests)

    def converted(self, key: str, dtype: type, read: Callable[[], bytes]) -> bytes:
        """The digest of raster ``key`` converted to ``dtype`` (e.g. the routing cache key's
        float64 DEM): remembered, else ``read()`` and remembered."""
        return self._remembered(key, self.what(key, np.dtype(dtype).str), read)

    def mask(self, key: str, read: Callable[[], bytes]) -> bytes:
        """The digest of raster ``key``'s own data mask (nodata, NaN; e.g. the routing cache
        key's DEM mask): remembered, else ``read()`` and remembered."""
        return self._remembered(key, "band 1 data mask (nodata, non-finite) as bool", read)

    def _remembered(self, key: str, what: str, read: Callable[[], bytes]) -> bytes:
        if self.cache is None:
            return read()
        stamp = self.stamps.get(key)
        found = self.cache.get(stamp, what)
        if found is None:
            found = read()
            self.cache.put(stamp, what, found, self.started_ns)
        return found


def _regions_key_and_ls(
    plan: B.Plan,
    cache: RoutingCache | None,
    remembered: _Remembered | None = None,
    one_reading: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    to_route: Callable[[str | None, tuple[np.ndarray, np.ndarray] | None], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, str | None, np.ndarray | None, float, Any, Any]:
    """:func:`_regions_and_key`, and the LS factor of the key when the cache holds it (None
    when absent or damaged: then removed and routed again) with the seconds its read took.

    ``one_reading(region_index, valid)`` is called once the run is known to take one reading
    of its rasters (no routing, or an entry of the key in the cache) and its result returned
    second to last (None when not called). ``to_route(key, dem)`` is called as soon as
    the LS is known to be missing (no cache, no entry, or a damaged one; ``key`` None without
    a cache; ``dem`` the DEM when it was read for the key, else None) and its result returned
    last (None when not called)."""
    region_index, valid, key, dem = _regions_and_key(plan, cache, remembered)
    started = None
    if one_reading is not None and (cache is None or (key is not None and cache.has(key))):
        started = one_reading(region_index, valid)
    t = time.perf_counter()
    ls = cache.get(key, plan.grid.shape) if cache is not None and key is not None else None
    t_ls = time.perf_counter() - t
    routing = None
    if to_route is not None and ls is None:
        routing = to_route(key, dem)
    return region_index, valid, key, ls, t_ls, started, routing


def _regions_and_key(
    plan: B.Plan,
    cache: RoutingCache | None,
    remembered: _Remembered | None = None,
) -> tuple[np.ndarray, np.ndarray, str | None, tuple[np.ndarray, np.ndarray] | None]:
    """The regions' pixels on the whole grid (region number, ``region_dtype``), the mask of
    them, with ``cache`` the routing cache's key of the DEM on its own mask, and the DEM with
    its mask when they were read for the key (a DEM whose digests no earlier run remembered;
    else None), so a routing that follows need not read it again.

    In a run that passes validation the regions' mask is the valid mask: the scan's valid
    pixels are those inside a region where every raster has data, and a pixel inside a region
    without data is a validation error (a hole). So the landscape premium can take it before
    the scan has read the rasters. The routing runs on the DEM's own mask (every pixel where
    the DEM has data, :func:`_routing_step`), which the key digests as the in-memory engine's
    key does, so a rerun of either engine finds the entries the other stored."""
    from ecovalue.raster.digest import grid_digest

    region_index = B.rasterize(
        [(r.geometry, i) for i, r in enumerate(plan.regions)], plan.grid, -1,
        B.region_dtype(len(plan.regions)),
    )
    valid = region_index >= 0
    key = None
    read: list[tuple[np.ndarray, np.ndarray]] = []  # the DEM and its mask, once read

    def dem() -> tuple[np.ndarray, np.ndarray]:
        if not read:
            read.append(B.read_block(plan, "dem", 0, plan.grid.height))
        return read[0]

    if cache is not None:

        def values_digest() -> bytes:  # of the DEM's float64 values, converted row by row
            return grid_digest(dem()[0], np.float64)

        def mask_digest() -> bytes:
            return grid_digest(dem()[1])

        key = cache.key_of(
            (np.dtype(np.float64).str, plan.grid.shape),
            remembered.converted("dem", np.float64, values_digest) if remembered else values_digest(),
            (np.dtype(np.bool_).str, plan.grid.shape),
            remembered.mask("dem", mask_digest) if remembered else mask_digest(),
            _ls_params(plan),
        )
    return region_index, valid, key, read[0] if read else None


def _landscape_step(
    plan: B.Plan,
    valid: np.ndarray,
    work: Path,
    write: bool,
    region_index: np.ndarray | None = None,
) -> dict[str, Any]:
    """The landscape premium on the whole grid (nearest green/blue pixel); its sums.
    ``region_index``: the scan's (any integer dtype), else the regions are rasterized here.

    ``indicators.landscape_premium_stock``'s numbers, with no whole grid beyond the land cover
    as stored, the two type masks and the column pass of the feature transform: the masks
    come from the codes in one pass (no grid of table rows), the property values are read
    window by window for the premium pixels alone, the table rows looked up for the pixels
    that carry a value (16 M pixels: ≈ 180 MB instead of ≈ 450 MB of fresh memory)."""
    from ecovalue.accounting.context import missing_raster
    from ecovalue.accounting.indicators import BUILT_UP_TYPES, GREEN_BLUE_TYPES, premium_stock
    from ecovalue.raster.pixelwise import class_rows, kind_masks

    sums: dict[str, Any] = {}
    if "landscape_premium" not in plan.profile.indicators:
        return sums
    if "property_value" not in plan.raster_paths:
        raise missing_raster("property_value")
    if region_index is None:
        region_index = B.rasterize(
            [(r.geometry, i) for i, r in enumerate(plan.regions)], plan.grid, -1
        )
    table = plan.landcover_table
    codes = table["code"].to_numpy()
    types = table["ecosystem_type"]
    kinds = np.where(types.isin(GREEN_BLUE_TYPES), 1, np.where(types.isin(BUILT_UP_TYPES), 2, 0))
    lc = io.read_values(plan.raster_paths["landcover"])  # the codes as stored
    green_blue, built = kind_masks(lc, codes, kinds, valid)
    probe = _probe_context(plan)  # the parameters
    height, width = plan.grid.height, plan.grid.width

    def property_value_at(flat: np.ndarray) -> np.ndarray:
        """The property values of pixels ``flat`` (ascending), read window by window (the
        windows without such a pixel are not read)."""
        out = np.empty(flat.size, dtype=np.float32)
        for start in range(0, height, B.AGG_ROWS):
            stop = min(start + B.AGG_ROWS, height)
            lo, hi = np.searchsorted(flat, (start * width, stop * width))
            if lo < hi:
                window = B.read_block_values(plan, "property_value", start, stop).reshape(-1)
                out[lo:hi] = window[flat[lo:hi] - start * width]
        return out

    try:
        stock = premium_stock(probe.p, built, green_blue, property_value_at,
                              (plan.grid.cell_height, plan.grid.cell_width), valid)
    except NotApplicable:
        return sums
    notes = list(stock.notes) + probe.notes
    del green_blue, built
    n_keys = len(plan.regions) * N_TYPES
    flat_lc, flat_valid = lc.reshape(-1), valid.reshape(-1)
    if write:  # the value grid is a layer of its own
        rows = class_rows(lc, codes, valid)[0]
        lay = stock.layer()
        s = B.sums(
            [lay.physical, lay.value],
            partial(_chunk_keys, table, rows, region_index, valid),
            n_keys,
        )
        _keep_global_layer(lay, "landscape_premium", plan, work)
    else:
        s = premium_sums(
            stock.points.attributed_index, stock.points.attributed, stock.annualisation_rate,
            valid.shape,
            table, lambda flat: class_rows(flat_lc[flat], codes, flat_valid[flat])[0],
            region_index, valid, n_keys,
        )
    sums["landscape_premium"] = (
        s,
        {"method": stock.METHOD, "source": "model", "unit": stock.UNIT, "notes": notes},
    )
    return sums


def premium_sums(
    index: np.ndarray,
    stock: np.ndarray,
    rate: float,
    shape: tuple[int, ...],
    table: Any,
    rows_at: Callable[[np.ndarray], np.ndarray],
    region_index: np.ndarray,
    valid: np.ndarray,
    n_keys: int,
    agg_rows: int = B.AGG_ROWS,
) -> np.ndarray:
    """``B.sums([grid, grid × rate], keys, n_keys)`` bit for bit, where ``grid`` is 0 but for
    ``stock`` at the flat indices ``index`` (ascending; NaN outside ``valid``): the landscape
    premium lies on a few pixels near built-up land, and no whole grid is made.

    The sums add each chunk's pixels in pixel order to accumulators starting at +0.0
    (``aggregation.zonal_sums``); adding +0.0 leaves such a float64 sum as it was, and NaN
    pixels are skipped, so the other pixels' additions in the same order give the same bits.
    (16 M pixels: no 128 MB value grid, stock grid or zone key, and two zonal passes over a
    few percent of the pixels instead of all.) ``rows_at(flat)``: the land-cover table rows
    (``Context.class_row``) of the pixels at flat indices ``flat``.
    """
    from ecovalue.raster.pixelwise import zonal_add

    index = np.asarray(index, dtype=np.int64).reshape(-1)
    stock = np.asarray(stock, dtype=np.float64).reshape(-1)
    if index.size > 1 and not (np.diff(index) > 0).all():
        raise ValueError("premium_sums: the pixel indices must be ascending and distinct")
    g, v = region_index.reshape(-1), valid.reshape(-1)
    keep = (stock != 0) & ~np.isnan(stock) & v[index]
    picked, flat = index[keep], stock[keep]
    r = np.asarray(rows_at(picked))
    width = shape[1] if len(shape) == 2 else max(int(np.prod(shape)), 1)
    chunk = picked // (agg_rows * width)
    n_chunks = -(-shape[0] // agg_rows) if len(shape) == 2 else 1
    bounds = np.searchsorted(chunk, np.arange(n_chunks + 1))
    out = np.zeros((2, n_keys), dtype=np.float64)
    for c in range(n_chunks):
        lo, hi = bounds[c], bounds[c + 1]
        if lo == hi:  # a chunk of zeros adds +0.0 everywhere
            continue
        sel = picked[lo:hi]
        k = B.window_keys(table, r[lo:hi][None], g[sel][None].astype(np.int32), v[sel][None])
        physical = flat[lo:hi]
        out[0] += zonal_add(np.zeros(n_keys), physical, k)
        out[1] += zonal_add(np.zeros(n_keys), physical * rate, k)
    return out


def _chunk_keys(
    table: Any, rows: np.ndarray, region_index: np.ndarray, valid: np.ndarray, start: int, stop: int
) -> np.ndarray:
    """The zone keys of grid rows ``start:stop`` (see :func:`_landscape_step`)."""
    return B.window_keys(
        table, rows[start:stop], region_index[start:stop].astype(np.int32), valid[start:stop]
    )


def _keep_global_layer(lay: Any, ind: str, plan: B.Plan, work: Path) -> None:
    """Park a global layer in float64 GeoTIFFs; pass 2 applies reported quantities by window."""
    plan.global_layers[ind] = (
        io.write(
            work / f"{ind}_physical.tif", lay.physical, plan.grid, nodata=float("nan"), cog=False
        ),
        io.write(work / f"{ind}_value.tif", lay.value, plan.grid, nodata=float("nan"), cog=False),
    )


def _tags(plan: B.Plan, ind: str) -> dict[str, str]:
    return {
        "indicator": ind,
        "synthetic_inputs": "yes" if plan.info.synthetic else "no",
        "year": str(plan.year),
        "profile": plan.profile.id,
    }


# ------------------------------------------------------------------ statistics spreads


def _prepare_block_indicators(
    plan: B.Plan, probe: Context, scan: dict[str, Any]
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """Method/source of every block-wise indicator; region values of the statistics spreads;
    whole-polygon counts of the flood layer; NotApplicable ones (e.g. no wind data)."""
    from ecovalue.accounting.indicators import COMPUTE
    from ecovalue.models import flood_regulation

    counts = scan["counts"].reshape(len(plan.regions), N_TYPES)
    not_applicable: dict[str, str] = {}
    meta: dict[str, dict[str, Any]] = {}
    for ind in plan.indicators:
        if ind in B.STATISTICS:
            n_probe_notes = len(probe.notes)
            lay = COMPUTE[ind](probe)
            del probe.notes[n_probe_notes:]  # the probe's own spread notes do not apply
            plan.spread[ind] = _spread_spec(plan, probe, ind, lay, counts)
            meta[ind] = {
                "method": lay.method,
                "source": lay.source,
                "unit": lay.unit,
                "notes": list(lay.notes),
            }
        elif ind == "sand_fixation":
            missing = [
                k
                for k in ("weather_factor", "soil_erodible_fraction", "soil_crust_factor")
                if k not in plan.raster_paths
            ]
            if missing:
                not_applicable[ind] = (
                    f"not applicable: no wind data ({', '.join(missing)} raster missing)"
                )
                continue
            meta[ind] = {"method": "model:rweq", "source": "model", "unit": "", "notes": []}
        elif ind in B.POLLUTANTS:
            capped = probe.profile.switches.get(POLLUTANT_MODELS[ind].cap_switch, False)
            meta[ind] = {
                "method": "model:rate_x_area" + ("_capped" if capped else ""),
                "source": "model",
                "unit": "",
                "notes": [],
            }
        elif ind == "flood_regulation":
            meta[ind] = _flood_spec(plan, probe, scan, flood_regulation)
        else:
            meta[ind] = {
                "method": _local_method(plan, ind),
                "source": "model",
                "unit": "t" if ind in ("carbon_sequestration", "oxygen_release") else "",
                "notes": [],
            }
    return not_applicable, meta


def _local_method(plan: B.Plan, ind: str) -> str:
    basis = plan.profile.methods.get("carbon_basis", "npp")
    return {
        "water_conservation": "model:water_balance",
        "soil_retention": f"model:rusle_{plan.routing_method}",
        "carbon_sequestration": f"model:{basis}_photosynthesis",
        "oxygen_release": f"model:{basis}_photosynthesis",
        "climate_regulation": "model:transpiration_evaporation_energy",
        "pest_control": "model:area_x_cost",
    }.get(ind, "model")


def _spread_spec(
    plan: B.Plan, probe: Context, ind: str, lay: Any, counts: np.ndarray
) -> dict[str, Any]:
    """Per region: value per pixel and whether it falls back to all the region's pixels
    (``indicators.spread``: a region with a total but no pixel of the scope types)."""
    types = tuple(probe.scope(ind))
    idx = [ECOSYSTEM_TYPES.index(t) for t in types]
    n_scope = counts[:, idx].sum(axis=1) if idx else np.zeros(len(plan.regions), np.int64)
    n_all = counts.sum(axis=1)
    spec: dict[str, Any] = {"types": types}
    for what, arr in (("physical", lay.physical), ("value", lay.value)):
        totals = np.nan_to_num(np.asarray(arr, dtype=np.float64).ravel()[: len(plan.regions)])
        fallback = (totals != 0) & (n_scope == 0)
        n = np.where(fallback, n_all, n_scope)
        lost = (totals != 0) & (n == 0)
        if lost.any():
            raise InputError(
                f"{ind}: regions {[plan.regions[i].code for i in np.nonzero(lost)[0]]} have a "
                "statistic but no matching land-cover pixel to carry it, so its value would be lost; "
                "check the land-cover map or the mapping of this indicator to ecosystem types"
            )
        spec[what] = np.where(n > 0, totals / np.maximum(n, 1), 0.0)
        spec[f"{what}_all"] = fallback
        for r in np.nonzero(fallback)[0]:
            probe.notes.append(
                f"{ind}: region {plan.regions[r].code} has no {'/'.join(types)} pixels; "
                f"its total was spread over all its pixels"
            )
    return spec


def _flood_spec(plan: B.Plan, probe: Context, scan: dict[str, Any], fr: Any) -> dict[str, Any]:
    a, b, turn = probe.p("flood.lake_a"), probe.p("flood.lake_b"), probe.p("flood.lake_turnover")
    share = probe.p("flood.reservoir_share")
    for layer in ("lakes", "reservoirs"):
        feats = plan.vectors.get(layer, [])
        counts = scan["polygons"].get(layer, np.zeros((2, len(feats)), np.int64))
        entries = []
        for i, f in enumerate(feats):
            n_inside, n_water = int(counts[0, i]), int(counts[1, i])
            if n_inside == 0:
                probe.notes.append(
                    f"flood_regulation: {layer} '{f.attributes.get('name', i)}' covers no pixel of "
                    "the accounting regions and is not counted"
                )
                entries.append((0.0, 0, 0))
                continue
            km2 = f.geometry.area / 1e6
            cap = (
                fr.lake_capacity_m3(km2, a, b, turn)
                if layer == "lakes"
                else fr.reservoir_capacity_m3(float(f.attributes["capacity_wan_m3"]) * 1e4, share)
            )
            entries.append((cap, n_inside, n_water))
        plan.flood[layer] = entries
    if not plan.vectors.get("lakes") and not plan.vectors.get("reservoirs"):
        probe.notes.append(
            "flood_regulation: the dataset has no lakes or reservoirs layer; only marshes counted"
        )
    method = "model:lake_reservoir_marsh"
    if plan.profile.switches.get("vegetation_flood_regulation", False):
        method += "_vegetation"
    return {"method": method, "source": "model", "unit": "", "notes": []}


# ------------------------------------------------------------------ region-level steps


def _apply_caps(
    plan: B.Plan,
    probe: Context,
    sums: dict[str, Any],
    counts: np.ndarray,
    meta: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Per-pollutant caps by region (``models.common.cap_by_region`` on region sums): each
    pollutant's physical sums scaled per region, the scales kept for pass 2."""
    n_reg = len(plan.regions)
    out: dict[str, Any] = {}
    factors: dict[str, Any] = {}
    notes: list[str] = []
    has_px = counts.reshape(n_reg, N_TYPES).sum(axis=1) > 0
    for ind, s in sums.items():
        if ind not in B.POLLUTANTS:
            out[ind] = s
            continue
        model = POLLUTANT_MODELS[ind]
        item, switch = model.cap_item, model.cap_switch
        scales: dict[str, np.ndarray] = {}
        capped_any: list[str] = []
        out[ind] = {}
        for pol in model.columns:
            scale = np.ones(n_reg)
            if probe.profile.switches.get(switch, False):
                region_q = s[pol].reshape(n_reg, N_TYPES).sum(axis=1)
                for r, cap in probe.stat_by_region(f"{item}:{pol}").items():
                    if cap < 0 or not np.isfinite(cap):
                        raise InputError(
                            f"{ind}: reported {item}:{pol} for {plan.regions[r].code} is {cap!r}; "
                            "expected a non-negative number"
                        )
                    if not has_px[r]:
                        continue
                    scale[r] = cap / region_q[r] if region_q[r] > cap else 1.0
                    if scale[r] < 1.0:
                        capped_any.append(f"{plan.regions[r].code}:{pol}")
            scales[pol] = scale
            out[ind][pol] = s[pol] * np.repeat(scale, N_TYPES)
        factors[ind] = {"scale": scales}
        if capped_any:
            meta[ind]["notes"].append(
                f"{ind}: capped by reported {item}s in {', '.join(capped_any)}"
            )
    return out, factors, notes


def _apply_reported(
    plan: B.Plan,
    probe: Context,
    sums: dict[str, Any],
    counts: np.ndarray,
    meta: dict[str, dict[str, Any]],
    factors: dict[str, Any],
    not_applicable: dict[str, str],
) -> tuple[dict[str, Any], Sources, list[str]]:
    """``reported.apply_reported`` on (region, type) sums: each row's :func:`reported.decide`
    maps applied to the sums, and composed per key and part for pass 2 (``factors[ind]
    ["affine"][part]`` = ``[a, b]``: new = a · old + b per pixel; ``"value_affine"`` the value's
    of an indicator without sub-items)."""
    from ecovalue.accounting.indicators import FIXED_SPLIT, sub_item_prices
    from ecovalue.accounting.reported import WHOLE, decide, run_rows, type_indices

    n_keys = len(plan.regions) * N_TYPES
    out: dict[str, Any] = {
        k: ({p: a.copy() for p, a in v.items()} if isinstance(v, dict) else v.copy())
        for k, v in sums.items()
    }
    notes: list[str] = []
    codes = {r.code: i for i, r in enumerate(plan.regions)}
    rows = run_rows(plan.reported, plan.year, plan.profile.indicators, codes, notes)
    sources: Sources = {}

    def identity() -> list[np.ndarray]:
        return [np.ones(n_keys), np.zeros(n_keys)]

    for row in rows:
        ind = row.indicator
        with_parts = bool(INDICATORS[ind].sub_items)
        if ind not in out:
            out[ind] = {} if with_parts else np.zeros((2, n_keys))
            meta[ind] = {"method": "reported", "source": "reported", "unit": "", "notes": []}
        f = factors.setdefault(ind, {})
        aff = f.setdefault("affine", {})
        s = out[ind]
        parts = s if with_parts else {WHOLE: s[0]}
        mask = np.zeros(n_keys, bool)
        mask[[row.region * N_TYPES + e for e in type_indices(row)]] = True
        model = {p: float(a[mask].sum()) for p, a in parts.items()}
        d = decide(
            row, model, int(counts[mask].sum()), sub_item_prices(probe, ind),
            FIXED_SPLIT[ind](probe) if ind in FIXED_SPLIT else None,
            partial(_unit_value, ind, s, probe),
        )
        if d.note:
            notes.append(d.note)
            continue
        for part, (a, b) in d.maps.items():
            arr = parts.setdefault(part, np.zeros(n_keys))
            arr[mask] = a * arr[mask] + b * counts[mask]
            pa = aff.setdefault(part, identity())
            pa[0][mask] *= a
            pa[1][mask] = a * pa[1][mask] + b
            if not with_parts:  # the value follows, as in memory
                s[1][mask] = a * s[1][mask] + b * d.unit_value * counts[mask]
                va = f.setdefault("value_affine", identity())
                va[0][mask] *= a
                va[1][mask] = a * va[1][mask] + b * d.unit_value
        not_applicable.pop(ind, None)
        sources[(row.region, ind, row.sub_item, row.ecosystem_type)] = f"reported:{row.department}"
        notes.append(f"{ind}{' ' + row.sub_item if row.sub_item else ''} for {row.code}: {row.mode} "
                     f"by reported quantity {row.quantity:.6g} from {row.department}")
    for ind in out:
        factors.setdefault(ind, {}).setdefault("affine", {})
        factors[ind]["prices"] = sub_item_prices(probe, ind)
    return out, sources, notes


def _notes(
    meta: dict[str, dict[str, Any]],
    block_notes: list[str],
    probe_notes: list[str],
    cap_notes: list[str],
    rep_notes: list[str],
) -> list[str]:
    out: list[str] = []
    for m in meta.values():
        out += m["notes"]
    return out + block_notes + probe_notes + cap_notes + rep_notes


def _unit_value(ind: str, s: np.ndarray, probe: Context) -> float:
    """``reported.unit_value_of`` from an indicator's physical and value sums."""
    from ecovalue.accounting.indicators import UNIT_PRICE
    from ecovalue.accounting.reported import unit_value_of

    def price() -> float | None:
        return float(UNIT_PRICE[ind](probe)) if ind in UNIT_PRICE else None

    return unit_value_of(ind, float(s[0].sum()), float(s[1].sum()), price)


def _table(
    plan: B.Plan,
    probe: Context,
    sums: dict[str, Any],
    meta: dict[str, dict[str, Any]],
    sources: Sources,
    factor: Decimal,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy results table and the sub-item table, built by ``pipeline.indicator_rows``
    from the sums, as the in-memory engine builds them."""
    from ecovalue.accounting.indicators import sub_item_prices
    from ecovalue.accounting.reported import WHOLE

    rows: list[tuple[Any, ...]] = []
    sub_rows: list[tuple[Any, ...]] = []
    for ind in INDICATORS:
        if ind not in sums:
            continue
        m, s = meta[ind], sums[ind]
        if isinstance(s, dict):
            isums = IndicatorSums(ind, s, {}, sub_item_prices(probe, ind), m["unit"], m["method"])
        else:
            isums = IndicatorSums(ind, {WHOLE: s[0]}, {WHOLE: s[1]}, {}, m["unit"], m["method"])
        a, b = indicator_rows(plan.regions, plan.year, isums, factor, sources, m["source"])
        rows += a
        sub_rows += b
    return result_tables(rows, sub_rows)


# ------------------------------------------------------------------ pass 2: GeoTIFFs


def _write_layers(
    ex: _Executor,
    plan: B.Plan,
    blocks: list[tuple[int, int]],
    factors: dict[str, Any],
    folder: Path,
    meta: dict[str, dict[str, Any]],
    inputs_read: Callable[[], None] = lambda: None,
    counted: Callable[[str, Iterable[Any], int], Iterable[Any]] = lambda _s, items, _n: items,
) -> dict[str, Path]:
    """Final layers written window by window (tiled GeoTIFF), then copied to COG.

    ``inputs_read`` is called once the blocks are written (no input is read after it): the
    run's kept-open inputs close there, and GDAL's block cache is back at its full size for
    the COG copies. ``counted(stage, items, total)``: the items, each reported as done
    (stages ``"layers"``, the blocks, and ``"cog"``, the layers)."""
    import rasterio
    from rasterio import shutil as rio_shutil
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "_tiles"
    tmp.mkdir(exist_ok=True)
    names = [f"{ind}_{q}" for ind in factors for q in ("physical", "value")]
    profile = {
        "driver": "GTiff",
        "count": 1,
        "dtype": "float32",
        "width": plan.grid.width,
        "height": plan.grid.height,
        "crs": plan.grid.crs,
        "transform": plan.grid.transform,
        "nodata": float("nan"),
        # uncompressed scratch tiles (≈ 4 bytes per pixel per layer on disk, deleted at the
        # end): the COG copy below compresses once, on every core
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "BIGTIFF": "IF_SAFER",
    }
    dsts = {n: rasterio.open(tmp / f"{n}.tif", "w", **profile) for n in names}
    try:
        for (start, stop), arrays in zip(
            blocks, counted("layers", ex.map(B.pass2_block, plan, blocks, factors), len(blocks)),
            strict=True,
        ):
            for n, arr in arrays.items():
                dsts[n].write(arr, 1, window=Window(0, start, plan.grid.width, stop - start))
    finally:
        for d in dsts.values():
            d.close()
    inputs_read()
    paths = {}
    for n in counted("cog", names, len(names)):
        ind, q = n.rsplit("_", 1)
        unit = (
            f"{format_unit(meta[ind]['unit'] or INDICATORS[ind].physical_unit)} per pixel"
            if q == "physical"
            else PIXEL_VALUE_UNIT
        )
        with rasterio.open(tmp / f"{n}.tif", "r+") as d:
            d.update_tags(**_tags(plan, ind), unit=unit)
        rio_shutil.copy(
            tmp / f"{n}.tif",
            folder / f"{n}.tif",
            **io.cog_options("float32"),
        )
        paths[n] = folder / f"{n}.tif"
    shutil.rmtree(tmp, ignore_errors=True)
    return paths
