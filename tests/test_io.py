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


def _write_plain(path: Path, arr: np.ndarray) -> None:
    with rasterio.open(
        path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
        dtype=arr.dtype.name, crs="EPSG:4547", transform=_grid(arr.shape[0]).transform,
    ) as dst:
        dst.write(arr, 1)


def test_kept_open_reads_what_a_fresh_open_reads_and_closes_every_handle(tmp_path: Path) -> None:
    import threading

    arr = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    path = tmp_path / "a.tif"
    _write_plain(path, arr)
    win = (slice(10, 20), slice(0, 64))
    with io.kept_open():
        first = io.read_values(path, win)
        assert io._kept is not None and len(io._kept) == 1
        (handle, _sig), = io._kept.values()
        again = io.read_values(path, win)
        assert list(io._kept.values())[0][0] is handle  # the same handle, not a new open
        other: list[np.ndarray] = []
        t = threading.Thread(target=lambda: other.append(io.read_values(path, win)))
        t.start()
        t.join()
        assert len(io._kept) == 2  # one handle per thread
        # the file is replaced on disk: the next read sees the new content
        _write_plain(path, arr[::-1].copy())
        changed = io.read_values(path, win)
        with io.kept_open():  # nested scopes: the outer one still owns the handles
            pass
        assert io._kept is not None
        handles = [src for src, _ in io._kept.values()]
    assert io._kept is None
    assert all(src.closed for src in handles)
    np.testing.assert_array_equal(first, arr[win])
    np.testing.assert_array_equal(again, arr[win])
    np.testing.assert_array_equal(other[0], arr[win])
    np.testing.assert_array_equal(changed, arr[::-1][win])
    np.testing.assert_array_equal(io.read_values(path, win), arr[::-1][win])  # no scope


def test_kept_open_names_a_missing_file(tmp_path: Path) -> None:
    with io.kept_open(), pytest.raises(io.DataFileError, match="missing.tif"):
        io.read_values(tmp_path / "missing.tif")
