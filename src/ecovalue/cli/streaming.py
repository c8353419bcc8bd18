"""The streamed engine on the command line: ``ecovalue account --engine streamed|auto`` (with
``--workers N`` / ``--scheduler tcp://HOST:8786`` for dask.distributed) and its alias
``ecovalue account-streamed``.

Writes the same files as the in-memory engine: ``results.csv``, ``summary.json``,
``layers/<indicator>_{physical,value}.tif``, ``results.xlsx`` and ``report.html`` (its maps
drawn from thumbnails of the written layers). :func:`register` adds the alias to the app.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ecovalue.cli.cache import CacheDir, MaxGb, NoCache, open_cache
from ecovalue.raster.routing_cache import DEFAULT_MAX_BYTES, RoutingCache


def write_streamed_outputs(result: Any, out: Path) -> dict[str, Path]:
    """results.csv and summary.json of a streamed run, written as the in-memory engine writes them."""
    from ecovalue.accounting.outputs import (
        SUB_ITEMS_CSV,
        write_csv,
        write_sub_items_csv,
        write_summary,
    )

    out.mkdir(parents=True, exist_ok=True)
    return {
        "results.csv": write_csv(result, out / "results.csv"),
        SUB_ITEMS_CSV: write_sub_items_csv(result, out / SUB_ITEMS_CSV),
        "summary.json": write_summary(
            result, out / "summary.json", streamed={"blocks": result.n_blocks}
        ),
    }


#: Bytes per pixel the in-memory engine needs (measured: 9.9 GB for the 23.3 M-pixel 30 m demo,
#: every input and indicator layer in float64). ``--engine auto`` streams when this would
#: take more than half of the machine's memory.
MEMORY_ENGINE_BYTES_PER_PIXEL = 430
#: Above this many pixels ``--engine auto`` streams even when memory would do: the streamed
#: engine is then also faster (bench, 2 cores: 1 M px 4.9 s streamed vs 3.7 s in memory;
#: 4 M px 6.8 vs 10.1 s; 16 M px 18.1 vs 41.3 s; docs/benchmarks.md).
STREAM_ABOVE_PIXELS = 2_000_000


def _machine_memory() -> int:
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 8 << 30


def choose_engine(engine: str, dataset: Path, workers: int, scheduler: str | None) -> tuple[str, str]:
    """``(engine, reason)`` for ``ecovalue account``'s ``--engine``."""
    from ecovalue.errors import InputError

    if engine not in ("auto", "memory", "streamed"):
        raise typer.BadParameter(f"--engine {engine!r}; use auto, memory or streamed")
    if engine == "memory":
        if workers > 1 or scheduler:
            raise typer.BadParameter("--workers/--scheduler need the streamed engine (--engine streamed or auto)")
        return "memory", "asked for"
    if engine == "streamed":
        return "streamed", "asked for"
    if workers > 1 or scheduler:
        return "streamed", "--workers/--scheduler given"
    try:
        pixels = _grid_pixels(dataset)
    except InputError:
        return "memory", "grid size unknown: the checks of the in-memory engine will say why"
    need = pixels * MEMORY_ENGINE_BYTES_PER_PIXEL
    have = _machine_memory()
    gb = 1 << 30
    if need > have // 2:
        return "streamed", f"{pixels / 1e6:.1f} M pixels would need ≈ {need / gb:.1f} GB in memory of {have / gb:.1f} GB"
    if pixels > STREAM_ABOVE_PIXELS:
        return "streamed", f"{pixels / 1e6:.1f} M pixels: faster block by block (above {STREAM_ABOVE_PIXELS / 1e6:g} M)"
    return "memory", f"{pixels / 1e6:.1f} M pixels, ≈ {need / gb:.1f} GB of {have / gb:.1f} GB"


def _grid_pixels(dataset: Path) -> int:
    """Pixels of the dataset's land-cover grid, from the raster header."""
    from ecovalue.datasets.manifest import read_manifest
    from ecovalue.errors import InputError
    from ecovalue.raster import io

    manifest, _problems = read_manifest(dataset)
    if manifest is None or "landcover" not in manifest.rasters:
        raise InputError("no land-cover raster in the manifest")
    try:
        grid = io.info(dataset / manifest.rasters["landcover"].path).grid
    except Exception as exc:  # noqa: BLE001 - any unreadable header: let the full checks explain
        raise InputError(str(exc)) from exc
    return grid.width * grid.height


def run_streamed(
    dataset: Path,
    out: Path,
    *,
    year: int | None,
    profile: str,
    block_rows: int,
    workers: int,
    scheduler: str | None,
    threads: int | None,
    layers: bool,
    reports: bool,
    cache: RoutingCache | None = None,
) -> None:
    """The streamed engine with a progress bar; writes the outputs and prints the totals."""
    from ecovalue.accounting.streaming import run_account_streamed
    from ecovalue.cli.common import err, input_errors, step_progress
    from ecovalue.cli.main import _print_done, _print_totals

    t0 = time.perf_counter()
    with input_errors():
        with step_progress("streaming") as progress:
            result = run_account_streamed(
                dataset,
                profile=profile,
                year=year,
                out_dir=out if layers or reports else None,
                block_rows=block_rows,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                threads=threads,
                cache=cache,
            )
        if result.routing_from_cache and cache is not None:
            err.print(f"[dim]routing: LS factor reused from the cache in {cache.path}[/]")
        paths = write_streamed_outputs(result, out)
        if layers or reports:
            paths["layers"] = out / "layers"
        if reports:
            from ecovalue.reports import write_all

            with err.status("writing the workbook, maps and report…"):
                paths.update(write_all(result.report_view(), out))
    _print_totals(result)
    err.print(f"[dim]{result.n_blocks} blocks[/]")
    _print_done(t0, out, paths)


def account_streamed(
    dataset: Annotated[Path, typer.Argument(help="dataset folder containing dataset.toml")],
    out: Annotated[
        Path, typer.Option("--out", help="output folder (on a shared filesystem for --scheduler)")
    ],
    year: Annotated[
        int | None, typer.Option(help="accounting year (default: the dataset's year)")
    ] = None,
    profile: Annotated[
        str, typer.Option(help="profile id (e.g. cn-2022) or path of a profile .toml")
    ] = "cn-2022",
    block_rows: Annotated[
        int, typer.Option("--block-rows", help="rows per block (memory ∝ rows × width)")
    ] = 256,
    workers: Annotated[
        int, typer.Option("--workers", help="local dask worker processes (1 = no dask)")
    ] = 1,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="threads of a local run (default: CPU count, at most 4)")
    ] = None,
    no_layers: Annotated[
        bool, typer.Option("--no-layers", help="skip the per-indicator GeoTIFFs (and the reports)")
    ] = False,
    no_reports: Annotated[
        bool, typer.Option("--no-reports", help="skip report.html and results.xlsx")
    ] = False,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    cache_max_gb: MaxGb = DEFAULT_MAX_BYTES / 1e9,
) -> None:
    """The GEP account on the streamed engine (= ``ecovalue account --engine streamed``)."""
    run_streamed(dataset, out, year=year, profile=profile, block_rows=block_rows, workers=workers,
                 scheduler=scheduler, threads=threads, layers=not no_layers,
                 reports=not (no_layers or no_reports),
                 cache=open_cache(cache_dir, no_cache, cache_max_gb))


def register(app: typer.Typer) -> None:
    """Add ``account-streamed`` to the ``ecovalue`` command."""
    app.command("account-streamed")(account_streamed)
