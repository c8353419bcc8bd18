"""Boundaries the maps draw: a run's districts and water bodies, parcels, in longitude/latitude.

Districts, lakes and reservoirs come from the run's dataset folder (the same files and
checks the accounting used: ``datasets.validation``), reprojected from the dataset CRS to
WGS 84 for the web map and kept per dataset (files keyed by their modification time).
Geometries sent to browsers are simplified to about a metre's precision (6 decimals of a
degree), which changes no drawn pixel and keeps the GeoJSON small.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from ecovalue.datasets import validation as V
from ecovalue.datasets.manifest import read_manifest
from ecovalue.errors import DataFileError, Problem, ValidationFailed
from ecovalue.raster import io

LONLAT = "EPSG:4326"
PRECISION_DEG = 1e-6
# Boundaries drawn in the browser are simplified as one coverage (shared edges stay shared,
# no gaps or slivers between districts; shapely.coverage_simplify, GEOS ≥ 3.12) within about
# 10 m (1e-4°): invisible at city and district zooms, a fifth of the vertices.
DRAW_TOLERANCE_DEG = 1e-4


@dataclass(frozen=True)
class Place:
    """A region or water body: code, names and geometry (dataset CRS and lon/lat)."""

    code: str
    name_zh: str
    name_en: str
    kind: str  # district | lake | reservoir
    geometry: BaseGeometry  # dataset CRS
    lonlat: BaseGeometry  # exact, for point-in-polygon questions
    area_km2: float
    display: BaseGeometry | None = None  # simplified for drawing (None: ``lonlat``)

    @property
    def drawn(self) -> BaseGeometry:
        return self.display if self.display is not None else self.lonlat


@dataclass(frozen=True)
class Geography:
    """The places of one dataset."""

    crs: str
    districts: tuple[Place, ...]
    water: tuple[Place, ...]

    def district(self, code: str) -> Place | None:
        return next((p for p in self.districts if p.code == code), None)

    def bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north of all districts (lon/lat)."""
        b = shapely.total_bounds([p.lonlat for p in self.districts])
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


@cache
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def reproject(geom: BaseGeometry, src: str, dst: str = LONLAT) -> BaseGeometry:
    """``geom`` from CRS ``src`` to ``dst`` (x/y order always)."""
    tr = _transformer(src, dst)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def for_browser(geom: BaseGeometry) -> BaseGeometry:
    """Coordinates rounded to 1e-6° (about 0.1 m): smaller GeoJSON, same picture."""
    return shapely.set_precision(geom, PRECISION_DEG, mode="pointwise")


_lock = threading.Lock()
_cache: dict[tuple[str, float], Geography] = {}


def _stamp(root: Path) -> float:
    manifest = root / "dataset.toml"
    if not manifest.is_file():
        raise DataFileError(f"{manifest}: the run's dataset is no longer on the server")
    return manifest.stat().st_mtime


def geography(dataset_path: str) -> Geography:
    """The districts and water bodies of a dataset folder (cached)."""
    root = Path(dataset_path)
    key = (str(root.resolve()), _stamp(root))
    with _lock:
        found = _cache.get(key)
    if found is None:
        found = _load(root)
        with _lock:
            _cache[key] = found
    return found


def _load(root: Path) -> Geography:
    manifest, problems = read_manifest(root)
    if manifest is None or "landcover" not in manifest.rasters:
        raise ValidationFailed(problems or [Problem(
            str(root / "dataset.toml"), "names no land-cover raster", "[rasters.landcover]",
            "the run's dataset is incomplete; account a valid dataset")])
    grid = io.info(root / manifest.rasters["landcover"].path).grid
    regions = V.load_regions(root, manifest, grid, problems)
    vectors = V.load_vectors(root, manifest, grid, V.Needs(), problems)
    if any(p.severity == "error" for p in problems):
        raise ValidationFailed(problems)
    exact = [for_browser(reproject(r.geometry, grid.crs)) for r in regions]
    drawn: list[BaseGeometry] = (list(shapely.coverage_simplify(exact, DRAW_TOLERANCE_DEG))
                                 if exact else [])
    districts = tuple(
        Place(r.code, r.name_zh, r.name_en, "district", r.geometry, e, r.area_km2,
              for_browser(shapely.make_valid(d)))
        for r, e, d in zip(regions, exact, drawn, strict=True))
    water = tuple(_water(vectors, grid.crs))
    return Geography(grid.crs, districts, water)


def _water(vectors: Mapping[str, list[Any]], crs: str) -> Iterable[Place]:
    for kind in ("lakes", "reservoirs"):
        for i, f in enumerate(vectors.get(kind, [])):
            name = str(f.attributes.get("name") or f.attributes.get("name_zh") or f"{kind} {i + 1}")
            yield Place(f"{kind}:{i}", name, str(f.attributes.get("name_en") or name),
                        kind.rstrip("s"), f.geometry, for_browser(reproject(f.geometry, crs)),
                        float(f.geometry.area) / 1e6)


def feature(geom: BaseGeometry, properties: Mapping[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature."""
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom),
            "properties": dict(properties)}


def collection(features: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def bbox_filter(bbox: tuple[float, float, float, float] | None, geom: BaseGeometry) -> bool:
    """True when ``geom`` (lon/lat) meets the lon/lat bounding box (always without a box)."""
    if bbox is None:
        return True
    w, s, e, n = bbox
    gw, gs, ge, gn = geom.bounds
    return gw <= e and ge >= w and gs <= n and gn >= s
