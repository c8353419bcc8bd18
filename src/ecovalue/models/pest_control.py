"""Pest control (病虫害控制, spec §6.2 R11): area of self-healing natural forest and grassland.

``V = Σ area_self-healed × cost_artificial_control`` (防治费用法) [S1]: Garzê 2010 counted
natural forest (158 万hm² × 375 元/hm²) and natural grassland (711.13 万hm² × 112.5 元/hm²).
Which classes count is the land-cover column ``pest_control`` (1 = natural forest/grassland
whose self-healing counts); whether the item is counted at all is a profile switch (its
presence in the 2022 standard is unverified, spec §5.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecovalue.errors import InputError
from ecovalue.models.common import (
    M2_PER_HA,
    check_finite,
    check_parameter,
    check_valid_mask,
    masked,
)


def controlled_area_ha(
    pest_flag: np.ndarray, pixel_area_m2: float, valid: np.ndarray
) -> np.ndarray:
    """Area whose pests are controlled naturally, per pixel (ha/a): ``flag · A / 10⁴``.

    Args:
        pest_flag: 1 for natural forest/grassland classes, 0 otherwise (land-cover column
            ``pest_control``).
        pixel_area_m2: pixel area (m²).
        valid: True where the land cover holds data.
    """
    valid = check_valid_mask(valid, np.shape(pest_flag))
    flag = check_finite("pest_control flag", pest_flag, valid)
    bad = valid & (flag != 0) & (flag != 1)
    if bad.any():
        raise InputError(
            f"pest_control flag has values {np.unique(flag[bad])[:5].tolist()}; expected 0 or 1; "
            f"fix the land-cover table"
        )
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    return masked(flag * area / M2_PER_HA, valid)


def class_costs(
    ecosystem_types: Sequence[str],
    pest_flags: Sequence[float],
    forest_cost_yuan_per_ha: float,
    grassland_cost_yuan_per_ha: float,
) -> np.ndarray:
    """Artificial pest-control cost per land-cover class (元/hm²), for ``class_lookup``.

    Forest classes get the forest cost (375 元/hm² [S1]), grassland classes the grassland cost
    (112.5 元/hm² [S1]); unflagged classes 0.

    Args:
        ecosystem_types: ``ecosystem_type`` column of the land-cover table, one per class.
        pest_flags: ``pest_control`` column, one per class.
        forest_cost_yuan_per_ha: ``pest.forest_cost``; grassland_cost_yuan_per_ha:
            ``pest.grassland_cost``.

    Raises:
        InputError: a flagged class is neither forest nor grassland (no published cost).
    """
    if len(ecosystem_types) != len(pest_flags):
        raise InputError("ecosystem_types and pest_flags must have one entry per class")
    costs = {
        "forest": check_parameter("pest.forest_cost", forest_cost_yuan_per_ha, 0.0, np.inf),
        "grassland": check_parameter(
            "pest.grassland_cost", grassland_cost_yuan_per_ha, 0.0, np.inf
        ),
    }
    out = np.zeros(len(ecosystem_types))
    for i, (eco, flag) in enumerate(zip(ecosystem_types, pest_flags, strict=True)):
        if float(flag) == 0.0:
            continue
        if eco not in costs:
            raise InputError(
                f"land-cover class with ecosystem_type {eco!r} is flagged for pest control, but a "
                f"control cost exists only for forest and grassland [S1]; set pest_control = 0 "
                f"for it"
            )
        out[i] = costs[eco]
    return out


def value(area_ha: np.ndarray, cost_yuan_per_ha: np.ndarray | float) -> np.ndarray:
    """Value of pest control, ``V = area · cost`` (元/a) [S1].

    Args:
        area_ha: self-healed area per pixel (ha/a).
        cost_yuan_per_ha: artificial control cost per pixel (元/hm²), e.g.
            ``class_lookup(..., class_costs(...), "pest_control_cost")``.
    """
    cost = np.asarray(cost_yuan_per_ha, dtype=np.float64)
    if (cost < 0).any():
        raise InputError("pest-control costs must be >= 0 元/hm²")
    return np.asarray(area_ha, dtype=np.float64) * cost
