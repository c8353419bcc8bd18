"""Checks of a dataset against what a profile needs, each returning :class:`Problem` records.

Every check reports where the problem is, what is wrong, what was expected and how to fix
it; checks never stop at the first problem. This module holds what the profile needs
(:class:`Needs`), the raster checks and the checks that need pixels (coverage, the water
balance, reported quantities against the region's ecosystem types); the tables are checked
in ``tables.py`` and the vector layers in ``vectors.py`` (their functions are re-exported
here, where both engines call them). The pixel checks take *facts* — minimum, maximum and
counts — that the in-memory loader finds from whole arrays and the streamed engine adds up
block by block, so both engines and ``ecovalue validate`` give the same problems
(decision 0021).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ecovalue.datasets import plausibility
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES, LANDCOVER_COLUMNS, RASTERS
from ecovalue.datasets.manifest import Manifest
from ecovalue.datasets.tables import (
    PRICES_COLUMNS,
    REPORTED_COLUMNS,
    STATISTICS_COLUMNS,
    Tables,
    check_landcover_codes,
    check_landcover_columns,
    check_reported,
    check_statistics,
    listing,
    load_landcover_table,
    load_tables,
    normalise_landcover_table,
    normalise_statistics,
    table_path,
)
from ecovalue.datasets.vectors import load_regions, load_vectors, same_crs
from ecovalue.errors import DataFileError, Problem, UnitError
from ecovalue.raster import io
from ecovalue.raster.grid import Grid
from ecovalue.units import conversion_factor, format_unit

if TYPE_CHECKING:
    from ecovalue.accounting.profiles import Profile
    from ecovalue.accounting.result import Region

__all__ = [  # the functions both engines call, wherever they live
    "LANDCOVER_COLUMNS", "PRICES_COLUMNS", "RASTERS", "REPORTED_COLUMNS", "STATISTICS_COLUMNS", "Needs", "Tables",
    "check_landcover_codes", "check_landcover_columns", "check_reported", "check_statistics", "load_landcover_table",
    "load_rasters", "load_regions", "load_tables", "load_vectors", "needs_for_profile", "normalise_landcover_table",
    "normalise_statistics", "rasterize_regions", "table_path",
]


@dataclass
class Needs:
    """What the chosen indicators require of a dataset, and what the profile brings to the
    checks (its price years, scopes and warnings)."""

    rasters: set[str] = field(default_factory=lambda: {"landcover"})
    optional_rasters: set[str] = field(default_factory=set)
    landcover_columns: set[str] = field(default_factory=set)
    statistics_items: dict[str, set[str]] = field(default_factory=dict)  # item -> indicators needing it
    provisioning: set[str] = field(default_factory=set)
    provisioning_method: str = "quantity_x_price"
    years: tuple[int, ...] = ()
    needs_vectors: set[str] = field(default_factory=set)
    indicators: tuple[str, ...] = ()
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # indicator -> ecosystem types (() = all)
    restate_prices: bool = False
    price_years: dict[str, int] = field(default_factory=dict)  # profile price id -> its price year
    base_year: int | None = None
    profile_warnings: tuple[Problem, ...] = ()


def needs_for_profile(profile: Profile, years: tuple[int, ...]) -> Needs:
    """Collect the inputs the profile's indicators need for the given years."""
    from ecovalue.accounting.catalogue import INDICATORS, PROVISIONING_PRODUCT_INDICATORS

    restate = bool(profile.switches.get("restate_prices", True))
    n = Needs(years=years, provisioning_method=profile.methods.get("provisioning", "quantity_x_price"),
              indicators=tuple(profile.indicators), restate_prices=restate, base_year=profile.base_year,
              profile_warnings=tuple(profile.warnings))
    used = {pid for ind in profile.indicators for pid in INDICATORS[ind].parameters}
    if restate:
        n.price_years = {pid: p.price_year for pid, p in profile.parameters.items()
                         if pid in used and p.price_year is not None and p.is_price}
    for ind in profile.indicators:
        spec = INDICATORS[ind]
        n.scopes[ind] = profile.scopes.get(ind, spec.ecosystem_types)
        n.rasters.update(spec.required_rasters)
        n.optional_rasters.update(spec.optional_rasters)
        n.landcover_columns.update(spec.landcover_columns)
        if ind in PROVISIONING_PRODUCT_INDICATORS:
            n.provisioning.add(ind)
            continue
        items = list(spec.statistics_items)
        if ind == "recreation":
            if profile.methods.get("recreation", "travel_cost") == "reported_revenue":
                items = ["tourism:revenue"]
            else:
                items = ["tourism:visits", "tourism:expenditure", "tourism:travel_hours", "wage:daily"]
        for item in items:
            n.statistics_items.setdefault(item, set()).add(ind)
    if "flood_regulation" in profile.indicators:
        n.needs_vectors.update({"lakes", "reservoirs"})
    if profile.switches.get("cap_air_by_emissions") and "air_purification" in profile.indicators:
        for x in ("so2", "nox", "dust"):
            n.statistics_items.setdefault(f"emission:{x}", set()).add("air_purification")
    if profile.switches.get("cap_water_by_loads") and "water_purification" in profile.indicators:
        for x in ("cod", "nh3n", "tn", "tp"):
            n.statistics_items.setdefault(f"load:{x}", set()).add("water_purification")
    return n


