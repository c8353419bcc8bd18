"""Block work of the streamed account (``accounting/streaming_blocks.py``) and the in-place model
arithmetic it relies on: every shortcut gives the bits of the plain computation.

* blocks that take their valid mask from the scan and read only the rasters their indicators
  use give the same sums, bit for bit, as blocks that read every raster;
* the vectorised lake/reservoir storage equals adding polygon after polygon;
* the in-place RWEQ and rate × area arithmetic equals the textbook expressions, and bad
  input still raises.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.tiny import write_tiny_dataset
from tests.ulp import assert_within_ulps, sand_fixed_ulp_bound

from ecovalue.accounting import streaming as S
from ecovalue.accounting import streaming_blocks as B
from ecovalue.errors import InputError
from ecovalue.models import common, sand_fixation


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[B.Plan, dict[str, Any]]:
    """A plan on the tiny dataset after the scan, the spreads and the routing (LS in memory)."""
    from ecovalue.accounting.profiles import load_profile
    from ecovalue.accounting.streaming_meta import open_meta

    tmp = tmp_path_factory.mktemp("blocks")
    root = write_tiny_dataset(tmp / "d")
    prof = load_profile("cn-2022")
    meta = open_meta(root, prof, None)
    plan, _notes, _params = S._make_plan(meta, prof, meta.year)
    blocks = S._blocks(meta.grid.height, 3)
    scan = S._reduce_scan(B.scan_block(plan, a, b, True) for a, b in blocks)
    S._prepare_block_indicators(plan, S._probe_context(plan), scan)
    S._routing_step(plan, tmp, True, 1)
    return plan, scan


def _all_sums(plan: B.Plan, rows: int) -> list[tuple[Any, ...]]:
    chunks = S._blocks(plan.grid.height, 5)
    out = []
    for a, b in chunks:
        r = B.pass1_chunk(plan, a, b, rows)
        flat = []
        for ind, s in r["sums"].items():
            parts = s.items() if isinstance(s, dict) else [("", s)]
            flat += [(ind, pol, arr.tobytes()) for pol, arr in parts]
        out.append((r["notes"], flat))
    return out


def test_blocks_on_the_scan_mask_give_the_sums_of_blocks_reading_every_raster(
    prepared: tuple[B.Plan, dict[str, Any]],
) -> None:
    plan, scan = prepared
    plan.valid = None
    eager = _all_sums(plan, 2)
    plan.valid = scan["valid"]
    try:
        lazy = _all_sums(plan, 2)
        assert any(flat for _notes, flat in lazy)  # indicators were summed
        assert lazy == eager
    finally:
        plan.valid = None


def test_soil_retention_on_a_block_without_the_global_ls_is_refused(
    prepared: tuple[B.Plan, dict[str, Any]],
) -> None:
    plan, _scan = prepared
    ls, plan.ls = plan.ls, None
    try:
        with pytest.raises(RuntimeError, match="needs the global LS factor"):
            B.pass1_chunk(plan, 0, 5, 2, ("soil_retention",))
        assert B.pass1_chunk(plan, 0, 5, 2, ("water_conservation",))["sums"]
    finally:
        plan.ls = ls


def test_lazy_rasters_read_only_what_is_asked(prepared: tuple[B.Plan, dict[str, Any]]) -> None:
    plan, _scan = prepared
    rasters = B.LazyRasters(plan, 0, 2)
    assert "landcover" in rasters and "npp" in rasters and "no_such_raster" not in rasters
    assert len(rasters) == 0  # nothing read yet
    expected, _valid = B.read_block(plan, "npp", 0, 2)
    assert rasters["npp"].tobytes() == expected.tobytes()
    assert list(rasters) == ["npp"]
    assert rasters.get("no_such_raster") is None
    with pytest.raises(KeyError):
        rasters["no_such_raster"]


def test_pollutants_by_class_equal_the_pixel_path(prepared: tuple[B.Plan, dict[str, Any]]) -> None:
    """Quantity and value of every pollutant from the classes' rows equal the model run on the
    pixels, bit for bit; a bad rate of a class with valid pixels falls back to the pixel path,
    which names it with pixel counts; a bad rate of an absent class is ignored by both."""
    import dataclasses

    import pandas as pd

    from ecovalue.accounting.context import Context
    from ecovalue.accounting.indicators import POLLUTANT_MODELS

    plan, scan = prepared
    plan.valid = scan["valid"]
    try:
        whole = B.open_block(plan, 0, plan.grid.height)
    finally:
        plan.valid = None
    valid = whole.valid.copy()
    valid[::3, 1::2] = False  # pixels without data: NaN in both paths
    ctx = Context(dataclasses.replace(whole.ds, valid=valid), whole.year, whole.profile,
                  whole.params)
    assert (ctx.class_row < 0).any() and (ctx.class_row >= 0).any()

    def pixel_path(c: Context, ind: str, pol: str, col: str) -> tuple[np.ndarray, np.ndarray]:
        model = POLLUTANT_MODELS[ind]
        q = model.rate_to_t(c.lc(col), c.pixel_area_m2, c.valid, pol)
        return q, model.value({pol: q}, {pol: c.p(model.costs[pol], "CNY/t")})

    from ecovalue.raster.pixelwise import key_row_counts, zonal_add

    # pass 1's zonal sums from pixels per (key, class) equal the pixels' own sums
    key = B.block_keys(ctx.ds, ctx.class_row)
    n_keys = len(plan.regions) * B.N_TYPES
    counts = key_row_counts(key, ctx.class_row, n_keys, len(ctx.ds.landcover_table))
    assert counts.sum() == (key >= 0).sum()
    n = 0
    for ind in B.POLLUTANTS:
        got = B._pollutant_layers(ctx, ind)
        per_class = B._pollutant_layers(ctx, ind, by_class=True)
        for pol, col in POLLUTANT_MODELS[ind].columns.items():
            q, v = pixel_path(ctx, ind, pol, col)
            assert got[pol][0].tobytes() == q.tobytes() and got[pol][1].tobytes() == v.tobytes()
            item = per_class[pol]
            assert isinstance(item, B.ByClass)
            for by_class, pixels in zip(item.zonal(counts), (q, v), strict=True):
                expected = zonal_add(np.zeros(n_keys), pixels, key)
                assert (expected != 0).sum() >= 2
                np.testing.assert_allclose(by_class, expected, rtol=1e-12, atol=0)
            n += 1
    assert n >= 4

    model = POLLUTANT_MODELS["water_purification"]
    pol, col = next(iter(model.columns.items()))
    table = ctx.ds.landcover_table
    present = np.unique(ctx.class_row[ctx.class_row >= 0])
    for row, raises in ((int(present[0]), True), (None, False)):
        bad = table.copy()
        if row is None:  # a class no valid pixel has
            extra = bad.iloc[[0]].assign(code=9999)
            extra.index = pd.Index([9999], name=bad.index.name)
            bad = pd.concat([bad, extra])
            row = len(bad) - 1
        bad.iloc[row, bad.columns.get_loc(col)] = -1.0  # table rows are positions
        c2 = Context(dataclasses.replace(ctx.ds, landcover_table=bad), ctx.year, ctx.profile,
                     ctx.params)
        price = {pol: c2.p(model.costs[pol], "CNY/t")}
        if raises:
            assert B._pollutant_by_class(c2, model, pol, col, price, B._classes_present(c2)) is None
            with pytest.raises(InputError, match=r"valid pixel\(s\) outside"):
                B._pollutant_layers(c2, "water_purification")
        else:
            per_class = B._pollutant_by_class(
                c2, model, pol, col, price, B._classes_present(c2)
            )
            assert per_class is not None
            q, v = per_class.pixels(c2.class_row)
            q0, v0 = pixel_path(c2, "water_purification", pol, col)
            assert q.tobytes() == q0.tobytes() and v.tobytes() == v0.tobytes()


class _Ctx:
    """Just what ``_polygon_storage`` reads of a context."""

    def __init__(self, valid: np.ndarray, grid: Any) -> None:
        self.valid = valid
        self.ds = type("DS", (), {"grid": grid})()


def _storage_by_polygon(
    ids: np.ndarray, valid: np.ndarray, water: np.ndarray, entries: list
) -> Any:
    """The plain rule: polygon after polygon, ``part += where(mask, cap / n, 0)``."""
    part = np.where(valid, 0.0, np.nan)
    for i, (cap, n_inside, n_water) in enumerate(entries):
        if n_inside == 0:
            continue
        inside = (ids == i + 1) & valid
        mask = inside & water if n_water else inside
        part += np.where(mask, cap / (n_water or n_inside), 0.0)
    return part


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), n_poly=st.integers(1, 6))
def test_polygon_storage_equals_adding_polygon_after_polygon(seed: int, n_poly: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (4, 5)
    ids = rng.integers(0, n_poly + 1, size=shape).astype(np.int32)
    valid = rng.random(shape) < 0.8
    water = rng.random(shape) < 0.4
    # capacity, pixels inside, water pixels inside (0 inside: not counted; 0 water: all pixels)
    entries = [
        (float(rng.lognormal(10, 3)), int(rng.integers(0, 3)), int(rng.integers(0, 2)))
        for _ in range(n_poly)
    ]
    plan = type("P", (), {"flood": {"lakes": entries}})()
    original = B._polygon_ids
    B._polygon_ids = lambda plan, layer, g: ids  # type: ignore[assignment]
    try:
        got = B._polygon_storage(plan, _Ctx(valid, None), "lakes", water)  # type: ignore[arg-type]
    finally:
        B._polygon_ids = original  # type: ignore[assignment]
    assert got.tobytes() == _storage_by_polygon(ids, valid, water, entries).tobytes()


# ------------------------------------------------------------------ in-place model arithmetic


def _soil_loss_plain(x: np.ndarray, z: float) -> np.ndarray:
    """``2z/s² · Q_max · exp(−(z/s)²)`` written out as one expression (the reference)."""
    pos = np.isfinite(x) & (x > 0)
    xp = np.where(pos, x, 1.0)
    q_max = sand_fixation.QMAX_COEF * xp
    s = sand_fixation.S_COEF * xp**sand_fixation.S_EXPONENT
    sl = 2.0 * z / s**2 * q_max * np.exp(-((z / s) ** 2))
    return np.where(pos, sl, np.where(np.isfinite(x), 0.0, np.nan))


#: The evaluation through ``u = X^0.7422`` against the textbook expression: a few units in the
#: last place (the roundings differ), times the exponential's argument where exp(−(z/s)²) is
#: far in its tail (a rounding of the argument t moves exp(−t) by t ulps; t < 745 before it
#: underflows), nothing below the smallest normal number
ULPS = {"rtol": 2e-12, "atol": 1e-300}


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), z=st.floats(1e-3, 1e4))
def test_rweq_soil_loss_equals_the_plain_expression(seed: int, z: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(0, 4, size=257)
    x[:8] = [0.0, -0.0, -1.0, np.nan, np.inf, -np.inf, 5e-324, 1.0]
    with np.errstate(all="ignore"):
        got, plain = sand_fixation.soil_loss_kg_m2(x, z), _soil_loss_plain(x, z)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(plain))
    np.testing.assert_allclose(got, plain, **ULPS)
    assert (got[8:] > 1e-300).sum() >= 5  # not all in the underflow


def test_sand_fixed_equals_the_plain_expressions() -> None:
    rng = np.random.default_rng(7)
    shape = (30, 40)
    valid = rng.random(shape) < 0.9
    wf, ef, scf = rng.uniform(0, 80, shape), rng.random(shape), rng.random(shape)
    cover = rng.random(shape)
    # land-cover classes come in runs of equal cover (the kernel reuses COG along a run)
    cover[::2] = np.repeat(rng.choice([0.0, 0.3, 0.85], size=(15, 8)), 5, axis=1)
    wf[~valid] = np.nan  # nodata outside valid is ignored
    res = sand_fixation.sand_fixed_t(wf, ef, scf, 0.6, cover, 50.0, 900.0, valid)
    k = np.broadcast_to(0.6, shape)
    bare = np.where(valid, wf * ef * scf * k, 0.0)
    potential = _soil_loss_plain(bare, 50.0) * 900.0 / 1000.0
    cog = np.exp(-sand_fixation.COG_COVER_COEF * 100.0 * np.where(valid, cover, 0.0))
    actual = _soil_loss_plain(bare * cog, 50.0) * 900.0 / 1000.0
    diff = potential - actual
    # the difference of two close numbers: its tolerance is the terms' (a few ulps of them)
    np.testing.assert_allclose(
        res.quantity_t, common.masked(np.maximum(diff, 0.0), valid),
        atol=1e-13 * float(np.nanmax(potential)), rtol=1e-12,
    )
    np.testing.assert_allclose(res.potential_t, common.masked(potential, valid), **ULPS)
    np.testing.assert_allclose(res.actual_t, common.masked(actual, valid), **ULPS)
    assert res.n_clamped == int((valid & (diff < 0)).sum())
    assert (res.quantity_t[valid] > 0).mean() > 0.3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sand_fixed_in_one_pass_agrees_with_the_numpy_path(dtype: type) -> None:
    """The fused kernel (C-contiguous float inputs) against the numpy path (the same inputs in
    Fortran order) within the ulp bound of tests/test_models.py, with clamped pixels, nodata outside valid and K' a raster."""
    rng = np.random.default_rng(11)
    shape = (50, 60)
    valid = rng.random(shape) < 0.85
    wf = rng.lognormal(2, 2, shape).astype(dtype)  # up to the falling part of the RWEQ curve
    ef, scf, k = (rng.random(shape).astype(dtype) for _ in range(3))
    cover = rng.random(shape)
    # land-cover classes come in runs of equal cover (the kernel reuses COG along a run)
    cover[::2] = np.repeat(rng.choice([0.0, 0.3, 0.85], size=(25, 12)), 5, axis=1)
    wf[~valid] = np.nan
    scf[~valid] = 7.0  # out of range but not valid: ignored
    args = (wf, ef, scf, k, cover)
    fused = sand_fixation._sand_fused(args, 50.0, 900.0, valid)
    assert fused is not None and fused.n_clamped > 0
    plain = sand_fixation.sand_fixed_t(
        *(np.asfortranarray(a) for a in args), 50.0, 900.0, np.asfortranarray(valid)
    )
    got = sand_fixation.sand_fixed_t(*args, 50.0, 900.0, valid)
    # sand_fixed_t on C-ordered inputs is the fused kernel: the same bits
    for a, c in zip(fused[:3], got[:3], strict=True):
        assert a.tobytes() == c.tobytes()
    assert fused.n_clamped == got.n_clamped
    # the numpy path calls numpy's exp/pow, chosen by the CPU: within the stated bound
    bound = sand_fixed_ulp_bound(wf, ef, scf, k, valid, 50.0)
    top = np.maximum(plain.potential_t, plain.actual_t)
    for a, b in zip(fused[:3], plain[:3], strict=True):
        assert_within_ulps(a, np.ascontiguousarray(b), bound, of=top)
    ties = (valid & (np.abs(plain.potential_t - plain.actual_t) <= bound * np.spacing(top))).sum()
    assert abs(fused.n_clamped - plain.n_clamped) <= ties
    scf[0, 0], valid[0, 0] = 1.5, True  # a valid pixel out of range: the numpy path names it
    assert sand_fixation._sand_fused(args, 50.0, 900.0, valid) is None
    with pytest.raises(InputError, match="soil_crust_factor has 1 valid pixel"):
        sand_fixation.sand_fixed_t(*args, 50.0, 900.0, valid)


