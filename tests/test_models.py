"""Tests of the per-pixel service models (ecovalue.models.*): tiny hand-computable arrays.

Each test class covers one module; the arithmetic of every expected number is in a comment.
Published examples of spec/gep-accounting.md (Garzê [S1], Baiyangdian [S3]) are reproduced
where a model can reproduce them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.ulp import assert_within_ulps, sand_fixed_ulp_bound

from ecovalue.errors import InputError, NotApplicable, ParameterError
from ecovalue.models import (
    air_purification,
    carbon_oxygen,
    climate_regulation,
    common,
    cultural,
    flood_regulation,
    pest_control,
    provisioning,
    sand_fixation,
    water_conservation,
    water_purification,
)

ALL = np.ones((2, 2), dtype=bool)


class TestCommon:
    def test_class_lookup_maps_codes(self) -> None:
        lc = np.array([[1, 2], [2, 1]])
        out = common.class_lookup(lc, np.array([2, 1]), np.array([0.2, 0.1]), "coef", ALL)
        np.testing.assert_array_equal(out, [[0.1, 0.2], [0.2, 0.1]])
        assert out.dtype == np.float64

    def test_class_lookup_invalid_pixels_are_nan_and_not_checked(self) -> None:
        # code 7 sits on an invalid pixel, so it needs no row
        lc = np.array([[1, 7]])
        out = common.class_lookup(
            lc, np.array([1]), np.array([5.0]), "coef", np.array([[True, False]])
        )
        assert out[0, 0] == 5.0 and np.isnan(out[0, 1])

    def test_class_lookup_missing_code_message(self) -> None:
        lc = np.array([[1, 2], [2, 7]])
        with pytest.raises(InputError) as exc:
            common.class_lookup(
                lc, np.array([1, 2]), np.array([0.1, 0.2]), "storm_runoff_coef", ALL
            )
        msg = str(exc.value)
        assert (
            "land-cover code 7 occurs in the raster but has no row in the land-cover table" in msg
        )
        assert "storm_runoff_coef" in msg and "add a row for it" in msg

    def test_class_lookup_several_missing_codes(self) -> None:
        lc = np.array([[1, 8], [9, 1]])
        with pytest.raises(
            InputError, match="land-cover codes 8, 9 occur in the raster but have no rows"
        ):
            common.class_lookup(lc, np.array([1]), np.array([0.1]), "usle_c", ALL)

    def test_class_lookup_duplicate_and_empty(self) -> None:
        lc = np.array([[1, 1], [1, 1]])
        with pytest.raises(InputError, match="more than once"):
            common.class_lookup(lc, np.array([1, 1]), np.array([0.1, 0.2]), "c", ALL)
        with pytest.raises(InputError, match="empty for code"):
            common.class_lookup(lc, np.array([1]), np.array([np.nan]), "c", ALL)

    def test_cap_by_region_hand_case(self) -> None:
        # region 0 = [1, 2] sums to 3 > cap 1.5 -> factor 0.5 -> [0.5, 1.0]; region 1 has no cap
        q = np.array([[1.0, 2.0], [3.0, 4.0]])
        reg = np.array([[0, 0], [1, 1]], dtype=np.int32)
        capped, scale = common.cap_by_region(q, reg, {0: 1.5})
        np.testing.assert_allclose(capped, [[0.5, 1.0], [3.0, 4.0]])
        assert scale == {0: 0.5}

    def test_cap_by_region_never_scales_up_and_array_caps(self) -> None:
        # array caps: region 0 NaN (no cap), region 1 cap 100 > 7 -> factor 1
        q = np.array([[1.0, 2.0], [3.0, 4.0]])
        reg = np.array([[0, 0], [1, 1]], dtype=np.int32)
        capped, scale = common.cap_by_region(q, reg, np.array([np.nan, 100.0]))
        np.testing.assert_array_equal(capped, q)
        assert scale == {1: 1.0}

    def test_cap_by_region_rejects_negative_cap(self) -> None:
        reg = np.zeros((1, 1), dtype=np.int32)
        with pytest.raises(InputError, match="expected a finite number >= 0"):
            common.cap_by_region(np.ones((1, 1)), reg, {0: -1.0})

    @settings(max_examples=60, deadline=None)
    @given(
        q=hnp.arrays(np.float64, (3, 4), elements=st.floats(0, 1e6)),
        reg=hnp.arrays(np.int32, (3, 4), elements=st.integers(-1, 2)),
        caps=st.lists(st.floats(0, 1e6), min_size=3, max_size=3),
    )
    def test_cap_by_region_properties(
        self, q: np.ndarray, reg: np.ndarray, caps: list[float]
    ) -> None:
        capped, _ = common.cap_by_region(q, reg, dict(enumerate(caps)))
        assert (capped <= q + 1e-12 * np.abs(q)).all()  # never up
        for r, cap in enumerate(caps):
            before, after = q[reg == r].sum(), capped[reg == r].sum()
            if before > cap:
                assert after == pytest.approx(cap, rel=1e-12, abs=1e-12)  # reaches the cap
            else:
                assert after == before
        np.testing.assert_array_equal(capped[reg == -1], q[reg == -1])

    def test_check_finite_refuses_nan_in_valid_pixels(self) -> None:
        with pytest.raises(InputError, match="NaN or infinite at 1 valid pixel"):
            common.check_finite(
                "precipitation", np.array([[np.nan, 1.0]]), np.array([[True, True]])
            )

    def test_priced_sum_missing_price(self) -> None:
        with pytest.raises(InputError, match="no unit price for \\['nox'\\]"):
            common.priced_sum({"so2": np.ones(1), "nox": np.ones(1)}, {"so2": 1.0}, "air")


class TestWaterConservation:
    def test_hand_case(self) -> None:
        # P=1000 mm, α=0.2 -> R=200 mm, ET=600 mm, A=100 m²: (1000−200−600)/1000·100 = 20 m³
        res = water_conservation.water_conservation_m3(
            np.array([[1000.0]]), np.array([[0.2]]), np.array([[600.0]]), 100.0, np.array([[True]])
        )
        assert res.quantity_m3[0, 0] == pytest.approx(20.0)
        assert res.n_clamped == 0
        # value: 20 m³ × 7.06 元/m³ = 141.2 元
        assert water_conservation.value(res.quantity_m3, 7.06)[0, 0] == pytest.approx(141.2)

    def test_negative_balance_is_floored_and_counted(self) -> None:
        # pixel 1: 500 − 100 − 600 = −200 -> 0, counted; pixel 2 invalid -> NaN, not counted
        res = water_conservation.water_conservation_m3(
            np.array([[500.0, 500.0]]),
            np.array([[0.2, 0.2]]),
            np.array([[600.0, np.nan]]),
            100.0,
            np.array([[True, False]]),
        )
        assert res.quantity_m3[0, 0] == 0.0
        assert np.isnan(res.quantity_m3[0, 1])
        assert res.n_clamped == 1

    def test_bad_inputs(self) -> None:
        v = np.array([[True]])
        with pytest.raises(InputError, match="storm_runoff_coef"):
            water_conservation.water_conservation_m3(
                np.array([[1000.0]]), np.array([[1.5]]), np.array([[1.0]]), 1.0, v
            )
        with pytest.raises(InputError, match="actual ET is NaN"):
            water_conservation.water_conservation_m3(
                np.array([[1000.0]]), np.array([[0.1]]), np.array([[np.nan]]), 1.0, v
            )
        with pytest.raises(ParameterError, match="reservoir_cost"):
            water_conservation.value(np.ones(1), -1.0)


    @staticmethod
    def _numpy_layer(p, et, rows, alpha, scope, area, valid, price):  # type: ignore[no-untyped-def]
        """The indicator as the numpy functions compose it (the reference)."""
        at = np.where(valid, rows, -1)
        res = water_conservation.water_conservation_m3(
            np.asarray(p, np.float64), np.append(alpha, np.nan)[at], np.asarray(et, np.float64),
            area, valid,
        )
        scoped = np.append(scope, False)[at]
        q = np.where(scoped | ~valid, res.quantity_m3, 0.0)
        pp, runoff = np.asarray(p, np.float64), np.append(alpha, np.nan)[at]
        negative = scoped & ((pp - runoff * pp) - np.asarray(et, np.float64) < 0)
        return q, water_conservation.value(q, price), int(negative.sum())

    def test_clamped_pixels_are_counted_inside_the_scope_only(self) -> None:
        # row 0 urban (out of scope), row 1 forest: both have P − R − ET = 100 − 0 − 500 < 0;
        # only the forest pixel is one the note may name (issue 22: urban pixels inflated it)
        p = np.full((1, 2), 100.0)
        et = np.full((1, 2), 500.0)
        rows = np.array([[0, 1]], dtype=np.int32)
        valid = np.ones((1, 2), bool)
        for kind in (np.float64, np.float32):  # the one-pass kernel and (float32 rows) the same count
            got = water_conservation.water_conservation_layer(
                p.astype(kind), et.astype(kind), rows, np.array([0.0, 0.0]), np.array([False, True]), 1.0, valid,
                7.06)
            assert got.n_clamped == 1

    @settings(max_examples=80, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
        dtype=st.sampled_from([np.float32, np.float64]),
    )
    def test_one_pass_layer_equals_the_numpy_functions_within_ulps(
        self, seed: int, shape: tuple[int, int], dtype: type
    ) -> None:
        rng = np.random.default_rng(seed)
        n_rows = 5
        alpha = rng.choice([0.0, 1.0, 0.2, 1 / 3, 0.97], n_rows)
        scope = rng.random(n_rows) < 0.6
        p = rng.choice([0.0, -0.0, 1e-30, 1000.0, 1234.5678], shape) * rng.random(shape) * 2
        et = rng.choice([0.0, 300.0, 900.0, 1e-300], shape) * rng.random(shape) * 2
        p, et = p.astype(dtype), et.astype(dtype)
        valid = rng.random(shape) < 0.8
        rows = np.where(valid, rng.integers(0, n_rows, shape), -1).astype(np.int32)
        p[~valid] = np.nan  # no data outside valid pixels, as a nodata fill gives
        area, price = float(rng.choice([900.0, 0.5, 0.0])), float(rng.choice([7.06, 0.0]))
        real, calls = water_conservation.water_conservation_m3, []
        water_conservation.water_conservation_m3 = lambda *a: calls.append(1) or real(*a)  # type: ignore[assignment]
        try:
            got = water_conservation.water_conservation_layer(p, et, rows, alpha, scope, area, valid, price)
        finally:
            water_conservation.water_conservation_m3 = real  # type: ignore[assignment]
        assert not calls  # the one-pass kernel, not the numpy functions
        q, v, n = self._numpy_layer(p, et, rows, alpha, scope, area, valid, price)
        assert got.quantity_m3.tobytes() == q.tobytes() and got.value_yuan.tobytes() == v.tobytes()
        assert got.n_clamped == n

    def test_one_pass_layer_names_bad_input_as_the_numpy_functions_do(self) -> None:
        v = np.ones((2, 2), dtype=bool)
        rows = np.zeros((2, 2), dtype=np.int32)
        good = np.full((2, 2), 500.0, np.float32)
        bad_et = good.copy()
        bad_et[1, 0] = np.nan
        cases = [
            (good, bad_et, np.array([0.2]), "actual ET is NaN"),
            (good, good, np.array([1.5]), "storm_runoff_coef"),
            (-good, good, np.array([0.2]), "precipitation"),
        ]
        for p, et, alpha, match in cases:
            with pytest.raises(InputError, match=match):
                water_conservation.water_conservation_layer(p, et, rows, alpha, np.ones(1, bool), 1.0, v, 7.0)
        with pytest.raises(ParameterError, match="reservoir_cost"):
            water_conservation.water_conservation_layer(good, good, rows, np.array([0.2]), np.ones(1, bool), 1.0, v, -1.0)


class TestFloodRegulation:
    def test_lake_capacity_hand_case(self) -> None:
        # a=0 -> e^0 = 1; A = 8 km², b = 1/3 -> 2; T = 2: 1·2·2 = 4 万m³ = 40 000 m³
        assert flood_regulation.lake_capacity_m3(8.0, 0.0, 1 / 3, 2.0) == pytest.approx(40_000.0)
        # Garzê coefficients, A = 1 km²: e^6.636 万m³ ≈ 761.9 万m³
        assert flood_regulation.lake_capacity_m3(1.0, 6.636, 0.678, 1.0) == pytest.approx(
            math.exp(6.636) * 1e4
        )
        assert flood_regulation.lake_capacity_m3(0.0, 6.636, 0.678, 1.0) == 0.0

    def test_reservoir_capacity(self) -> None:
        # 10⁶ m³ total × 0.35 = 350 000 m³
        assert flood_regulation.reservoir_capacity_m3(1e6, 0.35) == pytest.approx(350_000.0)
        with pytest.raises(ParameterError, match="reservoir_share"):
            flood_regulation.reservoir_capacity_m3(1e6, 1.2)

    def test_marsh_and_vegetation_storage(self) -> None:
        # 0.3 m × 100 m² = 30 m³; non-marsh depth 0 -> 0; invalid -> NaN
        v = np.array([[True, True, False]])
        out = flood_regulation.marsh_storage_m3(100.0, np.array([[0.3, 0.0, 0.3]]), v)
        np.testing.assert_allclose(out[0, :2], [30.0, 0.0])
        assert np.isnan(out[0, 2])
        # Garzê unit note: 2 005 km² × 0.3 m = 6.015×10⁸ m³ ≈ 6.00 亿m³ [S1]
        garze = flood_regulation.marsh_storage_m3(2005e6, np.array([0.3]), np.array([True]))
        assert garze[0] / 1e8 == pytest.approx(6.0, abs=0.02)
        veg = flood_regulation.vegetation_storage_m3(100.0, np.array([0.05]), np.array([True]))
        assert veg[0] == pytest.approx(5.0)  # 0.05 m × 100 m²

    def test_spread_over_pixels_conserves(self) -> None:
        # 90 m³ over 3 lake pixels -> 30 each; the invalid pixel is NaN
        mask = np.array([[True, True], [True, False]])
        valid = np.array([[True, True], [True, False]])
        out = flood_regulation.spread_over_pixels(90.0, mask, valid)
        np.testing.assert_allclose(out[valid], [30.0, 30.0, 30.0])
        assert np.nansum(out) == pytest.approx(90.0, rel=1e-12)

    def test_spread_without_pixels_refuses_to_lose_value(self) -> None:
        with pytest.raises(InputError, match="no valid pixel to spread over"):
            flood_regulation.spread_over_pixels(5.0, np.zeros((2, 2), bool), ALL)
        assert np.all(flood_regulation.spread_over_pixels(0.0, np.zeros((2, 2), bool), ALL) == 0)

    def test_value(self) -> None:
        # 1 000 m³ × 7.06 = 7 060 元
        assert flood_regulation.value(1000.0, 7.06) == pytest.approx(7060.0)


class TestAirPurification:
    def test_absorption_and_value(self) -> None:
        # 100 kg/ha/a on 900 m² = 0.09 ha -> 9 kg = 0.009 t; value 0.009 × 1 200 = 10.8 元
        so2 = air_purification.absorption_t(np.array([[100.0]]), 900.0, np.array([[True]]), "so2")
        assert so2[0, 0] == pytest.approx(0.009)
        # dust 2 000 kg/ha on 0.09 ha = 0.18 t × 150 = 27 元; total 37.8 元
        dust = air_purification.absorption_t(
            np.array([[2000.0]]), 900.0, np.array([[True]]), "dust"
        )
        v = air_purification.value({"so2": so2, "dust": dust}, {"so2": 1200.0, "dust": 150.0})
        assert v[0, 0] == pytest.approx(37.8)

    def test_water_and_built_up_zero(self) -> None:
        out = air_purification.absorption_t(np.zeros((2, 2)), 900.0, ALL, "nox")
        assert (out == 0).all()

    def test_cap_by_emissions(self) -> None:
        # uptake 2 × 0.5 t = 1 t in region 0, emissions 0.4 t -> each pixel 0.2 t
        q = np.array([[0.5, 0.5]])
        capped, scale = air_purification.cap_by_emissions(q, np.array([[0, 0]]), {0: 0.4})
        np.testing.assert_allclose(capped, [[0.2, 0.2]])
        assert scale[0] == pytest.approx(0.4)

    def test_errors(self) -> None:
        with pytest.raises(InputError, match="unknown air pollutant 'pm25'"):
            air_purification.absorption_t(np.ones((1, 1)), 1.0, np.ones((1, 1), bool), "pm25")
        with pytest.raises(InputError, match="no unit price"):
            air_purification.value({"nox": np.ones(1)}, {"so2": 1200.0})
        with pytest.raises(InputError, match="kg/ha/a >= 0"):
            air_purification.absorption_t(-np.ones((1, 1)), 1.0, np.ones((1, 1), bool), "so2")


class TestWaterPurification:
    def test_removal_and_value(self) -> None:
        # COD 500 kg/ha on 1 ha (10⁴ m²) = 0.5 t × 700 元/t = 350 元
        # NH3-N 40 kg/ha -> 0.04 t × 875 = 35 元; total 385 元
        v = np.array([[True]])
        cod = water_purification.removal_t(np.array([[500.0]]), 1e4, v, "cod")
        nh3 = water_purification.removal_t(np.array([[40.0]]), 1e4, v, "nh3n")
        assert cod[0, 0] == pytest.approx(0.5)
        total = water_purification.value({"cod": cod, "nh3n": nh3}, {"cod": 700.0, "nh3n": 875.0})
        assert total[0, 0] == pytest.approx(385.0)

    def test_cap_by_loads_reaches_cap(self) -> None:
        # removal 3 t + 1 t = 4 t, load 2 t -> factor 0.5 -> 1.5 t and 0.5 t
        capped, _ = water_purification.cap_by_loads(
            np.array([[3.0, 1.0]]), np.array([[4, 4]]), {4: 2.0}
        )
        np.testing.assert_allclose(capped, [[1.5, 0.5]])
        assert capped.sum() == pytest.approx(2.0)

    def test_unknown_pollutant(self) -> None:
        with pytest.raises(InputError, match="unknown water pollutant 'bod'"):
            water_purification.value({"bod": np.ones(1)}, {"bod": 1.0})


class TestCarbonOxygen:
    @settings(max_examples=60, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
        dtype=st.sampled_from([np.float32, np.float64]),
        basis=st.sampled_from(["CO2", "C"]),
    )
    def test_one_pass_layer_equals_the_numpy_functions_within_ulps(
        self, seed: int, shape: tuple[int, int], dtype: type, basis: str
    ) -> None:
        rng = np.random.default_rng(seed)
        valid = rng.random(shape) < 0.8
        c = (rng.lognormal(6, 2, shape) * rng.choice([1.0, 0.0, -1.0, 1e-30], shape)).astype(dtype)
        c[~valid] = np.nan
        f, area = float(rng.choice([0.45, 1 / 3, 1.0])), float(rng.choice([900.0, 0.0, 30.5]))
        k, price = float(rng.choice([1.63, 1.2, 0.0])), float(rng.choice([379.87, 1320.0, 0.0]))
        got = carbon_oxygen.photosynthesis_layer(
            c, f, ("carbon.co2_per_dm", k), area, valid, ("carbon.price", price), basis
        )
        assert got is not None
        q = carbon_oxygen.co2_fixed_t(np.asarray(c, np.float64), f, k, area, valid)
        assert got.quantity_t.tobytes() == q.tobytes()
        assert got.value_yuan.tobytes() == carbon_oxygen.carbon_value(q, price, basis).tobytes()
        o2 = carbon_oxygen.photosynthesis_layer(
            c, f, ("oxygen.o2_per_dm", k), area, valid, ("oxygen.price", price)
        )
        assert o2 is not None
        q = carbon_oxygen.o2_released_t(np.asarray(c, np.float64), f, k, area, valid)
        assert o2.quantity_t.tobytes() == q.tobytes()
        assert o2.value_yuan.tobytes() == carbon_oxygen.oxygen_value(q, price).tobytes()

    def test_one_pass_layer_leaves_bad_input_to_the_numpy_functions(self) -> None:
        v = np.ones((1, 2), bool)
        ok = np.array([[450.0, 10.0]], np.float32)
        args = (0.45, ("carbon.co2_per_dm", 1.63), 900.0, v, ("carbon.price", 100.0))
        assert carbon_oxygen.photosynthesis_layer(ok, *args) is not None
        bad = ok.copy()
        bad[0, 1] = np.inf
        assert carbon_oxygen.photosynthesis_layer(bad, *args) is None
        with pytest.raises(InputError, match="NPP/NEP is NaN or infinite at 1 valid pixel"):
            carbon_oxygen.co2_fixed_t(bad, 0.45, 1.63, 900.0, v)
        assert carbon_oxygen.photosynthesis_layer(
            ok, 0.45, ("carbon.co2_per_dm", 11.0), 900.0, v, ("carbon.price", 100.0)
        ) is None  # out of range: the numpy function raises ParameterError
        assert carbon_oxygen.photosynthesis_layer(np.asfortranarray(np.ones((2, 2))), 0.45,
                                                  ("carbon.co2_per_dm", 1.63), 900.0,
                                                  np.ones((2, 2), bool), ("carbon.price", 1.0)
                                                  ) is None

    def test_hand_case(self) -> None:
        # NPP 450 g C/m², f_C 0.45 -> 1 000 g DM/m²; × 1 000 m² = 10⁶ g = 1 t DM
        # CO₂ = 1.63 t, O₂ = 1.2 t
        npp, v = np.array([[450.0]]), np.array([[True]])
        assert carbon_oxygen.dry_matter_t(npp, 0.45, 1000.0, v)[0, 0] == pytest.approx(1.0)
        co2 = carbon_oxygen.co2_fixed_t(npp, 0.45, 1.63, 1000.0, v)
        o2 = carbon_oxygen.o2_released_t(npp, 0.45, 1.2, 1000.0, v)
        assert co2[0, 0] == pytest.approx(1.63)
        assert o2[0, 0] == pytest.approx(1.2)
        # CO₂ basis: 1.63 t × 100 元/t = 163 元; C basis: 1.63 × 12/44 × 100 = 44.4545 元
        assert carbon_oxygen.carbon_value(co2, 100.0, "CO2")[0, 0] == pytest.approx(163.0)
        assert carbon_oxygen.carbon_value(co2, 100.0, "C")[0, 0] == pytest.approx(44.4545, rel=1e-5)
        # O₂: 1.2 t × 1 000 元/t = 1 200 元
        assert carbon_oxygen.oxygen_value(o2, 1000.0)[0, 0] == pytest.approx(1200.0)

    def test_baiyangdian_reeds(self) -> None:
        # [S3]: 3.74×10⁴ t reeds × 1.63 × 27.27 % = 1.66×10⁴ t C; × 1 320 元/t C ≈ 0.22×10⁸ 元
        co2 = np.array([3.74e4 * 1.63])
        v = carbon_oxygen.carbon_value(co2, 1320.0, "C")
        assert v[0] / 1e8 == pytest.approx(0.22, abs=0.005)

    def test_nep(self) -> None:
        # 450 − 150 = 300; 100 − 150 = −50 (net source, kept)
        nep = carbon_oxygen.nep_g_m2(
            np.array([[450.0, 100.0]]), np.array([[150.0, 150.0]]), np.ones((1, 2), bool)
        )
        np.testing.assert_allclose(nep, [[300.0, -50.0]])

    def test_built_up_without_npp_fixes_nothing(self) -> None:
        out = carbon_oxygen.co2_fixed_t(np.zeros((2, 2)), 0.45, 1.63, 900.0, ALL)
        assert (out == 0).all()

    def test_bad_basis_and_fraction(self) -> None:
        with pytest.raises(InputError, match="price_basis 'tC' is unknown"):
            carbon_oxygen.carbon_value(np.ones(1), 1.0, "tC")
        with pytest.raises(ParameterError, match="dm_carbon_fraction"):
            carbon_oxygen.dry_matter_t(np.ones((1, 1)), 45.0, 1.0, np.ones((1, 1), bool))


class TestClimateRegulation:
    def test_vegetation_hand_case(self) -> None:
        # 1 000 kJ/m²/d × 36 m² × 30 d / (3 600 × 3) = 1 080 000 / 10 800 = 100 kW·h
        out = climate_regulation.vegetation_kwh(
            np.array([[1000.0]]), 30.0, 3.0, 36.0, np.array([[True]])
        )
        assert out[0, 0] == pytest.approx(100.0)
        # 100 kW·h × 0.53 元 = 53 元
        assert climate_regulation.value(out, 0.53)[0, 0] == pytest.approx(53.0)

    def test_water_has_no_transpiration(self) -> None:
        out = climate_regulation.vegetation_kwh(np.zeros((2, 2)), 30.0, 3.0, 900.0, ALL)
        assert (out == 0).all()

    def test_water_surface_hand_case(self) -> None:
        # E = 1 000 mm on 1 m² = 1 m³; 1 m³ × 1 000 kg/m³ × 3 600 J/g / 3 600 = 1 000 kW·h
        # plus 1 m³ × 120 kW·h/m³ = 1 120 kW·h; land pixel (flag 0) -> 0
        out = climate_regulation.water_surface_kwh(
            np.array([[1000.0, 1000.0]]),
            np.array([[1, 0]]),
            3600.0,
            120.0,
            1.0,
            np.ones((1, 2), bool),
        )
        np.testing.assert_allclose(out, [[1120.0, 0.0]])
        # with q = 2 450 J/g: 2 450 000 kJ / 3 600 = 680.56 + 120 = 800.56 kW·h per m³
        out2 = climate_regulation.water_surface_kwh(
            np.array([[1000.0]]), np.array([[1]]), 2450.0, 120.0, 1.0, np.array([[True]])
        )
        assert out2[0, 0] == pytest.approx(2450e3 / 3600 + 120)

    def test_all_built_up_has_no_water_cooling(self) -> None:
        # evaporation may be NaN off water: it is only read on water pixels
        out = climate_regulation.water_surface_kwh(
            np.full((2, 2), np.nan), np.zeros((2, 2)), 2450.0, 120.0, 900.0, ALL
        )
        assert (out == 0).all()

    def test_bad_flag(self) -> None:
        with pytest.raises(InputError, match="is_water_surface has values \\[2.0\\]"):
            climate_regulation.water_surface_kwh(
                np.ones((1, 1)), np.array([[2]]), 2450.0, 120.0, 1.0, np.array([[True]])
            )


    @settings(max_examples=80, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
        dtype=st.sampled_from([np.float32, np.float64]),
    )
    def test_one_pass_layer_equals_the_numpy_functions_within_ulps(
        self, seed: int, shape: tuple[int, int], dtype: type
    ) -> None:
        rng = np.random.default_rng(seed)
        n_rows, n_regions = 5, 3
        heat = rng.choice([0.0, 1e-3, 2450.7, 1234.5], n_rows)
        flag = rng.choice([0.0, 1.0], n_rows)
        valid = rng.random(shape) < 0.8
        rows = np.where(valid, rng.integers(0, n_rows, shape), -1).astype(np.int32)
        evap = (rng.random(shape) * rng.choice([0.0, 1200.0, 1e-200], shape)).astype(dtype)
        evap[flag[np.maximum(rows, 0)] == 0] = np.nan  # off water: no evaporation needed
        region = rng.integers(-1, n_regions, shape).astype(np.int32)
        days = np.append(rng.choice([0.0, 45.0, 100.5, np.nan], n_regions), np.nan)
        params = (float(rng.choice([900.0, 0.3])), float(rng.choice([3.0, 2.7])), 2450.0,
                  float(rng.choice([120.0, 0.0])), float(rng.choice([0.52, 0.0])))
        real, calls = climate_regulation.vegetation_kwh, []
        climate_regulation.vegetation_kwh = lambda *a: calls.append(1) or real(*a)  # type: ignore[assignment]
        try:
            got = climate_regulation.climate_regulation_layer(
                rows, heat, flag, evap, region, days, valid, *params
            )
        finally:
            climate_regulation.vegetation_kwh = real  # type: ignore[assignment]
        assert not calls  # the one-pass kernel, not the numpy functions
        area, eer, q, gamma, price = params
        at = np.where(valid, rows, -1)
        day_px = days[region]
        veg = climate_regulation.vegetation_kwh(np.append(heat, np.nan)[at], 1.0, eer, area, valid)
        water = climate_regulation.water_surface_kwh(
            np.asarray(evap, np.float64), np.append(flag, np.nan)[at], q, gamma, area, valid
        )
        kwh = veg * day_px + water * day_px / 365.0
        assert got.kwh.tobytes() == kwh.tobytes()
        assert got.value_yuan.tobytes() == climate_regulation.value(kwh, price).tobytes()

    def test_one_pass_layer_names_bad_input_as_the_numpy_functions_do(self) -> None:
        v = np.ones((2, 2), dtype=bool)
        rows = np.zeros((2, 2), dtype=np.int32)
        region = np.zeros((2, 2), dtype=np.int32)
        days = np.array([60.0, np.nan])
        evap = np.full((2, 2), 900.0, np.float32)
        nan_evap = evap.copy()
        nan_evap[0, 1] = np.nan
        cases = [
            (np.array([-1.0]), np.array([0.0]), evap, "transpiration_heat"),
            (np.array([10.0]), np.array([0.5]), evap, "is_water_surface"),
            (np.array([10.0]), np.array([1.0]), nan_evap, "water_evaporation"),
        ]
        for heat, flag, e, match in cases:
            with pytest.raises(InputError, match=match):
                climate_regulation.climate_regulation_layer(
                    rows, heat, flag, e, region, days, v, 900.0, 3.0, 2450.0, 120.0, 0.52
                )
        with pytest.raises(ParameterError, match="climate.eer"):
            climate_regulation.climate_regulation_layer(
                rows, np.array([1.0]), np.array([0.0]), evap, region, days, v, 900.0, 0.0, 2450.0,
                120.0, 0.52,
            )


class TestSandFixation:
    def test_soil_loss_kernel(self) -> None:
        # X = 1: Q_max = 109.8, s = 150.71; z = 50:
        # SL = 2·50/150.71² · 109.8 · exp(−(50/150.71)²) = 0.0044027 · 109.8 · 0.89573 = 0.43303
        sl = sand_fixation.soil_loss_kg_m2(np.array([1.0, 0.0]), 50.0)
        assert sl[0] == pytest.approx(0.43303, rel=1e-4)
        assert sl[1] == 0.0  # no wind -> no erosion

    def test_vegetation_factor(self) -> None:
        # cover 0.5 = 50 % -> exp(−0.0438·50) = exp(−2.19) = 0.11192
        assert sand_fixation.vegetation_factor(np.array([0.5]))[0] == pytest.approx(
            0.11192, rel=1e-4
        )

    def test_sand_fixed_hand_case(self) -> None:
        # WF 4, EF 0.5, SCF 1, K' 0.5 -> X = 1 -> potential 0.43303 kg/m²
        # actual X = 0.11192 -> SL = 0.010421 kg/m²; fixed 0.42261 kg/m² × 1 000 m² / 1 000 = 0.42261 t
        v = np.array([[True, True]])
        res = sand_fixation.sand_fixed_t(
            np.array([[4.0, 4.0]]),
            np.array([[0.5, 0.5]]),
            np.array([[1.0, 1.0]]),
            0.5,
            np.array([[0.5, 0.0]]),
            50.0,
            1000.0,
            v,
        )
        assert res.potential_t[0, 0] == pytest.approx(0.43303, rel=1e-4)
        assert res.actual_t[0, 0] == pytest.approx(0.010421, rel=1e-3)
        assert res.quantity_t[0, 0] == pytest.approx(0.42261, rel=1e-4)
        assert res.quantity_t[0, 1] == 0.0  # no vegetation -> nothing fixed
        assert res.n_clamped == 0

    def test_clamped_when_rweq_curve_turns(self) -> None:
        # beyond the RWEQ curve's peak SL falls with X: X=1 000 bare vs X≈645 vegetated gives a
        # negative difference -> floored at 0 and counted
        res = sand_fixation.sand_fixed_t(
            np.array([[1000.0]]),
            np.array([[1.0]]),
            np.array([[1.0]]),
            1.0,
            np.array([[0.1]]),
            50.0,
            1.0,
            np.array([[True]]),
        )
        assert res.actual_t[0, 0] > res.potential_t[0, 0]
        assert res.quantity_t[0, 0] == 0.0 and res.n_clamped == 1

    def test_not_applicable_without_wind(self) -> None:
        with pytest.raises(
            NotApplicable, match=r"not applicable: no wind data \(weather_factor raster missing\)"
        ):
            sand_fixation.sand_fixed_t(
                None,
                np.ones((1, 1)),
                np.ones((1, 1)),
                0.5,
                np.zeros((1, 1)),
                50.0,
                1.0,
                np.ones((1, 1), bool),
            )

    def test_cover_given_in_percent_is_refused(self) -> None:
        with pytest.raises(InputError, match="fraction 0–1, not percent"):
            sand_fixation.sand_fixed_t(
                np.ones((1, 1)),
                np.ones((1, 1)),
                np.ones((1, 1)),
                0.5,
                np.full((1, 1), 45.0),
                50.0,
                1.0,
                np.ones((1, 1), bool),
            )

    @settings(max_examples=60, deadline=None)
    @given(
        seed=st.integers(0, 2**32 - 1),
        shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
        dtype=st.sampled_from([np.float32, np.float64]),
        k_raster=st.booleans(),
    )
    def test_one_pass_layer_equals_the_numpy_functions_within_ulps(
        self, seed: int, shape: tuple[int, int], dtype: type, k_raster: bool
    ) -> None:
        """Cover by table row, quantity and value in one pass against sand_fixed_t's numpy path
        (Fortran-ordered inputs) and value(), within :func:`sand_fixed_ulp_bound`: zeros, the falling part of the RWEQ curve
        (clamped pixels), nodata outside valid, K' a raster or one number."""
        rng = np.random.default_rng(seed)
        cover_by_row = rng.choice([0.0, 0.3, 0.85, 1.0, 1e-9], 6)
        valid = rng.random(shape) < 0.8
        rows = np.where(valid, rng.integers(0, 6, shape), -1).astype(np.int32)
        wf = (rng.lognormal(2, 2, shape) * (rng.random(shape) < 0.9)).astype(dtype)
        ef, scf = (rng.random(shape).astype(dtype) for _ in range(2))
        k = rng.random(shape).astype(dtype) if k_raster else float(rng.choice([0.0, 0.6, 1.0]))
        wf[~valid] = np.nan
        scf[~valid] = 7.0  # out of range but not valid: ignored
        z, area = float(rng.choice([50.0, 1e-3])), float(rng.choice([900.0, 0.0]))
        valuation = (1.28, 0.1, float(rng.choice([3.75, 0.0])))
        real, calls = sand_fixation.sand_fixed_t, []
        sand_fixation.sand_fixed_t = lambda *a: calls.append(1) or real(*a)  # type: ignore[assignment]
        try:
            got = sand_fixation.sand_fixation_layer(
                wf, ef, scf, k, rows, cover_by_row, z, area, valid, valuation
            )
        finally:
            sand_fixation.sand_fixed_t = real  # type: ignore[assignment]
        assert not calls  # the one-pass kernel, not the numpy functions
        cover = np.append(cover_by_row, np.nan)[rows]
        f = np.asfortranarray  # the numpy path (the kernel takes C-ordered grids only)
        plain = sand_fixation.sand_fixed_t(
            f(wf), f(ef), f(scf), f(k) if k_raster else k, f(cover), z, area, f(valid)
        )
        q = np.ascontiguousarray(plain.quantity_t)
        # the kernel's exp/pow (LLVM) against numpy's (chosen by the CPU): within the bound
        bound = sand_fixed_ulp_bound(wf, ef, scf, k, valid, z)
        top = np.maximum(plain.potential_t, plain.actual_t)
        assert_within_ulps(got.quantity_t, q, bound, of=top)
        # the value is the same multiplications on the same quantity: the same bits
        assert got.value_yuan.tobytes() == sand_fixation.value(got.quantity_t, *valuation).tobytes()
        ties = int((valid & (np.abs(plain.potential_t - plain.actual_t) <= bound * np.spacing(top))).sum())
        assert abs(got.n_clamped - plain.n_clamped) <= ties
        total = np.nansum(got.value_yuan) - np.nansum(sand_fixation.value(q, *valuation))
        assert abs(total) < 0.005  # equal to the fen

    def test_one_pass_layer_names_bad_input_as_the_numpy_functions_do(self) -> None:
        v = np.ones((2, 2), dtype=bool)
        rows = np.zeros((2, 2), dtype=np.int32)
        one = np.ones((2, 2), np.float32)
        nan_wf = one.copy()
        nan_wf[1, 0] = np.nan
        cases = [
            (nan_wf, np.array([0.5]), "weather_factor is NaN or infinite at 1 valid pixel"),
            (one, np.array([45.0]), "fraction 0–1, not percent"),
            (-one, np.array([0.5]), "weather_factor has 4 valid pixel"),
        ]
        for wf, cover, match in cases:
            with pytest.raises(InputError, match=match):
                sand_fixation.sand_fixation_layer(
                    wf, one, one, 0.5, rows, cover, 50.0, 900.0, v, (1.28, 0.1, 3.75)
                )
        with pytest.raises(ParameterError, match="sand.bulk_density"):
            sand_fixation.sand_fixation_layer(
                one, one, one, 0.5, rows, np.array([0.5]), 50.0, 900.0, v, (-1.0, 0.1, 3.75)
            )
        with pytest.raises(NotApplicable, match="soil_crust_factor raster missing"):
            sand_fixation.sand_fixation_layer(
                one, one, None, 0.5, rows, np.array([0.5]), 50.0, 900.0, v, (1.28, 0.1, 3.75)
            )

    def test_value_garze(self) -> None:
        # 1.28 t / (1.28 t/m³ × 0.1 m) = 10 m² × 3.75 元/m² = 37.5 元
        assert sand_fixation.value(np.array([1.28]), 1.28, 0.1, 3.75)[0] == pytest.approx(37.5)
        # Garzê: 779.42 万t -> 60.89 km² -> 2.28 亿元 [S1]
        v = sand_fixation.value(np.array([779.42e4]), 1.28, 0.1, 3.75)[0]
        assert v / 1e8 == pytest.approx(2.28, abs=0.005)


