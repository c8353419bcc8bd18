"""Flood regulation (洪水调蓄, spec §6.2 R5): storage of lakes, reservoirs, marshes, vegetation.

Physical quantities follow Garzê [S1]; lakes and reservoirs are polygon totals that
:func:`spread_over_pixels` places on the water pixels inside each polygon so the service
maps. Valuation by the shadow-project method [S1]: ``V_t = (C_l + C_r + C_m) · P_w`` with P_w
the reservoir construction cost per m³.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ecovalue.errors import InputError
from ecovalue.models.common import (
    check_array_range,
    check_finite,
    check_parameter,
    check_valid_mask,
    masked,
)

M3_PER_WAN_M3 = 10_000.0


def lake_capacity_m3(area_km2: float, a: float, b: float, turnover: float) -> float:
    """Flood-regulation capacity of one lake, ``C_l = e^a · A^b · T`` (万m³/a → m³/a) [S1].

    The regression (a = 6.636, b = 0.678, T = 1 in Garzê [S1], after 饶恩明 et al. 2014) was
    fitted to lakes of the Qinghai–Tibet plateau; for lakes elsewhere (e.g. plain lakes of the
    middle Yangtze) fit your own a and b — they are user-settable parameters.

    Args:
        area_km2: lake area A (km²).
        a: regression intercept (1); b: regression exponent (1).
        turnover: turnover count T (times per year, 1).

    Returns:
        capacity in m³/a (the regression gives 万m³/a; × 10⁴).
    """
    area = check_parameter("lake area_km2", area_km2, 0.0, np.inf)
    t = check_parameter("flood.lake_turnover", turnover, 0.0, np.inf)
    a = check_parameter("flood.lake_a", a, -np.inf, np.inf)
    b = check_parameter("flood.lake_b", b, -np.inf, np.inf)
    if area == 0.0:
        return 0.0
    return float(np.exp(a) * area**b * t * M3_PER_WAN_M3)


def reservoir_capacity_m3(total_capacity_m3: float, flood_share: float) -> float:
    """Flood-control capacity of one reservoir, ``C_r = C_t · share`` (m³) [S1].

    Args:
        total_capacity_m3: total storage C_t (m³; the dataset attribute is in 万m³ — × 10⁴).
        flood_share: flood-control share of the total (1); 0.35 in [S1].
    """
    total = check_parameter("reservoir total capacity (m³)", total_capacity_m3, 0.0, np.inf)
    share = check_parameter("flood.reservoir_share", flood_share, 0.0, 1.0)
    return total * share


def marsh_storage_m3(area_m2: float, depth_m: np.ndarray | float, valid: np.ndarray) -> np.ndarray:
    """Flood storage of marsh/wetland pixels, ``C_m = depth · area`` (m³/a) [S1].

    [S1] writes ``C_m = 0.3 · S · 10⁶`` with S in km² and labels it 万m³/a; the published
    result (≈2 005 km² → 6.00 亿m³) is only reproduced if the result is in m³, i.e. a storage
    depth of 0.3 m (spec §6.2 R5 unit note). Here depth is the land-cover column
    ``marsh_storage_depth`` (0 for non-marsh classes).

    Args:
        area_m2: pixel area (m²).
        depth_m: storage depth per pixel (m), 0.3 for marsh in [S1].
        valid: True where the land cover holds data.
    """
    return _depth_times_area("marsh_storage_depth", area_m2, depth_m, valid)


def vegetation_storage_m3(
    area_m2: float, depth_m: np.ndarray | float, valid: np.ndarray
) -> np.ndarray:
    """Flood storage of vegetation/soil, ``C_v = depth · area`` (m³/a).

    The full vegetation flood-regulation method was NOT FOUND in the sources (spec §6.2 R5;
    [S40] shows it only partially): this is an assumed storage-depth form — user-settable
    through the land-cover column ``flood_storage_depth``; the profile switch
    ``vegetation_flood_regulation`` decides whether it is counted.
    """
    return _depth_times_area("flood_storage_depth", area_m2, depth_m, valid)


def _depth_times_area(
    name: str, area_m2: float, depth_m: np.ndarray | float, valid: np.ndarray
) -> np.ndarray:
    valid = np.asarray(valid)
    valid = check_valid_mask(valid, valid.shape)
    area = check_parameter("pixel_area_m2", area_m2, 0.0, np.inf)
    depth = check_finite(name, depth_m, valid)
    check_array_range(name, depth, valid, 0.0, 100.0, "storage depth is in metres, >= 0")
    return masked(depth * area, valid)


def spread_over_pixels(total: float, mask: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Spread a polygon total (a lake's or reservoir's storage) evenly over its pixels.

    Pixels have equal area, so an even spread is an area-proportional spread; the sum of the
    result equals ``total`` (to rounding). Pixels outside ``mask`` get 0, invalid pixels NaN.

    Args:
        total: the polygon's quantity (any unit, e.g. m³/a).
        mask: True on the pixels that represent the polygon (e.g. water pixels inside it).
        valid: True where the land cover holds data.

    Raises:
        InputError: ``total`` is not 0 but no valid pixel is in ``mask`` (the value would be
            lost from the maps; rasterise the polygon with all-touched or use a finer grid).
    """
    m = np.asarray(mask, dtype=bool)
    valid = check_valid_mask(valid, m.shape)
    t = float(total)
    if not np.isfinite(t):
        raise InputError(f"total to spread is {total!r}; expected a finite number")
    inside = m & valid
    n = int(inside.sum())
    out = np.zeros(m.shape)
    if n == 0:
        if t != 0.0:
            raise InputError(
                f"a total of {t:g} has no valid pixel to spread over (the polygon covers no "
                f"matching pixel); rasterise it with all_touched=True or use a finer grid so "
                f"the value is not lost"
            )
        return masked(out, valid)
    out[inside] = t / n
    return masked(out, valid)


