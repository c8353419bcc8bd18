"""Tests of the RUSLE soil-retention model: hand arithmetic, nodata, validation messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecovalue.errors import InputError
from ecovalue.models import soil_retention as sr

# one pixel: R 100, K 0.02, LS 1.5, C 0.2, P 0.5, 30 m pixel = 0.09 ha
R, K, LS, C, P, AREA_HA = 100.0, 0.02, 1.5, 0.2, 0.5, 0.09


def test_potential_erosion_hand_arithmetic() -> None:
    # A_p = 100 · 0.02 · 1.5 = 3.0 t/ha/a
    assert sr.potential_erosion(R, K, LS) == pytest.approx(3.0)


def test_actual_erosion_hand_arithmetic() -> None:
    # A_a = 3.0 · 0.2 · 0.5 = 0.3 t/ha/a
    assert sr.actual_erosion(R, K, LS, C, P) == pytest.approx(0.3)


def test_soil_retained_hand_arithmetic() -> None:
    # (3.0 − 0.3) t/ha · 0.09 ha = 0.243 t per pixel per year
    assert sr.soil_retained(R, K, LS, C, P, AREA_HA) == pytest.approx(0.243)


def test_arrays_broadcast_with_scalars_and_nodata_is_nan() -> None:
    r = np.array([[100.0, 200.0], [0.0, -9999.0]])  # -9999 is a nodata fill value
    valid = np.array([[True, True], [True, False]])
    cover = np.array([[0.2, 1.0], [0.5, 0.0]])
    got = sr.soil_retained(r, K, LS, cover, P, AREA_HA, valid=valid)
    # [100·0.02·1.5·(1 − 0.1)·0.09, 200·0.03·(1 − 0.5)·0.09, 0, NaN] = [0.243, 0.27, 0, NaN]
    np.testing.assert_allclose(got, [[0.243, 0.27], [0.0, np.nan]])
    assert np.isnan(sr.potential_erosion(r, K, LS, valid=valid)[1, 1])
    assert np.isnan(sr.actual_erosion(r, K, LS, cover, P, valid=valid)[1, 1])


def test_bare_untended_soil_retains_nothing() -> None:
    # C = P = 1: actual equals potential, nothing retained (a true zero, not a default)
    assert sr.soil_retained(R, K, LS, 1.0, 1.0, AREA_HA) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "name", "shown"),
    [
        ({"C": np.array([0.2, 1.3])}, "C", r"\[0.2, 1.3\]"),
        ({"P": np.array([-0.1, 0.5])}, "P", r"\[-0.1, 0.5\]"),
        ({"R": np.array([-5.0, 100.0])}, "R", r"\[-5, 100\]"),
        ({"K": np.array([0.02, -0.01])}, "K", r"\[-0.01, 0.02\]"),
    ],
)
def test_out_of_range_factors_are_named_with_min_and_max(
    kwargs: dict, name: str, shown: str
) -> None:
    args = {"R": R, "K": K, "LS": LS, "C": C, "P": P} | kwargs
    with pytest.raises(InputError, match=rf"^{name} ranges over {shown}.*expected values in"):
        sr.soil_retained(**args, pixel_area_ha=AREA_HA)


def test_out_of_range_values_under_nodata_are_ignored() -> None:
    cover = np.array([0.2, 7.0])
    valid = np.array([True, False])
    got = sr.actual_erosion(R, K, LS, cover, P, valid=valid)
    assert got[0] == pytest.approx(0.3) and np.isnan(got[1])


def test_nan_inside_valid_pixels_is_refused() -> None:
    with pytest.raises(InputError, match="K is NaN"):
        sr.potential_erosion(R, np.array([0.02, np.nan]), LS)


def test_shape_mismatches_are_refused() -> None:
    with pytest.raises(InputError, match="different shapes"):
        sr.potential_erosion(np.ones(3), np.ones(2), LS)
    with pytest.raises(InputError, match="valid mask has shape"):
        sr.potential_erosion(np.ones(3), K, LS, valid=np.ones(2, dtype=bool))


def test_bad_pixel_area_is_refused() -> None:
    with pytest.raises(InputError, match="pixel_area_ha"):
        sr.soil_retained(R, K, LS, C, P, 0.0)


def test_value_reduced_silting_hand_arithmetic() -> None:
    # 0.24 · 1000 t / 0.93 t/m³ · 15.58 yuan/m³ = 258.0645 m³ · 15.58 = 4020.645 yuan
    got = sr.value_reduced_silting(1000.0, 0.24, 0.93, 15.58)
    assert got == pytest.approx(0.24 * 1000 / 0.93 * 15.58)
    assert got == pytest.approx(4020.645, rel=1e-6)


def test_value_reduced_nutrient_loss_hand_arithmetic() -> None:
    # 1000 t · 0.0037 · 875 + 1000 t · 0.00108 · 2800 = 3237.5 + 3024 = 6261.5 yuan
    assert sr.value_reduced_nutrient_loss(1000.0, 0.0037, 0.00108, 875, 2800) == pytest.approx(
        6261.5
    )


def test_garze_2010_published_values_are_reproduced() -> None:
    # [S1] Garzê 2010: A_s = 38.86 亿t → sediment 10.03 亿m³ → 156.26 亿元;
    # N 1437.94 万t → 125.82 亿元; P 419.72 万t → 117.52 亿元 (rounded in the paper)
    a = 38.86e8
    silting = sr.value_reduced_silting(a, 0.24, 0.93, 15.58)
    assert silting / 1e8 == pytest.approx(156.26, abs=0.05)
    n_value = sr.value_reduced_nutrient_loss(a, 0.0037, 0.0, 875, 0)
    p_value = sr.value_reduced_nutrient_loss(a, 0.0, 0.00108, 0, 2800)
    assert n_value / 1e8 == pytest.approx(125.82, abs=0.05)
    assert p_value / 1e8 == pytest.approx(117.52, abs=0.05)


@pytest.mark.parametrize(
    ("func", "args", "name"),
    [
        (sr.value_reduced_silting, (1.0, 1.2, 0.93, 15.58), "silting_coef"),
        (sr.value_reduced_silting, (1.0, 0.24, 0.0, 15.58), "bulk_density_t_m3"),
        (sr.value_reduced_silting, (1.0, 0.24, 0.93, -1.0), "dredging_cost_yuan_m3"),
        (sr.value_reduced_nutrient_loss, (1.0, 0.37, 1.08, 875, 2800), "p_fraction"),
        (sr.value_reduced_nutrient_loss, (1.0, 0.0037, 0.001, -875, 2800), "n_cost_yuan_t"),
    ],
)
def test_bad_valuation_parameters_are_refused(func, args, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=name):
        func(*args)


def test_valuation_keeps_nodata() -> None:
    got = sr.value_reduced_silting(np.array([1.0, np.nan]), 0.24, 0.93, 15.58)
    assert np.isfinite(got[0]) and np.isnan(got[1])


unit = st.floats(0.0, 1.0)
positive = st.floats(0.0, 1e4)


@settings(max_examples=200, deadline=None)
@given(positive, positive, positive, unit, unit)
def test_retained_is_potential_minus_actual(
    r: float, k: float, ls: float, c: float, p: float
) -> None:
    pot = sr.potential_erosion(r, k, ls)
    act = sr.actual_erosion(r, k, ls, c, p)
    kept = sr.soil_retained(r, k, ls, c, p, 1.0)
    assert 0.0 <= act <= pot * (1 + 1e-12)
    # tolerance scaled by A_p: pot − act cancels when C·P is close to 1; plus the spacing of
    # subnormal floats (below 2.2e-308 no relative tolerance holds: hypothesis found
    # R·K·LS with LS = 5e-324)
    assert kept == pytest.approx(pot - act, rel=1e-9, abs=1e-12 * pot + 1e-300)


SILTING = (0.24, 1.125, 19.76)
NUTRIENTS = (0.0037, 0.00108, 875.0, 2800.0)


def _numpy_layer(r, k, ls, rows, c, p, scope, area, valid):  # type: ignore[no-untyped-def]
    """The indicator as the numpy functions compose it (the reference)."""
    at = np.where(valid, rows, -1)
    soil = sr.soil_retained(
        np.asarray(r, np.float64), np.asarray(k, np.float64), np.asarray(ls, np.float64),
        np.append(c, np.nan)[at], np.append(p, np.nan)[at], area, valid=valid,
    )
    soil = np.where(np.append(scope, False)[at] | ~valid, soil, 0.0)
    v = sr.value_reduced_silting(soil, *SILTING)
    return soil, v + sr.value_reduced_nutrient_loss(soil, *NUTRIENTS)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_one_pass_layer_equals_the_numpy_functions_bit_for_bit(
    seed: int, shape: tuple[int, int], dtype: type
) -> None:
    rng = np.random.default_rng(seed)
    n_rows = 5
    c = rng.choice([0.0, 1.0, 0.003, 0.2, 1 / 3], n_rows)
    p = rng.choice([0.0, 1.0, 0.35, 0.8], n_rows)
    scope = rng.random(n_rows) < 0.7
    valid = rng.random(shape) < 0.8
    rows = np.where(valid, rng.integers(0, n_rows, shape), -1).astype(np.int32)
    r = (rng.random(shape) * rng.choice([0.0, 4000.0, 1e-30], shape)).astype(dtype)
    k = (rng.random(shape) * 0.06).astype(dtype)
    ls = rng.choice([0.0, 0.03, 12.7, 122.0], shape) * rng.random(shape)
    r[~valid] = np.nan
    area = float(rng.choice([0.09, 1.0, 1e-6]))
    real, calls = sr.soil_retained, []
    sr.soil_retained = lambda *a, **kw: calls.append(1) or real(*a, **kw)  # type: ignore[assignment]
    try:
        got = sr.soil_retention_layer(
            r, k, ls, rows, c, p, scope, area, valid, SILTING, NUTRIENTS
        )
    finally:
        sr.soil_retained = real  # type: ignore[assignment]
    assert not calls  # the one-pass kernel, not the numpy functions
    soil, value = _numpy_layer(r, k, ls, rows, c, p, scope, area, valid)
    assert got.soil_t.tobytes() == soil.tobytes() and got.value_yuan.tobytes() == value.tobytes()


def test_one_pass_layer_names_bad_input_as_the_numpy_functions_do() -> None:
    v = np.ones((2, 2), dtype=bool)
    rows = np.zeros((2, 2), dtype=np.int32)
    good = np.full((2, 2), 0.5, np.float32)
    nan_k = good.copy()
    nan_k[1, 1] = np.nan
    one = np.array([0.5])
    cases = [
        (good, nan_k, good, one, one, "K"),
        (-good, good, good, one, one, "R ranges"),
        (good, good, good, np.array([1.5]), one, "C ranges"),
    ]
    for r, k, ls, c, p, match in cases:
        with pytest.raises(InputError, match=match):
            sr.soil_retention_layer(r, k, ls, rows, c, p, np.ones(1, bool), 0.09, v, SILTING, NUTRIENTS)
    with pytest.raises(InputError, match="bulk_density"):
        sr.soil_retention_layer(good, good, good, rows, one, one, np.ones(1, bool), 0.09, v,
                                (0.24, 0.0, 19.76), NUTRIENTS)


# ------------------------------------------------------------------ routing beyond the regions


def test_a_region_inside_a_larger_dem_counts_the_upslope_area_outside_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The tiny DEM (10 × 10, 100 m) falls to the north-west; the one region is its north-west
    quarter (rows 0–4, columns 0–4), so most of its upslope area lies outside it. The routing
    runs on every pixel of the DEM and the account stays inside the region: its soil retained
    is R·K·LS·(1 − C·P)·area with the LS of the whole DEM (before: routed inside the region
    only, every boundary an edge and the upslope area outside lost)."""
    from tests.test_streaming import assert_same_run
    from tests.tiny import (
        CELL,
        X0,
        Y0,
        default_landcover,
        default_rasters,
        region_geojson,
        write_tiny_dataset,
    )

    from ecovalue.accounting.pipeline import run_account
    from ecovalue.accounting.streaming import run_account_streamed
    from ecovalue.raster.hydrology import route_ls
    from ecovalue.raster.routing_cache import RoutingCache

    root = write_tiny_dataset(tmp_path / "d")
    x1, y1 = X0 + 5 * CELL, Y0 - 5 * CELL
    region_geojson(root / "vectors/regions.geojson",
                   [("A", "甲区", [[X0, y1], [x1, y1], [x1, Y0], [X0, Y0], [X0, y1]])])
    mem = run_account(root)
    dem = default_rasters()["dem"]
    inside = np.zeros(dem.shape, bool)
    inside[:5, :5] = True
    ls_whole = route_ls(dem, np.ones(dem.shape, bool), CELL, "mfd")
    ls_region = route_ls(dem, inside, CELL, "mfd")
    assert (ls_whole[inside] > ls_region[inside] * 1.01).sum() >= 9  # the upslope area counts
    # C and P of the tiny classes: forest 0.01 × 1.0, paddy 0.2 × 0.5 (area 1 ha per pixel)
    lc = default_landcover()
    cp = np.where(lc == 1, 0.01 * 1.0, np.where(lc == 2, 0.2 * 0.5, np.nan))
    k = float(np.float32(0.03))  # the erodibility raster is float32
    expected = 6000.0 * k * ls_whole * (1.0 - cp) * 1.0
    soil = mem.layers["soil_retention"].physical
    np.testing.assert_allclose(soil[inside], expected[inside], rtol=1e-12)
    assert np.isnan(soil[~inside]).all()
    # the streamed engine routes the same pixels (and finds the in-memory engine's cache entry)
    cache = RoutingCache(tmp_path / "cache")
    assert_same_run(mem, run_account_streamed(root, block_rows=3, cache=cache))
    again = run_account_streamed(root, cache=cache)
    assert again.routing_from_cache
    assert_same_run(mem, again)
