"""Cultural services (文化服务, spec §6.3): recreation (C1) and landscape premium (C2).

Recreation, travel-cost method [S3]: ``V = visits · (TE + TV + CS)`` per visit, with TE the
travel expenditure, TV the travel-time cost (time valued at 30 % of the wage rate [S3]) and CS
the consumer surplus (a user parameter; Baiyangdian's 578.03 元/visit [S3] is site-specific).
The alternative "reported tourism revenue × multiplier" follows Garzê [S1], whose multiplier
is not published (user-set). A region's recreation value is mapped onto its green/blue space
with :func:`allocate_recreation`.

Landscape premium, hedonic method (spec C2; no codified formula found): built-up pixels within
distance d of green/blue space carry a premium ``r · property value · A``, turned into an
annual flow by an annualisation rate (assumed — user-settable). Trees raise property prices by
5–10 % [S47]. The premium is then attributed to the ecosystems that cause it — see
:func:`landscape_premium`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from ecovalue.errors import InputError
from ecovalue.models.common import (
    check_array_range,
    check_finite,
    check_parameter,
    check_valid_mask,
)
from ecovalue.models.provisioning import allocate_to_pixels
from ecovalue.raster.distance import nearest_feature_at


def hourly_wage(daily_wage_yuan: float, working_hours_per_day: float) -> float:
    """Hourly wage = daily wage / working hours per day (元/h).

    The statistic is the daily wage (``wage:daily``); 8 h/d is the statutory working day in
    China (国务院《关于职工工作时间的规定》, 1995) — a user-settable parameter.
    """
    wage = check_parameter("wage:daily", daily_wage_yuan, 0.0, np.inf)
    hours = check_parameter("working_hours_per_day", working_hours_per_day, 1e-6, 24.0)
    return wage / hours


def travel_cost_value(
    visits: float,
    expenditure_per_visit: float,
    travel_hours_per_visit: float,
    hourly_wage_yuan: float,
    time_value_share: float,
    consumer_surplus_per_visit: float,
) -> float:
    """Recreation value by travel cost, ``V = N · (TE + h · w · s + CS)`` (元/a) [S3].

    Args:
        visits: N, visits per year (``tourism:visits``).
        expenditure_per_visit: TE, travel expenditure (元/visit).
        travel_hours_per_visit: h, travel time (h/visit).
        hourly_wage_yuan: w (元/h), see :func:`hourly_wage`.
        time_value_share: s, share of the wage at which time is valued (1); 0.30 [S3].
        consumer_surplus_per_visit: CS (元/visit), user parameter (assumed — user-settable).

    Example (Baiyangdian 2011 [S3]): (52.47 + 343.33 + 578.03) 元 × 135×10⁴ = 13.15×10⁸ 元.
    """
    n = check_parameter("tourism:visits", visits, 0.0, np.inf)
    te = check_parameter("tourism:expenditure", expenditure_per_visit, 0.0, np.inf)
    h = check_parameter("tourism:travel_hours", travel_hours_per_visit, 0.0, np.inf)
    w = check_parameter("hourly wage", hourly_wage_yuan, 0.0, np.inf)
    s = check_parameter("recreation.time_value_share", time_value_share, 0.0, 1.0)
    cs = check_parameter("recreation.consumer_surplus", consumer_surplus_per_visit, 0.0, np.inf)
    return n * (te + h * w * s + cs)


def revenue_multiplier_value(revenue_yuan: float, multiplier: float) -> float:
    """Recreation value from reported tourism revenue, ``V = revenue · m`` (元/a) [S1].

    Garzê [S1] valued recreation "依据旅游总人次、旅游总收入等因素" without publishing the
    multiplier (23.56 亿元 revenue → 70.67 亿元, i.e. ≈ 3.0); ``m`` is user-set.
    """
    rev = check_parameter("tourism:revenue", revenue_yuan, 0.0, np.inf)
    m = check_parameter("recreation multiplier", multiplier, 0.0, np.inf)
    return rev * m


def allocate_recreation(
    value_by_region: Mapping[int, float],
    region_index: np.ndarray,
    green_blue: np.ndarray,
    valid: np.ndarray,
) -> np.ndarray:
    """Spread each region's recreation value evenly (by area) over its green/blue pixels (元/a).

    ``green_blue`` marks parks, forest, grassland, wetland and water; the total is conserved
    and a region with value but no green/blue pixel raises (see ``allocate_to_pixels``).
    """
    return allocate_to_pixels(value_by_region, region_index, green_blue, valid, "recreation value")


class LandscapePremium(NamedTuple):
    """Result of :func:`landscape_premium` (元/a per pixel; NaN outside valid pixels)."""

    at_property: np.ndarray
    """Premium on the built-up pixels that enjoy it (0 elsewhere); an empty (0, 0) array when
    the caller asked for the attributed grid only (``keep_at_property=False``)."""
    attributed: np.ndarray
    """The same premium moved to the nearest green/blue pixel (the ecosystem that supplies it)."""
    n_premium_pixels: int
    """Built-up pixels within the distance of green/blue space."""


def landscape_premium(
    built_up: np.ndarray,
    green_blue: np.ndarray,
    property_value_yuan_m2: np.ndarray,
    premium_rate: float,
    distance_m: float,
    annualisation_rate: float,
    cell_size_m: tuple[float, float],
    valid: np.ndarray,
    *,
    keep_at_property: bool = True,
) -> LandscapePremium:
    """Hedonic landscape premium of green/blue space on nearby property (元/a) — spec C2.

    For each valid built-up pixel whose centre lies within ``distance_m`` of the centre of a
    green/blue pixel (Euclidean, the exact feature transform of
    :func:`ecovalue.raster.distance.nearest_feature`, equal to
    ``scipy.ndimage.distance_transform_edt`` with ``sampling = cell size``)::

        V_p = r · PV_p · A · k        (元/a)

    r premium rate (1; 5–10 % for trees [S47], ``landscape.premium_rate``), PV property value
    (元/m² of land, ``property_value`` raster), A pixel area (m²), k annualisation rate (1/a;
    the premium is a capitalised one-off price difference, k turns it into a yearly flow —
    assumed, user-settable; pass 1 to report the stock).

    Attribution rule: each premium pixel's value goes entirely to its single nearest green/blue
    pixel (``return_indices`` of the distance transform; ties resolved by scipy's scan order),
    so the value maps to ecosystems, not to buildings, and Σ attributed = Σ at_property.
    With no green/blue pixel at all there is no premium (zeros, ``n_premium_pixels = 0``).

    Args:
        built_up: True on built-up (residential) pixels.
        green_blue: True on green/blue space (parks, forest, grassland, wetland, water).
        property_value_yuan_m2: property value (元/m²); must be finite where a premium applies.
        premium_rate, distance_m, annualisation_rate: see above.
        cell_size_m: (row height, column width) of a pixel in metres.
        valid: True where the land cover holds data.
        keep_at_property: False returns ``at_property`` as an empty (0, 0) array, for callers
            that use only the attributed grid (the accounting: 8 bytes per pixel less at the
            peak of the step).
    """
    pts = landscape_premium_points(
        built_up, green_blue, property_value_yuan_m2, premium_rate, distance_m,
        annualisation_rate, cell_size_m, valid,
    )
    if keep_at_property:
        at_property = pts.grid(pts.premium_index, pts.premium_value, valid)
    else:
        at_property = np.empty((0, 0))
    attributed = pts.grid(pts.attributed_index, pts.attributed, valid)
    return LandscapePremium(at_property, attributed, pts.n_premium_pixels)


class PremiumPoints(NamedTuple):
    """Result of :func:`landscape_premium_points`: the pixels that carry a premium, without a
    whole grid (a few percent of a city's pixels). Flat indices are row-major and ascending."""

    shape: tuple[int, ...]
    premium_index: np.ndarray
    """Flat indices (int64) of the built-up pixels that enjoy a premium."""
    premium_value: np.ndarray
    """Their premium ``V_p`` (float64, 元/a)."""
    attributed_index: np.ndarray
    """Flat indices (int64) of the green/blue pixels the premiums go to."""
    attributed: np.ndarray
    """Σ of the premiums each receives (float64, 元/a), added in the premium pixels'
    row-major order (``np.bincount(nearest, weights)``'s numbers, bit for bit)."""

    @property
    def n_premium_pixels(self) -> int:
        return int(self.premium_index.size)

    def grid(self, index: np.ndarray, values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """``values`` at ``index`` on a float64 grid of 0, NaN outside ``valid``."""
        out = np.zeros(self.shape)
        out.reshape(-1)[index] = values
        out[~np.asarray(valid, dtype=bool)] = np.nan
        return out


def landscape_premium_points(
    built_up: np.ndarray,
    green_blue: np.ndarray,
    property_value_yuan_m2: np.ndarray | float | Callable[[np.ndarray], np.ndarray],
    premium_rate: float,
    distance_m: float,
    annualisation_rate: float,
    cell_size_m: tuple[float, float],
    valid: np.ndarray,
) -> PremiumPoints:
    """:func:`landscape_premium` (same arguments, same checks and errors) as the pixels that
    carry a value: no whole-grid result (an account sums the values per zone; 16 M pixels are
    2 × 128 MB of grids that are mostly 0). ``property_value_yuan_m2`` may also be a function
    of the premium pixels' flat indices (ascending) that returns their values (a caller that
    reads the raster window by window for those pixels alone)."""
    bu = np.asarray(built_up, dtype=bool)
    valid = check_valid_mask(valid, bu.shape)
    gb = np.asarray(green_blue, dtype=bool) & valid
    bu = bu & valid
    r = check_parameter("landscape.premium_rate", premium_rate, 0.0, 1.0)
    d = check_parameter("landscape.distance", distance_m, 0.0, np.inf)
    k = check_parameter("landscape.annualisation_rate", annualisation_rate, 0.0, 1.0)
    dy = check_parameter("cell height", cell_size_m[0], 1e-9, np.inf)
    dx = check_parameter("cell width", cell_size_m[1], 1e-9, np.inf)
    shape = tuple(int(n) for n in bu.shape)
    none = np.empty(0, dtype=np.int64)
    if not gb.any() or not bu.any():
        return PremiumPoints(shape, none, np.empty(0), none, np.empty(0))
    # nearest green/blue pixel of every pixel (the feature transform, equal to scipy's
    # distance_transform_edt indices, ties included: raster/distance.py); distances only for
    # the built-up pixels, with scipy's own arithmetic (index offset → float64 × sampling,
    # squared, summed over the axes, square root), so they equal distance_transform_edt's bit
    # for bit without its four whole-grid temporaries
    near_r, near_c = nearest_feature_at(gb, (dy, dx), bu)  # of the built-up pixels
    del gb
    width = bu.shape[1]
    flat = np.flatnonzero(bu)  # row-major, ascending: the order of near_r, near_c
    del bu
    rows, cols = np.divmod(flat, width)
    off_r = (near_r - rows).astype(np.float64) * dy
    off_c = (near_c - cols).astype(np.float64) * dx
    near = np.sqrt(off_r * off_r + off_c * off_c) <= d
    del off_r, off_c
    premium_index = flat[near]
    # property value only where a premium applies: checked and converted there alone (the same
    # numbers and the same errors as checking the whole grid under the premium mask)
    if callable(property_value_yuan_m2):
        pv = np.asarray(property_value_yuan_m2(premium_index), dtype=np.float64)
        if pv.shape != premium_index.shape:
            raise InputError(
                f"property_value gave {pv.shape} values for {premium_index.size} pixels"
            )
    else:
        try:
            pv_grid = np.broadcast_to(np.asarray(property_value_yuan_m2), valid.shape)
        except ValueError as exc:
            raise InputError(
                f"property_value has shape {np.shape(property_value_yuan_m2)}; expected a "
                f"number or an array of shape {valid.shape}"
            ) from exc
        pv = np.asarray(pv_grid[rows[near], cols[near]], dtype=np.float64)
    everywhere = np.ones(pv.shape, dtype=bool)
    check_finite("property_value", pv, everywhere)
    check_array_range("property_value", pv, everywhere, 0.0, np.inf, "property value is 元/m² >= 0")
    # the nearest green/blue pixel of each premium pixel (flat index, int64: no overflow on
    # grids of more than 2**31 pixels)
    nearest = near_r[near].astype(np.int64) * width + near_c[near]
    value = r * pv * dy * dx * k
    # Σ of each green/blue pixel's premiums in the premium pixels' row-major order: bincount
    # over the receivers' ranks adds each one's weights in input order, as np.add.at and a
    # whole-grid bincount do (bit for bit); float64 also when every weight is an integer
    receivers, rank = np.unique(nearest, return_inverse=True)
    attributed = np.bincount(rank.reshape(-1), weights=value, minlength=receivers.size)
    return PremiumPoints(
        shape, premium_index, value, receivers, attributed.astype(np.float64, copy=False)
    )
