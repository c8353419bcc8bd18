"""Tests of the hydrology kernels on tiny hand-made DEMs, plus invariants under hypothesis."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ecovalue.errors import InputError
from ecovalue.raster import hydrology as h


def ones(shape: tuple[int, int]) -> np.ndarray:
    return np.ones(shape, dtype=bool)


def tilted_plane(rows: int, cols: int, drop: float = 1.0) -> np.ndarray:
    """Elevation falls by ``drop`` per column towards the east (column cols-1 is lowest)."""
    return np.tile(-drop * np.arange(cols, dtype=float), (rows, 1))


# ------------------------------------------------------------------------- fill


def test_pit_is_filled_to_its_spill_height() -> None:
    # the centre pit (1) can only spill over the lowest rim cell (4): it ends level at 4
    dem = np.array([[5, 5, 5], [5, 1, 5], [5, 4, 5]], dtype=float)
    filled = h.fill_depressions(dem, ones(dem.shape))
    assert filled[1, 1] == 4.0
    # it is a one-cell flat drained by the spill cell: flow goes south (code 6)
    assert h.flow_direction_d8(filled, ones(dem.shape), 1.0)[1, 1] == 6
    rim = np.ones((3, 3), dtype=bool)
    rim[1, 1] = False
    np.testing.assert_array_equal(filled[rim], dem[rim])


def test_fill_leaves_a_tilted_plane_unchanged() -> None:
    dem = tilted_plane(4, 5)
    np.testing.assert_array_equal(h.fill_depressions(dem, ones(dem.shape)), dem)


def test_cells_next_to_nodata_are_outlets() -> None:
    # the pit touches a nodata cell, so it drains there and is not filled
    dem = np.array([[5, 5, 5, 5], [5, 1, 0, 5], [5, 5, 5, 5]], dtype=float)
    valid = ones(dem.shape)
    valid[1, 2] = False
    filled = h.fill_depressions(dem, valid)
    assert filled[1, 1] == 1.0
    assert np.isnan(filled[1, 2])


def test_a_routing_stop_ends_the_fill_while_it_runs() -> None:
    # a 600² pit (interior 1 below its rim): every interior cell is raised through the fill's
    # queue (358 804 of them), and the kernel looks at the stop every 65 536 cells taken
    dem = np.full((600, 600), -1.0)
    dem[[0, -1], :] = dem[:, [0, -1]] = 0.0
    valid = ones(dem.shape)
    assert (h._fill_kernel(dem, valid, h.RoutingStop().flag) == 0.0).all()  # not set
    stop = h.RoutingStop()
    stop.set()
    assert stop.is_set() and stop.flag[0] == 1
    half_done = h._fill_kernel(dem, valid, stop.flag)
    assert (half_done == -1.0).sum() > dem.size // 2  # it ended early
    with pytest.raises(h.RoutingStopped):  # and the wrappers never pass a half fill on
        h._fill(dem, valid, stop)
    with pytest.raises(h.RoutingStopped):
        h._fill_parallel(dem, valid, 2, stop=stop)
    # a plain event is looked at between kernels only: its fill runs to the end
    plain = threading.Event()
    plain.set()
    assert (h._fill_kernel(dem, valid, h._halt_flag(plain)) == 0.0).all()
    assert h._NEVER[0] == 0


def test_a_routing_stop_set_from_another_thread_reaches_a_running_fill() -> None:
    # a 3000² pit takes the fill ≥ 0.5 s; the stop is set 50 ms after its thread starts, so
    # the kernel is (almost always) running and must see the flag change under it
    dem = np.full((3000, 3000), -1.0)
    dem[[0, -1], :] = dem[:, [0, -1]] = 0.0
    valid = ones(dem.shape)
    stop = h.RoutingStop()
    result: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: result.append(h._fill_kernel(dem, valid,
                                                                          stop.flag)))
    worker.start()
    threading.Event().wait(0.05)
    stop.set()
    worker.join(60)
    assert not worker.is_alive()
    assert (result[0] == -1.0).sum() > dem.size // 2  # it ended early


# ------------------------------------------------------------------------- D8


def test_ramp_1x5_directions_and_accumulation() -> None:
    # 4 3 2 1 0 : every cell flows east (code 0); the last cell drains off the grid (-1)
    dem = np.array([[4, 3, 2, 1, 0]], dtype=float)
    valid = ones(dem.shape)
    dirs = h.flow_direction_d8(dem, valid, 10.0)
    np.testing.assert_array_equal(dirs, [[0, 0, 0, 0, -1]])
    assert dirs.dtype == np.int8
    # each cell counts itself plus everything upslope: 1, 2, 3, 4, 5
    np.testing.assert_array_equal(h.flow_accumulation_d8(dirs, valid), [[1, 2, 3, 4, 5]])


def test_tilted_plane_uniform_directions_and_counts() -> None:
    dem = tilted_plane(3, 4)
    valid = ones(dem.shape)
    dirs = h.flow_direction_d8(dem, valid, 30.0)
    # east (0) is steepest: drop 1/1 beats the diagonals' 1/√2; the last column is the outlet
    np.testing.assert_array_equal(dirs, [[0, 0, 0, -1]] * 3)
    acc = h.flow_accumulation_d8(dirs, valid)
    np.testing.assert_array_equal(acc, [[1, 2, 3, 4]] * 3)


def test_diagonal_distance_weighting() -> None:
    # from the centre (10): east drops 3 over 1 cell = 3; south-east drops 4 over √2 = 2.83
    dem = np.array([[20, 20, 20], [20, 10, 7], [20, 20, 6]], dtype=float)
    dirs = h.flow_direction_d8(dem, ones(dem.shape), 1.0)
    assert dirs[1, 1] == 0
    # a drop of 5 on the diagonal (5/√2 = 3.54 > 3) wins
    dem[2, 2] = 5.0
    assert h.flow_direction_d8(dem, ones(dem.shape), 1.0)[1, 1] == 7


def test_d8_weights_are_summed_downstream() -> None:
    dem = np.array([[4, 3, 2, 1, 0]], dtype=float)
    valid = ones(dem.shape)
    dirs = h.flow_direction_d8(dem, valid, 10.0)
    weights = np.array([[1.0, 2.0, 0.5, 0.0, 3.0]])
    # running sums: 1, 3, 3.5, 3.5, 6.5
    acc = h.flow_accumulation_d8(dirs, valid, weights)
    np.testing.assert_allclose(acc, [[1.0, 3.0, 3.5, 3.5, 6.5]])


def test_nodata_cells_are_excluded_from_routing() -> None:
    # the ramp is cut by a nodata cell: the upstream part drains into it (an outlet)
    dem = np.array([[4, 3, 2, 1, 0]], dtype=float)
    valid = ones(dem.shape)
    valid[0, 2] = False
    dirs = h.flow_direction_d8(dem, valid, 10.0)
    np.testing.assert_array_equal(dirs, [[0, -1, -1, 0, -1]])
    acc = h.flow_accumulation_d8(dirs, valid)
    np.testing.assert_array_equal(acc[valid], [1, 2, 1, 2])
    assert np.isnan(acc[0, 2])


def test_flow_cycle_is_refused() -> None:
    dirs = np.array([[0, 4]], dtype=np.int8)  # east then west: a two-cell loop
    with pytest.raises(InputError, match="cycle"):
        h.flow_accumulation_d8(dirs, ones(dirs.shape))


# ------------------------------------------------------------------------- MFD


def test_mfd_on_a_ramp_equals_d8() -> None:
    dem = np.array([[4, 3, 2, 1, 0]], dtype=float)
    acc = h.flow_accumulation_mfd(dem, ones(dem.shape), 10.0)
    np.testing.assert_allclose(acc, [[1, 2, 3, 4, 5]])


def test_mfd_plane_conserves_flow() -> None:
    dem = tilted_plane(4, 5)
    valid = ones(dem.shape)
    acc = h.flow_accumulation_mfd(dem, valid, 1.0)
    # only the last column has no lower neighbour: all 4·5 = 20 cells leave through it
    assert acc[:, -1].sum() == pytest.approx(20.0)
    assert (acc >= 1.0).all()


def test_mfd_split_proportional_to_slope_power() -> None:
    # 8 10 9, cell 1 m: the centre drops 2 to the west (tanβ = 2) and 1 to the east (tanβ = 1)
    # west gets 2^1.1 / (2^1.1 + 1) = 0.6818 of it, east 1 / (2^1.1 + 1) = 0.3182
    dem = np.array([[8.0, 10.0, 9.0]])
    acc = h.flow_accumulation_mfd(dem, ones(dem.shape), 1.0, exponent=1.1)
    west = 2.0**1.1 / (2.0**1.1 + 1.0)
    np.testing.assert_allclose(acc, [[1.0 + west, 1.0, 1.0 + (1.0 - west)]])
    # exponent 1: a plain slope-proportional split, 2/3 and 1/3
    acc1 = h.flow_accumulation_mfd(dem, ones(dem.shape), 1.0, exponent=1.0)
    np.testing.assert_allclose(acc1, [[1 + 2 / 3, 1.0, 1 + 1 / 3]])


def test_mfd_respects_nodata() -> None:
    dem = tilted_plane(3, 4)
    valid = ones(dem.shape)
    valid[1, 3] = False
    acc = h.flow_accumulation_mfd(dem, valid, 1.0)
    assert np.isnan(acc[1, 3])
    # no flow is lost or invented: what leaves equals the 11 valid cells
    outlets = valid & (h.flow_direction_d8(dem, valid, 1.0) == -1)
    assert acc[outlets].sum() == pytest.approx(11.0)


def _rough_routed(rows: int, cols: int, seed: int) -> tuple[np.ndarray, ...]:
    """A filled rough DEM with nodata holes and flats, its valid mask and flat mask: what the
    MFD accumulation receives inside ``route``."""
    rng = np.random.default_rng(seed)
    dem = np.cumsum(rng.normal(size=(rows, cols)), axis=0) + np.round(rng.random((rows, cols)) * 3)
    dem[rows // 3:rows // 3 + 6, 5:15] = dem[rows // 3, 5]  # a flat across band edges
    valid = rng.random(dem.shape) > 0.03
    filled = h.fill_depressions(dem, valid)
    return filled, valid, h.resolve_flats(filled, valid)


@pytest.mark.parametrize("band_rows", [1, 3, 8, 25])
@pytest.mark.parametrize("exponent", [1.0, 1.1])
def test_mfd_in_bands_conserves_flow_and_does_not_depend_on_threads(
    band_rows: int, exponent: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the accumulation in bands of rows, flow crossing band edges back and forth over many
    # rounds: the same bits on any number of threads, the one-band sweep's numbers to the
    # last bits, the same flow lengths, and every valid cell's unit leaves through a cell
    # without outflow
    filled, valid, mask = _rough_routed(120, 70, seed=band_rows)
    monkeypatch.setattr(h, "MFD_BAND_ROWS", 10**6)
    one_band, one_x = h._mfd_accumulate(filled, valid, mask, 30.0, exponent)
    monkeypatch.setattr(h, "MFD_BAND_ROWS", band_rows)
    merges = []
    merge = h._merge_outboxes
    monkeypatch.setattr(h, "_merge_outboxes", lambda *a: merges.append(1) or merge(*a))
    acc, x = h._mfd_accumulate(filled, valid, mask, 30.0, exponent)
    assert len(merges) > 5  # many rounds: flow crossed band edges and came back
    np.testing.assert_allclose(acc, one_band, rtol=1e-12)
    np.testing.assert_array_equal(x, one_x)
    assert np.isnan(acc[~valid]).all() and (acc[valid] >= 1.0).all()
    assert acc[valid & (x == 0.0)].sum() == pytest.approx(valid.sum(), rel=1e-12)
    for threads in (2, 3, 5):
        got, got_x = h._mfd_accumulate(filled, valid, mask, 30.0, exponent, threads)
        np.testing.assert_array_equal(got, acc)
        np.testing.assert_array_equal(got_x, x)


def test_mfd_in_bands_stops_between_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    class SetOnThirdLook:  # an event its owner sets while the accumulation runs
        looks = 0

        def is_set(self) -> bool:
            self.looks += 1
            return self.looks >= 3

    filled, valid, mask = _rough_routed(60, 40, seed=1)
    monkeypatch.setattr(h, "MFD_BAND_ROWS", 4)
    stop = SetOnThirdLook()
    with pytest.raises(h.RoutingStopped):
        h._mfd_accumulate(filled, valid, mask, 30.0, 1.1, 2, stop)
    assert stop.looks == 3  # checked before each round: stopped before the third


# ------------------------------------------------------------------------- slope and LS


def test_slope_of_a_plane_and_aspect_factor() -> None:
    dem = tilted_plane(3, 3, drop=3.0)  # 3 m per 30 m cell = 10 %
    slope, x = h.slope_fraction(dem, ones(dem.shape), 30.0)
    assert slope[1, 1] == pytest.approx(0.1)
    assert x[1, 1] == pytest.approx(1.0)  # aspect due east: |sin| + |cos| = 1
    diag = -np.add.outer(np.arange(3.0), np.arange(3.0))  # falls to the south-east
    _, xd = h.slope_fraction(diag, ones(diag.shape), 1.0)
    assert xd[1, 1] == pytest.approx(math.sqrt(2.0))


@pytest.mark.parametrize("direction", ["east", "south", "south-east"])
def test_slope_of_a_plane_is_exact_at_every_cell_edges_and_corners_included(direction: str) -> None:
    # a 6 % plane: before, edge cells took the missing neighbours as equal to the centre and
    # read 4.5 % on the side columns, 3 % on the top and bottom rows, 2.37 % in the corners
    d, grade = 30.0, 0.06
    rows, cols = np.mgrid[0:7, 0:9].astype(float)
    east, south = {"east": (1.0, 0.0), "south": (0.0, 1.0), "south-east": (0.6, 0.8)}[direction]
    dem = 100.0 - grade * d * (east * cols + south * rows)
    valid = ones(dem.shape)
    valid[3, 4] = False  # a hole: its neighbours are edges too
    slope, x = h.slope_fraction(dem, valid, d)
    np.testing.assert_allclose(slope[valid], grade, rtol=1e-12)
    np.testing.assert_allclose(x[valid], abs(east) + abs(south), rtol=1e-12)
    # the LS factor computed inside the MFD kernel takes the same slope as the separate pass
    ls = h.route_ls(dem, valid, d, "mfd")
    np.testing.assert_array_equal(ls, h.route(dem, valid, d, "mfd").ls)


def test_an_isolated_row_has_no_cross_slope_and_an_exact_slope_along_it() -> None:
    dem = np.array([[10.0, 9.0, 8.0, 7.0]])  # 1 m per 10 m cell, one row: no north/south cells
    slope, _ = h.slope_fraction(dem, ones(dem.shape), 10.0)
    np.testing.assert_allclose(slope, 0.1, rtol=1e-12)
    single = h.slope_fraction(np.array([[5.0]]), ones((1, 1)), 10.0)[0]
    assert single[0, 0] == 0.0


def test_ls_flat_plane_without_upslope_area_matches_hand_formula() -> None:
    # flat: slope 0 → S = 0.03, m = 0.2, x = 1, A_in = 0 →
    # L = (D²)^1.2 / (D^2.2 · 22.13^0.2) = (D / 22.13)^0.2
    d = 30.0
    dem = np.full((3, 3), 100.0)
    valid = ones(dem.shape)
    ls = h.ls_factor(dem, valid, d, np.ones((3, 3)), "d8")
    np.testing.assert_allclose(ls, (d / 22.13) ** 0.2 * 0.03)


def test_ls_on_a_ten_percent_plane_matches_hand_formula() -> None:
    d = 30.0
    dem = tilted_plane(3, 5, drop=3.0)  # 10 % slope
    valid = ones(dem.shape)
    acc = h.flow_accumulation_d8(h.flow_direction_d8(dem, valid, d), valid)
    ls = h.ls_factor(dem, valid, d, acc, "d8")
    # centre cell (1, 2): acc = 3, A_in = 2·900 m², x = 1 (flows east), slope 10 % > 9 %
    sin_t = math.sin(math.atan(0.1))
    beta = (sin_t / 0.0896) / (3 * sin_t**0.8 + 0.56)
    m = beta / (1 + beta)
    a_in = 2 * d * d
    big_l = ((a_in + d * d) ** (m + 1) - a_in ** (m + 1)) / (d ** (m + 2) * 22.13**m)
    s = 16.8 * sin_t - 0.5
    assert ls[1, 2] == pytest.approx(big_l * s)
    capped = h.ls_factor(dem, valid, d, acc, "d8", l_max=0.5)
    assert capped[1, 2] == pytest.approx(0.5 * s)


def test_ls_m_exponent_classes() -> None:
    # slope 2 % → m = 0.3, S = 10.8 sinθ + 0.03; one cell, no upslope area, x = 1
    d = 10.0
    dem = tilted_plane(3, 3, drop=0.2)
    valid = ones(dem.shape)
    ls = h.ls_factor(dem, valid, d, np.ones(dem.shape), "d8")
    sin_t = math.sin(math.atan(0.02))
    assert ls[1, 1] == pytest.approx((d / 22.13) ** 0.3 * (10.8 * sin_t + 0.03))


def test_route_returns_everything_and_masks_nodata() -> None:
    dem = tilted_plane(4, 6, drop=2.0)
    valid = ones(dem.shape)
    valid[0, 0] = False
    for method in h.METHODS:
        r = h.route(dem, valid, 30.0, method)
        assert r.method == method and r.cell_size == 30.0
        for arr in (r.filled, r.slope, r.accumulation, r.ls):
            assert arr.shape == dem.shape and arr.dtype == np.float64
            assert np.isnan(arr[0, 0])
            assert np.isfinite(arr[valid]).all()
        assert (r.ls[valid] > 0).all()


def test_route_d8_accumulation_matches_the_separate_kernels() -> None:
    dem = np.array([[5, 5, 5, 5], [5, 2, 3, 5], [5, 4, 1, 0]], dtype=float)
    valid = ones(dem.shape)
    r = h.route(dem, valid, 10.0, "d8")
    filled = h.fill_depressions(dem, valid)
    acc = h.flow_accumulation_d8(h.flow_direction_d8(filled, valid, 10.0), valid)
    np.testing.assert_array_equal(r.accumulation, acc)
    np.testing.assert_array_equal(r.ls, h.ls_factor(filled, valid, 10.0, acc, "d8"))


def test_unknown_method_is_refused() -> None:
    dem = tilted_plane(2, 2)
    with pytest.raises(InputError, match=r"routing method 'dinf' is unknown.*d8, mfd"):
        h.route(dem, ones(dem.shape), 30.0, "dinf")
    with pytest.raises(InputError, match="unknown"):
        h.ls_factor(dem, ones(dem.shape), 30.0, np.ones((2, 2)), "D8")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell_size": 0.0}, "cell_size"),
        ({"cell_size": float("nan")}, "cell_size"),
        ({"valid": np.ones((2, 2), dtype=int)}, "boolean"),
        ({"valid": np.ones((3, 2), dtype=bool)}, "shape"),
        ({"dem": np.array([[1.0, np.nan], [0.0, 0.0]])}, "NaN"),
        ({"dem": np.zeros(4)}, "2-D"),
    ],
)
def test_bad_inputs_are_refused(kwargs: dict, match: str) -> None:
    args = {"dem": np.zeros((2, 2)), "valid": ones((2, 2)), "cell_size": 30.0} | kwargs
    with pytest.raises(InputError, match=match):
        h.route(args["dem"], args["valid"], args["cell_size"])


def test_nan_under_nodata_is_fine() -> None:
    dem = np.array([[np.nan, 2.0, 1.0]])
    valid = np.array([[False, True, True]])
    r = h.route(dem, valid, 1.0)
    np.testing.assert_array_equal(r.accumulation[valid], [1, 2])


# ------------------------------------------------------------------------- properties

small_dems = st.integers(2, 7).flatmap(
    lambda n: st.tuples(
        arrays(np.float64, (n, n + 1), elements=st.integers(0, 4).map(float)),
        arrays(np.bool_, (n, n + 1), elements=st.booleans()),
    )
)


@settings(max_examples=150, deadline=None)
@given(small_dems)
def test_fill_properties(case: tuple[np.ndarray, np.ndarray]) -> None:
    dem, valid = case
    filled = h.fill_depressions(dem, valid)
    assert (filled[valid] >= dem[valid]).all()
    assert np.isnan(filled[~valid]).all()
    np.testing.assert_array_equal(h.fill_depressions(filled, valid), filled)  # idempotent
    # every cell away from the border and nodata has a D8 direction after filling
    dirs = h.flow_direction_d8(filled, valid, 1.0)
    padded = np.pad(valid, 1, constant_values=False)
    interior = valid.copy()
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            interior &= padded[1 + dr : 1 + dr + valid.shape[0], 1 + dc : 1 + dc + valid.shape[1]]
    assert (dirs[interior] >= 0).all()


@settings(max_examples=100, deadline=None)
@given(small_dems)
def test_accumulation_conserves_cells(case: tuple[np.ndarray, np.ndarray]) -> None:
    dem, valid = case
    filled = h.fill_depressions(dem, valid)
    dirs = h.flow_direction_d8(filled, valid, 1.0)
    outlets = valid & (dirs == -1)
    n = int(valid.sum())
    acc = h.flow_accumulation_d8(dirs, valid)
    assert acc[outlets].sum() == n
    mfd = h.flow_accumulation_mfd(filled, valid, 1.0)
    assert mfd[outlets].sum() == pytest.approx(n)
    assert (mfd[valid] >= 1.0 - 1e-12).all()


def test_ls_invest_formulation_uses_sqrt_area_and_slope_angle_x():
    # A 1×5 ramp (slope 0.1 along the row, cell 10 m) routed with D8: accumulation 1..5.
    import math

    from ecovalue.raster.hydrology import route

    dem = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    valid = np.ones_like(dem, dtype=bool)
    dg = route(dem, valid, 10.0, "d8")
    inv = route(dem, valid, 10.0, "d8", formulation="invest")
    # the first cell has no upslope area: both forms agree up to x there
    r, c = 0, 2
    acc = dg.accumulation[r, c]
    slope = dg.slope[r, c]
    theta = math.atan(slope)
    pct = slope * 100
    m = 0.5 if 5 < pct <= 9 else (0.4 if pct > 3.5 else 0.3) if pct > 1 else 0.2
    if pct > 9:
        beta = (math.sin(theta) / 0.0896) / (3 * math.sin(theta) ** 0.8 + 0.56)
        m = beta / (1 + beta)
    s = 10.8 * math.sin(theta) + 0.03 if pct < 9 else 16.8 * math.sin(theta) - 0.5
    a = math.sqrt((acc - 1) * 100.0)
    x = abs(math.sin(theta)) + abs(math.cos(theta))
    expected = ((a + 100.0) ** (m + 1) - a ** (m + 1)) / (10.0 ** (m + 2) * x**m * 22.13**m) * s
    assert inv.ls[r, c] == pytest.approx(expected, rel=1e-12)
    assert inv.ls[r, c] < dg.ls[r, c]  # √area < area for more than one upslope cell
    with pytest.raises(InputError, match="LS formulation 'saga' is not known"):
        route(dem, valid, 10.0, "d8", formulation="saga")


def test_flat_is_drained_along_its_middle() -> None:
    """Barnes, Lehman & Mulla (2014b) on a 3×3 flat of height 1 in a rim of 9, drained by the
    three cells of column 4, which see the 0 of the border outlet (2, 5).

    towards the drains (breadth-first steps from column 4): column 3 → 2, 2 → 3, 1 → 4;
    away from the rim (steps from cells touching a 9): 1 on the rim side, 2 at (2, 2), (2, 3);
    the flat's largest away H = 2. FlatMask = 2·towards + (H − away), stored minus 2:
        column 3: 4+1, 4+0, 4+1 → 3, 2, 3
        column 2: 6+1, 6+0, 6+1 → 5, 4, 5
        column 1: 8+1 everywhere (all three touch the rim) → 7, 7, 7
    so the middle row is lowest: water crosses the flat away from its rim."""
    dem = np.full((5, 6), 9.0)
    dem[1:4, 1:5] = 1.0
    dem[2, 5] = 0.0
    valid = ones(dem.shape)
    mask = h.resolve_flats(dem, valid)
    expected = np.zeros((5, 6), dtype=np.int32)
    expected[1:4, 1:4] = [[7, 5, 3], [7, 4, 2], [7, 5, 3]]
    np.testing.assert_array_equal(mask, expected)
    dirs = h.flow_direction_d8(dem, valid, 1.0)
    # (1,1): east falls 7−5 = 2 over 1, south-east 7−4 = 3 over √2 = 2.12 → south-east (7);
    # (3,1) mirrors it (north-east, 1); the middle row flows east (0), as does (1,3): 3 − 0
    # to the drain (1,4) beats 3/√2 to (2,4)
    assert dirs[1, 1] == 7 and dirs[3, 1] == 1
    assert list(dirs[2, 1:5]) == [0, 0, 0, 0] and dirs[1, 3] == 0
    # MFD: the rim falls inwards, so all 30 cells leave through the outlet; nothing is lost
    acc = h.flow_accumulation_mfd(dem, valid, 1.0)
    assert acc[2, 5] == pytest.approx(30.0)


def test_a_dem_without_flats_has_an_empty_mask() -> None:
    dem = tilted_plane(4, 5)
    assert not h.resolve_flats(dem, ones(dem.shape)).any()


tie_dems = st.tuples(st.integers(3, 9), st.integers(3, 9), st.integers(0, 10**6)).map(
    lambda a: (
        np.round(np.random.default_rng(a[2]).random((a[0], a[1])) * 3),
        np.random.default_rng(a[2] + 1).random((a[0], a[1])) > 0.1,
    )
)


def _reference_fill(dem: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The fill by definition, slowly: W = +inf except at outlets (border or next to nodata),
    then W = max(dem, min of the neighbours' W) until nothing changes (Planchon & Darboux
    2002, "A fast, simple and versatile algorithm to fill the depressions of digital
    elevation models", Catena 46:159-176, without their ε)."""
    rows, cols = dem.shape
    w = np.where(valid, np.inf, np.nan)
    for r in range(rows):
        for c in range(cols):
            if not valid[r, c]:
                continue
            nbrs = [(r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if dr or dc]
            if any(not (0 <= a < rows and 0 <= b < cols) or not valid[a, b] for a, b in nbrs):
                w[r, c] = dem[r, c]
    changed = True
    while changed:
        changed = False
        for r in range(rows):
            for c in range(cols):
                if not valid[r, c] or w[r, c] == dem[r, c]:
                    continue
                low = min(w[a, b] for a in range(max(r - 1, 0), min(r + 2, rows))
                          for b in range(max(c - 1, 0), min(c + 2, cols))
                          if (a, b) != (r, c) and valid[a, b])
                new = max(dem[r, c], low)
                if new < w[r, c]:
                    w[r, c] = new
                    changed = True
    return w


# shifts of a tie DEM's heights (ties kept): float32 values, positive or negative, take the
# fill's packed heap (h._packable); + 0.1 makes every value a float64 the binary heap takes
HEAP_SHIFTS = [(0.0, True), (-1.5, True), (0.1, False)]


@pytest.mark.parametrize(("shift", "packed"), HEAP_SHIFTS)
@settings(max_examples=100, deadline=None)
@given(case=tie_dems)
def test_fill_equals_the_definition(case: tuple, shift: float, packed: bool) -> None:
    dem, valid = case
    dem = dem + shift
    assert h._packable(dem, valid, 0, dem.shape[0]) == packed
    np.testing.assert_array_equal(h.fill_depressions(dem, valid), _reference_fill(dem, valid))


def test_packed_heap_orders_negative_zero_and_signs_as_floats() -> None:
    # the packed key's order is the float order, −0.0 just below +0.0 (either is a valid
    # visiting order for equal heights), so the fill of a DEM across sea level is the same
    dem = np.array([[3.0, 3.0, 3.0, 3.0, 3.0],
                    [3.0, -2.0, -0.0, 0.0, 3.0],
                    [3.0, -1.0, -5.0, 0.0, 3.0],
                    [-0.5, 3.0, 3.0, 3.0, 3.0]])
    valid = ones(dem.shape)
    assert h._packable(dem, valid, 0, 4)
    np.testing.assert_array_equal(h.fill_depressions(dem, valid), _reference_fill(dem, valid))
    # keys of increasing heights increase; the cell orders equal heights
    f = np.empty(1, dtype=np.float32)
    heights = [-3.5e38, -2.0, -1e-45, -0.0, 0.0, 1e-45, 0.5, 2.0, 3.5e38]
    keys = [int(h._packed_key(f, f.view(np.uint32), z, 7)) for z in heights]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert int(h._packed_key(f, f.view(np.uint32), 2.0, 8)) == keys[-2] + 1
    assert keys[0] & 0xFFFFFFFF == 7


def test_packable_needs_float32_values_on_valid_cells_only() -> None:
    dem = np.array([[1.0, 2.0], [3.0, 4.0]])
    valid = ones(dem.shape)
    assert h._packable(dem, valid, 0, 2)
    dem[1, 1] = 4.0 + 1e-9  # not a float32
    assert not h._packable(dem, valid, 0, 2)
    assert h._packable(dem, valid, 0, 1)  # not in these rows
    valid[1, 1] = False
    assert h._packable(dem, valid, 0, 2)  # nodata does not count


@settings(max_examples=120, deadline=None)
@given(tie_dems, st.sampled_from(["flipud", "fliplr", "transpose", "rot90"]))
def test_routing_does_not_depend_on_visiting_order(case: tuple, how: str) -> None:
    """Mirroring or rotating a DEM full of flats changes the order in which the kernels visit
    cells, not the terrain: the fill and the flat mask must follow the DEM exactly, and the
    MFD accumulation up to the order of float additions. (Priority-Flood+ε, used before,
    resolved flats by the visiting order and failed this.)"""
    dem, valid = case
    op = {"flipud": np.flipud, "fliplr": np.fliplr, "transpose": np.transpose,
          "rot90": np.rot90}[how]
    filled = h.fill_depressions(dem, valid)
    t_dem, t_valid = np.ascontiguousarray(op(dem)), np.ascontiguousarray(op(valid))
    t_filled = h.fill_depressions(t_dem, t_valid)
    np.testing.assert_array_equal(t_filled, op(filled))
    np.testing.assert_array_equal(h.resolve_flats(t_filled, t_valid),
                                  op(h.resolve_flats(filled, valid)))
    acc = h.route(dem, valid, 30.0, method="mfd").accumulation
    t_acc = h.route(t_dem, t_valid, 30.0, method="mfd").accumulation
    np.testing.assert_allclose(t_acc, op(acc), rtol=1e-12)


@pytest.mark.parametrize("formulation", ["desmet_govers", "invest"])
@pytest.mark.parametrize("method", ["d8", "mfd"])
def test_route_ls_equals_route_and_does_not_depend_on_threads(method: str,
                                                              formulation: str) -> None:
    # route_ls computes the MFD LS inside the MFD kernel, route() from its slope and flow
    # length grids: the same numbers, bit for bit, with either exponent and formulation,
    # on 1–3 threads (the LS pass in bands of rows)
    rng = np.random.default_rng(3)
    dem = np.add.outer(np.arange(40) * 2.0, np.arange(50) * 0.7) + rng.random((40, 50)) * 5
    dem[20:24, 30:34] = dem[20, 30]  # a flat
    valid = ones(dem.shape)
    valid[5:9, 10:14] = False
    dem32 = dem.astype(np.float32)  # the streamed engine passes the DEM as read (float32)
    for exponent in (1.0, 1.1):
        kw = {"method": method, "exponent": exponent, "formulation": formulation, "l_max": 50.0}
        expected = h.route(dem32.astype(np.float64), valid, 30.0, **kw).ls
        assert np.isnan(expected[~valid]).all() and np.isfinite(expected[valid]).all()
        for threads in (1, 2, 3):
            got = h.route_ls(dem32, valid, 30.0, threads=threads, **kw)
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("method", ["d8", "mfd"])
def test_a_float32_dem_routes_in_float32_to_the_float64_routing_bits(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a DEM whose valid heights are float32 values is filled and routed as float32 (half the
    # memory); the kernels' arithmetic stays float64, so every product is the float64
    # routing's, bit for bit: rough terrain, negative heights, pits, a flat, nodata holding
    # a value no float32 holds, fill and MFD in bands on several threads
    monkeypatch.setattr(h, "MFD_BAND_ROWS", 16)
    rng = np.random.default_rng(17)
    dem = np.cumsum(rng.normal(size=(150, 70)), axis=0) + rng.random((150, 70)) * 3 - 40.0
    dem[60:70, 20:35] = dem[60, 20]  # a flat
    dem = dem.astype(np.float32).astype(np.float64)
    valid = rng.random(dem.shape) > 0.02
    dem[~valid] = 1e300
    z, v = h._check_grid(dem, valid, compact=True)
    assert z.dtype == np.float32 and h._check_grid(dem, valid)[0].dtype == np.float64
    kw = {"method": method, "exponent": 1.1, "l_max": 50.0}
    compact = [h.route(dem, valid, 30.0, threads=t, **kw) for t in (1, 3)]
    with np.errstate(over="ignore"):
        dem32 = dem.astype(np.float32)
    compact_ls = [h.route_ls(dem32, valid, 30.0, threads=t, **kw)
                  for t in (1, 3)]
    assert compact[0].filled.dtype == np.float64
    # the same routing with the elevations kept float64 throughout
    plain = h._check_grid
    monkeypatch.setattr(h, "_check_grid",
                        lambda d, m, name="dem", compact=False: plain(d, m, name))
    wide = h.route(dem, valid, 30.0, threads=1, **kw)
    for got in compact:
        for field in ("filled", "slope", "accumulation", "ls"):
            np.testing.assert_array_equal(getattr(got, field), getattr(wide, field))
    for got_ls in compact_ls:
        np.testing.assert_array_equal(got_ls, wide.ls)
    # a DEM that is not all float32 values keeps float64
    dem[3, 3] += 1e-9
    assert h._check_grid(dem, valid, compact=True)[0].dtype == np.float64


@pytest.mark.parametrize("packed", [True, False])
@settings(max_examples=100, deadline=None)
@given(case=tie_dems, bands=st.integers(2, 4), tilt=st.integers(-8, 8))
def test_parallel_fill_equals_the_sequential_fill(case: tuple, bands: int, tilt: int,
                                                  packed: bool) -> None:
    """Barnes (2016) on bands of rows: every value of a fill is one of the DEM's, so the
    bands, their watershed graph and the final raise must give the same array bit for bit
    (with either heap of the band fills)."""
    dem, valid = case
    # valleys across band borders too; eighths are float32 values, + 0.1 makes them not
    dem = dem + tilt / 8 * np.arange(dem.shape[0])[:, None] + (0.0 if packed else 0.1)
    assert h._packable(dem, valid, 0, dem.shape[0]) == packed
    expected = h.fill_depressions(dem, valid)
    got = h._fill_parallel(np.ascontiguousarray(dem), valid, bands, min_band_rows=1)
    np.testing.assert_array_equal(got, expected)


def test_parallel_fill_on_a_large_rough_dem() -> None:
    rng = np.random.default_rng(11)
    dem = np.cumsum(rng.normal(size=(300, 260)), axis=0) + np.round(rng.random((300, 260)) * 3)
    valid = rng.random(dem.shape) > 0.02
    np.testing.assert_array_equal(h._fill_parallel(dem, valid, 3), h.fill_depressions(dem, valid))
    # as float32 values (the packed heap), against the other heap's fill of the same values
    dem32 = dem.astype(np.float32).astype(np.float64)
    assert h._packable(dem32, valid, 0, dem.shape[0])
    unpacked = np.full(dem.shape, np.nan)
    h._fill_whole(dem32, valid, unpacked, np.zeros((1, 1), dtype=np.int32), 0, dem.shape[0],
                  h._NEVER)
    np.testing.assert_array_equal(h.fill_depressions(dem32, valid), unpacked)
    np.testing.assert_array_equal(h._fill_parallel(dem32, valid, 3), unpacked)


@pytest.mark.parametrize("method", ["d8", "mfd"])
def test_route_ls_on_threads_fills_in_bands_and_gives_the_same_numbers(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 rows: 2 or 3 bands of ≥ 64 rows, so the parallel fill really runs; MFD accumulated
    # in bands of 16 rows
    monkeypatch.setattr(h, "MFD_BAND_ROWS", 16)
    rng = np.random.default_rng(5)
    dem = np.cumsum(rng.normal(size=(200, 90)), axis=0) + np.round(rng.random((200, 90)) * 2)
    valid = rng.random(dem.shape) > 0.01
    one = h.route_ls(dem, valid, 30.0, method=method, threads=1)
    whole = h.route(dem, valid, 30.0, method=method)
    np.testing.assert_array_equal(whole.ls, one)
    for threads in (2, 3):
        np.testing.assert_array_equal(h.route_ls(dem, valid, 30.0, method=method,
                                                 threads=threads), one)
        # route() too (the in-memory engine routes on the machine's cores): every grid
        on_threads = h.route(dem, valid, 30.0, method=method, threads=threads)
        for name in ("filled", "slope", "accumulation", "ls"):
            np.testing.assert_array_equal(getattr(on_threads, name), getattr(whole, name))


def _ls_decimal(slope: float, x: float, acc: float, cell: float, l_max: float,
                invest: bool) -> float:
    """The LS of ``ls_factor``'s docstring, as written, in 60-digit decimal arithmetic."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        s, d = Decimal(slope), Decimal(cell)
        hyp = (1 + s * s).sqrt()
        sin_t = s / hyp
        pct = slope * 100.0  # the classes as the kernel sees them (0.01 → exactly 1 %)
        s_factor = Decimal("10.8") * sin_t + Decimal("0.03") if pct < 9 else (
            Decimal("16.8") * sin_t - Decimal("0.5"))
        classes = [(1.0, "0.2"), (3.5, "0.3"), (5.0, "0.4"), (9.0, "0.5")]
        m = next((Decimal(v) for bound, v in classes if pct <= bound), None)
        if m is None:
            beta = (sin_t / Decimal("0.0896")) / (3 * sin_t ** Decimal("0.8") + Decimal("0.56"))
            m = beta / (1 + beta)
        a_in = (Decimal(acc) - 1) * d * d
        xf = Decimal(x)
        if invest:
            a_in = a_in.sqrt()
            xf = sin_t + 1 / hyp
        upper = (a_in + d * d) ** (m + 1) - (a_in ** (m + 1) if a_in > 0 else 0)
        big_l = upper / (d ** (m + 2) * xf**m * Decimal("22.13") ** m)
        return float(min(big_l, Decimal(l_max)) * s_factor)


@pytest.mark.parametrize("invest", [False, True])
def test_ls_is_accurate_to_1e_13_up_to_a_hundred_million_upslope_cells(invest: bool) -> None:
    """Every slope class (m = 0.2 … 0.5 and McCool's β) and accumulations from 1 to 1e8 cells
    against 60-digit decimal arithmetic. The formula as written (a difference of two powers of
    the area) lost 6e-10 relative at 5e6 cells in float64."""
    rng = np.random.default_rng(7)
    slope = np.array([0.0, 0.005, 0.02, 0.045, 0.07, 0.12, 0.5, 1.5, 0.01, 0.3] * 4)
    acc = np.concatenate([[1.0, 1.0, 2.0, 3.5], 10 ** rng.uniform(0, 8, slope.size - 4)])
    x = rng.uniform(1.0, np.sqrt(2.0), slope.size)
    valid = np.ones(slope.shape, dtype=bool)
    ls = np.full(slope.shape, np.nan)
    h._ls_into(slope[None], x[None], acc[None], valid[None], 30.0, 1e9, invest, ls[None])
    expected = np.array([_ls_decimal(*args, 30.0, 1e9, invest)
                         for args in zip(slope, x, acc, strict=True)])
    np.testing.assert_allclose(ls, expected, rtol=1e-13, atol=0.0)
    capped = np.full(slope.shape, np.nan)
    h._ls_into(slope[None], x[None], acc[None], valid[None], 30.0, 5.0, invest, capped[None])
    np.testing.assert_allclose(
        capped, [_ls_decimal(*args, 30.0, 5.0, invest) for args in zip(slope, x, acc, strict=True)],
        rtol=1e-13, atol=0.0)
