"""Provisioning services (物质产品, spec §6.1 P1–P7): quantity × price and mapping of statistics.

Provisioning is accounted from statistics per region (``V = Σ_i Q_i · P_i`` [S3] eq. 1–2, or
the reported output value as in Garzê [S1]). :func:`allocate_to_pixels` spreads each region's
number over the pixels of the ecosystems that produce it (agriculture → farmland pixels,
fishery → water pixels …) so it maps; the spread conserves each region's total exactly and
refuses to drop a total that has no pixel to go to.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ecovalue.errors import InputError
from ecovalue.models.common import check_valid_mask


def allocate_to_pixels(
    totals_by_region: Mapping[int, float],
    region_index: np.ndarray,
    weights: np.ndarray,
    valid: np.ndarray,
    what: str,
) -> np.ndarray:
    """Spread each region's total over its matching pixels in proportion to ``weights``.

    Pixels have equal area, so a boolean mask gives an area-proportional spread; float weights
    (e.g. NPP of farmland pixels) give a weighted one. For every region r:
    ``out[p] = total_r · w[p] / Σ_{q in r} w[q]``, so Σ_{p in r} out[p] = total_r.

    Args:
        totals_by_region: ``{region_index: total}`` in any unit (t, 元 …).
        region_index: int array, region number per pixel, -1 outside regions.
        weights: bool mask (True on matching land cover) or non-negative float weights.
        valid: True where the land cover holds data (invalid pixels get NaN, weight 0).
        what: what is allocated, for messages (e.g. ``"agriculture output value"``).

    Returns:
        float64 array: the allocated amount per pixel; 0 on non-matching valid pixels.

    Raises:
        InputError: a region has a non-zero total but no valid pixel with positive weight
            (its value would be lost), weights are negative or NaN, or totals are not finite.
    """
    reg = np.asarray(region_index)
    valid = check_valid_mask(valid, reg.shape)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != reg.shape:
        raise InputError(f"weights shape {w.shape} differs from region_index shape {reg.shape}")
    if (valid & ~(np.isfinite(w) & (w >= 0))).any():
        raise InputError(f"{what}: allocation weights must be finite and >= 0 on valid pixels")
    w = np.where(valid, w, 0.0)
    out = np.zeros(reg.shape)
    lost: list[str] = []
    for region, total in totals_by_region.items():
        t = float(total)
        if not np.isfinite(t):
            raise InputError(
                f"{what}: total for region index {region} is {total!r}; expected a number"
            )
        in_region = reg == int(region)
        wsum = float(w[in_region].sum())
        if wsum <= 0.0:
            if t != 0.0:
                lost.append(f"region index {region} ({t:g})")
            continue
        out[in_region] = t * w[in_region] / wsum
    if lost:
        raise InputError(
            f"{what}: {', '.join(lost)} {'has' if len(lost) == 1 else 'have'} a statistic but "
            f"no matching land-cover pixel to carry it, so its value would be lost; check the "
            f"land-cover map or the mapping of this indicator to ecosystem types"
        )
    out[~valid] = np.nan
    return out


def quantity_times_price(
    quantities: Mapping[str, float], prices: Mapping[str, float]
) -> dict[str, float]:
    """Value of each product, ``V_i = Q_i · P_i`` (元/a) [S3] eq. 1–2 (also water supply [S1]).

    Args:
        quantities: ``{item: quantity}`` (e.g. ``{"product:rice": 1.2e5}`` in t/a).
        prices: ``{item: unit price}`` in 元 per unit of the quantity (``prices.csv``).

    Returns:
        ``{item: value in 元/a}``.

    Raises:
        InputError: an item has no price, or a quantity or price is negative / not finite.
    """
    missing = sorted(set(quantities) - set(prices))
    if missing:
        raise InputError(
            f"no price for {missing}; add a row per item to tables/prices.csv "
            f"(item, value, unit, price_year, region, source)"
        )
    out: dict[str, float] = {}
    for item, q in quantities.items():
        qv, pv = float(q), float(prices[item])
        if not (np.isfinite(qv) and qv >= 0):
            raise InputError(f"quantity of {item} is {q!r}; expected a number >= 0")
        if not (np.isfinite(pv) and pv >= 0):
            raise InputError(f"price of {item} is {prices[item]!r}; expected a number >= 0")
        out[item] = qv * pv
    return out