def test_rate_times_area_equals_the_plain_expression_and_still_checks() -> None:
    # 200 kg/ha on a 900 m² pixel: 200 · 0.09 ha / 1000 = 0.018 t
    rate = np.array([[200.0, np.nan], [0.0, 13.7]])
    valid = np.array([[True, False], [True, True]])
    got = common.rate_times_area_t(rate, 900.0, valid, "so2")
    plain = np.where(valid, rate * (900.0 / 1e4) / 1e3, np.nan)
    assert got.tobytes() == plain.tobytes()
    assert got[0, 0] == pytest.approx(0.018)
    with pytest.raises(InputError, match="so2 is NaN or infinite at 1 valid pixel"):
        common.rate_times_area_t(rate, 900.0, np.ones((2, 2), bool), "so2")
    with pytest.raises(InputError, match=r"so2 has 1 valid pixel\(s\) outside .*-5.0"):
        common.rate_times_area_t(np.array([[1.0, -5.0]]), 900.0, np.ones((1, 2), bool), "so2")


def test_sand_fixation_still_refuses_bad_factors() -> None:
    shape = (2, 2)
    ones, valid = np.ones(shape), np.ones(shape, bool)
    with pytest.raises(InputError, match="K' has 4 valid pixel"):  # a broadcast parameter
        sand_fixation.sand_fixed_t(ones, ones, ones, 1.5, ones * 0.5, 50.0, 900.0, valid)
    with pytest.raises(InputError, match="sand.roughness is NaN or infinite at 4"):
        sand_fixation.sand_fixed_t(ones, ones, ones, np.nan, ones * 0.5, 50.0, 900.0, valid)
    bad = ones.copy()
    bad[0, 1] = np.inf
    with pytest.raises(InputError, match="weather_factor is NaN or infinite at 1"):
        sand_fixation.sand_fixed_t(bad, ones, ones, 0.5, ones * 0.5, 50.0, 900.0, valid)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    n_lakes=st.integers(0, 4),
    n_reservoirs=st.integers(0, 3),
    vegetation=st.booleans(),
)
def test_storage_in_one_pass_equals_adding_the_numpy_parts(
    seed: int, shape: tuple[int, int], n_lakes: int, n_reservoirs: int, vegetation: bool
) -> None:
    """Lakes + reservoirs + marshes (+ vegetation) and the value, bit for bit, from polygon ids,
    class rows and depth columns by row; a depth out of range at a valid pixel: None (the
    numpy path names it)."""
    from ecovalue.models import flood_regulation as fr

    rng = np.random.default_rng(seed)
    n_rows = 4
    valid = rng.random(shape) < 0.8
    rows = np.where(valid, rng.integers(0, n_rows, shape), -1).astype(np.int32)
    water_by_row = rng.random(n_rows) < 0.5
    water = np.append(water_by_row, False)[rows]
    marsh = rng.choice([0.0, 0.3, 1 / 3, 100.0], n_rows)
    veg = rng.choice([0.0, 0.05, 0.7], n_rows)
    area, price = float(rng.choice([900.0, 0.1])), float(rng.choice([7.06, 0.0]))
    parts: list[Any] = []
    for n_poly in (n_lakes, n_reservoirs):
        if not n_poly:
            parts.append(None)
            continue
        ids = rng.integers(0, n_poly + 1, size=shape).astype(np.int32)
        # storage per pixel by polygon; where it lies: 0 not counted, 1 all pixels, 2 water only
        share = np.append(0.0, rng.lognormal(10, 3, n_poly))
        mode = np.append(0, rng.integers(0, 3, n_poly)).astype(np.int8)
        parts.append(fr.PolygonStorage(ids, share, mode))
    lookup = np.append(marsh, np.nan)[rows]
    expected = _sum_of_parts(parts, valid, water, shape)
    expected = expected + fr.marsh_storage_m3(area, lookup, valid)
    if vegetation:
        expected = expected + fr.vegetation_storage_m3(area, np.append(veg, np.nan)[rows], valid)
    got = fr.storage_layer(
        valid, rows, water_by_row, parts[0], parts[1], marsh, veg if vegetation else None,
        area, price,
    )
    assert got is not None
    assert got[0].tobytes() == expected.tobytes()
    assert got[1].tobytes() == fr.value(expected, price).tobytes()
    if valid.any():
        marsh[rows[valid][0]] = 150.0  # deeper than the check allows, at a valid pixel
        assert fr.storage_layer(
            valid, rows, water_by_row, parts[0], parts[1], marsh, None, area, price
        ) is None


