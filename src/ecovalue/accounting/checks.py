"""Checks of a run's results that stop the user's eye: an indicator that is 0 over a region.

An indicator the profile includes and the engine computed, but whose value is 0 in a whole
region, is almost always an input in the wrong unit or a switch that does not match the
data (precipitation per month read as per year gives P − R − ET < 0 everywhere and water
conservation 0). Where a region's 0 can be normal (statistics that say 0, a district
without lakes), only "0 in every region" is a warning. Both engines call
:func:`result_warnings` on their results table; the warnings go to the top of the CLI's
output, into ``summary.json`` and into the report (decision 0022).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType

import pandas as pd

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.result import Region
from ecovalue.errors import Problem

#: indicator -> why a single region's 0 can be right (then only a 0 in every region warns)
ZERO_CAN_BE_RIGHT = MappingProxyType({
    "agriculture": "its value is the region's statistics: 0 when they say 0",
    "forestry": "its value is the region's statistics: 0 when they say 0",
    "livestock": "its value is the region's statistics: 0 when they say 0",
    "fishery": "its value is the region's statistics: 0 when they say 0",
    "water_supply": "its value is the region's statistics: 0 when they say 0",
    "hydropower": "a region without a hydropower plant generates none",
    "other_products": "its value is the region's statistics: 0 when they say 0",
    "recreation": "its value is the region's statistics: 0 when they say 0",
    "flood_regulation": "a region without lakes, reservoirs or marsh stores no flood water",
    "pest_control": "only natural forest and grassland count",
    "landscape_premium": "a region without housing near green or blue space has none",
    "sand_fixation": "a region without erodible soil or wind has none",
})

#: indicator -> the inputs that make it, for the message's "fix"
INPUTS = MappingProxyType({
    "water_conservation": "precipitation and ET (both annual, mm/a) and storm_runoff_coef: P − R − ET ≤ 0 gives 0",
    "soil_retention": "erosivity R, erodibility K, the DEM and usle_c/usle_p of the land-cover table",
    "sand_fixation": "the RWEQ rasters and rweq_veg_cover",
    "flood_regulation": "the lakes and reservoirs layers (capacity_wan_m3) and marsh_storage_depth",
    "air_purification": "so2_absorption, nox_absorption, dust_retention and the emission: statistics that cap them",
    "water_purification": "the *_purification columns and the load: statistics that cap them",
    "carbon_sequestration": "the NPP raster (g C m⁻² a⁻¹)",
    "oxygen_release": "the NPP raster (g C m⁻² a⁻¹)",
    "climate_regulation": "transpiration_heat, is_water_surface, water_evaporation and climate:ac_days",
    "pest_control": "the pest_control column of the land-cover table",
    "landscape_premium": "the property_value raster and the premium distance against the pixel size",
})


def result_warnings(table: pd.DataFrame, regions: list[Region], indicators: Iterable[str],
                    not_applicable: Mapping[str, str]) -> list[Problem]:
    """Warnings for indicators computed by the run that are 0 over a whole region.

    Args:
        table: the run's results table (``result.TABLE_COLUMNS``; rows with a value only).
        regions: the run's regions.
        indicators: the profile's indicators; those in ``not_applicable`` are skipped (the
            results say why they are missing).
    """
    value: dict[tuple[str, str], Decimal] = {}
    for (ind, code), rows in table.groupby(["indicator", "region_code"], sort=False):
        value[(str(ind), str(code))] = sum(rows["value_current"], Decimal(0))
    out: list[Problem] = []
    for ind in indicators:
        if ind in not_applicable:
            continue
        zero = [r for r in regions if value.get((ind, r.code), Decimal(0)) == 0]
        if not zero:
            continue
        spec = INDICATORS[ind]
        everywhere = len(zero) == len(regions)
        if not everywhere and ind in ZERO_CAN_BE_RIGHT:
            continue
        names = ", ".join(f"{r.code} {r.name_zh}" for r in zero[:8]) + (f", … ({len(zero)} in all)"
                                                                          if len(zero) > 8 else "")
        what = (f"{ind} ({spec.name_zh}) is 0 in every region: it disappears from the results" if everywhere
                else f"{ind} ({spec.name_zh}) is 0 in {len(zero)} of {len(regions)} regions: {names}")
        why = f" ({ZERO_CAN_BE_RIGHT[ind]}, but not everywhere)" if ind in ZERO_CAN_BE_RIGHT else ""
        out.append(Problem(f"results: {ind}", what, f"a value above 0 where the indicator applies{why}",
                           f"check {INPUTS.get(ind, 'its inputs')}; the other warnings may name the cause",
                           severity="warning"))
    return out