def value(storage_m3: np.ndarray | float, reservoir_cost_yuan_per_m3: float) -> np.ndarray:
    """Value of flood regulation, ``V_t = C · P_w`` (元/a) [S1].

    Args:
        storage_m3: flood storage (m³/a) — lakes + reservoirs + marshes (+ vegetation).
        reservoir_cost_yuan_per_m3: reservoir construction cost per m³ P_w (元/m³), 7.06 [S1].
    """
    price = check_parameter("reservoir_cost", reservoir_cost_yuan_per_m3, 0.0, np.inf)
    return np.asarray(storage_m3, dtype=np.float64) * price


class PolygonStorage(NamedTuple):
    """One polygon layer's storage on a block for :func:`storage_layer`: the polygon id of
    every pixel (0: none; ids 1…n), and by id the storage per pixel (``share``) and where it
    lies (``mode``: 0 not counted, 1 on every valid pixel of the polygon, 2 on its valid
    water/wetland pixels only)."""

    ids: np.ndarray
    share: np.ndarray
    mode: np.ndarray


@njit(cache=True, nogil=True, inline="always")
def _polygon_part(ids, share, mode, i, is_water):  # type: ignore[no-untyped-def]
    """Pixel ``i``'s storage of a polygon layer (``_polygon_storage``'s ``0 + share``)."""
    k = ids[i]
    m = mode[k]
    if m == 1 or (m == 2 and is_water):
        return 0.0 + share[k]
    return 0.0


@njit(cache=True, nogil=True)
def _storage_kernel(valid, rows, water, ids_a, share_a, mode_a, ids_b, share_b, mode_b,  # type: ignore[no-untyped-def]
                    depth_a, depth_b, area, price, storage, value, parts):
    """Every pixel of :func:`storage_layer` in one pass, with its four parts (lake, reservoir,
    marsh, vegetation: rows of ``parts``); returns the number of valid pixels whose row or
    depth the checks would refuse (the outputs are then not used)."""
    n_bad = 0
    with_a = ids_a.size > 0
    with_b = ids_b.size > 0
    with_veg = depth_b.size > 0
    for i in range(valid.size):
        if not valid[i]:
            storage[i] = np.nan
            value[i] = np.nan
            for p in range(4):
                parts[p, i] = np.nan
            continue
        r = rows[i]
        if r < 0 or r >= water.size:
            n_bad += 1
            continue
        lake = _polygon_part(ids_a, share_a, mode_a, i, water[r]) if with_a else 0.0
        res = _polygon_part(ids_b, share_b, mode_b, i, water[r]) if with_b else 0.0
        d = depth_a[r]
        if not (np.isfinite(d) and 0.0 <= d <= 100.0):
            n_bad += 1
            continue
        s = lake + res
        marsh = d * area
        s = s + marsh
        veg = 0.0
        if with_veg:
            d = depth_b[r]
            if not (np.isfinite(d) and 0.0 <= d <= 100.0):
                n_bad += 1
                continue
            veg = d * area
            s = s + veg
        parts[0, i] = lake
        parts[1, i] = res
        parts[2, i] = marsh
        parts[3, i] = veg
        storage[i] = s
        value[i] = s * price
    return n_bad


