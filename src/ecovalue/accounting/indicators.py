"""Indicator computations: wiring the service models to the dataset and parameter register.

One function per catalogue indicator, ``(Context) -> Layer``. Equations live in the model
kernels (``ecovalue.models``); this module only picks inputs, parameters (converted to the
units the kernels expect) and method variants from the profile. Statistics-based
indicators are allocated to pixels of their ecosystem types so they show on maps and can
be summed over any polygon.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.context import Context, Layer, parts_layer
from ecovalue.errors import InputError, NotApplicable
from ecovalue.models import (
    air_purification,
    carbon_oxygen,
    climate_regulation,
    cultural,
    flood_regulation,
    pest_control,
    provisioning,
    sand_fixation,
    soil_retention,
    water_conservation,
    water_purification,
)
from ecovalue.units import conversion_factor, format_unit

# ------------------------------------------------------------------ allocation


def spread(ctx: Context, totals: dict[int, float], types: tuple[str, ...], what: str) -> np.ndarray:
    """Spread each region's total evenly (equal-area pixels → area-proportionally) over its pixels
    of the ecosystem ``types``; a region with a total but no such pixel spreads over all its
    pixels, and the run notes say so (value is never dropped)."""
    weights = ctx.lc_type_mask(types)
    for r, total in totals.items():
        in_region = ctx.valid & (ctx.ds.region_index == r)
        if total and not (weights & in_region).any():
            weights = weights | in_region
            ctx.notes.append(f"{what}: region {ctx.ds.regions[r].code} has no {'/'.join(types)} pixels; "
                             f"its total was spread over all its pixels")
    return provisioning.allocate_to_pixels(totals, ctx.ds.region_index, weights, ctx.valid, what)


# ------------------------------------------------------------------ provisioning


def _provisioning(ind: str) -> Callable[[Context], Layer]:
    spec = INDICATORS[ind]

    def compute(ctx: Context) -> Layer:
        method = ctx.profile.methods.get("provisioning", "quantity_x_price")
        stats = ctx.stats_year
        values: dict[int, float] = {}
        phys: dict[int, float] = {}
        skipped: set[str] = set()
        for r, region in enumerate(ctx.ds.regions):
            rows = stats[stats["region_code"] == region.code]
            if method == "reported_output_value":
                v = rows.loc[rows["item"] == f"output_value:{ind}", "quantity"].sum()
                values[r] = float(v)
                prod = rows[(rows["indicator"] == ind) & rows["item"].str.startswith("product:")]
            else:
                prod = rows[(rows["indicator"] == ind) & rows["item"].str.startswith("product:")]
                values[r] = sum(
                    q * ctx.p(f"price.{item}", f"CNY/({unit})")
                    for item, q, unit in zip(prod["item"], prod["quantity"], prod["unit"], strict=True))
            phys[r] = 0.0
            for item, q, unit in zip(prod["item"], prod["quantity"], prod["unit"], strict=True):
                try:
                    phys[r] += q * conversion_factor(unit, spec.physical_unit, item)
                except InputError:
                    skipped.add(f"{item} ({format_unit(unit)})")
        notes: tuple[str, ...] = ()
        if skipped:
            notes = (f"{ind}: physical total in {format_unit(spec.physical_unit)} leaves out items in other units: "
                     f"{', '.join(sorted(skipped))} (their value is included)",)
        value_px = spread(ctx, values, ctx.scope(ind), ind)
        phys_px = spread(ctx, {r: q for r, q in phys.items() if values[r]}, ctx.scope(ind), ind)
        return Layer(phys_px, value_px, method=f"statistics:{method}", source="statistics", notes=notes)

    return compute


def water_supply(ctx: Context) -> Layer:
    uses = ("domestic", "industrial", "agricultural")
    q: dict[int, float] = {}
    v: dict[int, float] = {}
    for r, region in enumerate(ctx.ds.regions):
        amounts = {u: ctx.stat(region.code, f"water_use:{u}") or 0.0 for u in uses}
        q[r] = sum(amounts.values())
        v[r] = sum(amounts[u] * ctx.p(f"water_price.{u}", "CNY/m**3") for u in uses)
    types = ctx.scope("water_supply")
    return Layer(spread(ctx, q, types, "water_supply"), spread(ctx, v, types, "water_supply"),
                 method="statistics:quantity_x_price", source="statistics")


def hydropower(ctx: Context) -> Layer:
    price = ctx.p("hydropower_price", "CNY/(kW*h)")
    q = {r: ctx.stat(reg.code, "hydropower") or 0.0 for r, reg in enumerate(ctx.ds.regions)}
    types = ctx.scope("hydropower")
    phys = spread(ctx, q, types, "hydropower")
    return Layer(phys, phys * price, method="statistics:quantity_x_price", source="statistics")


# ------------------------------------------------------------------ regulating


def water_conservation_layer(ctx: Context) -> Layer:
    # one pass over the pixels (the numpy functions' numbers bit for bit; they name bad input)
    precipitation, alpha = ctx.raster_view("precipitation"), ctx.lc_values("storm_runoff_coef")
    res = water_conservation.water_conservation_layer(
        precipitation, ctx.raster_view("aet"), ctx.class_row, alpha, ctx.in_scope_rows("water_conservation"),
        ctx.pixel_area_m2, ctx.valid, ctx.p("reservoir_cost", "CNY/m**3"))
    notes: tuple[str, ...] = ()
    if res.n_clamped:
        notes = (f"water_conservation: {res.n_clamped} pixels had P − R − ET < 0 and count as 0 "
                 "(evapotranspiration exceeds the retained rain there)",)
    return Layer(res.quantity_m3, res.value_yuan, method="model:water_balance", notes=notes)


def soil_retention_layer(ctx: Context) -> Layer:
    # one pass over the pixels (the numpy functions' numbers bit for bit; they name bad input)
    r, k, ls = ctx.raster_view("erosivity"), ctx.raster_view("erodibility"), ctx.ls
    c, p = ctx.lc_values("usle_c"), ctx.lc_values("usle_p")
    res = soil_retention.soil_retention_layer(
        r, k, ls, ctx.class_row, c, p, ctx.in_scope_rows("soil_retention"), ctx.pixel_area_m2 / 1e4, ctx.valid,
        (ctx.p("soil.silting_coef"), ctx.p("soil.bulk_density", "t/m**3"), ctx.p("soil.dredging_cost", "CNY/m**3")),
        (ctx.p("soil.n_fraction"), ctx.p("soil.p_fraction"), ctx.p("soil.n_cost", "CNY/t"), ctx.p("soil.p_cost", "CNY/t")))
    return soil_parts_layer(ctx, res.soil_t, f"model:rusle_{ctx.routing_method}")


def soil_parts_layer(ctx: Context, soil_t: np.ndarray, method: str) -> Layer:
    """Soil retention by sub-item from the soil retained per pixel (t): reduced silting (the
    soil itself) and the N and P it holds (soil × content) [S1], each at its own price."""
    split = FIXED_SPLIT["soil_retention"](ctx)
    parts = {p: soil_t if share == 1.0 else soil_t * share for p, share in split.items()}
    return parts_layer("soil_retention", parts, sub_item_prices(ctx, "soil_retention"), method)


def sand_fixation_layer(ctx: Context) -> Layer:
    keys = ("weather_factor", "soil_erodible_fraction", "soil_crust_factor")
    missing = [k for k in keys if k not in ctx.ds.rasters]
    if missing:
        raise NotApplicable(f"not applicable: no wind data ({', '.join(missing)} raster missing)")
    # one pass over the pixels, the rasters as stored (the numpy functions' numbers bit for bit;
    # they name bad input)
    res = sand_fixation.sand_fixation_layer(
        ctx.raster_view("weather_factor"), ctx.raster_view("soil_erodible_fraction"),
        ctx.raster_view("soil_crust_factor"), ctx.p("sand.roughness"), ctx.class_row,
        ctx.lc_values("rweq_veg_cover"), ctx.p("sand.field_length", "m"), ctx.pixel_area_m2, ctx.valid,
        (ctx.p("sand.bulk_density", "t/m**3"), ctx.p("sand.cover_thickness", "m"), ctx.p("sand.control_cost", "CNY/m**2")))
    notes = (f"sand_fixation: {res.n_clamped} pixels where RWEQ actual erosion exceeded potential count as 0",) \
        if res.n_clamped else ()
    return Layer(res.quantity_t, res.value_yuan, method="model:rweq", notes=notes)


def _polygon_storage(ctx: Context, layer: str, capacity: Callable[[dict, float], float]) -> np.ndarray:
    """Storage of each polygon of a vector layer spread over its water pixels (or all its pixels)."""
    from rasterio import features

    out = np.where(ctx.valid, 0.0, np.nan)
    feats = ctx.ds.vectors.get(layer, [])
    if not feats:
        return out
    water = ctx.lc_type_mask(("water", "wetland"))
    ids = features.rasterize([(f.geometry, i + 1) for i, f in enumerate(feats)], out_shape=ctx.ds.grid.shape,
                             transform=ctx.ds.grid.transform, fill=0, dtype="int32")
    for i, f in enumerate(feats):
        inside = (ids == i + 1) & ctx.valid
        mask = inside & water
        if not mask.any():
            mask = inside
        if not mask.any():
            ctx.notes.append(f"flood_regulation: {layer} '{f.attributes.get('name', i)}' covers no pixel of the "
                             "accounting regions and is not counted")
            continue
        out += np.where(mask, capacity(f.attributes, f.geometry.area / 1e6) / int(mask.sum()), 0.0)
    return out


def flood_regulation_layer(ctx: Context) -> Layer:
    a, b, turn = ctx.p("flood.lake_a"), ctx.p("flood.lake_b"), ctx.p("flood.lake_turnover")
    share = ctx.p("flood.reservoir_share")
    lakes = _polygon_storage(ctx, "lakes", lambda attrs, km2: flood_regulation.lake_capacity_m3(km2, a, b, turn))
    res = _polygon_storage(ctx, "reservoirs", lambda attrs, km2: flood_regulation.reservoir_capacity_m3(
        float(attrs["capacity_wan_m3"]) * 1e4, share))
    parts = {"lake": lakes, "reservoir": res,
             "marsh": flood_regulation.marsh_storage_m3(ctx.pixel_area_m2, ctx.lc("marsh_storage_depth"), ctx.valid)}
    method = "model:lake_reservoir_marsh"
    if ctx.profile.switches.get("vegetation_flood_regulation", False):
        parts["vegetation"] = flood_regulation.vegetation_storage_m3(
            ctx.pixel_area_m2, ctx.lc("flood_storage_depth"), ctx.valid)
        method += "_vegetation"
    if not ctx.ds.vectors.get("lakes") and not ctx.ds.vectors.get("reservoirs"):
        ctx.notes.append("flood_regulation: the dataset has no lakes or reservoirs layer; only marshes counted")
    flood_regulation.value(0.0, ctx.p("reservoir_cost", "CNY/m**3"))  # its check of the price
    return parts_layer("flood_regulation", parts, sub_item_prices(ctx, "flood_regulation"), method)


@dataclass(frozen=True)
class PollutantModel:
    """How an indicator sums per-pollutant removal: per-class rate columns of the land-cover
    table, unit costs, and the statistics item / profile switch of the cap by reported
    emissions or loads. Shared by both engines (the streamed one sums per pollutant and caps
    per region afterwards)."""

    indicator: str
    columns: dict[str, str]  # pollutant -> land-cover table column (rate per area)
    costs: dict[str, str]  # pollutant -> parameter id of the unit cost (CNY/t)
    cap_item: str  # statistics item prefix: "<cap_item>:<pollutant>"
    cap_switch: str  # profile switch that turns the cap on
    rate_to_t: Callable[..., np.ndarray]
    cap: Callable[..., tuple[np.ndarray, dict[int, float]]]
    value: Callable[..., np.ndarray]


def _columns(indicator: str) -> dict[str, str]:
    return {s.id: s.landcover_column for s in INDICATORS[indicator].sub_items}


def _costs(indicator: str) -> dict[str, str]:
    return {s.id: s.parameters[0] for s in INDICATORS[indicator].sub_items}


# the pollutants, their rate columns and cost parameters: the catalogue's sub-items
AIR = PollutantModel(
    "air_purification",
    _columns("air_purification"),
    _costs("air_purification"),
    "emission",
    "cap_air_by_emissions",
    air_purification.absorption_t,
    air_purification.cap_by_emissions,
    air_purification.value,
)
WATER = PollutantModel(
    "water_purification",
    _columns("water_purification"),
    _costs("water_purification"),
    "load",
    "cap_water_by_loads",
    water_purification.removal_t,
    water_purification.cap_by_loads,
    water_purification.value,
)
POLLUTANT_MODELS: MappingProxyType[str, PollutantModel] = MappingProxyType(
    {m.indicator: m for m in (AIR, WATER)}
)


def _pollutants(ctx: Context, model: PollutantModel) -> Layer:
    quantities: dict[str, np.ndarray] = {}
    capped_any = []
    capping = ctx.profile.switches.get(model.cap_switch, False)
    for pol, col in model.columns.items():
        q = model.rate_to_t(ctx.lc(col), ctx.pixel_area_m2, ctx.valid, pol)
        if capping:
            caps = ctx.stat_by_region(f"{model.cap_item}:{pol}")
            q, scale = model.cap(q, np.where(ctx.valid, ctx.ds.region_index, -1), caps)
            capped_any += [f"{ctx.ds.regions[r].code}:{pol}" for r, s in scale.items() if s < 1.0]
        quantities[pol] = q
    prices = sub_item_prices(ctx, model.indicator)
    model.value(quantities, prices)  # its checks: known pollutants, costs ≥ 0
    notes = ((f"{model.indicator}: capped by reported {model.cap_item}s in {', '.join(capped_any)}",)
             if capped_any else ())
    method = "model:rate_x_area" + ("_capped" if capping else "")
    return parts_layer(model.indicator, quantities, prices, method, notes)


def air_purification_layer(ctx: Context) -> Layer:
    return _pollutants(ctx, AIR)


def water_purification_layer(ctx: Context) -> Layer:
    return _pollutants(ctx, WATER)


def _carbon_input(ctx: Context) -> tuple[np.ndarray, str]:
    npp = ctx.raster("npp")
    if ctx.profile.methods.get("carbon_basis", "npp") == "nep":
        return carbon_oxygen.nep_g_m2(npp, ctx.raster("soil_respiration"), ctx.valid), "nep"
    return npp, "npp"


def _photosynthesis_fused(ctx: Context, per_dm: str, price: tuple[str, str]) -> Layer | None:
    """The NPP-based layer in one pass over the raster as stored (None: the numpy path)."""
    if ctx.profile.methods.get("carbon_basis", "npp") == "nep":
        return None
    res = carbon_oxygen.photosynthesis_layer(
        ctx.raster_view("npp"), ctx.p("carbon.dm_carbon_fraction"), (per_dm, ctx.p(per_dm)),
        ctx.pixel_area_m2, ctx.valid, (price[0], ctx.p(*price)))
    if res is None:
        return None
    return Layer(res.quantity_t, res.value_yuan, method="model:npp_photosynthesis", unit="t")


def carbon_sequestration_layer(ctx: Context) -> Layer:
    fused = _photosynthesis_fused(ctx, "carbon.co2_per_dm", ("carbon.price", "CNY/t"))
    if fused is not None:
        return fused
    c, basis = _carbon_input(ctx)
    co2 = carbon_oxygen.co2_fixed_t(c, ctx.p("carbon.dm_carbon_fraction"), ctx.p("carbon.co2_per_dm"),
                                    ctx.pixel_area_m2, ctx.valid)
    return Layer(co2, carbon_oxygen.carbon_value(co2, ctx.p("carbon.price", "CNY/t"), "CO2"),
                 method=f"model:{basis}_photosynthesis", unit="t")


def oxygen_release_layer(ctx: Context) -> Layer:
    fused = _photosynthesis_fused(ctx, "oxygen.o2_per_dm", ("oxygen.price", "CNY/t"))
    if fused is not None:
        return fused
    c, basis = _carbon_input(ctx)
    o2 = carbon_oxygen.o2_released_t(c, ctx.p("carbon.dm_carbon_fraction"), ctx.p("oxygen.o2_per_dm"),
                                     ctx.pixel_area_m2, ctx.valid)
    return Layer(o2, carbon_oxygen.oxygen_value(o2, ctx.p("oxygen.price", "CNY/t")),
                 method=f"model:{basis}_photosynthesis", unit="t")


def climate_regulation_layer(ctx: Context) -> Layer:
    days = ctx.stat_by_region("climate:ac_days")
    per_region = np.full(len(ctx.ds.regions) + 1, np.nan)  # the last: outside the regions (−1)
    for r, d in days.items():
        per_region[r] = d
    # Only evaporation on air-conditioning days cools (the vegetation term counts d days too); the
    # annual evaporation raster is taken as evenly spread over the year: E_ac = E · d / 365.
    # One pass over the pixels (the numpy functions' numbers bit for bit; they name bad input).
    heat, flag = ctx.lc_values("transpiration_heat"), ctx.lc_values("is_water_surface")
    res = climate_regulation.climate_regulation_layer(
        ctx.class_row, heat, flag, ctx.raster_view("water_evaporation"), ctx.ds.region_index, per_region,
        ctx.valid, ctx.pixel_area_m2, ctx.p("climate.eer"), ctx.p("climate.latent_heat", "J/g"),
        ctx.p("climate.humidifier_energy", "kW*h/m**3"), ctx.p("climate.electricity_price", "CNY/(kW*h)"))
    return parts_layer("climate_regulation", {"vegetation": res.vegetation_kwh, "water_surface": res.water_kwh},
                       sub_item_prices(ctx, "climate_regulation"), "model:transpiration_evaporation_energy")


def pest_control_layer(ctx: Context) -> Layer:
    from ecovalue.models.common import class_lookup

    t = ctx.ds.landcover_table
    costs = pest_control.class_costs(list(t["ecosystem_type"]), list(t["pest_control"]),
                                     ctx.p("pest.forest_cost", "CNY/ha"), ctx.p("pest.grassland_cost", "CNY/ha"))
    cost_px = class_lookup(ctx.landcover, t["code"].to_numpy(), costs, "pest_control_cost", ctx.valid)
    area_ha = pest_control.controlled_area_ha(ctx.lc("pest_control"), ctx.pixel_area_m2, ctx.valid)
    return Layer(area_ha, pest_control.value(area_ha, cost_px), method="model:area_x_cost")


# ------------------------------------------------------------------ cultural


def recreation_layer(ctx: Context) -> Layer:
    method = ctx.profile.methods.get("recreation", "travel_cost")
    visits: dict[int, float] = {}
    values: dict[int, float] = {}
    share = ctx.p("recreation.time_value_share")
    surplus = ctx.p("recreation.consumer_surplus", "CNY/visit")
    hours = ctx.p("recreation.working_hours_per_day", "h/d")
    for r, reg in enumerate(ctx.ds.regions):
        n = ctx.stat(reg.code, "tourism:visits") or 0.0
        visits[r] = n
        if method == "reported_revenue":
            values[r] = ctx.stat(reg.code, "tourism:revenue") or 0.0
        else:
            values[r] = cultural.travel_cost_value(
                n, ctx.stat(reg.code, "tourism:expenditure") or 0.0, ctx.stat(reg.code, "tourism:travel_hours") or 0.0,
                cultural.hourly_wage(ctx.stat(reg.code, "wage:daily") or 0.0, hours), share, surplus)
    types = ctx.scope("recreation")
    return Layer(spread(ctx, visits, types, "recreation"), spread(ctx, values, types, "recreation"),
                 method=f"statistics:{method}", source="statistics")


def landscape_premium_layer(ctx: Context) -> Layer:
    return landscape_premium_stock(ctx).layer()


@dataclass(frozen=True)
class PremiumStock:
    """The landscape premium's capitalised stock per green/blue pixel (元, the physical layer)
    as the pixels that receive one (:class:`ecovalue.models.cultural.PremiumPoints`); its
    yearly value is ``stock × annualisation_rate`` pixel by pixel."""

    points: cultural.PremiumPoints
    valid: np.ndarray
    annualisation_rate: float
    notes: tuple[str, ...]

    METHOD = "model:hedonic_premium"
    UNIT = "CNY"

    def layer(self) -> Layer:
        """The stock and its yearly value as whole grids (0 off the receiving pixels, NaN
        outside the valid ones)."""
        stock = self.points.grid(self.points.attributed_index, self.points.attributed, self.valid)
        return Layer(stock, stock * self.annualisation_rate, method=self.METHOD, unit=self.UNIT,
                     notes=self.notes)


GREEN_BLUE_TYPES = ("forest", "shrub", "grassland", "wetland", "water")
"""Ecosystem types whose nearness raises property values (spec C2: parks, forest, grassland,
wetland and water)."""
BUILT_UP_TYPES = ("urban",)
"""Ecosystem types of the property that carries the premium."""


def premium_stock(p: Callable[..., float], built: np.ndarray, green_blue: np.ndarray,
                  property_value: np.ndarray | Callable[[np.ndarray], np.ndarray],
                  cell: tuple[float, float], valid: np.ndarray) -> PremiumStock:
    """The landscape premium's stock from the built-up and green/blue masks, the property
    values (a grid, or a function of the premium pixels' flat indices) and the parameters
    ``p(id, unit)``."""
    # annualisation 1 gives the capitalised premium (元 of property value, the physical quantity);
    # its yearly flow is the value
    rate, distance = p("landscape.premium_rate"), p("landscape.distance", "m")
    points = cultural.landscape_premium_points(built, green_blue, property_value, rate, distance,
                                               1.0, cell, valid)
    return PremiumStock(points, valid, p("landscape.annualisation_rate", "1/a"),
                        (f"landscape_premium: {points.n_premium_pixels} built-up pixels lie within "
                         f"{distance:g} m of water or green space",))


def landscape_premium_stock(ctx: Context) -> PremiumStock:
    """:func:`landscape_premium_layer` as the pixels that carry a value (a caller that sums the
    value per zone needs no whole grid)."""
    return premium_stock(ctx.p, ctx.lc_type_mask(BUILT_UP_TYPES), ctx.lc_type_mask(GREEN_BLUE_TYPES),
                         ctx.raster_view("property_value"),
                         (ctx.ds.grid.cell_height, ctx.ds.grid.cell_width), ctx.valid)


COMPUTE: MappingProxyType[str, Callable[[Context], Layer]] = MappingProxyType({
    "agriculture": _provisioning("agriculture"),
    "forestry": _provisioning("forestry"),
    "livestock": _provisioning("livestock"),
    "fishery": _provisioning("fishery"),
    "other_products": _provisioning("other_products"),
    "water_supply": water_supply,
    "hydropower": hydropower,
    "water_conservation": water_conservation_layer,
    "soil_retention": soil_retention_layer,
    "sand_fixation": sand_fixation_layer,
    "flood_regulation": flood_regulation_layer,
    "air_purification": air_purification_layer,
    "water_purification": water_purification_layer,
    "carbon_sequestration": carbon_sequestration_layer,
    "oxygen_release": oxygen_release_layer,
    "climate_regulation": climate_regulation_layer,
    "pest_control": pest_control_layer,
    "recreation": recreation_layer,
    "landscape_premium": landscape_premium_layer,
})

# Value per physical unit for indicators without sub-items valued at a single price (used to
# value reported quantities where the model has none anywhere).
UNIT_PRICE: MappingProxyType[str, Callable[[Context], float]] = MappingProxyType({
    "water_conservation": lambda ctx: ctx.p("reservoir_cost", "CNY/m**3"),
    "carbon_sequestration": lambda ctx: ctx.p("carbon.price", "CNY/t"),
    "oxygen_release": lambda ctx: ctx.p("oxygen.price", "CNY/t"),
    "hydropower": lambda ctx: ctx.p("hydropower_price", "CNY/(kW*h)"),
    "sand_fixation": lambda ctx: ctx.p("sand.control_cost", "CNY/m**2")
    / (ctx.p("sand.bulk_density", "t/m**3") * ctx.p("sand.cover_thickness", "m")),
})


def _pollutant_prices(indicator: str) -> Callable[[Context], dict[str, float]]:
    return lambda ctx: {pol: ctx.p(pid, "CNY/t") for pol, pid in POLLUTANT_MODELS[indicator].costs.items()}


def _one_price(indicator: str, pid: str, unit: str) -> Callable[[Context], dict[str, float]]:
    return lambda ctx: dict.fromkeys((s.id for s in INDICATORS[indicator].sub_items), ctx.p(pid, unit))


#: Per indicator with sub-items: 元 per unit of each sub-item's own quantity [S1][S2][S6].
SUB_ITEM_PRICE: MappingProxyType[str, Callable[[Context], dict[str, float]]] = MappingProxyType({
    "air_purification": _pollutant_prices("air_purification"),
    "water_purification": _pollutant_prices("water_purification"),
    "flood_regulation": _one_price("flood_regulation", "reservoir_cost", "CNY/m**3"),
    "climate_regulation": _one_price("climate_regulation", "climate.electricity_price", "CNY/(kW*h)"),
    # reduced silting V = λ·A/ρ·P_s per t of soil; N and P at their removal costs per t [S1]
    "soil_retention": lambda ctx: {
        "sediment": ctx.p("soil.silting_coef") / ctx.p("soil.bulk_density", "t/m**3")
        * ctx.p("soil.dredging_cost", "CNY/m**3"),
        "nitrogen": ctx.p("soil.n_cost", "CNY/t"),
        "phosphorus": ctx.p("soil.p_cost", "CNY/t"),
    },
})

#: Sub-items fixed by parameters per unit of the indicator's quantity: the N and P contents
#: of the retained soil [S1].
FIXED_SPLIT: MappingProxyType[str, Callable[[Context], dict[str, float]]] = MappingProxyType({
    "soil_retention": lambda ctx: {
        "sediment": 1.0, "nitrogen": ctx.p("soil.n_fraction"), "phosphorus": ctx.p("soil.p_fraction"),
    },
})


def common_price(indicator: str, prices: Mapping[str, float],
                 fixed_split: Mapping[str, float] | None) -> float | None:
    """The value per unit of an indicator's physical quantity when it does not depend on how it
    splits into sub-items: the sub-items' value per unit of a split fixed by parameters, or the
    one price of every sub-item that makes up the quantity; None when they differ."""
    if fixed_split is not None:
        return sum(prices[p] * share for p, share in fixed_split.items())
    values = {prices[s.id] for s in INDICATORS[indicator].sub_items if s.in_total and s.id in prices}
    return values.pop() if len(values) == 1 else None


def sub_item_prices(ctx: Context, indicator: str) -> dict[str, float]:
    """元 per unit of each sub-item of ``indicator`` (restated to the run year), and under ``""``
    the price of a reported total that is not split, when one exists ({} without sub-items)."""
    if indicator not in SUB_ITEM_PRICE:
        return {}
    prices = SUB_ITEM_PRICE[indicator](ctx)
    split = FIXED_SPLIT[indicator](ctx) if indicator in FIXED_SPLIT else None
    common = common_price(indicator, prices, split)
    return prices if common is None else {**prices, "": common}


assert set(COMPUTE) == set(INDICATORS), "every catalogue indicator needs a computation"
assert set(SUB_ITEM_PRICE) == {i for i, s in INDICATORS.items() if s.sub_items}, "every sub-item needs a price"