def _sum_of_parts(parts: list[Any], valid: np.ndarray, water: np.ndarray, shape: Any) -> np.ndarray:
    """``_polygon_storage`` of the lakes plus that of the reservoirs (the streamed engine's
    numpy path), from the parts given to the one-pass kernel."""
    out = []
    for part in parts:
        if part is None:
            out.append(np.where(valid, 0.0, np.nan))
            continue
        entries = [
            (float(part.share[i]), int(part.mode[i] > 0), int(part.mode[i] == 2))
            for i in range(1, part.share.size)
        ]
        # share = cap / n with n = 1 here: the same per-pixel numbers
        out.append(_storage_by_polygon(part.ids, valid, water, entries))
    return out[0] + out[1]


def test_polygon_storage_without_polygons_is_zero_inside_valid() -> None:
    valid = np.array([[True, False]])
    plan = type("P", (), {"flood": {}})()
    got = B._polygon_storage(plan, _Ctx(valid, None), "lakes", valid)  # type: ignore[arg-type]
    assert got[0, 0] == 0.0 and np.isnan(got[0, 1])


# ------------------------------------------------------------------ the dataset hash


def test_the_scan_hashes_each_raster_as_the_loader_does(tmp_path) -> None:
    """The row digests of a scan's blocks give the loader's hash for any block size, the same
    as reading every raster again; one changed pixel changes the hash."""
    import rasterio

    from ecovalue.accounting.profiles import load_profile
    from ecovalue.accounting.streaming_meta import dataset_hash, open_meta
    from ecovalue.datasets.loader import load_dataset
    from ecovalue.datasets.validation import needs_for_profile

    root = write_tiny_dataset(tmp_path / "d")
    prof = load_profile("cn-2022")

    def hashes() -> tuple[set[str], str]:
        meta = open_meta(root, prof, None)
        plan, _notes, _params = S._make_plan(meta, prof, meta.year)
        got = {dataset_hash(meta, plan)}
        for rows in (1, 3, meta.grid.height):
            blocks = S._blocks(meta.grid.height, rows)
            scan = S._reduce_scan(B.scan_block(plan, a, b, False) for a, b in blocks)
            assert set(scan["digests"]) == set(meta.raster_paths)
            got.add(dataset_hash(meta, plan, scan["digests"]))
        ds, _ = load_dataset(root, needs_for_profile(prof, (meta.year,)))
        return got, ds.compute_hash()

    before, loaded = hashes()
    assert before == {loaded}
    with rasterio.open(root / "rasters" / "precipitation.tif", "r+") as dst:
        arr = dst.read(1)
        arr[2, 3] += 1.0
        dst.write(arr, 1)
    after, loaded_after = hashes()
    assert after == {loaded_after} and loaded_after != loaded


