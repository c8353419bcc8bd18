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

import numpy as np

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
