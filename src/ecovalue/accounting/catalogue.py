"""The indicator catalogue: declarative data describing every GEP indicator.

One :class:`IndicatorSpec` per indicator: names in Chinese and English, category,
physical and value units, methods, required inputs and the parameters it reads from the
register. Profiles (``accounting/profiles/*.toml``) choose which indicators a run
includes and which method variant each uses. Equations live at the kernels in
``ecovalue.models``; the ``equation`` field repeats them for reports.

Indicator list: spec/gep-accounting.md §5–6 (Ouyang/RCEES framework [S1][S3], Shandong
2022 trial spec [S27] for separate 固碳/释氧).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

CATEGORIES = ("provisioning", "regulating", "cultural")


@dataclass(frozen=True)
class SubItemSpec:
    """A sub-item of an indicator as the published Chinese accounts show it (a pollutant, a kind
    of flood storage, a cooling process, a benefit of retained soil), valued at its own unit
    price. ``parameters``: the register entries its unit price is made of; ``landcover_column``:
    its per-class rate, where the model has one; ``in_total``: whether its physical quantity is
    part of the indicator's (soil retention's N and P are tonnes of nutrient contained in the
    retained soil, so they are not added to it)."""

    id: str
    name_zh: str
    name_en: str
    parameters: tuple[str, ...]
    landcover_column: str = ""
    in_total: bool = True


def _sub(id_: str, zh: str, en: str, *parameters: str, column: str = "", in_total: bool = True) -> SubItemSpec:
    return SubItemSpec(id_, zh, en, tuple(parameters), column, in_total)


# Sub-items after the indicator tables of the published accounts: air purification by SO₂ /
# NOₓ / dust and water purification by COD / NH₃-N / TN / TP [S1][S6]; flood storage of lakes,
# reservoirs, marshes (and vegetation) [S1]; cooling by vegetation transpiration and
# water-surface evaporation [S1][S2]; soil retention's reduced silting and reduced N / P loss
# [S1] (spec §6.2 R2, R5–R7, R10).
_AIR = (
    _sub("so2", "二氧化硫", "SO₂", "air.so2_cost", column="so2_absorption"),
    _sub("nox", "氮氧化物", "NOₓ", "air.nox_cost", column="nox_absorption"),
    _sub("dust", "工业粉尘", "Dust", "air.dust_cost", column="dust_retention"),
)
_WATER = (
    _sub("cod", "化学需氧量", "COD", "water.cod_cost", column="cod_purification"),
    _sub("nh3n", "氨氮", "NH₃-N", "water.nh3n_cost", column="nh3n_purification"),
    _sub("tn", "总氮", "TN", "water.tn_cost", column="tn_purification"),
    _sub("tp", "总磷", "TP", "water.tp_cost", column="tp_purification"),
)
_FLOOD = (
    _sub("lake", "湖泊调蓄", "Lake storage", "flood.lake_a", "flood.lake_b", "flood.lake_turnover",
         "reservoir_cost"),
    _sub("reservoir", "水库调蓄", "Reservoir storage", "flood.reservoir_share", "reservoir_cost"),
    _sub("marsh", "沼泽调蓄", "Marsh storage", "reservoir_cost", column="marsh_storage_depth"),
    _sub("vegetation", "植被调蓄", "Vegetation storage", "reservoir_cost", column="flood_storage_depth"),
)
_CLIMATE = (
    _sub("vegetation", "植被蒸腾降温增湿", "Vegetation transpiration", "climate.eer",
         "climate.electricity_price", column="transpiration_heat"),
    _sub("water_surface", "水面蒸发降温增湿", "Water-surface evaporation", "climate.latent_heat",
         "climate.humidifier_energy", "climate.electricity_price", column="is_water_surface"),
)
_SOIL = (
    _sub("sediment", "减少泥沙淤积", "Reduced reservoir silting", "soil.silting_coef",
         "soil.bulk_density", "soil.dredging_cost"),
    _sub("nitrogen", "减少氮流失", "Reduced nitrogen loss", "soil.n_fraction", "soil.n_cost",
         in_total=False),
    _sub("phosphorus", "减少磷流失", "Reduced phosphorus loss", "soil.p_fraction", "soil.p_cost",
         in_total=False),
)


@dataclass(frozen=True)
class IndicatorSpec:
    """A GEP indicator as declarative data."""

    id: str
    name_zh: str
    name_en: str
    category: str
    physical_unit: str  # unit of the per-pixel/per-row physical quantity
    physical_method: str
    valuation_method: str
    equation: str
    sources: str
    required_rasters: tuple[str, ...] = ()
    optional_rasters: tuple[str, ...] = ()
    required_vectors: tuple[str, ...] = ()
    landcover_columns: tuple[str, ...] = ()
    statistics_items: tuple[str, ...] = ()  # items each region needs (prefix match with '*')
    parameters: tuple[str, ...] = ()
    ecosystem_types: tuple[str, ...] = ()  # provisioning: where the value is allocated
    sub_items: tuple[SubItemSpec, ...] = ()  # each valued at its own price (results by sub-item)

    def sub_item(self, sub_id: str) -> SubItemSpec:
        """The sub-item ``sub_id``; KeyError naming the known ones."""
        for s in self.sub_items:
            if s.id == sub_id:
                return s
        raise KeyError(f"{self.id} has no sub-item {sub_id!r}; known: {[s.id for s in self.sub_items]}")


_SPECS = (
    # ---- provisioning (物质供给), statistics-based [S1][S3] ----
    IndicatorSpec(
        "agriculture", "农业产品", "Agricultural products", "provisioning", "t",
        "statistics: product quantities by region", "market value (quantity × price, or reported output value)",
        "V = Σ Q_i × P_i", "[S1][S3]", statistics_items=("product:*",), ecosystem_types=("farmland",)),
    IndicatorSpec(
        "forestry", "林业产品", "Forestry products", "provisioning", "t",
        "statistics: product quantities by region", "market value",
        "V = Σ Q_i × P_i", "[S1][S3]", statistics_items=("product:*",), ecosystem_types=("forest", "shrub")),
    IndicatorSpec(
        "livestock", "畜牧业产品", "Livestock products", "provisioning", "t",
        "statistics: product quantities by region", "market value",
        "V = Σ Q_i × P_i", "[S1][S3]", statistics_items=("product:*",), ecosystem_types=("grassland", "farmland")),
    IndicatorSpec(
        "fishery", "渔业产品", "Fishery products", "provisioning", "t",
        "statistics: product quantities by region", "market value",
        "V = Σ Q_i × P_i", "[S1][S3]", statistics_items=("product:*",), ecosystem_types=("water", "wetland")),
    IndicatorSpec(
        "water_supply", "水资源", "Water supply", "provisioning", "m**3",
        "statistics: water use by sector", "market value (water price by use)",
        "V = Σ_i Q_i × P_i, i ∈ {domestic, industrial, agricultural}", "[S1]",
        statistics_items=("water_use:domestic", "water_use:industrial", "water_use:agricultural"),
        parameters=("water_price.domestic", "water_price.industrial", "water_price.agricultural"),
        ecosystem_types=("water", "wetland")),
    IndicatorSpec(
        "hydropower", "生态能源（水电）", "Hydropower", "provisioning", "kW*h",
        "statistics: hydropower generation", "market value (electricity price)",
        "V = E × p_elec", "[S1]", statistics_items=("hydropower",),
        parameters=("hydropower_price",), ecosystem_types=("water",)),
    IndicatorSpec(
        "other_products", "其他物质产品", "Other products", "provisioning", "t",
        "statistics: product quantities by region", "market value",
        "V = Σ Q_i × P_i", "[S3]", statistics_items=("product:*",), ecosystem_types=("water", "wetland", "farmland")),
    # ---- regulating (调节服务), per pixel ----
    IndicatorSpec(
        "water_conservation", "水源涵养", "Water conservation", "regulating", "m**3",
        "water balance Q = Σ (P − R − ET)·A, R = storm-runoff coefficient × P",
        "shadow project (reservoir construction cost)", "Q = (P − R − ET)·A;  V = Q × P_w", "[S1][S2]",
        required_rasters=("landcover", "precipitation", "aet"), landcover_columns=("storm_runoff_coef",),
        parameters=("reservoir_cost",)),
    IndicatorSpec(
        "soil_retention", "土壤保持", "Soil retention", "regulating", "t",
        "RUSLE potential − actual erosion, LS after Desmet & Govers (1996)",
        "replacement cost: reduced reservoir silting + reduced N/P loss",
        "A = R·K·LS·(1 − C·P)·area;  V = λ·A/ρ·P_s + A·(C_N·P_N + C_P·P_P)", "[S1][S2][S48b]",
        required_rasters=("landcover", "dem", "erosivity", "erodibility"), landcover_columns=("usle_c", "usle_p"),
        parameters=("soil.silting_coef", "soil.bulk_density", "soil.dredging_cost", "soil.n_fraction",
                    "soil.p_fraction", "soil.n_cost", "soil.p_cost"),
        # soil is retained by ecosystems with soil; open water and sealed built-up land have none [S1]
        ecosystem_types=("forest", "shrub", "grassland", "wetland", "farmland", "bare"), sub_items=_SOIL),
    IndicatorSpec(
        "sand_fixation", "防风固沙", "Windbreak and sand fixation", "regulating", "t",
        "RWEQ potential − actual wind erosion (Fryrear et al. 1998)", "replacement cost (sand-control works)",
        "V = Q/(ρ·h) × P_f", "[S1]",
        required_rasters=("landcover",), optional_rasters=("weather_factor", "soil_erodible_fraction", "soil_crust_factor"),
        landcover_columns=("rweq_veg_cover",),
        parameters=("sand.bulk_density", "sand.cover_thickness", "sand.control_cost", "sand.roughness", "sand.field_length")),
    IndicatorSpec(
        "flood_regulation", "洪水调蓄", "Flood regulation", "regulating", "m**3",
        "lakes C = e^a·A^b·T; reservoirs C = share × capacity; marshes C = depth × area; vegetation optional",
        "shadow project (reservoir construction cost)", "V = (C_l + C_r + C_m + C_v) × P_w", "[S1]",
        required_rasters=("landcover",), required_vectors=(), landcover_columns=("marsh_storage_depth", "flood_storage_depth"),
        parameters=("flood.lake_a", "flood.lake_b", "flood.lake_turnover", "flood.reservoir_share", "reservoir_cost"),
        sub_items=_FLOOD),
    IndicatorSpec(
        "air_purification", "空气净化", "Air purification", "regulating", "t",
        "absorption of SO₂, NOₓ and dust by class × area, capped by reported emissions",
        "avoided treatment cost", "Q_x = rate_x·A (≤ emissions);  V = Σ Q_x × c_x", "[S1][S2]",
        required_rasters=("landcover",), landcover_columns=("so2_absorption", "nox_absorption", "dust_retention"),
        parameters=("air.so2_cost", "air.nox_cost", "air.dust_cost"), sub_items=_AIR),
    IndicatorSpec(
        "water_purification", "水质净化", "Water purification", "regulating", "t",
        "purification of COD, NH₃-N, TN, TP by class × area, capped by reported loads",
        "avoided treatment cost", "Q_x = rate_x·A (≤ load);  V = Σ Q_x × c_x", "[S1][S6]",
        required_rasters=("landcover",),
        landcover_columns=("cod_purification", "nh3n_purification", "tn_purification", "tp_purification"),
        parameters=("water.cod_cost", "water.nh3n_cost", "water.tn_cost", "water.tp_cost"), sub_items=_WATER),
    IndicatorSpec(
        "carbon_sequestration", "固碳", "Carbon sequestration", "regulating", "t",
        "NPP → dry matter → CO₂ fixed (1.63 kg CO₂ per kg dry matter)", "carbon price (afforestation cost or market)",
        "Q_CO2 = 1.63 × NPP/f_C;  V = Q × P_C", "[S2][S3][S5]",
        required_rasters=("npp",), parameters=("carbon.dm_carbon_fraction", "carbon.co2_per_dm", "carbon.price")),
    IndicatorSpec(
        "oxygen_release", "释氧", "Oxygen release", "regulating", "t",
        "NPP → dry matter → O₂ released (1.2 kg O₂ per kg dry matter)", "industrial oxygen price",
        "Q_O2 = 1.2 × NPP/f_C;  V = Q × P_O2", "[S3][S5]",
        required_rasters=("npp",), parameters=("carbon.dm_carbon_fraction", "oxygen.o2_per_dm", "oxygen.price")),
    IndicatorSpec(
        "climate_regulation", "气候调节", "Climate regulation", "regulating", "kW*h",
        "vegetation transpiration and water-surface evaporation converted to air-conditioning electricity",
        "replacement cost (electricity price)",
        "E_v = heat·A·d/(3600·EER);  E_w = E_d·ρ·q/3600 + E_d·γ, E_d = E·d/365;  V = (E_v + E_w) × c",
        "[S1][S2][S41a]; evaporation counted on air-conditioning days only, as the vegetation term",
        required_rasters=("landcover", "water_evaporation"), landcover_columns=("transpiration_heat", "is_water_surface"),
        statistics_items=("climate:ac_days",),
        parameters=("climate.eer", "climate.latent_heat", "climate.humidifier_energy", "climate.electricity_price"),
        sub_items=_CLIMATE),
    IndicatorSpec(
        "pest_control", "病虫害控制", "Pest control", "regulating", "ha",
        "area of natural forest and grassland that heals itself", "avoided control cost",
        "V = Σ area_i × cost_i", "[S1]",
        required_rasters=("landcover",), landcover_columns=("pest_control",),
        parameters=("pest.forest_cost", "pest.grassland_cost")),
    # ---- cultural (文化服务) ----
    IndicatorSpec(
        "recreation", "休闲游憩", "Recreation and tourism", "cultural", "visit",
        "statistics: visits to natural and green spaces", "travel cost: visits × (expenditure + time cost + consumer surplus)",
        "V = N × (TE + TV + CS), TV = hours × wage/8 × 0.30", "[S3][S15]",
        statistics_items=("tourism:visits",), parameters=("recreation.time_value_share", "recreation.consumer_surplus",
                                                           "recreation.working_hours_per_day"),
        ecosystem_types=("forest", "water", "wetland", "grassland")),
    IndicatorSpec(
        "landscape_premium", "景观溢价", "Landscape premium", "cultural", "CNY",
        "hedonic: property value within a distance of water and green space",
        "premium rate × property value × annualisation rate", "V = r × Σ_near property value × a", "[S15][S47]",
        required_rasters=("landcover", "property_value"),
        parameters=("landscape.premium_rate", "landscape.distance", "landscape.annualisation_rate")),
)

INDICATORS: MappingProxyType[str, IndicatorSpec] = MappingProxyType({s.id: s for s in _SPECS})

# Item prefixes in statistics.csv that mark which provisioning indicator a product belongs to.
PROVISIONING_PRODUCT_INDICATORS = ("agriculture", "forestry", "livestock", "fishery", "other_products")

ECOSYSTEM_TYPES = ("forest", "shrub", "grassland", "wetland", "water", "farmland", "urban", "bare")