# ------------------------------------------------------------------ rasterization


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 4),
    start=st.integers(0, 30),
    rows=st.integers(1, 30),
)
def test_rasterizing_the_shapes_window_gives_the_pixels_of_the_whole_grid(
    seed: int, n: int, start: int, rows: int
) -> None:
    """Polygons inside, across the edge of and outside a block, small (a few pixels) and
    large: the windowed rasterization equals GDAL's on the whole block."""
    from affine import Affine
    from rasterio import features
    from shapely.geometry import Point, box

    from ecovalue.raster.grid import Grid

    rng = np.random.default_rng(seed)
    grid = Grid("EPSG:4547", Affine(30.0, 0, 500000.0, 0, -30.0, 3400000.0), 40, 60)
    g = B.block_grid(grid, start, min(start + rows, grid.height))
    shapes = []
    for i in range(n):
        x = 500000.0 + rng.uniform(-300, 1500)
        y = 3400000.0 - rng.uniform(-300, 2100)
        size = rng.choice([10.0, 40.0, 200.0, 900.0])
        geom = Point(x, y).buffer(size) if rng.random() < 0.5 else box(x, y, x + size, y + size)
        shapes.append((geom, i + 1))
    plain = features.rasterize(
        shapes, out_shape=g.shape, transform=g.transform, fill=0, dtype="int32",
        all_touched=False,
    )
    got = B.rasterize(shapes, g, 0)
    assert got.dtype == np.int32 and got.tobytes() == plain.tobytes()
    # region numbers in the smallest dtype that holds them, −1 outside: the same pixels
    regions = [(geom, v - 1) for geom, v in shapes]
    small = B.rasterize(regions, g, -1, B.region_dtype(n))
    assert small.dtype == np.int8
    assert (small.astype(np.int32) == B.rasterize(regions, g, -1)).all()


