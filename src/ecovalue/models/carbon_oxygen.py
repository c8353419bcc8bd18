"""Carbon sequestration (固碳, R8) and oxygen release (释氧, R9), spec §6.2, from NPP or NEP.

Chain per pixel (all per year):

    dry matter   DM  = C / f_C                     (g DM m⁻², C in g C m⁻²)
    CO₂ fixed        = 1.63 · DM                   [S3][S5] photosynthesis equation
    O₂ released      = 1.2  · DM                   [S3][S5]
    carbon in CO₂    = 27.27 % (= 12/44)           [S5][S41d]

C is NPP (g C m⁻² a⁻¹, the dataset's ``npp`` raster) or, for a net-ecosystem basis,
NEP = NPP − R_h with R_h soil heterotrophic respiration [S2]. f_C, the carbon share of plant
dry matter, is assumed — user-settable (0.45 is a common convention; with it 1.63/0.45 =
3.62 t CO₂ per t C, close to the molar ratio 44/12 = 3.67).
Valuation: carbon price per t CO₂ or per t C (造林成本法, carbon tax or market price) and an
industrial-oxygen price [S1][S3][S4][S5].
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ecovalue.errors import InputError
from ecovalue.models.common import (
    G_PER_T,
    check_array_range,
    check_finite,
    check_parameter,
    check_valid_mask,
    masked,
)

CARBON_SHARE_OF_CO2 = 12.0 / 44.0
"""Mass share of carbon in CO₂, 27.27 % [S5][S41d] (stoichiometry, not a tunable parameter)."""

PRICE_BASES: tuple[str, ...] = ("CO2", "C")


def nep_g_m2(npp_g_m2: np.ndarray, rh_g_m2: np.ndarray | float, valid: np.ndarray) -> np.ndarray:
    """Net ecosystem production, ``NEP = NPP − R_h`` (g C m⁻² a⁻¹) [S2].

    Args:
        npp_g_m2: net primary production (g C m⁻² a⁻¹), >= 0.
        rh_g_m2: soil heterotrophic respiration (g C m⁻² a⁻¹), >= 0 — a raster or a
            per-class column mapped with ``class_lookup``.
        valid: True where the inputs hold data.

    Returns:
        NEP per pixel; negative where the ecosystem is a net carbon source (kept, not floored).
    """
    valid = check_valid_mask(valid, np.shape(npp_g_m2))
    npp = check_finite("NPP", npp_g_m2, valid)
    rh = check_finite("soil heterotrophic respiration", rh_g_m2, valid)
    check_array_range("NPP", npp, valid, 0.0, np.inf, "NPP is g C m-2 a-1 >= 0")
    check_array_range("soil heterotrophic respiration", rh, valid, 0.0, np.inf, "R_h is >= 0")
    return masked(npp - rh, valid)


def dry_matter_t(
    carbon_g_m2: np.ndarray, carbon_fraction: float, pixel_area_m2: float, valid: np.ndarray
) -> np.ndarray:
    """Dry matter produced per pixel, ``DM = C / f_C · A / 10⁶`` (t/a).

    Args:
        carbon_g_m2: NPP or NEP as carbon (g C m⁻² a⁻¹); negative NEP gives negative DM.
        carbon_fraction: carbon share of dry matter f_C (1), assumed — user-settable (0.45).
        pixel_area_m2: pixel area A (m²); g → t by / 10⁶.
        valid: True where the inputs hold data.
    """
    valid = check_valid_mask(valid, np.shape(carbon_g_m2))
    c = check_finite("NPP/NEP", carbon_g_m2, valid)
    f = check_parameter("carbon.dm_carbon_fraction", carbon_fraction, 1e-6, 1.0)
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    return masked(c / f * area / G_PER_T, valid)


def co2_fixed_t(
    carbon_g_m2: np.ndarray,
    carbon_fraction: float,
    co2_per_dry_matter: float,
    pixel_area_m2: float,
    valid: np.ndarray,
) -> np.ndarray:
    """CO₂ fixed per pixel, ``Q_CO2 = 1.63 · DM`` (t CO₂/a) [S3][S5].

    Args:
        carbon_g_m2: NPP or NEP (g C m⁻² a⁻¹).
        carbon_fraction: carbon share of dry matter (1), assumed 0.45 — user-settable.
        co2_per_dry_matter: t CO₂ fixed per t dry matter (1); 1.63 [S3][S5].
        pixel_area_m2: pixel area (m²).
        valid: True where the inputs hold data.
    """
    k = check_parameter("carbon.co2_per_dm", co2_per_dry_matter, 0.0, 10.0)
    return k * dry_matter_t(carbon_g_m2, carbon_fraction, pixel_area_m2, valid)


def o2_released_t(
    carbon_g_m2: np.ndarray,
    carbon_fraction: float,
    o2_per_dry_matter: float,
    pixel_area_m2: float,
    valid: np.ndarray,
) -> np.ndarray:
    """O₂ released per pixel, ``Q_O2 = 1.2 · DM`` (t O₂/a) [S3][S5].

    Args:
        carbon_g_m2: NPP or NEP (g C m⁻² a⁻¹).
        carbon_fraction: carbon share of dry matter (1), assumed 0.45 — user-settable.
        o2_per_dry_matter: t O₂ released per t dry matter (1); 1.2 [S3][S5].
        pixel_area_m2: pixel area (m²).
        valid: True where the inputs hold data.
    """
    k = check_parameter("oxygen.o2_per_dm", o2_per_dry_matter, 0.0, 10.0)
    return k * dry_matter_t(carbon_g_m2, carbon_fraction, pixel_area_m2, valid)


def carbon_value(co2_t: np.ndarray, price_yuan_per_t: float, price_basis: str) -> np.ndarray:
    """Value of carbon sequestration (元/a), with the price basis explicit.

    * ``price_basis="CO2"``: ``V = Q_CO2 · p`` (p in 元/t CO₂; e.g. 379.87 [S4]).
    * ``price_basis="C"``: ``V = Q_CO2 · 27.27 % · p`` (p in 元/t C; e.g. 1 320 [S3], which
      applied it to reeds × 1.63 × 27.27 %).

    Args:
        co2_t: CO₂ fixed (t/a).
        price_yuan_per_t: carbon price (元 per t of the basis).
        price_basis: ``"CO2"`` or ``"C"``.
    """
    if price_basis not in PRICE_BASES:
        raise InputError(
            f"carbon price_basis {price_basis!r} is unknown; expected 'CO2' (元/t CO₂) or "
            f"'C' (元/t C)"
        )
    price = check_parameter("carbon.price", price_yuan_per_t, 0.0, np.inf)
    q = np.asarray(co2_t, dtype=np.float64)
    if price_basis == "C":
        q = q * CARBON_SHARE_OF_CO2
    return q * price


def oxygen_value(o2_t: np.ndarray, price_yuan_per_t: float) -> np.ndarray:
    """Value of oxygen release, ``V = Q_O2 · p_O2`` (元/a) — industrial oxygen price [S1][S3].

    Args:
        o2_t: O₂ released (t/a).
        price_yuan_per_t: oxygen price (元/t O₂); 727 [S1], 1 000 [S3][S5].
    """
    price = check_parameter("oxygen.price", price_yuan_per_t, 0.0, np.inf)
    return np.asarray(o2_t, dtype=np.float64) * price


class PhotosynthesisLayer(NamedTuple):
    """Result of :func:`photosynthesis_layer`."""

    quantity_t: np.ndarray
    value_yuan: np.ndarray


@njit(cache=True, nogil=True)
def _photosynthesis_kernel(c, valid, f, area, k, share, with_share, price, quantity, value):  # type: ignore[no-untyped-def]
    """Every pixel of :func:`photosynthesis_layer`; returns the number of valid pixels whose
    carbon is not finite (the outputs are then not used)."""
    n_bad = 0
    for i in range(valid.size):
        if not valid[i]:
            quantity[i] = np.nan
            value[i] = np.nan
            continue
        x = np.float64(c[i])
        if not np.isfinite(x):
            n_bad += 1
            continue
        dm = x / f
        dm = dm * area
        dm = dm / G_PER_T
        q = k * dm
        quantity[i] = q
        if with_share:
            q = q * share
        value[i] = q * price
    return n_bad


def photosynthesis_layer(
    carbon_g_m2: np.ndarray,
    carbon_fraction: float,
    per_dry_matter: tuple[str, float],
    pixel_area_m2: float,
    valid: np.ndarray,
    price: tuple[str, float],
    price_basis: str = "CO2",
) -> PhotosynthesisLayer | None:
    """:func:`co2_fixed_t` (``per_dry_matter`` = ("carbon.co2_per_dm", 1.63)) with its
    :func:`carbon_value`, or :func:`o2_released_t` (("oxygen.o2_per_dm", 1.2)) with its
    :func:`oxygen_value`, in one pass over the pixels; ``price`` = (its parameter id, the
    price). The same float64 operations in the same order (bit for bit,
    ``tests/test_models.py``), from the raster as stored (float32 or float64).

    None when an input is of an unusual form or a check fails (carbon not finite at a valid
    pixel, a parameter out of range): the caller's numpy functions then name the problem."""
    c, v = np.asarray(carbon_g_m2), np.asarray(valid)
    if not (
        c.dtype in (np.float32, np.float64) and v.dtype == np.bool_ and c.shape == v.shape
        and c.flags.c_contiguous and v.flags.c_contiguous and price_basis in PRICE_BASES
    ):
        return None
    try:
        f = check_parameter("carbon.dm_carbon_fraction", carbon_fraction, 1e-6, 1.0)
        area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
        k = check_parameter(per_dry_matter[0], per_dry_matter[1], 0.0, 10.0)
        p = check_parameter(price[0], price[1], 0.0, np.inf)
    except InputError:
        return None
    quantity, value = np.empty(c.shape), np.empty(c.shape)
    n_bad = _photosynthesis_kernel(
        c.reshape(-1), v.reshape(-1), f, area, k, CARBON_SHARE_OF_CO2, price_basis == "C", p,
        quantity.reshape(-1), value.reshape(-1),
    )
    return None if n_bad else PhotosynthesisLayer(quantity, value)
