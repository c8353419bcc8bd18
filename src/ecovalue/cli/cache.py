"""``ecovalue cache``: the routing cache (:mod:`ecovalue.raster.routing_cache`) and the raster
digests remembered beside it (:mod:`ecovalue.raster.file_digests`) — what they hold, and
clearing them; and the options every account command shares to choose them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecovalue.caches import default_cache_dir
from ecovalue.cli.common import console, err
from ecovalue.raster.file_digests import DigestCache
from ecovalue.raster.routing_cache import DEFAULT_MAX_BYTES, RoutingCache

cache_app = typer.Typer(help="The routing cache: LS grids reused by reruns on the same DEM, and "
                             "the raster digests of unchanged files.",
                        no_args_is_help=True)

CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="routing cache folder (default: $ECOVALUE_CACHE_DIR, else "
                                     "~/.cache/ecovalue; ECOVALUE_CACHE_DIR=off turns it off)"),
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="always route; neither read nor write the routing cache")
]
MaxGb = Annotated[
    float, typer.Option("--cache-max-gb", help="bound on the cache folder; least recently used "
                                               "entries are removed first")
]


def open_cache(cache_dir: Path | None, no_cache: bool, max_gb: float = DEFAULT_MAX_BYTES / 1e9) -> RoutingCache | None:
    """The cache an account command uses (None when turned off)."""
    if no_cache:
        return None
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    if folder is None:
        return None
    if not max_gb >= 0:
        raise typer.BadParameter(f"--cache-max-gb {max_gb}; expected a size in GB >= 0")
    return RoutingCache(folder, max_bytes=int(max_gb * 1e9))


def _cache_or_exit(cache_dir: Path | None) -> RoutingCache:
    folder = cache_dir if cache_dir is not None else default_cache_dir()
    if folder is None:
        err.print("[yellow]the routing cache is turned off (ECOVALUE_CACHE_DIR=off); pass --cache-dir[/]")
        raise typer.Exit(1)
    return RoutingCache(folder)


@cache_app.command("info")
def info(cache_dir: CacheDir = None) -> None:
    """List the cached LS grids (least recently used first) and their total size."""
    cache = _cache_or_exit(cache_dir)
    entries = cache.entries()
    t = Table(title=f"routing cache / 汇流缓存 — {cache.path}")
    for c in ("key", "grid", "method", "LS formulation", "cell (m)", "MB", "last used (UTC)"):
        t.add_column(c, justify="right" if c in ("MB", "cell (m)") else "left")
    for e in entries:
        p = e.meta.get("params", {})
        t.add_row(e.key[:12], "×".join(str(x) for x in e.meta.get("shape", [])), str(p.get("method", "")),
                  str(p.get("formulation", "")), f"{p.get('cell_size', 0):g}", f"{e.nbytes / 1e6:,.1f}",
                  time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.last_used)))
    console.print(t)
    console.print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, "
                  f"{sum(e.nbytes for e in entries) / 1e6:,.1f} MB")
    digests = DigestCache(cache.folder)
    console.print(f"{digests.entries()} remembered raster digests / 栅格摘要 in {digests.path}")


@cache_app.command("clear")
def clear(cache_dir: CacheDir = None) -> None:
    """Remove every cached LS grid (the next run on each DEM routes again) and every remembered
    raster digest (the next run hashes its rasters again)."""
    cache = _cache_or_exit(cache_dir)
    n = cache.clear()
    console.print(f"removed {n} entr{'y' if n == 1 else 'ies'} from {cache.path}")
    digests = DigestCache(cache.folder)
    console.print(f"removed {digests.clear()} remembered raster digests from {digests.path}")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