# ------------------------------------------------------------------ rasters


def load_rasters(
    root: Path, manifest: Manifest, needs: Needs, problems: list[Problem]
) -> tuple[Grid | None, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read needed rasters onto the land-cover grid; align others and say so."""
    wanted = sorted((needs.rasters | needs.optional_rasters) & set(manifest.rasters) | needs.rasters)
    if "landcover" not in manifest.rasters:
        problems.append(Problem("dataset.toml [rasters]", "no 'landcover' raster",
                                "[rasters.landcover] with path and unit = \"class\"",
                                "add the land-cover raster; every indicator needs it"))
        return None, {}, {}
    ref_entry = manifest.rasters["landcover"]
    try:
        ref = io.info(root / ref_entry.path)
    except DataFileError as exc:
        problems.append(Problem(ref_entry.path, str(exc), "a readable GeoTIFF", "check the path in dataset.toml"))
        return None, {}, {}
    grid = ref.grid
    if not grid.crs:
        problems.append(Problem(ref_entry.path, "has no CRS", f"the dataset CRS {manifest.dataset.crs}",
                                "assign the CRS (gdal_edit.py -a_srs) and rerun"))
        return None, {}, {}
    if not same_crs(grid.crs, manifest.dataset.crs):
        problems.append(Problem(ref_entry.path, f"CRS is {grid.crs}", f"the dataset CRS {manifest.dataset.crs}",
                                "reproject the land-cover raster or correct `crs` in dataset.toml"))
    if not _crs_is_metric(grid.crs):
        problems.append(Problem(ref_entry.path, f"CRS {grid.crs} is not projected in metres",
                                "a projected CRS in metres (e.g. EPSG:4547 CGCS2000 / 3-degree GK CM 114E)",
                                "reproject all rasters to a metric CRS"))
    rasters: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for key in wanted:
        if key not in manifest.rasters:
            if key in needs.rasters:
                problems.append(Problem("dataset.toml [rasters]", f"no '{key}' raster",
                                        f"[rasters.{key}] in {RASTERS.get(key, ('?',))[0]}",
                                        f"add the {key} raster, or drop the indicators that need it from your profile"))
            continue
        loaded = _load_one(root, manifest, key, grid, problems)
        if loaded is not None:
            rasters[key], masks[key] = loaded
    return grid, rasters, masks


def _crs_is_metric(crs: str) -> bool:
    from pyproj import CRS

    try:
        c = CRS.from_user_input(crs)
        return bool(c.is_projected and c.axis_info[0].unit_name in ("metre", "meter"))
    except Exception:  # noqa: BLE001 - an unparsable CRS is not metric
        return False


def _load_one(root: Path, manifest: Manifest, key: str, grid: Grid,
              problems: list[Problem]) -> tuple[np.ndarray, np.ndarray] | None:
    entry = manifest.rasters[key]
    path = root / entry.path
    try:
        meta = io.info(path)
    except DataFileError as exc:
        problems.append(Problem(entry.path, str(exc), f"a readable GeoTIFF for '{key}'",
                                "check the path in dataset.toml"))
        return None
    canonical, _lo, _hi, resampling = RASTERS.get(key, (entry.unit, None, None, "bilinear"))
    factor = 1.0
    if key != "landcover":
        try:
            factor = conversion_factor(entry.unit, canonical, f"raster '{key}' unit")
        except UnitError as exc:
            problems.append(Problem(f"dataset.toml [rasters.{key}] unit", str(exc), f"a unit convertible to {canonical}",
                                    f"set unit = \"{canonical}\" (or the unit the file really uses)"))
            return None
    if not meta.grid.crs:
        problems.append(Problem(entry.path, "has no CRS", f"the dataset CRS {manifest.dataset.crs}",
                                "assign the CRS and rerun"))
        return None
    try:
        if meta.grid.same_as(grid):
            data, valid = io.read(path)
        else:
            data, valid = io.read_aligned(path, grid, resampling)
            problems.append(Problem(
                entry.path, f"is on a different grid ({meta.grid.crs}, {meta.grid.width}×{meta.grid.height}, "
                f"{meta.grid.cell_width:g} m) than the land cover ({grid.crs}, {grid.width}×{grid.height}, "
                f"{grid.cell_width:g} m)", "all rasters on one grid",
                f"it was aligned to the land-cover grid with {resampling} resampling; to avoid this, "
                "resample it yourself (e.g. gdalwarp -tr/-te) so results do not depend on our resampling",
                severity="warning"))
    except DataFileError as exc:
        problems.append(Problem(entry.path, f"its header reads but its pixels do not: the file is truncated or "
                                f"damaged ({exc})", f"a complete GeoTIFF for '{key}'",
                                "copy or export the file again (`gdalinfo -checksum` finds damaged files)"))
        return None
    if key == "landcover":
        if np.issubdtype(data.dtype, np.floating):
            frac = valid & (data != np.round(data))
            if frac.any():
                problems.append(Problem(entry.path, f"has non-integer class codes ({int(frac.sum())} pixels)",
                                        "integer land-cover codes", "write the raster as an integer type"))
        return data.astype(np.int32), valid
    arr = data.astype(np.float32)
    if factor != 1.0:
        arr *= np.float32(factor)
    vals = arr[valid]
    if vals.size:
        _c, lo, hi, _r = RASTERS.get(key, ("", None, None, ""))
        n_lo = int((vals < lo).sum()) if lo is not None else 0
        n_hi = int((vals > hi).sum()) if hi is not None else 0
        problems += raster_value_problems(key, entry.path, entry.unit, float(vals.min()), float(vals.max()),
                                          n_lo, n_hi)
    return arr, valid


def raster_value_problems(key: str, path: str, declared: str, vmin: float, vmax: float, n_lo: int,
                          n_hi: int) -> list[Problem]:
    """Problems of a raster's values (canonical unit) from its minimum, maximum and the pixels
    beyond its physical bounds: those pixels are errors; a raster whose every pixel lies
    outside the plausible range (``plausibility.RASTERS``) is a warning naming the likely slip."""
    canonical, lo, hi, _ = RASTERS.get(key, ("", None, None, ""))
    problems: list[Problem] = []
    if n_lo:
        problems.append(Problem(path, f"{key} has {n_lo} pixels below {lo:g} {canonical} (minimum {vmin:g})",
                                f"{key} within [{lo:g}, {hi:g}] {canonical}",
                                "check the unit in dataset.toml and the nodata value of the file"))
    if n_hi:
        problems.append(Problem(path, f"{key} has {n_hi} pixels above {hi:g} {canonical} (maximum {vmax:g})",
                                f"{key} within [{lo:g}, {hi:g}] {canonical}",
                                "check the unit in dataset.toml (e.g. SI vs US units for K) and the data"))
    spec = plausibility.RASTERS.get(key)
    if problems or spec is None:
        return problems
    below = spec.lo is not None and vmax < spec.lo
    above = spec.hi is not None and vmin > spec.hi
    if below or above:
        hint = plausibility.slip_hint((vmin, vmax), spec)
        problems.append(Problem(
            path, f"every pixel of {key} lies {'below' if below else 'above'} the plausible range of "
            f"{spec.quantity} (values {vmin:g} … {vmax:g} {format_unit(canonical)}, read as {declared})",
            f"{spec.range_text()} ({spec.source})",
            f"check unit = \"{declared}\" of [rasters.{key}] in dataset.toml" + (f": {hint}" if hint else "")
            + "; if the values are right, keep them (this is a warning)", severity="warning"))
    return problems


def check_raster_coverage(rasters: dict[str, np.ndarray], masks: dict[str, np.ndarray], inside: np.ndarray,
                          problems: list[Problem], region_index: np.ndarray | None = None,
                          regions: list[Region] | None = None) -> None:
    """Every pixel inside the regions must have data in every loaded raster (NaN counts as
    nodata); the message gives each region's share of pixels without data."""
    total = int(inside.sum())
    for key, valid in masks.items():
        holes = inside & ~valid
        n = int(holes.sum())
        if not n:
            continue
        r, c = (int(x[0]) for x in np.nonzero(holes))
        shares = None
        if region_index is not None and regions:
            k = len(regions)
            missing = np.bincount(region_index[holes], minlength=k)
            have = np.bincount(region_index[inside], minlength=k)
            shares = {regions[i].code: (int(missing[i]), int(have[i])) for i in np.nonzero(missing)[0]}
        problems.append(coverage_problem(key, n, (r, c), total, shares))


def coverage_problem(key: str, n: int, first: tuple[int, int], total: int,
                     shares: dict[str, tuple[int, int]] | None = None) -> Problem:
    """The holes of one raster inside the regions; ``shares``: region code → (pixels without
    data, pixels) where known."""
    per = ""
    if shares:
        worst = sorted(shares.items(), key=lambda kv: -kv[1][0] / max(kv[1][1], 1))
        per = "; by region: " + listing(f"{code} {m} of {h} ({100 * m / max(h, 1):.1f} %)" for code, (m, h) in worst)
    return Problem(f"raster '{key}'", f"{n} pixels ({100 * n / max(total, 1):.2f} %) inside the accounting regions "
                   f"have no data (nodata or NaN; first at row {first[0]}, col {first[1]}){per}",
                   "a value for every pixel inside the regions",
                   "fill the gaps (e.g. interpolate, or use the class mean) or clip the regions to the data")


def rasterize_regions(regions: list[Region], grid: Grid) -> np.ndarray:
    """Index of the region covering each pixel centre (-1 outside all regions)."""
    from rasterio import features

    if not regions:
        return np.full(grid.shape, -1, np.int32)
    shapes = [(r.geometry, i) for i, r in enumerate(regions)]
    return features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=-1,
                              dtype="int32", all_touched=False)


