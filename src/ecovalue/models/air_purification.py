"""Air purification (空气净化 / 大气净化, spec §6.2 R6): SO₂, NOₓ and dust taken up by ecosystems.

Physical quantity per pixel: ``Q_x = rate_x(class) · A`` for pollutant x, with per-area rates
(kg·ha⁻¹·a⁻¹) from the land-cover table — the per-area form of the forest-asset paper [S2].
Published per-class rates were NOT FOUND (spec §6.2 R6), so the rates are dataset inputs.
Garzê [S1] took the reported emissions as the purified quantity; :func:`cap_by_emissions`
therefore lets the pipeline cap a region's uptake at its reported emissions (profile switch
``cap_air_by_emissions``). Valuation by avoided treatment cost (防治费用法) [S1]:
``V = Σ_x Q_x · c_x`` with SO₂ 1 200, NOₓ 630, dust 150 元/t (Garzê 2010, 排污费 2003).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ecovalue.errors import InputError
from ecovalue.models.common import cap_by_region, priced_sum, rate_times_area_t

POLLUTANTS: tuple[str, ...] = ("so2", "nox", "dust")


def _check_pollutant(pollutant: str) -> None:
    if pollutant not in POLLUTANTS:
        raise InputError(f"unknown air pollutant {pollutant!r}; expected one of {POLLUTANTS}")


def absorption_t(
    rate_kg_per_ha: np.ndarray, pixel_area_m2: float, valid: np.ndarray, pollutant: str
) -> np.ndarray:
    """Pollutant taken up per pixel, ``Q_x = rate_x · A`` (t/a) [S2].

    Args:
        rate_kg_per_ha: uptake rate of the pixel's class (kg·ha⁻¹·a⁻¹), land-cover column
            ``so2_absorption``, ``nox_absorption`` or ``dust_retention``.
        pixel_area_m2: pixel area A (m²).
        valid: True where the land cover holds data.
        pollutant: ``"so2"``, ``"nox"`` or ``"dust"``.

    Returns:
        t/a per pixel (kg/ha × ha / 1000), NaN outside valid pixels.
    """
    _check_pollutant(pollutant)
    return rate_times_area_t(rate_kg_per_ha, pixel_area_m2, valid, f"{pollutant} uptake rate")


def cap_by_emissions(
    quantity_t: np.ndarray,
    region_index: np.ndarray,
    emissions_t: Mapping[int, float] | np.ndarray,
) -> tuple[np.ndarray, dict[int, float]]:
    """Cap each region's uptake at its reported emissions (t/a) [S1]; see ``cap_by_region``.

    Returns ``(capped_t, scale_per_region)``; values are never scaled up.
    """
    return cap_by_region(quantity_t, region_index, emissions_t)


def value(
    quantities_t: Mapping[str, np.ndarray], costs_yuan_per_t: Mapping[str, float]
) -> np.ndarray:
    """Value of air purification, ``V = Σ_x Q_x · c_x`` (元/a) [S1].

    Args:
        quantities_t: ``{pollutant: t/a per pixel}`` for pollutants in :data:`POLLUTANTS`.
        costs_yuan_per_t: treatment cost per pollutant (元/t); [S1]: so2 1200, nox 630, dust 150.
    """
    for key in quantities_t:
        _check_pollutant(key)
    return priced_sum(quantities_t, costs_yuan_per_t, "air purification")
