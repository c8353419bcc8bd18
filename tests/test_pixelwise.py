"""The numba kernels of ``raster/pixelwise.py`` equal the numpy expressions they replace, bit for
bit (the streamed engine's sums and the models' layers must not change by a single ulp)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecovalue.raster.pixelwise import (
    MAX_FUSED,
    count_nonfinite,
    count_outside,
    fill_outside,
    gather,
    kind_masks,
    nan_outside,
    rows_present,
    zonal_add,
    zonal_add_many,
)


def _values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values over many magnitudes (so the summation order shows in the bits), some NaN/inf."""
    v = rng.lognormal(5, 6, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    v[rng.random(shape) < 0.1] = np.nan
    v[rng.random(shape) < 0.02] = np.inf
    return v


@settings(max_examples=40, deadline=None)
@given(
    n_layers=st.integers(1, 2 * MAX_FUSED + 3),
    n=st.integers(0, 300),
    seed=st.integers(0, 2**16),
)
def test_fused_sums_equal_one_sum_per_layer_bit_for_bit(n_layers: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    key = rng.integers(-1, 5, size=n)
    layers = [_values(rng, (n,)) for _ in range(n_layers)]
    layers[0] = layers[0].astype(np.float32)  # float32 layers are widened exactly
    start = rng.normal(size=(n_layers, 5)) * 1e6  # continuing a running sum
    expected = start.copy()
    for row, layer in zip(expected, layers, strict=True):
        zonal_add(row, layer, key)
    got = start.copy()
    zonal_add_many(list(got), layers, key)
    assert got.tobytes() == expected.tobytes()


def test_fused_sums_by_hand() -> None:
    # key  [0, 1, 0, -1]: layer a [1, 2, 3, 100] → [1+3, 2] = [4, 2]; NaN counts as nothing,
    # layer b [NaN, 5, 1, 7] → [1, 5]; key −1 is skipped
    outs = [np.zeros(2), np.zeros(2)]
    zonal_add_many(
        outs, [np.array([1.0, 2, 3, 100]), np.array([np.nan, 5, 1, 7])], np.array([0, 1, 0, -1])
    )
    assert [o.tolist() for o in outs] == [[4.0, 2.0], [1.0, 5.0]]


def test_fused_sums_refuse_caller_bugs() -> None:
    key = np.array([0, 3])
    with pytest.raises(ValueError, match="key 3 is out of range for 2"):
        zonal_add_many([np.zeros(2)], [np.ones(2)], key)
    with pytest.raises(ValueError, match="3 pixels but key has 2"):
        zonal_add_many([np.zeros(4)], [np.ones(3)], key)
    with pytest.raises(ValueError, match="1 accumulators for 2 layers"):
        zonal_add_many([np.zeros(4)], [np.ones(2), np.ones(2)], key)
    with pytest.raises(ValueError, match="contiguous 1-D float64"):
        zonal_add_many([np.zeros((4, 2))[:, 0]], [np.ones(2)], key)


@settings(deadline=None)  # the first example compiles the kernel
@given(seed=st.integers(0, 2**16), n=st.integers(0, 50))
def test_gather_equals_fancy_indexing(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    table = np.append(rng.normal(size=6), np.nan)  # −1 → the NaN row, as Context.lc uses it
    rows = rng.integers(-1, 6, size=(n, 3)).astype(np.int32)
    assert gather(table, rows).tobytes() == table[rows].tobytes()
    assert gather(table, rows).shape == rows.shape


def test_gather_refuses_rows_out_of_range() -> None:
    with pytest.raises(IndexError, match="row 3 is out of range for a table of 3"):
        gather(np.arange(3.0), np.array([0, 3]))
    with pytest.raises(IndexError, match="row -4"):
        gather(np.arange(3.0), np.array([-4]))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 40),
    constant=st.sampled_from([None, 0.5, -1.0, 2.0, np.nan, np.inf]),
    dtype=st.sampled_from([np.float64, np.float32]),
)
def test_checks_and_masks_equal_the_numpy_expressions(
    seed: int, n: int, constant: float | None, dtype: type
) -> None:
    rng = np.random.default_rng(seed)
    mask = rng.random((n, 3)) < 0.7
    if constant is None:
        values = _values(rng, (n, 3)).astype(dtype)
    else:  # a scalar parameter broadcast to the grid (check_finite does this)
        values = np.broadcast_to(np.asarray(constant, dtype=dtype), mask.shape)
    assert count_nonfinite(values, mask) == int((mask & ~np.isfinite(values)).sum())
    for lo, hi in ((0.0, 1.0), (0, 1), (-np.inf, 10.0), (1e-9, np.inf)):
        expected = int((mask & ((values < lo) | (values > hi))).sum())
        assert count_outside(values, mask, lo, hi) == expected
    ref = np.array(values, dtype=np.float64, copy=True)
    ref[~mask] = np.nan
    assert nan_outside(values, mask).tobytes() == ref.tobytes()
    if constant is None:
        filled = values.copy()
        plain = values.copy()
        plain[~mask] = -7.0
        assert fill_outside(filled, mask, -7.0) is filled
        assert filled.tobytes() == plain.tobytes()


def test_counts_by_hand() -> None:
    # valid pixels hold NaN, 1, −1, inf → 2 non-finite; outside [0, 2]: −1 and inf → 2
    values = np.array([np.nan, 1.0, -1.0, np.inf, 5.0])
    mask = np.array([True, True, True, True, False])
    assert count_nonfinite(values, mask) == 2
    assert count_outside(values, mask, 0.0, 2.0) == 2
    assert np.isnan(nan_outside(values, mask)[4])


def test_key_row_counts_count_pixels_per_key_and_row_and_refuse_bad_indices() -> None:
    from ecovalue.raster.pixelwise import key_row_counts

    rng = np.random.default_rng(5)
    key = rng.integers(-1, 6, (40, 31))
    rows = np.where(key >= 0, rng.integers(0, 4, key.shape), -1).astype(np.int32)
    got = key_row_counts(key, rows, 6, 4)
    expected = np.zeros((6, 4), np.int64)
    np.add.at(expected, (key[key >= 0], rows[key >= 0]), 1)
    np.testing.assert_array_equal(got, expected)
    key[3, 3] = max(key[3, 3], 0)
    rows[3, 3] = 4
    with pytest.raises(ValueError, match="pixel 96: key .* or row 4 out of range"):
        key_row_counts(key, rows, 6, 4)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sparse=st.booleans(),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
)
def test_kind_masks_equal_looking_up_the_rows(
    seed: int, sparse: bool, shape: tuple[int, int]
) -> None:
    """Two masks of the valid pixels by their table row's kind, as class_rows then a lookup
    give them; codes missing from the table and pixels outside valid are in neither."""
    from ecovalue.raster import pixelwise

    rng = np.random.default_rng(seed)
    codes = rng.choice(np.arange(1, 40), 6, replace=False) * (10**7 if sparse else 1)
    kinds = rng.integers(0, 3, codes.size).astype(np.uint8)
    pool = np.append(codes, [0, 999 * (10**7 if sparse else 1)])  # two codes not in the table
    lc = rng.choice(pool, shape).astype(np.int64 if sparse else np.uint8)
    valid = rng.random(shape) < 0.8
    first, second = kind_masks(lc, codes, kinds, valid)
    rows, _ = pixelwise.class_rows(lc, codes, valid)
    k = np.append(kinds, 0)[rows]
    assert first.dtype == second.dtype == np.bool_
    np.testing.assert_array_equal(first, k == 1)
    np.testing.assert_array_equal(second, k == 2)
    with pytest.raises(ValueError, match="kinds for"):
        kind_masks(lc, codes, kinds[:-1], valid)


def test_rows_present_equals_a_bincount_of_the_rows() -> None:
    rng = np.random.default_rng(4)
    rows = rng.integers(-1, 5, (30, 20)).astype(np.int32)
    expected = np.bincount(rows.ravel() + 1, minlength=8)[1:] > 0
    np.testing.assert_array_equal(rows_present(rows, 7), expected)
    assert not rows_present(np.full((2, 2), -1, np.int32), 3).any()
