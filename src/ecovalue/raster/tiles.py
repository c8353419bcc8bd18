"""Web-map tiles cut from Cloud-Optimized GeoTIFFs with rio-tiler (the web platform's maps).

This module is where the web platform's rasters are opened (the raster layer owns raster
files). A tile is the XYZ tile ``z/x/y`` of Web Mercator (EPSG:3857, the tiling scheme
of MapLibre/OSM, ``morecantile``'s WebMercatorQuad), read from the COG's overviews with
nearest-neighbour resampling (classes must not be smeared), multiplied by ``scale``
(e.g. 元/pixel → 元/ha), binned into the classes given by ``breaks`` and painted with
``colors``; nodata pixels are transparent. rio-tiler (Vincent Sarago et al.,
cogeotiff/rio-tiler) reprojects the window from the dataset CRS (e.g. EPSG:4547).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecovalue.errors import DataFileError

TILE_SIZE = 256
RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class TileRequest:
    """Which tile of which layer, and how to paint it."""

    path: Path
    z: int
    x: int
    y: int
    scale: float
    breaks: tuple[float, ...]  # increasing class edges, len = classes + 1
    colors: tuple[RGBA, ...]  # one per class


def web_optimized_copy(src: Path, dst: Path) -> Path:
    """A copy of ``src`` as a web-optimized COG: reprojected to Web Mercator (nearest) on the
    tile grid itself (GDAL's COG driver, ``TILING_SCHEME=GoogleMapsCompatible``, 256-px
    blocks, zoom levels down from the first one finer than the source), so a tile is one block
    read with no warping: 3 ms instead of 180 ms for a 30 m layer here. Written to a temporary
    name and renamed, so a reader never sees half a file."""
    import rasterio
    import rasterio.shutil

    if not src.is_file():
        raise DataFileError(f"{src}: layer file not found; the run's outputs were moved or deleted")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with rasterio.open(src) as ds:
        zoom = copy_zoom(abs(ds.transform.a), ds.width * ds.height)
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
        rasterio.shutil.copy(src, tmp, driver="COG", TILING_SCHEME="GoogleMapsCompatible",
                             RESAMPLING="NEAREST", COMPRESS="DEFLATE", LEVEL=1,
                             PREDICTOR="FLOATING_POINT", BLOCKSIZE=TILE_SIZE,
                             ZOOM_LEVEL=str(zoom), NUM_THREADS="ALL_CPUS")
    os.replace(tmp, dst)
    return dst


WEB_MERCATOR_Z0_M = 156_543.033928  # pixel size of zoom 0 at the equator (256-px tiles)
COPY_PIXEL_BUDGET = 40_000_000  # pixels a copy may hold (float32 ≈ 160 MB before compression)


def copy_zoom(source_cell_m: float, source_pixels: int) -> int:
    """The zoom level of a layer's web copy: pixels a quarter of the source's (so the second
    nearest-neighbour step moves a class edge by at most an eighth of a source pixel), coarser
    while the copy would exceed ``COPY_PIXEL_BUDGET``, never coarser than the first level
    finer than the source."""
    upper = math.ceil(math.log2(WEB_MERCATOR_Z0_M / source_cell_m))
    zoom = math.ceil(math.log2(4 * WEB_MERCATOR_Z0_M / source_cell_m))
    while zoom > upper:
        cell = WEB_MERCATOR_Z0_M / 2**zoom
        if source_pixels * (source_cell_m / cell) ** 2 <= COPY_PIXEL_BUDGET:
            break
        zoom -= 1
    return zoom


def _reader(path: Path):  # type: ignore[no-untyped-def]
    from rio_tiler.io import Reader

    if not path.is_file():
        raise DataFileError(f"{path}: layer file not found; the run's outputs were moved or deleted")
    return Reader(str(path))


def classify(values: np.ndarray, valid: np.ndarray, breaks: Sequence[float]) -> np.ndarray:
    """Class 1..n of each valid value (edges inclusive at the top, as matplotlib's
    BoundaryNorm bins), 0 where invalid. Values beyond the edges take the end classes."""
    edges = np.asarray(breaks, dtype=np.float64)
    n = len(edges) - 1
    cls = np.searchsorted(edges, values, side="right").clip(1, n)
    return np.where(valid, cls, 0).astype(np.uint8)


def render_tile(req: TileRequest) -> bytes | None:
    """The PNG of one tile, or None when the tile lies outside the layer."""
    from rio_tiler.errors import TileOutsideBounds

    with _reader(req.path) as src:
        try:
            img = src.tile(req.x, req.y, req.z, tilesize=TILE_SIZE, resampling_method="nearest")
        except TileOutsideBounds:
            return None
    data = img.array[0]
    valid = ~np.ma.getmaskarray(data)
    values = np.ma.getdata(data).astype(np.float64) * req.scale
    valid &= np.isfinite(values)
    if not valid.any():
        return None
    classes = classify(values, valid, req.breaks)
    palette = np.zeros((256, 4), np.uint8)
    for i, c in enumerate(req.colors, start=1):
        palette[i] = c
    rgba = palette[classes]  # (h, w, 4)
    return _png(rgba)


def _png(rgba: np.ndarray) -> bytes:
    from rio_tiler.utils import render

    data = np.moveaxis(rgba[..., :3], -1, 0)
    return bytes(render(data, mask=rgba[..., 3], img_format="PNG"))


def preview(path: Path, max_size: int = 1024) -> np.ndarray:
    """The layer's values at most ``max_size`` pixels on the long side (from the overviews),
    NaN where there is no data: enough to choose class breaks."""
    with _reader(path) as src:
        img = src.preview(max_size=max_size, resampling_method="nearest")
    data = img.array[0]
    return np.where(np.ma.getmaskarray(data), np.nan, np.ma.getdata(data)).astype(np.float64)


def point(path: Path, lon: float, lat: float) -> float | None:
    """The layer's value at a longitude/latitude (WGS 84), or None outside or on nodata."""
    from rio_tiler.errors import PointOutsideBounds

    with _reader(path) as src:
        try:
            pt = src.point(lon, lat)
        except PointOutsideBounds:
            return None
    arr = pt.array[0]
    if np.ma.is_masked(arr):
        return None
    value = float(np.ma.getdata(arr))
    return value if np.isfinite(value) else None


def bounds_lonlat(path: Path) -> tuple[float, float, float, float]:
    """The layer's extent in longitude/latitude (west, south, east, north)."""
    with _reader(path) as src:
        w, s, e, n = src.get_geographic_bounds("EPSG:4326")
    return (float(w), float(s), float(e), float(n))