class TestPestControl:
    def test_area_and_value(self) -> None:
        # flag 1 on 10⁴ m² = 1 ha × 375 元/hm² = 375 元; flag 0 -> 0
        area = pest_control.controlled_area_ha(np.array([[1, 0]]), 1e4, np.ones((1, 2), bool))
        np.testing.assert_allclose(area, [[1.0, 0.0]])
        np.testing.assert_allclose(pest_control.value(area, 375.0), [[375.0, 0.0]])

    def test_class_costs(self) -> None:
        costs = pest_control.class_costs(["forest", "grassland", "water"], [1, 1, 0], 375.0, 112.5)
        np.testing.assert_array_equal(costs, [375.0, 112.5, 0.0])
        with pytest.raises(InputError, match="ecosystem_type 'shrub' is flagged"):
            pest_control.class_costs(["shrub"], [1], 375.0, 112.5)

    def test_garze(self) -> None:
        # 158 万hm² × 375 = 5.925 亿元 ≈ 5.93 [S1]
        assert pest_control.value(np.array([158e4]), 375.0)[0] / 1e8 == pytest.approx(
            5.93, abs=0.01
        )


class TestProvisioning:
    def test_allocate_hand_case(self) -> None:
        # region 0: 100 over 2 farmland pixels -> 50 each; region 1: 60 over 2 -> 30 each
        reg = np.array([[0, 0, 1], [0, 1, 1]])
        mask = np.array([[True, False, True], [True, True, False]])
        out = provisioning.allocate_to_pixels(
            {0: 100.0, 1: 60.0}, reg, mask, np.ones((2, 3), bool), "agri"
        )
        np.testing.assert_allclose(out, [[50.0, 0.0, 30.0], [50.0, 30.0, 0.0]])

    def test_region_without_matching_pixel_raises(self) -> None:
        reg = np.array([[0, 1]])
        mask = np.array([[True, False]])
        with pytest.raises(
            InputError, match="region index 1 \\(60\\) has a statistic but no matching"
        ):
            provisioning.allocate_to_pixels(
                {0: 1.0, 1: 60.0}, reg, mask, np.ones((1, 2), bool), "fishery"
            )

    @settings(max_examples=60, deadline=None)
    @given(
        w=hnp.arrays(np.float64, (4, 5), elements=st.floats(0.01, 100)),
        totals=st.lists(st.floats(0, 1e9), min_size=2, max_size=2),
    )
    def test_allocation_conserves_totals(self, w: np.ndarray, totals: list[float]) -> None:
        reg = np.zeros((4, 5), dtype=np.int32)
        reg[2:] = 1
        out = provisioning.allocate_to_pixels(
            dict(enumerate(totals)), reg, w, np.ones((4, 5), bool), "x"
        )
        for r, t in enumerate(totals):
            assert out[reg == r].sum() == pytest.approx(t, rel=1e-9, abs=1e-9)

    def test_quantity_times_price(self) -> None:
        # 10 t rice × 3 000 元/t = 30 000 元; Garzê domestic water 1.36 亿m³ × 2.6 = 3.536 亿元
        out = provisioning.quantity_times_price(
            {"product:rice": 10.0, "water_use:domestic": 1.36e8},
            {"product:rice": 3000.0, "water_use:domestic": 2.6},
        )
        assert out["product:rice"] == pytest.approx(30_000.0)
        assert out["water_use:domestic"] / 1e8 == pytest.approx(3.536)
        with pytest.raises(InputError, match="no price for \\['product:tea'\\]"):
            provisioning.quantity_times_price({"product:tea": 1.0}, {})


