"""Areas of each class of a class raster (land cover) under a polygon, with exact partial-pixel
coverage (exactextract [Baston 2023], as the plot engine weighs pixels: ADR 0004)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import shapely

from ecovalue.errors import DataFileError
from ecovalue.raster import io


def class_areas_m2(path: Path, geometry: Any) -> dict[int, float]:
    """Area in m² of every class value of the raster under ``geometry`` (in the raster's CRS)."""
    from exactextract import exact_extract
    from exactextract.feature import JSONFeatureSource
    from exactextract.raster import NumPyRasterSource

    if not path.is_file():
        raise DataFileError(f"{path}: land-cover raster not found")
    grid = io.info(path).grid
    minx, miny, maxx, maxy = geometry.bounds
    inv = ~grid.transform
    c0, r0 = (int(np.floor(v)) for v in inv @ (minx, maxy))
    c1, r1 = (int(np.ceil(v)) for v in inv @ (maxx, miny))
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, grid.height), min(c1, grid.width)
    if r0 >= r1 or c0 >= c1:
        return {}
    values, valid = io.read(path, (slice(r0, r1), slice(c0, c1)))
    left, top = grid.transform @ (c0, r0)
    right, bottom = grid.transform @ (c1, r1)
    arr = np.where(valid, values, -1).astype(np.int64)
    src = NumPyRasterSource(arr, left, bottom, right, top, nodata=-1)
    feat = {"type": "Feature", "properties": {},
            "geometry": shapely.geometry.mapping(geometry)}
    res = exact_extract(src, JSONFeatureSource([feat]), ["unique", "frac"], output="geojson")
    props = res[0]["properties"]
    cell = grid.pixel_area_m2
    cov = exact_extract(src, JSONFeatureSource([feat]), ["count"], output="geojson")[0]
    covered = float(cov["properties"]["count"]) * cell
    return {int(u): float(f) * covered for u, f in zip(props["unique"], props["frac"], strict=True)}