def test_rasterize_without_shapes_or_far_away() -> None:
    from affine import Affine
    from shapely.geometry import box

    from ecovalue.raster.grid import Grid

    grid = Grid("EPSG:4547", Affine(30.0, 0, 0.0, 0, -30.0, 300.0), 10, 10)
    assert (B.rasterize([], grid, -1) == -1).all()
    assert (B.rasterize([(box(1e6, 1e6, 1e6 + 50, 1e6 + 50), 3)], grid, -1) == -1).all()
    got = B.rasterize([(box(0, 0, 300, 300), 3), (box(1e6, 1e6, 1e6 + 50, 1e6 + 50), 4)], grid, -1)
    assert (got == 3).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    height=st.integers(1, 23),
    width=st.integers(1, 9),
    agg_rows=st.integers(1, 8),
    share=st.floats(0.0, 1.0),
)
def test_premium_sums_from_its_pixels_equal_the_whole_grid_sums(
    seed: int, height: int, width: int, agg_rows: int, share: float
) -> None:
    """The landscape premium's zonal sums from the pixels that carry it alone equal the chunked
    sums of the whole stock and value grids (0 elsewhere, NaN outside the valid pixels) bit
    for bit (NaN, +inf, zeros and tiny values mixed among the pixels)."""
    import pandas as pd

    from ecovalue.accounting import aggregation as agg
    from ecovalue.datasets.expectations import ECOSYSTEM_TYPES

    rng = np.random.default_rng(seed)
    shape = (height, width)
    stock = rng.lognormal(8, 3, shape) * (rng.random(shape) < share)
    stock[rng.random(shape) < 0.1] = np.nan
    stock[rng.random(shape) < 0.02] = np.inf
    stock[rng.random(shape) < 0.05] = 5e-324
    table = pd.DataFrame({"ecosystem_type": list(ECOSYSTEM_TYPES)[:4]})
    rows = rng.integers(-1, 4, shape).astype(np.int32)
    region_index = rng.integers(-1, 3, shape).astype(np.int8)
    valid = rng.random(shape) < 0.9
    rate = float(rng.choice([0.05, 1.0 / 3.0, 1e308]))
    n_keys = 3 * B.N_TYPES
    # the pixels given: every non-zero one and some zeros (any valid or not)
    index = np.flatnonzero((stock != 0) | (rng.random(shape) < 0.2))
    values = stock.reshape(-1)[index]
    grid = np.zeros(shape)
    grid.reshape(-1)[index] = values
    grid[~valid] = np.nan
    key = B.window_keys(table, rows, region_index.astype(np.int32), valid)
    with np.errstate(over="ignore"):  # a value of 1e308 × the stock is +inf: skipped alike
        expected = agg.zonal_sums([grid, grid * rate], key, n_keys, block_rows=agg_rows)
        got = S.premium_sums(
            index, values, rate, shape, table, lambda flat: rows.reshape(-1)[flat],
            region_index, valid, n_keys, agg_rows,
        )
    np.testing.assert_array_equal(got, expected)
    assert got.tobytes() == expected.tobytes()  # the zeros' signs as well
    if index.size > 1:
        with pytest.raises(ValueError, match="ascending"):
            S.premium_sums(index[::-1], values[::-1], rate, shape, table,
                           lambda flat: rows.reshape(-1)[flat], region_index, valid, n_keys,
                           agg_rows)


