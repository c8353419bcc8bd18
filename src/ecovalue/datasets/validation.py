"""Checks of a dataset's rasters, vectors and tables, each returning :class:`Problem` records.

Every check reports where the problem is, what is wrong, what was expected and how to fix
it; checks never stop at the first problem. Loading helpers here read files through
``ecovalue.raster.io`` and convert values to the canonical units of ``expectations.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecovalue.accounting.result import Region
from ecovalue.datasets.expectations import (
    ECOSYSTEM_TYPES,
    LANDCOVER_COLUMNS,
    RASTERS,
    statistics_unit,
)
from ecovalue.datasets.manifest import Manifest
from ecovalue.errors import DataFileError, Problem, UnitError
from ecovalue.raster import io
from ecovalue.raster.grid import Grid
from ecovalue.units import conversion_factor, parse_unit

if TYPE_CHECKING:
    from ecovalue.accounting.profiles import Profile

STATISTICS_COLUMNS = ["region_code", "year", "item", "indicator", "quantity", "unit", "source"]
REPORTED_COLUMNS = ["region_code", "year", "indicator", "ecosystem_type", "quantity", "unit",
                    "department", "mode", "source", "sub_item"]  # source, sub_item optional
PRICES_COLUMNS = ["item", "value", "unit", "price_year", "region", "source"]
MAX_LISTED = 8  # how many offending items a message lists before "…"


def _listing(items: list[Any]) -> str:
    items = list(items)
    head = ", ".join(str(i) for i in items[:MAX_LISTED])
    return head + (f", … ({len(items)} in all)" if len(items) > MAX_LISTED else "")


@dataclass
class Needs:
    """What the chosen indicators require of a dataset."""

    rasters: set[str] = field(default_factory=lambda: {"landcover"})
    optional_rasters: set[str] = field(default_factory=set)
    landcover_columns: set[str] = field(default_factory=set)
    statistics_items: dict[str, set[str]] = field(default_factory=dict)  # item -> indicators needing it
    provisioning: set[str] = field(default_factory=set)
    provisioning_method: str = "quantity_x_price"
    years: tuple[int, ...] = ()
    needs_vectors: set[str] = field(default_factory=set)


def needs_for_profile(profile: Profile, years: tuple[int, ...]) -> Needs:
    """Collect the inputs the profile's indicators need for the given years."""
    from ecovalue.accounting.catalogue import INDICATORS, PROVISIONING_PRODUCT_INDICATORS

    n = Needs(years=years, provisioning_method=profile.methods.get("provisioning", "quantity_x_price"))
    for ind in profile.indicators:
        spec = INDICATORS[ind]
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
    if "soil_retention" in profile.indicators or "flood_regulation" in profile.indicators:
        n.needs_vectors.update({"lakes", "reservoirs"} if "flood_regulation" in profile.indicators else set())
    if profile.switches.get("cap_air_by_emissions") and "air_purification" in profile.indicators:
        for x in ("so2", "nox", "dust"):
            n.statistics_items.setdefault(f"emission:{x}", set()).add("air_purification")
    if profile.switches.get("cap_water_by_loads") and "water_purification" in profile.indicators:
        for x in ("cod", "nh3n", "tn", "tp"):
            n.statistics_items.setdefault(f"load:{x}", set()).add("water_purification")
    return n


def table_path(manifest: Manifest, key: str) -> str:
    return manifest.tables[key].path if key in manifest.tables else f"tables.{key}"


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
    if not _same_crs(grid.crs, manifest.dataset.crs):
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


def _same_crs(a: str, b: str) -> bool:
    from pyproj import CRS

    try:
        return bool(CRS.from_user_input(a).equals(CRS.from_user_input(b)))
    except Exception:
        return False


