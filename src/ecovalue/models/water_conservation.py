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
