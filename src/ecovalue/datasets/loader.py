"""Loading a dataset folder into memory, validating everything on the way.

:func:`open_dataset` reads the manifest, rasters, vectors and tables, checks them and
returns the :class:`Dataset` together with every problem found (see
``datasets/validation.py`` for the checks). :func:`load_dataset` raises
:class:`~ecovalue.errors.ValidationFailed` when any problem is an error. A dataset can
also be built from arrays in memory (:meth:`Dataset.from_arrays`) for library use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting.result import Region
from ecovalue.datasets import validation as V
from ecovalue.datasets.manifest import DatasetInfo, Manifest, read_manifest
from ecovalue.errors import Problem, ValidationFailed
from ecovalue.raster.digest import grid_digest
from ecovalue.raster.grid import Grid


@dataclass(frozen=True)
class Feature:
    """A vector feature: geometry (dataset CRS) and attributes."""

    geometry: Any
    attributes: dict[str, Any]


@dataclass
class Dataset:
    """A validated dataset in memory, in canonical units (see ``expectations.py``)."""

    info: DatasetInfo
    grid: Grid
    rasters: dict[str, np.ndarray]  # float32 (landcover: int32)
    valid: np.ndarray  # bool: inside a region and every loaded raster has data
    regions: list[Region]
    region_index: np.ndarray  # int32, -1 outside regions
    landcover_table: pd.DataFrame  # indexed by code, canonical units
    statistics: pd.DataFrame  # region_code, year, item, indicator, quantity (canonical unit), unit, source
    reported: pd.DataFrame
    prices: pd.DataFrame
    price_index: dict[int, float]
    vectors: dict[str, list[Feature]] = field(default_factory=dict)
    landcover_sources: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    content_hash: str = ""
    raster_valid: dict[str, np.ndarray] = field(default_factory=dict)
    """Each raster's own data mask over the whole grid (the file's nodata; NaN), e.g. the DEM's
    beyond the regions, which the routing uses (upslope area outside the districts counts)."""
    warnings: list[Problem] = field(default_factory=list)  # what validation warned of (not hashed)

    @property
    def synthetic(self) -> bool:
        return self.info.synthetic

    @classmethod
    def from_arrays(
        cls, info: DatasetInfo, grid: Grid, rasters: dict[str, np.ndarray], regions: list[Region],
        landcover_table: pd.DataFrame, statistics: pd.DataFrame | None = None,
        reported: pd.DataFrame | None = None, prices: pd.DataFrame | None = None,
        price_index: dict[int, float] | None = None, vectors: dict[str, list[Feature]] | None = None,
    ) -> Dataset:
        """Build and validate a dataset from in-memory arrays (canonical units).

        Raises ValidationFailed with every problem when the inputs are inconsistent.
        """
        problems: list[Problem] = []
        region_index = V.rasterize_regions(regions, grid)
        valid = region_index >= 0
        masks: dict[str, np.ndarray] = {}
        for key, arr in rasters.items():
            if arr.shape != grid.shape:
                problems.append(Problem(f"raster '{key}'", f"shape {arr.shape}", f"the grid shape {grid.shape}",
                                        "resample the array onto the grid"))
                continue
            if key != "landcover" and np.issubdtype(arr.dtype, np.floating):
                masks[key] = np.isfinite(arr)
                valid &= masks[key]
        table = V.normalise_landcover_table(landcover_table, {c: u for c, (u, *_r) in V.LANDCOVER_COLUMNS.items()},
                                            "landcover table", problems)
        if "landcover" in rasters and table is not None:
            problems += V.check_landcover_codes(rasters["landcover"], valid, table, "landcover table")
        empty = pd.DataFrame(columns=["region_code", "year", "item", "indicator", "quantity", "unit", "source"])
        ds = cls(
            info=info, grid=grid, rasters=dict(rasters), valid=valid, regions=list(regions),
            region_index=region_index, landcover_table=table if table is not None else landcover_table,
            statistics=statistics if statistics is not None else empty,
            reported=reported if reported is not None else pd.DataFrame(columns=V.REPORTED_COLUMNS),
            prices=prices if prices is not None else pd.DataFrame(columns=V.PRICES_COLUMNS),
            price_index=dict(price_index or {}), vectors=dict(vectors or {}), raster_valid=masks,
        )
        ds.content_hash = ds.compute_hash()
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise ValidationFailed(problems)
        return ds

    def compute_hash(self) -> str:
        """sha256 over every array and table: identical inputs give identical hashes.

        Each raster enters as its name and its digest (``raster.digest.grid_digest``: the
        sha256 of its rows' sha256s), so readers that see the rows block by block, in parallel
        (the streamed engine's scan), get the same digest.
        """
        h = hashlib.sha256()
        h.update(self.info.model_dump_json().encode())
        h.update(repr(self.grid).encode())
        for key in sorted(self.rasters):
            h.update(key.encode())
            h.update(grid_digest(self.rasters[key]))
        for r in self.regions:
            h.update(f"{r.code}|{r.name_zh}|{r.geometry.wkb_hex if r.geometry is not None else ''}".encode())
        for df in (self.landcover_table, self.statistics, self.reported, self.prices):
            h.update(pd.util.hash_pandas_object(df.astype(str), index=True).values.tobytes())
        h.update(repr(sorted(self.price_index.items())).encode())
        return h.hexdigest()


def open_dataset(folder: str | Path, needs: V.Needs | None = None) -> tuple[Dataset | None, list[Problem]]:
    """Read and check a dataset folder. Returns (dataset or None, every problem found).

    ``needs`` (from :func:`validation.needs_for_profile`) says which rasters, vectors, tables
    and statistics the chosen indicators require; without it only the always-needed parts
    (land cover, regions, land-cover table) are required.
    """
    root = Path(folder)
    manifest, problems = read_manifest(root)
    if manifest is None:
        return None, problems
    needs = needs or V.Needs()
    grid, rasters, raster_valid = V.load_rasters(root, manifest, needs, problems)
    if grid is None:
        return None, problems
    regions = V.load_regions(root, manifest, grid, problems)
    vectors = V.load_vectors(root, manifest, grid, needs, problems)
    region_index = V.rasterize_regions(regions, grid) if regions else np.full(grid.shape, -1, np.int32)
    inside = region_index >= 0
    V.check_raster_coverage(rasters, raster_valid, inside, problems, region_index, regions)
    valid = inside.copy()
    for m in raster_valid.values():
        valid &= m
    table = V.load_landcover_table(root, manifest, problems)
    if table is not None and "landcover" in rasters:
        problems += V.check_landcover_codes(rasters["landcover"], inside, table, V.table_path(manifest, "landcover"))
        problems += V.check_landcover_columns(table, needs, V.table_path(manifest, "landcover"))
    tables = V.load_tables(root, manifest, [r.code for r in regions], needs, problems)
    if table is not None and "landcover" in rasters and regions:
        problems += _pixel_checks(manifest, needs, grid, rasters, valid, region_index, regions, table, tables)
    if any(p.severity == "error" for p in problems) or table is None:
        return None, problems
    ds = Dataset(
        info=manifest.dataset, grid=grid, rasters=rasters, valid=valid, regions=regions,
        region_index=region_index, landcover_table=table,
        statistics=tables.statistics, reported=tables.reported, prices=tables.prices,
        price_index=tables.price_index, vectors=vectors,
        landcover_sources=dict(manifest.tables["landcover"].sources) if "landcover" in manifest.tables else {},
        root=root, raster_valid=raster_valid,
        warnings=[p for p in problems if p.severity != "error"],
    )
    ds.content_hash = ds.compute_hash()
    return ds, problems


def _pixel_checks(manifest: Manifest, needs: V.Needs, grid: Grid, rasters: dict[str, np.ndarray], valid: np.ndarray,
                  region_index: np.ndarray, regions: list[Region], table: pd.DataFrame,
                  tables: V.Tables) -> list[Problem]:
    """The checks that need each pixel's region and class (the streamed engine makes the same
    facts in its scan: ``accounting.streaming_meta.validate_scan``)."""
    from ecovalue.raster.pixelwise import class_rows

    rows, _missing = class_rows(rasters["landcover"], table["code"].to_numpy(np.int64), valid)
    counts = V.type_counts(region_index, rows, table, len(regions))
    regions_path = manifest.vectors["regions"].path
    problems = V.check_region_pixels(regions, counts, grid.cell_width, regions_path)
    problems += V.check_reported_pixels(tables.reported, regions, counts, needs, V.table_path(manifest, "reported"))
    if ("water_conservation" in needs.indicators and {"precipitation", "aet"} <= set(rasters)
            and "storm_runoff_coef" in table.columns):
        facts = V.water_balance_facts(rasters["precipitation"], rasters["aet"], rows, table,
                                      needs.scopes.get("water_conservation", ()))
        problems += V.water_balance_problems(facts, f"{manifest.rasters['precipitation'].path} and "
                                             f"{manifest.rasters['aet'].path}")
    return problems


def load_dataset(folder: str | Path, needs: V.Needs | None = None) -> tuple[Dataset, list[Problem]]:
    """Like :func:`open_dataset` but raises ValidationFailed (with every problem) on any error.

    Returns the dataset and the warnings.
    """
    ds, problems = open_dataset(folder, needs)
    if ds is None:
        raise ValidationFailed(problems)
    return ds, problems


def manifest_of(folder: str | Path) -> Manifest:
    m, problems = read_manifest(folder)
    if m is None:
        raise ValidationFailed(problems)
    return m
