"""Water purification (水质净化, spec §6.2 R7): COD, NH₃-N, TN and TP removed by ecosystems.

Physical quantity per pixel: ``Q_x = rate_x(class) · A`` with per-area purification rates
(kg·ha⁻¹·a⁻¹, non-zero on wetland/water classes) from the land-cover table — published rates
were NOT FOUND (spec §6.2 R7), so they are dataset inputs. Garzê [S1] took the loads received
by wetlands (COD 5 424 t, NH₃-N 625 t) as the quantity; :func:`cap_by_loads` caps a region's
removal at its reported load (profile switch ``cap_water_by_loads``). Valuation by avoided
treatment cost (防治费用法): COD 700, NH₃-N 875 元/t [S1]; TN/TP 2 500–3 000 元/t [S6].
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ecovalue.errors import InputError
from ecovalue.models.common import cap_by_region, priced_sum, rate_times_area_t

POLLUTANTS: tuple[str, ...] = ("cod", "nh3n", "tn", "tp")


def _check_pollutant(pollutant: str) -> None:
    if pollutant not in POLLUTANTS:
        raise InputError(f"unknown water pollutant {pollutant!r}; expected one of {POLLUTANTS}")


def removal_t(
    rate_kg_per_ha: np.ndarray, pixel_area_m2: float, valid: np.ndarray, pollutant: str
) -> np.ndarray:
    """Pollutant removed per pixel, ``Q_x = rate_x · A`` (t/a).

    Args:
        rate_kg_per_ha: purification rate of the pixel's class (kg·ha⁻¹·a⁻¹), land-cover column
            ``cod_purification``, ``nh3n_purification``, ``tn_purification`` or ``tp_purification``.
        pixel_area_m2: pixel area A (m²).
        valid: True where the land cover holds data.
        pollutant: one of :data:`POLLUTANTS`.

    Returns:
        t/a per pixel, NaN outside valid pixels.
    """
    _check_pollutant(pollutant)
    return rate_times_area_t(rate_kg_per_ha, pixel_area_m2, valid, f"{pollutant} removal rate")


def cap_by_loads(
    quantity_t: np.ndarray,
    region_index: np.ndarray,
    loads_t: Mapping[int, float] | np.ndarray,
) -> tuple[np.ndarray, dict[int, float]]:
    """Cap each region's removal at its reported pollutant load (t/a) [S1]; see ``cap_by_region``.

    Returns ``(capped_t, scale_per_region)``; values are never scaled up.
    """
    return cap_by_region(quantity_t, region_index, loads_t)


def value(
    quantities_t: Mapping[str, np.ndarray], costs_yuan_per_t: Mapping[str, float]
) -> np.ndarray:
    """Value of water purification, ``V = Σ_x Q_x · c_x`` (元/a) [S1][S6].

    Args:
        quantities_t: ``{pollutant: t/a per pixel}`` for pollutants in :data:`POLLUTANTS`.
        costs_yuan_per_t: treatment cost per pollutant (元/t); [S1]: cod 700, nh3n 875;
            [S6]: tn, tp 2 500–3 000.
    """
    for key in quantities_t:
        _check_pollutant(key)
    return priced_sum(quantities_t, costs_yuan_per_t, "water purification")
