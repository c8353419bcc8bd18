"""Climate regulation (气候调节, spec §6.2 R10): cooling by transpiration and water evaporation.

The heat ecosystems absorb is converted to the electricity an air conditioner (vegetation)
or an air conditioner plus humidifier (water surface) would use for the same effect, and
valued at the electricity price (替代成本法) [S1][S2].

Vegetation transpiration [S1][S2]::

    W_v [kW·h] = H [kJ m⁻² d⁻¹] · A [m²] · d [d] / (3600 [kJ/(kW·h)] · EER [1])

Water-surface evaporation [S1]::

    W_e [kW·h] = E [m³] · ρ [kg/m³] · q [J/g] / 3600 + E [m³] · γ [kW·h/m³]

Unit derivation of the first term (the spec notes the published formula leaves the scaling
implicit): ``q`` in J/g equals kJ/kg, so ``E·ρ·q`` is (m³ · kg/m³ · kJ/kg) = kJ, and
1 kW·h = 3600 kJ; dividing by 3600 therefore gives kW·h exactly — the published form is
consistent when ρ is in kg/m³ and q in J/g, and no further factor is needed. For 1 m³:
1000 kg × 2450 kJ/kg / 3600 = 680.6 kW·h of latent heat, plus γ = 120 kW·h [S41a] for
humidification. As published, the latent-heat term is NOT divided by an air-conditioner EER
(unlike the vegetation term); this module keeps the published form.
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

KJ_PER_KWH = 3600.0
WATER_DENSITY_KG_M3 = 1000.0
"""Density ρ of fresh water (kg/m³), a physical constant (998–1000 kg/m³ at 4–20 °C)."""


def vegetation_kwh(
    transpiration_heat_kj_m2_d: np.ndarray,
    ac_days: float,
    eer: float,
    pixel_area_m2: float,
    valid: np.ndarray,
) -> np.ndarray:
    """Electricity saved by vegetation transpiration, ``H · A · d / (3600 · EER)`` (kW·h/a) [S1][S2].

    Args:
        transpiration_heat_kj_m2_d: heat consumed by transpiration per unit area on a hot day,
            H (kJ·m⁻²·d⁻¹) — land-cover column ``transpiration_heat`` ([S1] calls it "GPP";
            it is not gross primary production). 0 for water, built-up and bare classes.
        ac_days: air-conditioning days d (d/a), e.g. days above 26 °C [S41a] (statistic
            ``climate:ac_days``).
        eer: air-conditioner energy-efficiency ratio R (1); 3.0 [S2][S41a].
        pixel_area_m2: pixel area A (m²).
        valid: True where the land cover holds data.

    Returns:
        kW·h per pixel per year, NaN outside valid pixels.
    """
    valid = check_valid_mask(valid, np.shape(transpiration_heat_kj_m2_d))
    heat = check_finite("transpiration_heat", transpiration_heat_kj_m2_d, valid)
    check_array_range("transpiration_heat", heat, valid, 0.0, np.inf, "heat is kJ/m2/d >= 0")
    days = check_parameter("climate:ac_days", ac_days, 0.0, 366.0)
    r = check_parameter("climate.eer", eer, 1e-6, np.inf)
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    return masked(heat * area * days / (KJ_PER_KWH * r), valid)


def water_surface_kwh(
    evaporation_mm: np.ndarray,
    is_water_surface: np.ndarray,
    latent_heat_j_per_g: float,
    humidifier_kwh_per_m3: float,
    pixel_area_m2: float,
    valid: np.ndarray,
) -> np.ndarray:
    """Electricity saved by water-surface evaporation, ``E·ρ·q/3600 + E·γ`` (kW·h/a) [S1].

    ``E = evaporation_mm / 1000 · A`` on pixels flagged as open water (m³/a); see the module
    docstring for the unit derivation. ρ = 1000 kg/m³ (physical constant).

    Args:
        evaporation_mm: open-water evaporation (mm/a) — the ``water_evaporation`` raster.
        is_water_surface: 1 where open-water evaporation counts, 0 elsewhere (land-cover
            column ``is_water_surface``).
        latent_heat_j_per_g: latent heat of vaporisation q (J/g = kJ/kg); 2 450 [S41a].
        humidifier_kwh_per_m3: humidifier electricity to evaporate 1 m³ γ (kW·h/m³);
            120 [S41a] (low authority).
        pixel_area_m2: pixel area A (m²).
        valid: True where the inputs hold data.

    Returns:
        kW·h per pixel per year (0 off water), NaN outside valid pixels.
    """
    valid = check_valid_mask(valid, np.shape(is_water_surface))
    flag = check_finite("is_water_surface", is_water_surface, valid)
    bad = valid & (flag != 0) & (flag != 1)
    if bad.any():
        raise InputError(
            f"is_water_surface has values {np.unique(flag[bad])[:5].tolist()}; expected 0 or 1; "
            f"fix the land-cover table"
        )
    on_water = valid & (flag == 1)
    evap = check_finite("water_evaporation", evaporation_mm, on_water)
    check_array_range("water_evaporation", evap, on_water, 0.0, np.inf, "evaporation is mm/a >= 0")
    q = check_parameter("climate.latent_heat", latent_heat_j_per_g, 0.0, np.inf)
    gamma = check_parameter("climate.humidifier_energy", humidifier_kwh_per_m3, 0.0, np.inf)
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    volume_m3 = np.where(on_water, evap / MM_PER_M * area, 0.0)
    kwh = volume_m3 * WATER_DENSITY_KG_M3 * q / KJ_PER_KWH + volume_m3 * gamma
    return masked(kwh, valid)


def value(kwh: np.ndarray, electricity_price_yuan_per_kwh: float) -> np.ndarray:
    """Value of climate regulation, ``V = W · c`` (元/a) [S1].

    Args:
        kwh: electricity saved (kW·h/a).
        electricity_price_yuan_per_kwh: c (元/(kW·h)); 0.53 Garzê 2010 [S1], 0.52 [S41a].
    """
    price = check_parameter(
        "climate.electricity_price", electricity_price_yuan_per_kwh, 0.0, np.inf
    )
    return np.asarray(kwh, dtype=np.float64) * price


class ClimateLayer(NamedTuple):
    """Result of :func:`climate_regulation_layer`: the total, its value, and the two terms
    whose sum it is (vegetation transpiration, water-surface evaporation; kW·h/a)."""

    kwh: np.ndarray
    value_yuan: np.ndarray
    vegetation_kwh: np.ndarray
    water_kwh: np.ndarray


@njit(cache=True, nogil=True)
def _climate_kernel(  # type: ignore[no-untyped-def]
    rows, heat, flag, evap, region, days, valid, area, veg_denominator, q, gamma, price, kwh, value,
    veg_out, water_out,
):
    """Every pixel of :func:`climate_regulation_layer` in one pass; returns the number of valid
    pixels whose inputs the checks would refuse (then the outputs are not used)."""
    n_bad = 0
    n_rows = heat.size
    for i in range(valid.size):
        if not valid[i]:
            kwh[i] = np.nan
            value[i] = np.nan
            veg_out[i] = np.nan
            water_out[i] = np.nan
            continue
        r = rows[i]
        if r < 0 or r >= n_rows:
            n_bad += 1
            continue
        h = heat[r]
        f = flag[r]
        if not (np.isfinite(h) and h >= 0.0 and (f == 0.0 or f == 1.0)):
            n_bad += 1
            continue
        veg = h * area
        veg = veg * 1.0  # the per-day term: d = 1 day
        veg = veg / veg_denominator
        volume = 0.0
        if f == 1.0:
            e = np.float64(evap[i])
            if not (np.isfinite(e) and e >= 0.0):
                n_bad += 1
                continue
            volume = e / MM_PER_M
            volume = volume * area
        w = volume * WATER_DENSITY_KG_M3
        w = w * q
        w = w / KJ_PER_KWH
        w = w + volume * gamma
        g = region[i]
        d = days[g] if g >= 0 else days[days.size - 1]
        k = veg * d
        kw = (w * d) / 365.0
        veg_out[i] = k
        water_out[i] = kw
        k = k + kw
        kwh[i] = k
        value[i] = k * price
    return n_bad


def climate_regulation_layer(
    rows: np.ndarray,
    transpiration_heat_by_row: np.ndarray,
    is_water_surface_by_row: np.ndarray,
    evaporation_mm: np.ndarray,
    region_index: np.ndarray,
    ac_days_by_region: np.ndarray,
    valid: np.ndarray,
    pixel_area_m2: float,
    eer: float,
    latent_heat_j_per_g: float,
    humidifier_kwh_per_m3: float,
    electricity_price_yuan_per_kwh: float,
) -> ClimateLayer:
    """Electricity saved per pixel on its region's air-conditioning days d (kW·h/a),
    ``d · vegetation_kwh(H, 1 day) + d/365 · water_surface_kwh``, its :func:`value` and the
    two terms (:class:`ClimateLayer`), in
    one pass from the pixels' land-cover table ``rows`` (−1 outside ``valid``), the table's
    columns by row, and d by region (``ac_days_by_region[region_index]``; NaN where a region
    reports none, and its last entry for pixels outside every region).

    Bit for bit what the numpy functions give (the same float64 operations in the same order;
    ``tests/test_models.py``). A pixel the checks would refuse, or inputs of an unusual form,
    take the numpy functions, which name the problem.
    """
    shape = np.shape(valid)
    heat = np.ascontiguousarray(transpiration_heat_by_row, dtype=np.float64)
    flag = np.ascontiguousarray(is_water_surface_by_row, dtype=np.float64)
    days = np.ascontiguousarray(ac_days_by_region, dtype=np.float64)
    arrays = [np.asarray(x) for x in (rows, evaporation_mm, region_index, valid)]
    usable = (
        all(a.shape == shape and a.flags.c_contiguous for a in arrays)
        and arrays[0].dtype.kind == "i" and arrays[2].dtype.kind == "i"
        and arrays[1].dtype in (np.float32, np.float64) and arrays[3].dtype == np.bool_
        and heat.ndim == 1 and flag.shape == heat.shape and days.ndim == 1 and days.size > 0
    )
    if usable:
        try:
            r = check_parameter("climate.eer", eer, 1e-6, np.inf)
            q = check_parameter("climate.latent_heat", latent_heat_j_per_g, 0.0, np.inf)
            gamma = check_parameter("climate.humidifier_energy", humidifier_kwh_per_m3, 0.0, np.inf)
            area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
            price = check_parameter(
                "climate.electricity_price", electricity_price_yuan_per_kwh, 0.0, np.inf
            )
        except InputError:
            usable = False  # raised by the numpy path after its input checks, as always
    if usable and arrays[2].size and int(arrays[2].max()) >= days.size:
        usable = False
    if usable:
        kwh, val, veg, wat = (np.empty(shape) for _ in range(4))
        n_bad = _climate_kernel(
            arrays[0].reshape(-1), heat, flag, arrays[1].reshape(-1), arrays[2].reshape(-1),
            days, arrays[3].reshape(-1), area, KJ_PER_KWH * r, q, gamma, price,
            kwh.reshape(-1), val.reshape(-1), veg.reshape(-1), wat.reshape(-1),
        )
        if not n_bad:
            return ClimateLayer(kwh, val, veg, wat)
    # the numpy functions: they name a bad input
    at = np.where(arrays[3], arrays[0], -1)
    day_px = days[np.asarray(region_index)]
    veg_per_day = vegetation_kwh(np.append(heat, np.nan)[at], 1.0, eer, pixel_area_m2, valid)
    water = water_surface_kwh(
        np.asarray(evaporation_mm, dtype=np.float64), np.append(flag, np.nan)[at],
        latent_heat_j_per_g, humidifier_kwh_per_m3, pixel_area_m2, valid,
    )
    veg = veg_per_day * day_px
    wat = water * day_px / 365.0
    out = veg + wat
    return ClimateLayer(out, value(out, electricity_price_yuan_per_kwh), veg, wat)