def storage_layer(
    valid: np.ndarray,
    rows: np.ndarray,
    water_by_row: np.ndarray,
    lakes: PolygonStorage | None,
    reservoirs: PolygonStorage | None,
    marsh_depth_by_row: np.ndarray,
    vegetation_depth_by_row: np.ndarray | None,
    area_m2: float,
    reservoir_cost_yuan_per_m3: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None:
    """Flood storage per pixel (m³/a), its :func:`value` and its parts (``lake``,
    ``reservoir``, ``marsh``, with ``vegetation_depth_by_row`` also ``vegetation``), in one
    pass: the lakes' and the
    reservoirs' storage (``lake + reservoir``, each 0 off its polygons), plus
    :func:`marsh_storage_m3` and, when ``vegetation_depth_by_row`` is given,
    :func:`vegetation_storage_m3`, with the depths looked up by the pixels' land-cover table
    ``rows`` (−1 outside ``valid``); NaN outside ``valid``. The same float64 operations in
    the same order as adding those arrays (bit for bit, ``tests/test_streaming_blocks.py``).

    None when an input is of an unusual form or a check fails (a depth out of range at a
    valid pixel, a bad parameter): the caller's numpy functions then name the problem."""
    shape = np.shape(valid)
    v, r = np.asarray(valid), np.asarray(rows)
    if not (
        v.dtype == np.bool_ and v.flags.c_contiguous and r.shape == shape
        and r.dtype.kind == "i" and r.flags.c_contiguous
    ):
        return None
    parts = []
    for layer in (lakes, reservoirs):
        if layer is None:
            parts += [np.empty(0, np.int32), np.empty(0), np.empty(0, np.int8)]
            continue
        ids = np.asarray(layer.ids)
        if ids.shape != shape or ids.dtype.kind != "i" or not ids.flags.c_contiguous:
            return None
        share = np.ascontiguousarray(layer.share, dtype=np.float64)
        mode = np.ascontiguousarray(layer.mode, dtype=np.int8)
        if share.shape != mode.shape or share.ndim != 1 or share.size == 0:
            return None
        if ids.size and (ids.min() < 0 or ids.max() >= share.size):
            return None
        parts += [ids.reshape(-1), share, mode]
    water = np.ascontiguousarray(water_by_row, dtype=np.bool_)
    marsh = np.ascontiguousarray(marsh_depth_by_row, dtype=np.float64)
    veg = (np.empty(0) if vegetation_depth_by_row is None
           else np.ascontiguousarray(vegetation_depth_by_row, dtype=np.float64))
    if water.ndim != 1 or marsh.shape != water.shape or (veg.size and veg.shape != water.shape):
        return None
    if vegetation_depth_by_row is not None and veg.size == 0:
        return None
    try:
        area = check_parameter("pixel_area_m2", area_m2, 0.0, np.inf)
        price = check_parameter("reservoir_cost", reservoir_cost_yuan_per_m3, 0.0, np.inf)
    except InputError:
        return None
    storage, val = np.empty(shape), np.empty(shape)
    by_part = np.empty((4, *shape))
    n_bad = _storage_kernel(
        v.reshape(-1), r.reshape(-1), water, *parts, marsh, veg, area, price,
        storage.reshape(-1), val.reshape(-1), by_part.reshape(4, -1),
    )
    if n_bad:
        return None
    names = ("lake", "reservoir", "marsh", "vegetation")[: 4 if veg.size else 3]
    return storage, val, {n: by_part[i] for i, n in enumerate(names)}
