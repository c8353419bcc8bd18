"""The Cloud-Optimized GeoTIFFs the engine writes: lossless, DEFLATE with the predictor that fits
the data type, tiled with overviews (``raster/io.py``, ``io.cog_options``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from ecovalue.raster import io
from ecovalue.raster.grid import Grid


def _grid(n: int) -> Grid:
    return Grid("EPSG:4547", Affine(30.0, 0, 500000.0, 0, -30.0, 3400000.0), n, n)


@pytest.mark.parametrize(
    ("dtype", "predictor"), [(np.float32, "3"), (np.float64, "3"), (np.int32, "2")]
)
def test_cog_layers_are_lossless_and_use_the_predictor_of_their_type(
    tmp_path: Path, dtype: type, predictor: str
) -> None:
    rng = np.random.default_rng(1)
    n = 1100  # more than two 512-pixel tiles a side: the COG gets overviews
    if np.dtype(dtype).kind == "f":
        arr = (rng.lognormal(0, 3, (n, n)) * rng.choice([-1, 1], (n, n))).astype(dtype)
        arr[rng.random((n, n)) < 0.1] = np.nan
        nodata: float | None = float("nan")
    else:
        arr = rng.integers(-5, 40, (n, n)).astype(dtype)
        nodata = -1
    path = io.write(tmp_path / "layer.tif", arr, _grid(n), nodata=nodata)
    with rasterio.open(path) as src:
        structure = src.tags(ns="IMAGE_STRUCTURE")
        assert structure["LAYOUT"] == "COG"
        assert structure["COMPRESSION"] == "DEFLATE"
        assert structure["PREDICTOR"] == predictor
        assert src.block_shapes[0] == (512, 512)
        assert src.overviews(1)  # overviews for viewers
        back = src.read(1)
    assert back.dtype == arr.dtype
    assert back.tobytes() == arr.tobytes()  # every bit, NaN included