def test_statistic_sums_equal_each_pair_filtered_and_summed() -> None:
    """``context.statistic_sums`` (one grouping per run) gives what filtering the year's rows
    of each (region, item) and summing them gives, bit for bit; absent pairs are absent."""
    import pandas as pd

    from ecovalue.accounting.context import statistic_sums

    rng = np.random.default_rng(7)
    n = 400
    stats = pd.DataFrame(
        {
            "region_code": rng.choice(["420102", "420103", "420104", "420111"], n),
            "item": rng.choice(["climate:ac_days", "gdp", "tourism:visits", "hydropower"], n),
            "year": rng.choice([2021, 2022, 2023], n),
            "quantity": rng.lognormal(3, 4, n) * rng.choice([1.0, -1.0, np.nan], n, p=[0.8, 0.1, 0.1]),
        }
    )
    got = statistic_sums(stats, 2022)
    year = stats[stats["year"] == 2022]
    for code in ("420102", "420103", "420104", "420111", "420199"):
        for item in ("climate:ac_days", "gdp", "tourism:visits", "hydropower", "wage:daily"):
            rows = year[(year["region_code"] == code) & (year["item"] == item)]
            expected = float(rows["quantity"].sum()) if not rows.empty else None
            assert got.get((code, item)) == expected or (
                expected is not None and np.isnan(expected) and np.isnan(got[(code, item)])
            )
    assert statistic_sums(stats.iloc[:0], 2022) == {}