# ------------------------------------------------------------------ checks that need pixels


def type_counts(region_index: np.ndarray, rows: np.ndarray, table: pd.DataFrame, n_regions: int) -> np.ndarray:
    """Valid pixels per (region, ecosystem type) as a flat array, key = region × len(types) +
    type (the layout of the streamed scan's ``counts``); ``rows``: each pixel's land-cover
    table row, −1 where not valid."""
    types = np.array([ECOSYSTEM_TYPES.index(e) if e in ECOSYSTEM_TYPES else -1  # (unknown types: named elsewhere)
                      for e in table["ecosystem_type"]] + [-1], dtype=np.int64)
    t = types[rows]
    ok = (region_index >= 0) & (t >= 0)
    keys = region_index[ok].astype(np.int64) * len(ECOSYSTEM_TYPES) + t[ok]
    return np.bincount(keys, minlength=n_regions * len(ECOSYSTEM_TYPES))


def check_region_pixels(regions: list[Region], counts: np.ndarray, cell_m: float, where: str) -> list[Problem]:
    """A region whose polygon covers no pixel centre would have a GEP of 0."""
    per_region = counts.reshape(len(regions), len(ECOSYSTEM_TYPES)).sum(axis=1)
    empty = [f"{r.code} ({r.area_km2:.3g} km²)" for r, n in zip(regions, per_region, strict=True) if n == 0]
    if not empty:
        return []
    return [Problem(where, f"regions {listing(empty)} contain no pixel centre with data at {cell_m:g} m",
                    "every region covering at least one valid pixel",
                    "use rasters fine enough for the smallest region, or merge it with a neighbour")]