def _crs_is_metric(crs: str) -> bool:
    from pyproj import CRS

    try:
        c = CRS.from_user_input(crs)
        return bool(c.is_projected and c.axis_info[0].unit_name in ("metre", "meter"))
    except Exception:
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
    canonical, lo, hi, resampling = RASTERS.get(key, (entry.unit, None, None, "bilinear"))
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
    _check_range(key, entry.path, arr, valid, lo, hi, canonical, problems)
    return arr, valid


def _check_range(key: str, path: str, arr: np.ndarray, valid: np.ndarray, lo: float | None, hi: float | None,
                 unit: str, problems: list[Problem]) -> None:
    vals = arr[valid]
    if vals.size == 0:
        return
    vmin, vmax = float(vals.min()), float(vals.max())
    if lo is not None and vmin < lo:
        n = int((vals < lo).sum())
        problems.append(Problem(path, f"{key} has {n} pixels below {lo:g} {unit} (minimum {vmin:g})",
                                f"{key} within [{lo:g}, {hi:g}] {unit}",
                                "check the unit in dataset.toml and the nodata value of the file"))
    if hi is not None and vmax > hi:
        n = int((vals > hi).sum())
        problems.append(Problem(path, f"{key} has {n} pixels above {hi:g} {unit} (maximum {vmax:g})",
                                f"{key} within [{lo:g}, {hi:g}] {unit}",
                                "check the unit in dataset.toml (e.g. SI vs US units for K) and the data"))


def check_raster_coverage(rasters: dict[str, np.ndarray], masks: dict[str, np.ndarray], inside: np.ndarray,
                          problems: list[Problem]) -> None:
    """Every pixel inside the regions must have data in every loaded raster (NaN counts as nodata)."""
    total = int(inside.sum())
    for key, valid in masks.items():
        holes = inside & ~valid
        n = int(holes.sum())
        if n:
            r, c = (int(x[0]) for x in np.nonzero(holes))
            problems.append(Problem(
                f"raster '{key}'", f"{n} pixels ({100 * n / max(total, 1):.2f} %) inside the accounting regions "
                f"have no data (nodata or NaN; first at row {r}, col {c})",
                "a value for every pixel inside the regions",
                "fill the gaps (e.g. interpolate, or use the class mean) or clip the regions to the data"))


# ------------------------------------------------------------------ vectors


def _read_vector(path: Path) -> tuple[list[Any], dict[str, list[Any]], str]:
    import pyogrio
    import shapely

    meta, _fids, geoms, fields = pyogrio.raw.read(path)
    cols = {name: list(values) for name, values in zip(meta["fields"], fields, strict=True)}
    return list(shapely.from_wkb(geoms)), cols, meta.get("crs") or ""


def _to_grid_crs(geoms: list[Any], src_crs: str, dst_crs: str) -> list[Any]:
    import shapely
    from pyproj import Transformer

    if not src_crs or _same_crs(src_crs, dst_crs):
        return geoms
    tr = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    return [shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
            if g is not None else None for g in geoms]


