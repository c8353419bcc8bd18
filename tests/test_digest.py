"""Row-wise grid digests (ecovalue.raster.digest): any split into blocks gives the same digest."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecovalue.raster.digest import grid_digest, join_row_digests, row_digests


def test_the_digest_is_the_sha256_of_the_rows_sha256s() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    rows = b"".join(hashlib.sha256(a[i].tobytes()).digest() for i in range(3))
    assert row_digests(a) == rows
    assert grid_digest(a) == hashlib.sha256(rows).digest()


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(0, 9),
    dtype=st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_]),
    cuts=st.lists(st.integers(0, 40), max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_split_into_blocks_of_rows_gives_the_whole_grids_digest(
    h: int, w: int, dtype: type, cuts: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = (rng.random((h, w)) * 200).astype(dtype)
    edges = sorted({0, h, *(c for c in cuts if c <= h)})
    parts = [row_digests(a[s:e]) for s, e in zip(edges, edges[1:], strict=False)]
    assert join_row_digests(parts) == grid_digest(a)


def test_the_digest_sees_values_dtype_and_shape() -> None:
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = a.copy()
    b[2, 3] = np.nextafter(b[2, 3], np.float32(99))
    assert grid_digest(b) != grid_digest(a)
    assert grid_digest(a.astype(np.float64)) != grid_digest(a)
    assert grid_digest(a.reshape(4, 3)) != grid_digest(a)  # the same bytes, other rows
    # a non-contiguous view hashes as its values
    big = np.arange(48, dtype=np.float32).reshape(6, 8)
    assert grid_digest(big[::2, ::2]) == grid_digest(np.ascontiguousarray(big[::2, ::2]))


def test_rows_converted_one_at_a_time_equal_the_converted_grid() -> None:
    a = np.random.default_rng(3).random((5, 7)).astype(np.float32)
    assert row_digests(a, np.float64) == row_digests(a.astype(np.float64))
    assert row_digests(a, np.float32) == row_digests(a)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="2-D array; got 1 dimension"):
        row_digests(np.zeros(5))
    with pytest.raises(ValueError, match="not a whole number of 32-byte digests"):
        join_row_digests([b"x" * 33])