def check_reported_pixels(reported: pd.DataFrame, regions: list[Region], counts: np.ndarray, needs: Needs,
                          where: str) -> list[Problem]:
    """A reported quantity is spread over its region's pixels of its ecosystem type: a region
    without such pixels cannot take it (the run would stop with an error)."""
    if reported.empty:
        return []
    per = counts.reshape(len(regions), len(ECOSYSTEM_TYPES))
    index = {r.code: i for i, r in enumerate(regions)}
    rows = reported[reported["year"].isin(list(needs.years)) & reported["indicator"].isin(list(needs.indicators))]
    problems: list[Problem] = []
    for i, row in rows.iterrows():
        r = index.get(str(row["region_code"]))
        et = str(row["ecosystem_type"] or "")
        if r is None or (et not in ("", "all") and et not in ECOSYSTEM_TYPES):
            continue  # named by check_reported
        n = int(per[r].sum()) if et in ("", "all") else int(per[r, ECOSYSTEM_TYPES.index(et)])
        if n == 0:
            present = [t for t, c in zip(ECOSYSTEM_TYPES, per[r], strict=True) if c]
            problems.append(Problem(f"{where} line {int(i) + 2}", f"reported {row['indicator']} for region "  # type: ignore[call-overload]
                                    f"{row['region_code']} is for ecosystem type '{et or 'any'}', which the region "
                                    f"has no pixel of (it has {', '.join(present) or 'none'})",
                                    "an ecosystem type present in the region's land cover (or empty for all)",
                                    "correct the ecosystem_type column, or the land cover"))
    return problems