class TestCultural:
    def test_travel_cost_hand_case(self) -> None:
        # wage 200 元/d / 8 h = 25 元/h; 100 visits × (50 + 4 h × 25 × 0.3 + 20) = 100 × 100 = 10 000 元
        w = cultural.hourly_wage(200.0, 8.0)
        assert w == 25.0
        assert cultural.travel_cost_value(100.0, 50.0, 4.0, w, 0.3, 20.0) == pytest.approx(10_000.0)

    def test_travel_cost_baiyangdian(self) -> None:
        # [S3]: (52.47 + 343.33 + 578.03) × 135×10⁴ = 13.15×10⁸ 元 (TV given directly: 1 h × 343.33 × 1)
        v = cultural.travel_cost_value(135e4, 52.47, 1.0, 343.33, 1.0, 578.03)
        assert v / 1e8 == pytest.approx(13.15, abs=0.01)

    def test_revenue_multiplier(self) -> None:
        assert cultural.revenue_multiplier_value(23.56e8, 3.0) == pytest.approx(70.68e8)

    def test_allocate_recreation_conserves(self) -> None:
        reg = np.array([[0, 0], [0, 0]])
        green = np.array([[True, False], [True, True]])
        out = cultural.allocate_recreation({0: 9.0}, reg, green, ALL)
        np.testing.assert_allclose(out, [[3.0, 0.0], [3.0, 3.0]])

    def test_landscape_premium_hand_case(self) -> None:
        # row: green, built, built, built, built; 10 m cells; d = 20 m
        # built pixels at 10, 20, 30, 40 m -> first two get 0.05 × 1 000 元/m² × 100 m² × 1 = 5 000 元
        built = np.array([[False, True, True, True, True]])
        green = np.array([[True, False, False, False, False]])
        pv = np.full((1, 5), 1000.0)
        res = cultural.landscape_premium(
            built, green, pv, 0.05, 20.0, 1.0, (10.0, 10.0), np.ones((1, 5), bool)
        )
        np.testing.assert_allclose(res.at_property, [[0, 5000, 5000, 0, 0]])
        # attributed to the single green pixel: 10 000 元
        np.testing.assert_allclose(res.attributed, [[10_000, 0, 0, 0, 0]])
        assert res.n_premium_pixels == 2
        assert np.nansum(res.attributed) == pytest.approx(np.nansum(res.at_property))

    def test_landscape_premium_nearest_attribution_and_annualisation(self) -> None:
        # G B B G: each built pixel goes to its nearest green; k = 0.0277 -> 0.05·1000·100·0.0277 = 138.5
        built = np.array([[False, True, True, False]])
        green = ~built
        res = cultural.landscape_premium(
            built,
            green,
            np.full((1, 4), 1000.0),
            0.05,
            15.0,
            0.0277,
            (10.0, 10.0),
            np.ones((1, 4), bool),
        )
        np.testing.assert_allclose(res.attributed, [[138.5, 0, 0, 138.5]])

    def test_all_water_and_all_built_up_give_zero(self) -> None:
        pv = np.full((2, 2), 1000.0)
        water = cultural.landscape_premium(
            np.zeros((2, 2), bool), ALL, pv, 0.05, 100.0, 1.0, (10.0, 10.0), ALL
        )
        built = cultural.landscape_premium(
            ALL, np.zeros((2, 2), bool), pv, 0.05, 100.0, 1.0, (10.0, 10.0), ALL
        )
        for res in (water, built):
            assert (res.at_property == 0).all() and (res.attributed == 0).all()
            assert res.n_premium_pixels == 0

    @pytest.mark.parametrize("seed", range(4))
    def test_landscape_premium_equals_the_plain_whole_grid_expression(self, seed: int) -> None:
        """Checking and converting property value on the premium pixels only, and summing with
        np.bincount, give the whole-grid float64 conversion and np.add.at bit for bit."""
        from scipy import ndimage

        rng = np.random.default_rng(seed)
        shape = (60, 47)
        lc = rng.integers(0, 3, shape)  # 0 built, 1 green, 2 other: many ties in distance
        valid = rng.random(shape) > 0.05
        pv = (rng.random(shape) * 3e4).astype(np.float32)
        built, green = lc == 0, lc == 1
        dy, dx, r, d, k = 30.0, 30.0, 0.07, 95.0, 0.031
        res = cultural.landscape_premium(built, green, pv, r, d, k, (dy, dx), valid)
        gb, bu = green & valid, built & valid
        dist, idx = ndimage.distance_transform_edt(~gb, sampling=(dy, dx), return_indices=True)
        premium = bu & (dist <= d)
        pv64 = np.asarray(pv, dtype=np.float64)
        at = np.zeros(shape)
        at[premium] = r * pv64[premium] * dy * dx * k
        attributed = np.zeros(shape)
        np.add.at(attributed, (idx[0][premium], idx[1][premium]), at[premium])
        at[~valid] = attributed[~valid] = np.nan
        assert res.at_property.tobytes() == at.tobytes()
        assert res.attributed.tobytes() == attributed.tobytes()
        assert res.n_premium_pixels == int(premium.sum()) > 0
        # the accounting's call: the attributed grid alone, the same bits
        only = cultural.landscape_premium(
            built, green, pv, r, d, k, (dy, dx), valid, keep_at_property=False
        )
        assert only.at_property.shape == (0, 0)
        assert only.attributed.tobytes() == attributed.tobytes()
        assert only.n_premium_pixels == res.n_premium_pixels
        # the streamed account's call: the pixels that carry a value, ascending, no grid
        pts = cultural.landscape_premium_points(built, green, pv, r, d, k, (dy, dx), valid)
        for index, values, grid in (
            (pts.premium_index, pts.premium_value, at),
            (pts.attributed_index, pts.attributed, attributed),
        ):
            assert index.dtype == np.int64 and values.dtype == np.float64
            assert (np.diff(index) > 0).all()
            assert values.tobytes() == grid.reshape(-1)[index].tobytes()
            rest = np.ones(grid.size, bool)
            rest[index] = False
            assert (np.nan_to_num(grid.reshape(-1)[rest]) == 0).all()
        assert pts.n_premium_pixels == res.n_premium_pixels

    def test_no_built_up_pixel_near_green_gives_float_zeros(self) -> None:
        built = np.array([[True, False, False, False, False, True]])
        green = np.array([[False, False, True, False, False, False]])
        res = cultural.landscape_premium(
            built, green, np.full((1, 6), 1000.0), 0.05, 5.0, 1.0, (10.0, 10.0), np.ones((1, 6), bool)
        )
        assert res.n_premium_pixels == 0
        assert res.attributed.dtype == res.at_property.dtype == np.float64
        assert (res.attributed == 0).all() and (res.at_property == 0).all()
        only = cultural.landscape_premium(
            built, green, np.full((1, 6), 1000.0), 0.05, 5.0, 1.0, (10.0, 10.0),
            np.ones((1, 6), bool), keep_at_property=False,
        )
        assert only.at_property.shape == (0, 0) and (only.attributed == 0).all()
        no_green = cultural.landscape_premium(
            built, np.zeros((1, 6), bool), 1000.0, 0.05, 5.0, 1.0, (10.0, 10.0),
            np.ones((1, 6), bool), keep_at_property=False,
        )
        assert no_green.at_property.shape == (0, 0) and no_green.n_premium_pixels == 0

    def test_negative_property_value_where_premium_applies(self) -> None:
        built = np.array([[False, True, True]])
        with pytest.raises(InputError, match=r"property_value has 1 valid pixel\(s\) outside"):
            cultural.landscape_premium(
                built, ~built, np.array([[5.0, -2.0, 1.0]], dtype=np.float32), 0.05, 20.0, 1.0,
                (10.0, 10.0), np.ones((1, 3), bool),
            )
        with pytest.raises(InputError, match="property_value has shape"):
            cultural.landscape_premium(
                built, ~built, np.ones((2, 2)), 0.05, 20.0, 1.0, (10.0, 10.0), np.ones((1, 3), bool)
            )

    def test_missing_property_value_where_premium_applies(self) -> None:
        built = np.array([[False, True]])
        with pytest.raises(InputError, match="property_value is NaN"):
            cultural.landscape_premium(
                built,
                ~built,
                np.array([[1.0, np.nan]]),
                0.05,
                20.0,
                1.0,
                (10.0, 10.0),
                np.ones((1, 2), bool),
            )

