"""Water conservation (水源涵养, spec §6.2 R1): water-balance retention per pixel and its value.

Physical quantity [S1] (water-balance equation, 水量平衡方程):

    Q_w = Σ_i (P_i − R_i − ET_i) · A_i

evaluated per pixel, with the storm runoff R taken as a storm-runoff coefficient of the
pixel's land-cover class times precipitation (R = α·P, the coefficient table is a dataset
input; no published table was found, spec §7). Valuation by the shadow-project method [S1]:
``V_w = Q_w · P_w`` with P_w the reservoir construction cost per m³ of storage.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ecovalue.errors import InputError
from ecovalue.models.common import (
    MM_PER_M,
    check_array_range,
    check_finite,
    check_parameter,
    check_valid_mask,
    masked,
)


class WaterConservation(NamedTuple):
    """Result of :func:`water_conservation_m3`."""

    quantity_m3: np.ndarray
    """Water retained per pixel per year (m³/a), NaN outside valid pixels, never negative."""
    n_clamped: int
    """Valid pixels whose balance P − R − ET was negative and was set to 0 (report it)."""


def water_conservation_m3(
    precipitation_mm: np.ndarray,
    runoff_coef: np.ndarray,
    aet_mm: np.ndarray,
    pixel_area_m2: float,
    valid: np.ndarray,
) -> WaterConservation:
    """Water retained per pixel, ``Q = (P − α·P − ET) / 1000 · A`` [S1] (spec R1).

    Args:
        precipitation_mm: annual precipitation P (mm/a).
        runoff_coef: storm-runoff coefficient α = R/P of the pixel's class (1, in [0, 1]);
            usually ``class_lookup(..., "storm_runoff_coef")``.
        aet_mm: annual actual evapotranspiration ET (mm/a), e.g. MOD16 [S1].
        pixel_area_m2: pixel area A (m²).
        valid: True where all inputs hold data.

    Returns:
        :class:`WaterConservation`: m³/a per pixel (mm → m by 1/1000) and the number of valid
        pixels where the balance was negative and was floored at 0. A negative balance (more
        ET than rain, e.g. irrigated fields or lakes fed from upstream) means no retention on
        that pixel; it is not allowed to cancel retention elsewhere, and the count is reported.

    Raises:
        InputError: NaN inside valid pixels, runoff coefficients outside [0, 1], negative P/ET.
    """
    valid = check_valid_mask(valid, np.shape(precipitation_mm))
    p = check_finite("precipitation", precipitation_mm, valid)
    alpha = check_finite("storm_runoff_coef", runoff_coef, valid)
    et = check_finite("actual ET", aet_mm, valid)
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    check_array_range(
        "storm_runoff_coef", alpha, valid, 0.0, 1.0, "fix the land-cover table (R/P is a fraction)"
    )
    check_array_range("precipitation", p, valid, 0.0, np.inf, "precipitation is mm/a >= 0")
    check_array_range("actual ET", et, valid, 0.0, np.inf, "actual ET is mm/a >= 0")
    balance_mm = p - alpha * p - et
    negative = valid & (balance_mm < 0)
    q = np.maximum(balance_mm, 0.0) / MM_PER_M * area
    return WaterConservation(masked(q, valid), int(negative.sum()))


def value(quantity_m3: np.ndarray, reservoir_cost_yuan_per_m3: float) -> np.ndarray:
    """Value of water conservation, ``V_w = Q_w · P_w`` (元/a) [S1].

    Args:
        quantity_m3: water retained (m³/a).
        reservoir_cost_yuan_per_m3: reservoir construction cost per m³ of storage P_w (元/m³);
            7.06 in Garzê 2010 [S1], 6.11 in Baiyangdian 2011 [S3].
    """
    price = check_parameter("reservoir_cost", reservoir_cost_yuan_per_m3, 0.0, np.inf)
    return np.asarray(quantity_m3, dtype=np.float64) * price


class WaterConservationLayer(NamedTuple):
    """Result of :func:`water_conservation_layer`."""

    quantity_m3: np.ndarray
    value_yuan: np.ndarray
    n_clamped: int
    """Pixels in the indicator's scope whose balance P − R − ET was negative (set to 0)."""