def load_regions(root: Path, manifest: Manifest, grid: Grid, problems: list[Problem]) -> list[Region]:
    """Read the accounting regions; check codes, names and geometries."""
    import shapely

    entry = manifest.vectors.get("regions")
    if entry is None:
        problems.append(Problem("dataset.toml [vectors]", "no 'regions' layer",
                                "[vectors.regions] with code and name fields",
                                "add the accounting regions (e.g. district boundaries)"))
        return []
    path = root / entry.path
    try:
        geoms, cols, crs = _read_vector(path)
    except Exception as exc:
        problems.append(Problem(entry.path, f"cannot be read ({exc})", "a GeoJSON/GeoPackage/Shapefile",
                                "check the path and the file"))
        return []
    for f in (entry.code_field, entry.name_zh_field):
        if f not in cols:
            problems.append(Problem(entry.path, f"has no field '{f}'", f"fields {entry.code_field}, "
                                    f"{entry.name_zh_field}, {entry.name_en_field}",
                                    "rename the field or set code_field/name_zh_field in dataset.toml"))
            return []
    geoms = _to_grid_crs(geoms, crs, grid.crs)
    left, bottom, right, top = grid.bounds
    extent = shapely.box(left, bottom, right, top)
    regions: list[Region] = []
    seen: dict[str, int] = {}
    for i, g in enumerate(geoms):
        code = str(cols[entry.code_field][i])
        where = f"{entry.path} feature {i} (code {code})"
        if code in seen:
            problems.append(Problem(where, f"duplicate region code (also feature {seen[code]})",
                                    "unique region codes", "give each region its own code"))
        seen[code] = i
        if g is None or g.is_empty:
            problems.append(Problem(where, "geometry is empty", "a polygon", "draw or repair the region polygon"))
            continue
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(Problem(where, f"geometry is a {g.geom_type}", "a Polygon or MultiPolygon",
                                    "use polygon boundaries for accounting regions"))
            continue
        if not g.is_valid:
            problems.append(Problem(where, f"geometry is invalid ({shapely.is_valid_reason(g)})",
                                    "a valid polygon", "repair it (shapely.make_valid, or QGIS 'Fix geometries')"))
            continue
        if not g.intersects(extent):
            problems.append(Problem(where, "does not overlap the rasters", "regions inside the raster extent",
                                    "check both are in the dataset CRS; reproject the region layer"))
            continue
        name_en = str(cols.get(entry.name_en_field, [""] * len(geoms))[i] or "")
        regions.append(Region(code, str(cols[entry.name_zh_field][i]), name_en, g, float(g.area) / 1e6))
    _check_overlaps(regions, entry.path, problems)
    return regions


