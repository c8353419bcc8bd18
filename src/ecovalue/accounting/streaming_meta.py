"""Validation and hashing for the streamed account without holding whole rasters.

:func:`open_meta` does what ``datasets.loader.open_dataset`` does except reading raster
pixels: manifest, raster headers (grid, CRS, units), regions, vectors and tables, with the
loader's own check functions. The pixel checks (physical ranges, coverage holes, land-cover
codes) are accumulated over blocks by ``streaming_blocks.scan_block`` and turned into the
same problems by :func:`validate_scan`. :func:`dataset_hash` reproduces
``Dataset.compute_hash`` reading each raster block by block.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting.profiles import Profile
from ecovalue.accounting.result import Region
from ecovalue.datasets import validation as V
from ecovalue.datasets.loader import Feature
from ecovalue.datasets.manifest import DatasetInfo, Manifest, read_manifest
from ecovalue.errors import DataFileError, Problem, UnitError, ValidationFailed
from ecovalue.raster import io
from ecovalue.raster.grid import Grid
from ecovalue.units import conversion_factor

HASH_BLOCK_ROWS = 1024  # rows per read while hashing (memory only; the hash does not depend on it)


@dataclass
class Meta:
    """A dataset's metadata and tables; raster pixels stay in the files."""

    root: Path
    manifest: Manifest
    info: DatasetInfo
    year: int
    grid: Grid
    raster_paths: dict[str, Path]
    factors: dict[str, float]
    regions: list[Region]
    vectors: dict[str, list[Feature]]
    landcover_table: pd.DataFrame
    statistics: pd.DataFrame
    reported: pd.DataFrame
    prices: pd.DataFrame
    price_index: dict[int, float]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    needs: V.Needs | None = None


def _raster_headers(
    root: Path, manifest: Manifest, needs: V.Needs, problems: list[Problem]
) -> tuple[Grid | None, dict[str, Path], dict[str, float]]:
    """Reference grid from the land cover; every needed raster's path and unit factor."""
    grid, _, _ = V.load_rasters(
        root, manifest, V.Needs(rasters=set()), problems
    )  # header checks only
    if grid is None:
        return None, {}, {}
    wanted = sorted(
        (needs.rasters | needs.optional_rasters) & set(manifest.rasters) | needs.rasters
    )
    paths: dict[str, Path] = {}
    factors: dict[str, float] = {}
    for key in wanted:
        if key not in manifest.rasters:
            if key in needs.rasters:
                problems.append(
                    Problem(
                        "dataset.toml [rasters]",
                        f"no '{key}' raster",
                        f"[rasters.{key}] in {V.RASTERS.get(key, ('?',))[0]}",
                        f"add the {key} raster, or drop the indicators that need it from your profile",
                    )
                )
            continue
        entry = manifest.rasters[key]
        try:
            meta = io.info(root / entry.path)
        except DataFileError as exc:
            problems.append(
                Problem(
                    entry.path,
                    str(exc),
                    f"a readable GeoTIFF for '{key}'",
                    "check the path in dataset.toml",
                )
            )
            continue
        canonical = V.RASTERS.get(key, (entry.unit, None, None, "bilinear"))[0]
        if key != "landcover":
            try:
                factors[key] = conversion_factor(entry.unit, canonical, f"raster '{key}' unit")
            except UnitError as exc:
                problems.append(
                    Problem(
                        f"dataset.toml [rasters.{key}] unit",
                        str(exc),
                        f"a unit convertible to {canonical}",
                        f'set unit = "{canonical}" (or the unit the file really uses)',
                    )
                )
                continue
        if not meta.grid.same_as(grid):
            problems.append(
                Problem(
                    entry.path,
                    f"is on a different grid ({meta.grid.crs}, {meta.grid.width}×{meta.grid.height}, "
                    f"{meta.grid.cell_width:g} m) than the land cover",
                    "all rasters on the land-cover grid for a streamed run",
                    "resample it onto the land-cover grid (gdalwarp with the land cover's -t_srs, "
                    "-tr and -te) or run `ecovalue account --engine memory`, which aligns it for "
                    "you if the grid fits in memory",
                )
            )
            continue
        paths[key] = root / entry.path
    return grid, paths, factors


