"""The Euclidean feature transform (``raster/distance.py``) equals scipy's, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from ecovalue.errors import InputError
from ecovalue.raster.distance import nearest_feature, nearest_feature_at


def _scipy(features: np.ndarray, sampling: tuple[float, float]) -> np.ndarray:
    return ndimage.distance_transform_edt(
        ~features, sampling=sampling, return_distances=False, return_indices=True
    )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 40),
    cols=st.integers(1, 40),
    density=st.sampled_from([0.002, 0.02, 0.1, 0.5, 0.95]),
    sampling=st.sampled_from([(30.0, 30.0), (1.0, 1.0), (30.0, 20.0), (0.7, 1.3), (2.5, 1e-3)]),
)
def test_equals_scipy_index_for_index(
    seed: int, rows: int, cols: int, density: float, sampling: tuple[float, float]
) -> None:
    rng = np.random.default_rng(seed)
    features = rng.random((rows, cols)) < density
    if not features.any():
        features[rng.integers(rows), rng.integers(cols)] = True
    got = nearest_feature(features, sampling)
    assert got.dtype == np.int32 and got.shape == (2, rows, cols)
    np.testing.assert_array_equal(got, _scipy(features, sampling))
    # at the query pixels alone (some rows without any), in row-major order: the same indices
    query = rng.random((rows, cols)) < rng.choice([0.0, 0.05, 0.5, 1.0])
    query[rng.random(rows) < 0.3] = False
    near_r, near_c = nearest_feature_at(features, sampling, query)
    assert near_r.dtype == near_c.dtype == np.int32
    np.testing.assert_array_equal(near_r, got[0][query])
    np.testing.assert_array_equal(near_c, got[1][query])


def test_ties_on_a_regular_lattice_and_a_large_grid() -> None:
    """Equal distances everywhere on a lattice of features, and a 600 × 700 grid of patches."""
    lattice = np.zeros((41, 53), bool)
    lattice[::4, ::6] = True
    lattice[::7, 3::10] = True
    for sampling in ((30.0, 30.0), (20.0, 30.0)):
        np.testing.assert_array_equal(nearest_feature(lattice, sampling), _scipy(lattice, sampling))
    rng = np.random.default_rng(3)
    patches = ndimage.zoom(rng.random((30, 35)), 20, order=1) > 0.6
    np.testing.assert_array_equal(
        nearest_feature(patches, (30.0, 30.0)), _scipy(patches, (30.0, 30.0))
    )


def test_no_feature_and_bad_input() -> None:
    none = nearest_feature(np.zeros((3, 4), bool), (1.0, 1.0))
    assert (none == -1).all()
    with pytest.raises(InputError, match="2-D boolean grid"):
        nearest_feature(np.zeros((3, 4)), (1.0, 1.0))
    with pytest.raises(InputError, match="sampling must be two finite sizes > 0"):
        nearest_feature(np.ones((3, 4), bool), (0.0, 1.0))
    everywhere = np.ones((3, 4), bool)
    r, c = nearest_feature_at(np.zeros((3, 4), bool), (1.0, 1.0), everywhere)
    assert r.size == 12 and (r == -1).all() and (c == -1).all()
    with pytest.raises(InputError, match="query must be a boolean grid of shape"):
        nearest_feature_at(everywhere, (1.0, 1.0), np.ones((3, 5), bool))