def _check_overlaps(regions: list[Region], where: str, problems: list[Problem]) -> None:
    import shapely

    if len(regions) < 2:
        return
    tree = shapely.STRtree([r.geometry for r in regions])
    left, right = tree.query([r.geometry for r in regions], predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a >= b:
            continue
        ra, rb = regions[a], regions[b]
        shared = ra.geometry.intersection(rb.geometry).area / 1e6
        if shared > 1e-3 * min(ra.area_km2, rb.area_km2) and shared > 0.01:
            problems.append(Problem(f"{where} regions {ra.code} and {rb.code}", f"overlap by {shared:.3f} km²",
                                    "regions that do not overlap (each pixel counted once)",
                                    "fix the boundaries so neighbouring regions only touch"))


def rasterize_regions(regions: list[Region], grid: Grid) -> np.ndarray:
    """Index of the region covering each pixel centre (-1 outside all regions)."""
    from rasterio import features

    if not regions:
        return np.full(grid.shape, -1, np.int32)
    shapes = [(r.geometry, i) for i, r in enumerate(regions)]
    return features.rasterize(shapes, out_shape=grid.shape, transform=grid.transform, fill=-1,
                              dtype="int32", all_touched=False)


def load_vectors(root: Path, manifest: Manifest, grid: Grid, needs: Needs, problems: list[Problem]) -> dict[str, list[Any]]:
    """Read the other vector layers (lakes, reservoirs, …) as Feature lists in the grid CRS."""
    from ecovalue.datasets.loader import Feature

    out: dict[str, list[Any]] = {}
    for key, entry in manifest.vectors.items():
        if key == "regions":
            continue
        try:
            geoms, cols, crs = _read_vector(root / entry.path)
        except Exception as exc:
            problems.append(Problem(entry.path, f"cannot be read ({exc})", "a readable vector file",
                                    "check the path in dataset.toml"))
            continue
        geoms = _to_grid_crs(geoms, crs, grid.crs)
        feats = []
        for i, g in enumerate(geoms):
            if g is None or g.is_empty or not g.is_valid:
                problems.append(Problem(f"{entry.path} feature {i}", "empty or invalid geometry", "a valid polygon",
                                        "repair or remove the feature"))
                continue
            feats.append(Feature(g, {k: v[i] for k, v in cols.items()}))
        out[key] = feats
    if "reservoirs" in out:
        for i, f in enumerate(out["reservoirs"]):
            cap = f.attributes.get("capacity_wan_m3")
            if cap is None or not np.isfinite(float(cap)) or float(cap) < 0:
                problems.append(Problem(f"{manifest.vectors['reservoirs'].path} feature {i}",
                                        f"capacity_wan_m3 is {cap!r}", "total storage capacity in 万m³ (≥ 0)",
                                        "fill in the reservoir's capacity"))
    return out


# ------------------------------------------------------------------ tables


def _read_csv(root: Path, manifest: Manifest, key: str, columns: list[str], problems: list[Problem],
              required: bool) -> pd.DataFrame | None:
    if key not in manifest.tables:
        if required:
            problems.append(Problem("dataset.toml [tables]", f"no '{key}' table", f"[tables.{key}] with a CSV path",
                                    "add the table (see docs/dataset-format.md)"))
        return None
    path = root / manifest.tables[key].path
    try:
        df = pd.read_csv(path, dtype={"region_code": str, "item": str, "code": "Int64"}, keep_default_na=False,
                         na_values=[""])
    except FileNotFoundError:
        problems.append(Problem(manifest.tables[key].path, "file not found", f"the {key} CSV table",
                                "check the path in dataset.toml"))
        return None
    except Exception as exc:
        problems.append(Problem(manifest.tables[key].path, f"cannot be read as CSV ({exc})", "a UTF-8 CSV file",
                                "save it as CSV (UTF-8)"))
        return None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        problems.append(Problem(manifest.tables[key].path, f"lacks columns {missing}", f"columns {columns}",
                                "add the missing columns (see docs/dataset-format.md)"))
        return None
    return df


def load_landcover_table(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = _read_csv(root, manifest, "landcover", ["code", "name_zh", "ecosystem_type"], problems, required=True)
    if df is None:
        return None
    declared = manifest.tables["landcover"].units
    return normalise_landcover_table(df, declared, manifest.tables["landcover"].path, problems)


def normalise_landcover_table(df: pd.DataFrame, declared_units: dict[str, str], where: str,
                              problems: list[Problem]) -> pd.DataFrame | None:
    """Check codes, ecosystem types, units and ranges; convert columns to canonical units."""
    out = df.copy()
    if out["code"].isna().any() or out["code"].duplicated().any():
        dup = out.loc[out["code"].duplicated(), "code"].tolist()
        problems.append(Problem(where, f"has empty or duplicate codes {dup}", "one row per land-cover code",
                                "give every row a unique integer code"))
        return None
    bad_types = sorted(set(out["ecosystem_type"]) - set(ECOSYSTEM_TYPES))
    if bad_types:
        problems.append(Problem(f"{where} column ecosystem_type", f"unknown types {bad_types}",
                                f"one of {list(ECOSYSTEM_TYPES)}", "map each class to one of these types"))
    for col in out.columns:
        if col in ("code", "name_zh", "name_en", "ecosystem_type"):
            continue
        if col not in LANDCOVER_COLUMNS:
            continue
        canonical, lo, hi = LANDCOVER_COLUMNS[col]
        unit = declared_units.get(col)
        if unit is None:
            problems.append(Problem(f"{where} column {col}", "has no unit", f"a unit convertible to {canonical}",
                                    f"add {col} = \"{canonical}\" to units in [tables.landcover] of dataset.toml"))
            continue
        try:
            factor = conversion_factor(unit, canonical, f"{where} column {col}")
        except UnitError as exc:
            problems.append(Problem(f"{where} column {col}", str(exc), f"a unit convertible to {canonical}",
                                    "correct the unit in dataset.toml"))
            continue
        vals = pd.to_numeric(out[col], errors="coerce")
        if vals.isna().any():
            rows = out.loc[vals.isna(), "code"].tolist()
            problems.append(Problem(f"{where} column {col}", f"has empty or non-numeric values for codes {rows}",
                                    "a number for every class (0 where the service does not apply)",
                                    "fill in the values"))
            continue
        vals = vals * factor
        bad = out.loc[(vals < lo) | (vals > hi), "code"].tolist()
        if bad:
            problems.append(Problem(f"{where} column {col}", f"values outside [{lo:g}, {hi:g}] {canonical} for codes "
                                    f"{_listing(bad)}", f"{col} within [{lo:g}, {hi:g}] {canonical}",
                                    "check the value and its unit"))
        out[col] = vals.astype(float)
    out["code"] = out["code"].astype(int)
    return out.set_index("code", drop=False)


def check_landcover_codes(lc: np.ndarray, mask: np.ndarray, table: pd.DataFrame, where: str) -> list[Problem]:
    """A land-cover code present in the raster but missing from the table is an error."""
    present = np.unique(lc[mask])
    missing = sorted(int(c) for c in set(present.tolist()) - set(int(c) for c in table.index))
    if not missing:
        return []
    counts = {c: int((lc[mask] == c).sum()) for c in missing[:MAX_LISTED]}
    return [Problem(where, f"land-cover codes {_listing(missing)} occur in the raster "
                    f"(pixels: {counts}) but have no row in the land-cover table",
                    "a row for every code in the land-cover raster",
                    "add rows for these codes (never leave them out: they would count as zero)")]


def check_landcover_columns(table: pd.DataFrame, needs: Needs, where: str) -> list[Problem]:
    missing = sorted(needs.landcover_columns - set(table.columns))
    if not missing:
        return []
    return [Problem(where, f"lacks columns {missing} needed by the profile's indicators",
                    "the columns listed in docs/dataset-format.md",
                    "add the columns, or drop the indicators that need them from your profile")]


def load_statistics(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = _read_csv(root, manifest, "statistics", ["region_code", "year", "item", "quantity", "unit"], problems,
                   required=False)
    if df is None:
        return None
    return normalise_statistics(df, manifest.tables["statistics"].path, problems)


def normalise_statistics(df: pd.DataFrame, where: str, problems: list[Problem]) -> pd.DataFrame:
    """Check every statistics row (item, unit, quantity) and convert quantities to canonical units."""
    df = df.copy()
    if "indicator" not in df.columns:
        df["indicator"] = ""
    if "source" not in df.columns:
        df["source"] = ""
    df["indicator"] = df["indicator"].fillna("").astype(str)
    df["source"] = df["source"].fillna("").astype(str)
    df["quantity"] = pd.to_numeric(df["quantity"], errors="coerce")
    for i, row in df.iterrows():
        line = f"{where} line {int(i) + 2} ({row['region_code']}, {row['year']}, {row['item']})"  # type: ignore[call-overload]
        if pd.isna(row["quantity"]):
            problems.append(Problem(line, "quantity is empty or not a number", "a number", "fill in the quantity"))
            continue
        canonical = statistics_unit(str(row["item"]))
        if canonical is None:
            problems.append(Problem(line, f"unknown item '{row['item']}'", "an item of docs/dataset-format.md",
                                    "rename the item or remove the row", severity="warning"))
            continue
        if not isinstance(row["unit"], str) or not row["unit"].strip():
            problems.append(Problem(line, "has no unit", f"a unit such as {canonical}", "fill in the unit column"))
            continue
        try:
            parse_unit(row["unit"], line)
            if canonical != "*":
                df.at[i, "quantity"] = row["quantity"] * conversion_factor(row["unit"], canonical, line)
                df.at[i, "unit"] = canonical
        except UnitError as exc:
            problems.append(Problem(line, str(exc), f"a unit convertible to {canonical}", "correct the unit"))
            continue
        if row["quantity"] < 0:
            problems.append(Problem(line, f"quantity {row['quantity']} is negative", "a quantity ≥ 0",
                                    "correct the number"))
        if str(row["item"]).startswith("product:") and row["indicator"] not in (
                "agriculture", "forestry", "livestock", "fishery", "other_products"):
            problems.append(Problem(line, f"product row has indicator '{row['indicator']}'",
                                    "agriculture, forestry, livestock, fishery or other_products",
                                    "fill in the indicator column for product rows"))
    df["year"] = pd.to_numeric(df["year"], errors="coerce").astype("Int64")
    return df


def check_statistics(stats: pd.DataFrame, region_codes: list[str], needs: Needs, where: str) -> list[Problem]:
    """Every region needs every required item for every accounting year."""
    problems: list[Problem] = []
    unknown = sorted(set(stats["region_code"]) - set(region_codes))
    if unknown:
        problems.append(Problem(where, f"rows for unknown region codes {_listing(unknown)}",
                                f"codes of the regions layer ({_listing(region_codes)})",
                                "correct the codes or add the regions", severity="warning"))
    for year in needs.years:
        ys = stats[stats["year"] == year]
        if ys.empty and (needs.statistics_items or needs.provisioning):
            problems.append(Problem(where, f"no statistics at all for year {year}", f"rows for year {year}",
                                    f"add the {year} statistics, or account another year"))
            continue
        have = set(zip(ys["region_code"], ys["item"], strict=True))
        for item, inds in sorted(needs.statistics_items.items()):
            lacking = [c for c in region_codes if (c, item) not in have]
            if lacking:
                problems.append(Problem(where, f"'{item}' (needed by {', '.join(sorted(inds))}) missing for year "
                                        f"{year} in regions {_listing(lacking)}",
                                        "a row per region and year (write 0 if there truly is none)",
                                        f"add '{item}' rows for these regions"))
        for ind in sorted(needs.provisioning):
            if needs.provisioning_method == "reported_output_value":
                key = f"output_value:{ind}"
                rows = ys[ys["item"] == key]
            else:
                rows = ys[(ys["indicator"] == ind) & ys["item"].str.startswith("product:")]
            if rows.empty:
                problems.append(Problem(where, f"no {ind} statistics for year {year} in any region",
                                        f"product rows (or output_value:{ind}) for {ind}",
                                        f"add them, or drop '{ind}' from your profile"))
    return problems


def load_reported(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = _read_csv(root, manifest, "reported", REPORTED_COLUMNS[:8], problems, required=False)
    if df is None:
        return None
    for col in ("source", "sub_item"):
        if col not in df.columns:
            df[col] = ""
    df["sub_item"] = df["sub_item"].astype(object).where(df["sub_item"].notna(), "").astype(str).str.strip()
    df["quantity"] = pd.to_numeric(df["quantity"], errors="coerce")
    df["ecosystem_type"] = df["ecosystem_type"].astype(object).where(df["ecosystem_type"].notna(), "").astype(str)
    df["year"] = pd.to_numeric(df["year"], errors="coerce").astype("Int64")
    return df


def check_reported(df: pd.DataFrame, region_codes: list[str], where: str) -> list[Problem]:
    """Reported quantities must name a known region, indicator, mode and a compatible unit."""
    from ecovalue.accounting.catalogue import INDICATORS

    problems: list[Problem] = []
    for i, row in df.iterrows():
        line = f"{where} line {int(i) + 2}"  # type: ignore[call-overload]
        if row["region_code"] not in region_codes:
            problems.append(Problem(line, f"unknown region code {row['region_code']}", "a code of the regions layer",
                                    "correct the code"))
        spec = INDICATORS.get(str(row["indicator"]))
        if spec is None:
            problems.append(Problem(line, f"unknown indicator '{row['indicator']}'", f"one of {sorted(INDICATORS)}",
                                    "use the indicator id of the catalogue"))
            continue
        if row["mode"] not in ("replace", "complement"):
            problems.append(Problem(line, f"mode '{row['mode']}'", "replace or complement", "set the mode column"))
        if pd.isna(row["quantity"]) or row["quantity"] < 0:
            problems.append(Problem(line, f"quantity {row['quantity']!r}", "a number ≥ 0", "fill in the quantity"))
        et = row["ecosystem_type"]
        if et and et != "all" and et not in ECOSYSTEM_TYPES:
            problems.append(Problem(line, f"ecosystem_type '{et}'", f"empty, 'all' or one of {list(ECOSYSTEM_TYPES)}",
                                    "correct the ecosystem type"))
        sub = str(row.get("sub_item", "") or "")
        subs = [x.id for x in spec.sub_items]
        if sub and sub not in subs:
            problems.append(Problem(
                line, f"sub_item '{sub}' of {spec.id}",
                f"empty (the indicator's total) or one of {subs}" if subs else "empty: the indicator has no sub-items",
                "correct the sub_item column (docs/dataset-format.md lists each indicator's sub-items)"))
        try:
            df.at[i, "quantity"] = row["quantity"] * conversion_factor(str(row["unit"]), spec.physical_unit, line)
            df.at[i, "unit"] = spec.physical_unit
        except UnitError as exc:
            problems.append(Problem(line, str(exc), f"a unit convertible to {spec.physical_unit}",
                                    "correct the unit"))
    return problems


def _overlap(a: str, b: str) -> bool:
    """Two scopes of ecosystem type or sub-item overlap: equal, or one of them is '' (all)."""
    return a == b or not a or not b


def _num(x: Any) -> str:
    try:
        return f"{float(x):g}"
    except (TypeError, ValueError):
        return repr(x)


def reported_conflicts(df: pd.DataFrame, where: str) -> list[Problem]:
    """Two reported rows for the same pixels — same year, region and indicator, overlapping
    ecosystem types ('' / 'all' = every type) and sub-items ('' = the total) — in any mode:
    the one applied last would win silently, so each pair is an error naming both lines."""
    problems: list[Problem] = []
    if df.empty:
        return problems
    et = df["ecosystem_type"].astype(object).where(df["ecosystem_type"].notna(), "").astype(str)
    et = et.where(~et.isin(["all", "nan"]), "")
    sub = (df["sub_item"].astype(object).where(df["sub_item"].notna(), "").astype(str)
           if "sub_item" in df.columns else pd.Series("", index=df.index))
    keys = zip(df["year"], df["region_code"].astype(str), df["indicator"].astype(str), strict=True)
    groups: dict[tuple[Any, str, str], list[Any]] = {}
    for i, key in zip(df.index, keys, strict=True):
        groups.setdefault(key, []).append(i)
    for (year, code, ind), idx in groups.items():
        for n, i in enumerate(idx):
            for j in idx[:n]:
                if not (_overlap(et[i], et[j]) and _overlap(sub[i], sub[j])):
                    continue
                scope = " ".join(x for x in (et[i] or et[j], sub[i] or sub[j]) if x) or "all types"
                problems.append(Problem(
                    f"{where} lines {int(j) + 2} and {int(i) + 2}",
                    f"two rows report {ind} for region {code} in {year} for the same pixels ({scope}; "
                    f"{df.at[j, 'mode']} {_num(df.at[j, 'quantity'])} by {df.at[j, 'department']}, "
                    f"{df.at[i, 'mode']} {_num(df.at[i, 'quantity'])} by {df.at[i, 'department']})",
                    "one number per region, indicator, ecosystem type and sub-item",
                    "keep the row that is right and delete the other, or split them by ecosystem_type "
                    "or sub_item so that they cover different pixels"))
    return problems


def load_prices(root: Path, manifest: Manifest, problems: list[Problem]) -> pd.DataFrame | None:
    df = _read_csv(root, manifest, "prices", PRICES_COLUMNS[:4], problems, required=False)
    if df is None:
        return None
    where = manifest.tables["prices"].path
    for col in ("region", "source"):
        if col not in df.columns:
            df[col] = ""
    for i, row in df.iterrows():
        line = f"{where} line {int(i) + 2} ({row['item']})"  # type: ignore[call-overload]
        try:
            u = parse_unit(str(row["unit"]), line)
            if "[currency]" not in str(u.dimensionality):
                problems.append(Problem(line, f"unit '{row['unit']}' is not a price", "CNY per unit of quantity",
                                        "write e.g. CNY/t"))
        except UnitError as exc:
            problems.append(Problem(line, str(exc), "a price unit such as CNY/t", "correct the unit"))
        if pd.isna(pd.to_numeric(row["value"], errors="coerce")):
            problems.append(Problem(line, f"value {row['value']!r} is not a number", "a price", "fill in the price"))
    return df


def check_prices(stats: pd.DataFrame, prices: pd.DataFrame, needs: Needs, where: str) -> list[Problem]:
    """Every product quantity needs a price whose unit matches the quantity's unit."""
    if needs.provisioning_method != "quantity_x_price" or not needs.provisioning:
        return []
    problems: list[Problem] = []
    by_item = {str(r["item"]): r for _, r in prices.iterrows()}
    rows = stats[stats["item"].str.startswith("product:") & stats["year"].isin(list(needs.years))
                 & stats["indicator"].isin(list(needs.provisioning))]
    for item, grp in rows.groupby("item"):
        if item not in by_item:
            problems.append(Problem(where, f"no price for '{item}'", f"a row item={item} with value and unit",
                                    f"add the local price of {str(item)[8:]} (CNY per {grp['unit'].iloc[0]})"))
            continue
        punit = str(by_item[item]["unit"])
        for qunit in sorted(set(grp["unit"])):
            try:
                conversion_factor(f"({qunit}) * ({punit})", "CNY", f"price of {item}")
            except UnitError:
                problems.append(Problem(where, f"price of '{item}' is in {punit} but quantities are in {qunit}",
                                        f"a price in CNY per {qunit}", "make the units match"))
    return problems


def load_price_index(root: Path, manifest: Manifest, problems: list[Problem]) -> dict[int, float] | None:
    df = _read_csv(root, manifest, "price_index", ["year", "index"], problems, required=False)
    if df is None:
        return None
    out: dict[int, float] = {}
    for i, row in df.iterrows():
        v = pd.to_numeric(row["index"], errors="coerce")
        if pd.isna(v) or v <= 0:
            problems.append(Problem(f"{manifest.tables['price_index'].path} line {int(i) + 2}",  # type: ignore[call-overload]
                                    f"index {row['index']!r}", "a positive number", "correct the index value"))
            continue
        out[int(row["year"])] = float(v)
    return out


@dataclass
class Tables:
    """The statistics, reported quantities, prices and price index of a dataset (empty when
    the dataset has none)."""

    statistics: pd.DataFrame
    reported: pd.DataFrame
    prices: pd.DataFrame
    price_index: dict[int, float]


def load_tables(root: Path, manifest: Manifest, region_codes: list[str], needs: Needs,
                problems: list[Problem]) -> Tables:
    """Read the statistics, reported, prices and price-index tables and check them against the
    regions and what the profile needs; problems are appended to ``problems``."""
    stats = load_statistics(root, manifest, problems)
    reported = load_reported(root, manifest, problems)
    prices = load_prices(root, manifest, problems)
    index = load_price_index(root, manifest, problems)
    if stats is not None:
        problems += check_statistics(stats, region_codes, needs, where=table_path(manifest, "statistics"))
    if reported is not None:
        problems += check_reported(reported, region_codes, table_path(manifest, "reported"))
        problems += reported_conflicts(reported, table_path(manifest, "reported"))
    if stats is not None and prices is not None and needs.years:
        problems += check_prices(stats, prices, needs, table_path(manifest, "prices"))
    return Tables(
        statistics=stats if stats is not None else pd.DataFrame(columns=STATISTICS_COLUMNS),
        reported=reported if reported is not None else pd.DataFrame(columns=REPORTED_COLUMNS),
        prices=prices if prices is not None else pd.DataFrame(columns=PRICES_COLUMNS),
        price_index=index or {},
    )