def open_meta(root: Path, profile: Profile, year: int | None) -> Meta:
    """Read and check everything but raster pixels; raise ValidationFailed on errors found so far."""
    manifest, problems = read_manifest(root)
    if manifest is None:
        raise ValidationFailed(problems)
    y = year or manifest.dataset.year
    needs = V.needs_for_profile(profile, (y,))
    grid, paths, factors = _raster_headers(root, manifest, needs, problems)
    if grid is None:
        raise ValidationFailed(problems)
    regions = V.load_regions(root, manifest, grid, problems)
    vectors = V.load_vectors(root, manifest, grid, needs, problems)
    table = V.load_landcover_table(root, manifest, problems)
    if table is not None:
        problems += V.check_landcover_columns(table, needs, V.table_path(manifest, "landcover"))
    tables = V.load_tables(root, manifest, [r.code for r in regions], needs, problems)
    if any(p.severity == "error" for p in problems) or table is None or not regions:
        raise ValidationFailed(problems)
    return Meta(
        root=root,
        manifest=manifest,
        info=manifest.dataset,
        year=y,
        grid=grid,
        raster_paths=paths,
        factors=factors,
        regions=regions,
        vectors=vectors,
        landcover_table=table,
        statistics=tables.statistics,
        reported=tables.reported,
        prices=tables.prices,
        price_index=tables.price_index,
        problems=problems,
        needs=needs,
    )


def validate_scan(meta: Meta, scan: dict[str, Any]) -> None:
    """Turn the accumulated pixel facts into the loader's problems; raise on any error."""
    problems = list(meta.problems)
    lc_path = meta.manifest.rasters["landcover"].path
    if scan["nonint"]:
        problems.append(
            Problem(
                lc_path,
                f"has non-integer class codes ({scan['nonint']} pixels)",
                "integer land-cover codes",
                "write the raster as an integer type",
            )
        )
    for key, (vmin, vmax, n_lo, n_hi) in scan["ranges"].items():
        entry = meta.manifest.rasters[key]
        problems += V.raster_value_problems(key, entry.path, entry.unit, vmin, vmax, n_lo, n_hi)
    total = max(scan["inside"], 1)
    for key, (n, r, c) in scan["holes"].items():
        missing, have = scan["hole_regions"][key], scan["inside_regions"]
        shares = {meta.regions[i].code: (int(missing[i]), int(have[i])) for i in np.nonzero(missing)[0]}
        problems.append(V.coverage_problem(key, n, (r, c), total, shares))
    missing = sorted(int(c) for c in scan["codes"] - {int(c) for c in meta.landcover_table.index})
    if missing:
        problems += V.check_landcover_codes(
            np.array(missing),
            np.ones(len(missing), bool),
            meta.landcover_table,
            V.table_path(meta.manifest, "landcover"),
        )
    if scan["counts"] is not None:  # the checks on pixel facts (as datasets.loader's)
        regions_path = meta.manifest.vectors["regions"].path
        needs = meta.needs or V.Needs(years=(meta.year,))
        problems += V.check_region_pixels(meta.regions, scan["counts"], meta.grid.cell_width, regions_path)
        problems += V.check_reported_pixels(meta.reported, meta.regions, scan["counts"], needs,
                                            V.table_path(meta.manifest, "reported"))
        if scan.get("water_balance") is not None:
            problems += V.water_balance_problems(
                scan["water_balance"], f"{meta.manifest.rasters['precipitation'].path} and "
                f"{meta.manifest.rasters['aet'].path}")
    if any(p.severity == "error" for p in problems) or scan["counts"] is None:
        raise ValidationFailed(problems)
    meta.warnings = [p for p in problems if p.severity != "error"]


def dataset_hash(meta: Meta, plan: Any, raster_digests: dict[str, bytes] | None = None) -> str:
    """``Dataset.compute_hash`` of the dataset the loader would build.

    ``raster_digests``: each raster's digest (``raster.digest.grid_digest`` of its converted
    pixels) as the scan joined them from its blocks' row digests; a raster without one is read
    again block by block here.
    """
    h = hashlib.sha256()
    h.update(meta.info.model_dump_json().encode())
    h.update(repr(meta.grid).encode())
    for key in sorted(meta.raster_paths):
        h.update(key.encode())
        digest = raster_digests.get(key) if raster_digests is not None else None
        h.update(digest if digest is not None else _raster_digest(meta, plan, key))
    for r in meta.regions:
        h.update(
            f"{r.code}|{r.name_zh}|{r.geometry.wkb_hex if r.geometry is not None else ''}".encode()
        )
    for df in (meta.landcover_table, meta.statistics, meta.reported, meta.prices):
        h.update(
            np.asarray(pd.util.hash_pandas_object(df.astype(str), index=True).values).tobytes()
        )
    h.update(repr(sorted(meta.price_index.items())).encode())
    return h.hexdigest()


def _raster_digest(meta: Meta, plan: Any, key: str) -> bytes:
    """``grid_digest`` of one raster's converted pixels, read block by block."""
    from ecovalue.accounting.streaming_blocks import read_block_values
    from ecovalue.raster.digest import join_row_digests, row_digests

    return join_row_digests(
        row_digests(read_block_values(plan, key, s, min(s + HASH_BLOCK_ROWS, meta.grid.height)))
        for s in range(0, meta.grid.height, HASH_BLOCK_ROWS)
    )