def water_balance_facts(precipitation: np.ndarray, aet: np.ndarray, rows: np.ndarray, table: pd.DataFrame,
                        scope: tuple[str, ...]) -> tuple[int, int, float, float]:
    """(pixels in water conservation's scope, those with P − R − ET < 0, sum of P, sum of ET
    over them) with R = storm_runoff_coef × P, as the water-conservation kernel computes it
    (float64); ``rows``: land-cover table row per pixel, −1 where not valid."""
    in_scope = np.append(table["ecosystem_type"].isin(list(scope)).to_numpy() if scope
                         else np.ones(len(table), bool), False)
    alpha = np.append(table["storm_runoff_coef"].to_numpy(np.float64), np.nan)
    sel = in_scope[rows]
    p = precipitation[sel].astype(np.float64)
    e = aet[sel].astype(np.float64)
    a = alpha[rows[sel]]
    balance = (p - a * p) - e
    return int(sel.sum()), int((balance < 0).sum()), float(p.sum()), float(e.sum())


def water_balance_problems(facts: tuple[int, int, float, float], where: str) -> list[Problem]:
    """A warning when P − R − ET < 0 on most pixels where water conservation applies: they
    count as 0, so the indicator all but disappears (ET in mm/a against monthly rain, …)."""
    n, neg, p_sum, e_sum = facts
    if n == 0 or neg <= n / 2:
        return []
    return [Problem(where, f"P − R − ET < 0 on {neg:,} of {n:,} pixels ({100 * neg / n:.1f} %) where water "
                    f"conservation applies (mean precipitation {p_sum / n:,.1f} mm/a, mean ET {e_sum / n:,.1f} mm/a): "
                    "they count as 0, so water conservation is nearly 0",
                    "annual precipitation above runoff plus evapotranspiration on most pixels, as everywhere but "
                    "deserts and irrigated land",
                    "check that precipitation and ET are both annual totals in mm/a (not monthly, not m/a) and the "
                    "storm_runoff_coef column of the land-cover table; if it is right, keep it (this is a warning)",
                    severity="warning")]