@njit(cache=True, nogil=True)
def _balance_kernel(p, et, rows, alpha, in_scope, valid, area, price, quantity, value):  # type: ignore[no-untyped-def]
    """Every pixel of :func:`water_conservation_layer` in one pass; returns (valid pixels
    clamped, valid pixels whose inputs are not finite or out of range). With a bad pixel the
    outputs are not used: the numpy path's checks name the problem."""
    n_clamped = 0
    n_bad = 0
    for i in range(valid.size):
        if not valid[i]:
            quantity[i] = np.nan
            value[i] = np.nan
            continue
        r = rows[i]
        if r < 0 or r >= alpha.size:  # a caller's rows that are not the table's
            n_bad += 1
            continue
        pr = np.float64(p[i])
        e = np.float64(et[i])
        a = alpha[r]
        if not (
            np.isfinite(pr) and np.isfinite(e) and np.isfinite(a) and 0.0 <= a <= 1.0
            and pr >= 0.0 and e >= 0.0
        ):
            n_bad += 1
            continue
        b = pr - a * pr
        b = b - e
        if b < 0:
            if in_scope[r]:  # the count names pixels the indicator covers (urban ones count 0 anyway)
                n_clamped += 1
            b = 0.0  # np.maximum(b, 0.0); b is never −0.0 here (pr ≥ 0, 0 ≤ a ≤ 1)
        q = b / MM_PER_M
        q = q * area
        if not in_scope[r]:
            q = 0.0
        quantity[i] = q
        value[i] = q * price
    return n_clamped, n_bad


def water_conservation_layer(
    precipitation_mm: np.ndarray,
    aet_mm: np.ndarray,
    rows: np.ndarray,
    runoff_coef_by_row: np.ndarray,
    in_scope_by_row: np.ndarray,
    pixel_area_m2: float,
    valid: np.ndarray,
    reservoir_cost_yuan_per_m3: float,
) -> WaterConservationLayer:
    """:func:`water_conservation_m3`, outside the indicator's scope 0, and its :func:`value`,
    per pixel in one pass, from the pixels' land-cover table ``rows`` (−1 outside ``valid``)
    and the table's runoff coefficient and scope per row.

    Bit for bit what the numpy functions give (the same float64 operations in the same order;
    ``tests/test_models.py``). A pixel the checks would refuse, or inputs of an unusual form,
    take the numpy functions, which name the problem.
    """
    shape = np.shape(valid)
    alpha = np.ascontiguousarray(runoff_coef_by_row, dtype=np.float64)
    scope = np.ascontiguousarray(in_scope_by_row, dtype=np.bool_)
    flat = [np.asarray(x) for x in (precipitation_mm, aet_mm, rows, valid)]
    usable = (
        all(f.shape == shape and f.flags.c_contiguous for f in flat)
        and all(f.dtype in (np.float32, np.float64) for f in flat[:2])
        and flat[2].dtype.kind == "i" and flat[3].dtype == np.bool_
        and alpha.ndim == 1 and scope.shape == alpha.shape and alpha.size > 0
    )
    if usable:
        try:
            area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
            price = check_parameter("reservoir_cost", reservoir_cost_yuan_per_m3, 0.0, np.inf)
        except InputError:
            usable = False  # raised by the numpy path after its input checks, as always
    if usable:
        quantity, val = np.empty(shape), np.empty(shape)
        n_clamped, n_bad = _balance_kernel(
            *(f.reshape(-1) for f in flat[:3]), alpha, scope, flat[3].reshape(-1), area, price,
            quantity.reshape(-1), val.reshape(-1),
        )
        if not n_bad:
            return WaterConservationLayer(quantity, val, int(n_clamped))
    # the numpy functions: they name a bad input
    runoff = np.append(alpha, np.nan)[np.where(flat[3], flat[2], -1)]
    res = water_conservation_m3(
        np.asarray(precipitation_mm, dtype=np.float64), runoff,
        np.asarray(aet_mm, dtype=np.float64), pixel_area_m2, valid,
    )
    scoped = np.append(scope, False)[np.where(flat[3], flat[2], -1)]
    quantity = np.where(scoped | ~flat[3], res.quantity_m3, 0.0)
    p = np.asarray(precipitation_mm, dtype=np.float64)
    negative = scoped & ((p - runoff * p) - np.asarray(aet_mm, dtype=np.float64) < 0)
    return WaterConservationLayer(
        quantity, value(quantity, reservoir_cost_yuan_per_m3), int(negative.sum())
    )
