"""What the engine expects of a dataset's contents: canonical units and plausible ranges.

Module-level data (never mutated), used by validation and loading. Ranges are physical
sanity bounds, not local norms: a value outside them is almost surely a unit or data error.
"""

from __future__ import annotations

from types import MappingProxyType

# raster key -> (canonical unit, plausible min, plausible max, resampling if misaligned)
RASTERS = MappingProxyType({
    "landcover": ("class", None, None, "nearest"),
    "dem": ("m", -450.0, 9000.0, "bilinear"),
    "precipitation": ("mm/a", 0.0, 12000.0, "bilinear"),
    "aet": ("mm/a", 0.0, 3000.0, "bilinear"),
    "npp": ("g/m**2/a", 0.0, 3000.0, "bilinear"),
    "erosivity": ("MJ*mm/(ha*h*a)", 0.0, 60000.0, "bilinear"),
    "erodibility": ("t*ha*h/(ha*MJ*mm)", 0.0, 0.1, "bilinear"),
    "water_evaporation": ("mm/a", 0.0, 4000.0, "bilinear"),
    "property_value": ("CNY/m**2", 0.0, 1.0e6, "bilinear"),
    "weather_factor": ("kg/m", 0.0, 1.0e4, "bilinear"),
    "soil_erodible_fraction": ("1", 0.0, 1.0, "bilinear"),
    "soil_crust_factor": ("1", 0.0, 1.0, "bilinear"),
    "soil_respiration": ("g/m**2/a", 0.0, 3000.0, "bilinear"),
})

# land-cover table column -> (canonical unit, min, max)
LANDCOVER_COLUMNS = MappingProxyType({
    "storm_runoff_coef": ("1", 0.0, 1.0),
    "usle_c": ("1", 0.0, 1.0),
    "usle_p": ("1", 0.0, 1.0),
    "so2_absorption": ("kg/ha/a", 0.0, 5000.0),
    "nox_absorption": ("kg/ha/a", 0.0, 5000.0),
    "dust_retention": ("kg/ha/a", 0.0, 500000.0),
    "cod_purification": ("kg/ha/a", 0.0, 1.0e6),
    "nh3n_purification": ("kg/ha/a", 0.0, 1.0e5),
    "tn_purification": ("kg/ha/a", 0.0, 1.0e5),
    "tp_purification": ("kg/ha/a", 0.0, 1.0e5),
    "transpiration_heat": ("kJ/m**2/d", 0.0, 50000.0),
    "is_water_surface": ("1", 0.0, 1.0),
    "flood_storage_depth": ("m", 0.0, 20.0),
    "marsh_storage_depth": ("m", 0.0, 20.0),
    "pest_control": ("1", 0.0, 1.0),
    "rweq_veg_cover": ("1", 0.0, 1.0),
})

ECOSYSTEM_TYPES = ("forest", "shrub", "grassland", "wetland", "water", "farmland", "urban", "bare")

# statistics item (exact, or prefix ending in ':') -> canonical unit ("*" = any, checked against price)
STATISTICS_ITEMS = MappingProxyType({
    "product:": "*",
    "output_value:": "CNY",
    "water_use:domestic": "m**3",  # the three uses water supply values (no other water_use: item is read)
    "water_use:industrial": "m**3",
    "water_use:agricultural": "m**3",
    "hydropower": "kW*h",
    "tourism:visits": "visit",
    "tourism:expenditure": "CNY/visit",
    "tourism:travel_hours": "h/visit",
    "tourism:revenue": "CNY",
    "wage:daily": "CNY/d",
    "emission:": "t",
    "load:": "t",
    "climate:ac_days": "d",
    "gdp": "CNY",
    "stock:": "*",  # natural-resource stocks, e.g. stock:forest in m**3 (asset accounts)
})


def statistics_unit(item: str) -> str | None:
    """Canonical unit of a statistics item, or None if the item is unknown."""
    if item in STATISTICS_ITEMS:
        return STATISTICS_ITEMS[item]
    for key, unit in STATISTICS_ITEMS.items():
        if key.endswith(":") and item.startswith(key):
            return unit
    return None
