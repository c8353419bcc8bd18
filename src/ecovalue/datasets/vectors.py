"""Checks of a dataset's vector layers: the accounting regions, lakes and reservoirs.

Every check appends :class:`~ecovalue.errors.Problem` records and goes on. Geometries are
read with pyogrio and brought into the grid's CRS; a layer whose coordinates cannot be in
its declared CRS (projected metres read as WGS84 degrees, latitude and longitude swapped) is
named as such before any transformation turns them into infinities. Each region must lie
within the rasters' extent: the part of its polygon outside would silently be missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ecovalue.accounting.result import Region
from ecovalue.datasets.manifest import Manifest
from ecovalue.datasets.plausibility import RESERVOIR_CAPACITY, RESERVOIR_DEPTH, slip_hint
from ecovalue.errors import Problem
from ecovalue.raster.grid import Grid

#: A region may reach this share of its area beyond the rasters' extent before it is an error
#: (below it, and above one pixel's area, a warning): a polygon digitised a few metres
#: beyond a raster clipped to the city is harmless, a district cut by a raster that stops
#: short is not (decision 0021).
OUTSIDE_EXTENT_ERROR = 0.005


def same_crs(a: str, b: str) -> bool:
    from pyproj import CRS

    try:
        return bool(CRS.from_user_input(a).equals(CRS.from_user_input(b)))
    except Exception:  # noqa: BLE001 - an unparsable CRS is simply not the same
        return False


def read_vector(path: Path) -> tuple[list[Any], dict[str, list[Any]], str]:
    import pyogrio
    import shapely

    meta, _fids, geoms, fields = pyogrio.raw.read(path)
    cols = {name: list(values) for name, values in zip(meta["fields"], fields, strict=True)}
    return list(shapely.from_wkb(geoms)), cols, meta.get("crs") or ""


def _lon_lat_problem(geoms: list[Any], src_crs: str, where: str, dataset_crs: str) -> Problem | None:
    """A layer in a geographic CRS whose coordinates are no longitudes and latitudes."""
    import shapely
    from pyproj import CRS

    try:
        geographic = CRS.from_user_input(src_crs).is_geographic
    except Exception:  # noqa: BLE001
        return None
    present = [g for g in geoms if g is not None and not g.is_empty]
    if not geographic or not present:
        return None
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(present))
    if -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90:
        return None
    epsg = dataset_crs.split(":")[-1] if dataset_crs.upper().startswith("EPSG:") else "4547"
    declare = (f"declare its CRS: put \"crs\": {{\"type\": \"name\", \"properties\": {{\"name\": "
               f"\"urn:ogc:def:crs:EPSG::{epsg}\"}}}} at the top of the GeoJSON (or export it with "
               f"`ogr2ogr -a_srs EPSG:{epsg}`), or convert it to WGS84 with `ogr2ogr -s_srs EPSG:{epsg} "
               "-t_srs EPSG:4326`")
    span = f"x {x0:,.6g} … {x1:,.6g}, y {y0:,.6g} … {y1:,.6g}"
    if max(abs(x0), abs(x1)) <= 90 and max(abs(y0), abs(y1)) <= 180:
        return Problem(where, f"coordinates look swapped ({span}): the layer is read as {src_crs or 'WGS84'} "
                       "longitude/latitude, and its y values are no latitudes",
                       "longitude first (x), latitude second (y), as GeoJSON (RFC 7946) requires",
                       "swap the coordinates of every point (x = longitude, y = latitude)")
    return Problem(where, f"coordinates look projected ({span}) but the layer is read as {src_crs or 'WGS84'} "
                   "longitude/latitude: a GeoJSON without a 'crs' member is WGS84 by definition (RFC 7946)",
                   "longitudes within ±180 and latitudes within ±90, or a declared projected CRS",
                   declare)


def to_grid_crs(geoms: list[Any], src_crs: str, grid: Grid, where: str,
                problems: list[Problem]) -> list[Any] | None:
    """``geoms`` in the grid's CRS; None (and a problem) when their coordinates cannot be in
    ``src_crs``."""
    import shapely
    from pyproj import Transformer

    bad = _lon_lat_problem(geoms, src_crs, where, grid.crs)
    if bad is not None:
        problems.append(bad)
        return None
    if not src_crs or same_crs(src_crs, grid.crs):
        return geoms
    tr = Transformer.from_crs(src_crs, grid.crs, always_xy=True)
    return [shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
            if g is not None else None for g in geoms]


def load_regions(root: Path, manifest: Manifest, grid: Grid, problems: list[Problem]) -> list[Region]:
    """Read the accounting regions; check codes, names, geometries and that the rasters cover
    them."""
    entry = manifest.vectors.get("regions")
    if entry is None:
        problems.append(Problem("dataset.toml [vectors]", "no 'regions' layer",
                                "[vectors.regions] with code and name fields",
                                "add the accounting regions (e.g. district boundaries)"))
        return []
    try:
        geoms, cols, crs = read_vector(root / entry.path)
    except Exception as exc:  # noqa: BLE001 - GDAL's errors have no common base
        problems.append(Problem(entry.path, f"cannot be read ({exc})", "a GeoJSON/GeoPackage/Shapefile",
                                "check the path and the file"))
        return []
    for f in (entry.code_field, entry.name_zh_field):
        if f not in cols:
            problems.append(Problem(entry.path, f"has no field '{f}' (it has {sorted(cols)})",
                                    f"fields {entry.code_field}, {entry.name_zh_field}, {entry.name_en_field}",
                                    "rename the field or set code_field/name_zh_field in dataset.toml"))
            return []
    moved = to_grid_crs(geoms, crs, grid, entry.path, problems)
    if moved is None:
        return []
    regions: list[Region] = []
    seen: dict[str, int] = {}
    for i, g in enumerate(moved):
        code = str(cols[entry.code_field][i])
        where = f"{entry.path} feature {i} (code {code})"
        if code in seen:
            problems.append(Problem(where, f"duplicate region code (also feature {seen[code]})",
                                    "unique region codes", "give each region its own code"))
        seen[code] = i
        if _region_geometry_ok(g, where, grid, problems):
            name_en = str(cols.get(entry.name_en_field, [""] * len(moved))[i] or "")
            regions.append(Region(code, str(cols[entry.name_zh_field][i]), name_en, g, float(g.area) / 1e6))
    _check_overlaps(regions, entry.path, problems)
    return regions


def _region_geometry_ok(g: Any, where: str, grid: Grid, problems: list[Problem]) -> bool:
    import shapely

    if g is None or g.is_empty:
        problems.append(Problem(where, "geometry is empty", "a polygon", "draw or repair the region polygon"))
        return False
    if g.geom_type not in ("Polygon", "MultiPolygon"):
        problems.append(Problem(where, f"geometry is a {g.geom_type}", "a Polygon or MultiPolygon",
                                "use polygon boundaries for accounting regions"))
        return False
    if not g.is_valid:
        problems.append(Problem(where, f"geometry is invalid ({shapely.is_valid_reason(g)})",
                                "a valid polygon", "repair it (shapely.make_valid, or QGIS 'Fix geometries')"))
        return False
    extent = shapely.box(*grid.bounds)
    if not g.intersects(extent):
        problems.append(Problem(where, "does not overlap the rasters", "regions inside the raster extent",
                                "check both are in the dataset CRS; reproject the region layer"))
        return False
    outside = g.area - g.intersection(extent).area
    if outside > grid.pixel_area_m2:
        share = outside / g.area
        x0, y0, x1, y1 = g.bounds
        left, bottom, right, top = grid.bounds
        sides = [side for side, short in (("west", left - x0), ("east", x1 - right), ("south", bottom - y0),
                                          ("north", y1 - top)) if short > 0]
        cells = max((max(left - x0, x1 - right, 0.0)) / grid.cell_width, (max(bottom - y0, y1 - top, 0.0))
                    / grid.cell_width)
        problems.append(Problem(
            where, f"{100 * share:.2f} % of the region ({outside / 1e6:,.2f} of {g.area / 1e6:,.2f} km²) lies "
            f"outside the rasters' extent ({', '.join(sides)} side{'s' if len(sides) > 1 else ''}, up to "
            f"{cells:.0f} pixels short): that part would be missing from its GEP while its area counts in full",
            "rasters that cover every region entirely",
            "extend the rasters (all of them: land cover first) over the whole region, or clip the region "
            "layer to the area the rasters cover",
            severity="error" if share > OUTSIDE_EXTENT_ERROR else "warning"))
    return True


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


def load_vectors(root: Path, manifest: Manifest, grid: Grid, needs: Any,
                 problems: list[Problem]) -> dict[str, list[Any]]:
    """Read the other vector layers (lakes, reservoirs, …) as Feature lists in the grid CRS
    (every layer of the manifest, whatever ``needs`` asks)."""
    from ecovalue.datasets.loader import Feature

    out: dict[str, list[Any]] = {}
    for key, entry in manifest.vectors.items():
        if key == "regions":
            continue
        try:
            geoms, cols, crs = read_vector(root / entry.path)
        except Exception as exc:  # noqa: BLE001 - GDAL's errors have no common base
            problems.append(Problem(entry.path, f"cannot be read ({exc})", "a readable vector file",
                                    "check the path in dataset.toml"))
            continue
        moved = to_grid_crs(geoms, crs, grid, entry.path, problems)
        if moved is None:
            continue
        feats = []
        for i, g in enumerate(moved):
            if g is None or g.is_empty or not g.is_valid:
                problems.append(Problem(f"{entry.path} feature {i}", "empty or invalid geometry", "a valid polygon",
                                        "repair or remove the feature"))
                continue
            feats.append(Feature(g, {k: v[i] for k, v in cols.items()}))
        out[key] = feats
    if "reservoirs" in out:
        for i, f in enumerate(out["reservoirs"]):
            problems += check_reservoir(f, f"{manifest.vectors['reservoirs'].path} feature {i}")
    return out


def check_reservoir(f: Any, where: str) -> list[Problem]:
    """A reservoir's capacity (万m³): a number ≥ 0, plausible for a reservoir, and a mean depth
    over its outline that a dam can hold (``plausibility.RESERVOIR_*``)."""
    cap = f.attributes.get("capacity_wan_m3")
    name = f.attributes.get("name") or ""
    at = f"{where}{f' ({name})' if name else ''} capacity_wan_m3"
    try:
        v = float(cap)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v < 0:
        return [Problem(at, f"is {cap!r}", "total storage capacity in 万m³ (a number ≥ 0)",
                        "fill in the reservoir's capacity")]
    area = float(f.geometry.area)
    depth = v * 1e4 / area if area > 0 else None
    fix = "check the number and its unit: the column is in 万m³ (10 000 m³)"
    deep = depth is not None and RESERVOIR_DEPTH.ceiling is not None and depth > RESERVOIR_DEPTH.ceiling
    huge = RESERVOIR_CAPACITY.hi is not None and v > RESERVOIR_CAPACITY.hi
    if deep:
        # deeper than any dam is high: a capacity in m³ under the 万m³ header, or an outline
        # that is only a marker; bigger than the Three Gorges as well, it cannot be right
        return [Problem(at, f"{v:,.6g} 万m³ over an outline of {area / 1e6:,.3g} km² means a mean depth of "
                        f"{depth:,.0f} m" + (f", and more than the Three Gorges hold ({RESERVOIR_CAPACITY.hi:,.6g} "
                                             "万m³)" if huge else ""),
                        f"a mean depth below {RESERVOIR_DEPTH.ceiling:g} m ({RESERVOIR_DEPTH.source})",
                        f"{fix}; a capacity in m³ must be divided by 10 000 (e.g. {v:,.0f} m³ = {v / 1e4:,.6g} "
                        "万m³); if the outline is only a marker, draw the reservoir's water surface"
                        + ("" if huge else "; if both are right, keep them (this is a warning)"),
                        severity="error" if huge else "warning")]
    problems: list[Problem] = []
    if depth is not None and RESERVOIR_DEPTH.lo is not None and depth < RESERVOIR_DEPTH.lo:
        problems.append(Problem(at, f"{v:,.6g} 万m³ over an outline of {area / 1e6:,.3g} km² means a mean depth of "
                                f"only {depth:.2g} m", f"a mean depth of at least {RESERVOIR_DEPTH.lo:g} m "
                                f"({RESERVOIR_DEPTH.source})",
                                f"{fix}; a capacity written in 亿m³ must be multiplied by 10 000; if it is right, "
                                "keep it (this is a warning)", severity="warning"))
    if (RESERVOIR_CAPACITY.lo is not None and v < RESERVOIR_CAPACITY.lo) or huge:
        hint = slip_hint((v, v), RESERVOIR_CAPACITY)
        problems.append(Problem(at, f"{v:,.6g} 万m³ is outside the plausible range {RESERVOIR_CAPACITY.range_text()}",
                                f"{RESERVOIR_CAPACITY.range_text()} ({RESERVOIR_CAPACITY.source})",
                                fix + (f": {hint}" if hint else "") + "; if it is right, keep it (this is a warning)",
                                severity="warning"))
    return problems
