"""Plausible ranges of every input quantity, each with the source of its range.

One declarative table (module-level data, never mutated): quantity, the unit its bounds are
in, the plausible range and where the range comes from. Two kinds of bound:

* ``lo``/``hi``, **plausible**: a value outside can be right (a desert county, a record
  price) but is more often a unit slip; validation gives a *warning* that names the factor
  which would bring the value into range (m/a under an mm/a header, m³ under 万m³ …). For a
  raster the warning fires when *every* data pixel lies outside (``vmax < lo`` or
  ``vmin > hi``): a unit factor moves the whole raster, a legitimate extreme does not, and
  the rule needs only the minimum and maximum, which both engines find in their scan.
* ``floor``/``ceiling``, **physical**: a value beyond them cannot be true, an *error*.
  (The physical bounds of rasters and land-cover columns are in ``expectations.py``.)

Profile parameters are listed with the unit the engine reads them in: a parameter given in
a unit of another dimension (a reservoir cost in CNY/t) is an error when the profile loads,
and a plausible range around its published values. The sources are listed in
``docs/sources.md`` ("Plausibility ranges"); ranges no source gives say "assumed".
See ``docs/decisions/0020-plausibility-ranges.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from ecovalue.units import format_unit


@dataclass(frozen=True)
class Plausible:
    """The plausible range of one quantity and the source of the range."""

    quantity: str
    unit: str
    lo: float | None
    hi: float | None
    source: str
    floor: float | None = None  # physical lower limit (below: an error)
    ceiling: float | None = None  # physical upper limit (above: an error)

    def range_text(self) -> str:
        lo = "−∞" if self.lo is None else f"{self.lo:g}"
        hi = "∞" if self.hi is None else f"{self.hi:g}"
        return f"{lo}–{hi} {format_unit(self.unit)}"


#: Factors that a unit slip multiplies a number by, with the slip they stand for; a warning
#: proposes the one that brings a value into its plausible range (the first that does).
UNIT_SLIPS: tuple[tuple[float, str], ...] = (
    (1e3, "the file is in m or kg/m² where mm or g/m² is declared (× 1 000)"),
    (12.0, "the values are per month, not per year (× 12)"),
    (1e-4, "the values are in m³ (or 元) under a 万 header (÷ 10 000)"),
    (1e4, "the values are in 万 (10 000) where units are declared (× 10 000)"),
    (1e-3, "the file is in mm or g where m or kg is declared (÷ 1 000)"),
    (100.0, "the values are in per cent or t/ha where fractions or g/m² are declared (× 100)"),
    (0.01, "the values are per cent where fractions are declared (÷ 100)"),
    (10.0, "the values are in kg/ha where g/m² is declared, or in cm where mm is (× 10)"),
    (0.1, "the values are in 0.1-unit integers, as many climate grids store them (÷ 10)"),
    (1e8, "the values are in 亿 (10⁸) where units are declared (× 10⁸)"),
)


def slip_hint(values: tuple[float, float], p: Plausible) -> str:
    """The unit slips whose factor brings ``(vmin, vmax)`` inside ``p``'s range, as a sentence
    (empty when none does). A minimum of 0 is left out (zeros stay zeros in any unit)."""
    vmin, vmax = values
    found = []
    for factor, what in UNIT_SLIPS:
        a, b = vmin * factor, vmax * factor
        if (p.lo is None or (a >= p.lo or vmin == 0) and b >= p.lo) and (p.hi is None or b <= p.hi):
            found.append(what)
    if not found:
        return ""
    return "perhaps " + "; or ".join(found[:3])


_WMO = ("WMO Weather and Climate Extremes Archive: the lowest mean annual precipitation on record "
        "is 0.8 mm (Arica, Chile), the highest 11 872 mm (Mawsynram, India)")
_ENERGY = ("evaporation is limited by the available energy: ≈ 200 W/m² of net radiation ÷ λ = "
           "2.45 MJ/kg (FAO-56, Allen et al. 1998) ≈ 2 600 mm/a")

#: raster key (``expectations.RASTERS``) -> plausible range over a whole dataset
RASTERS = MappingProxyType({
    "dem": Plausible("elevation", "m", -430.0, 8849.0,
                     "Dead Sea shore ≈ −430 m; Qomolangma 8 848.86 m (China–Nepal survey 2020)"),
    "precipitation": Plausible(
        "annual precipitation", "mm/a", 50.0, 5000.0,
        f"{_WMO}; within China from < 50 mm (Turpan and Tarim basins) to > 2 000 mm on the south-east "
        "coast, so a dataset with every pixel below 50 or above 5 000 mm/a is almost surely in another "
        "unit (range assumed from these records)"),
    "aet": Plausible(
        "annual actual evapotranspiration", "mm/a", 20.0, 2000.0,
        f"MOD16 actual ET (Mu, Zhao & Running 2011, Remote Sens. Environ. 115:1781) stays below "
        f"≈ 2 000 mm/a; {_ENERGY}; every pixel below 20 mm/a would be a landscape without plants "
        "(lower bound assumed)"),
    "npp": Plausible(
        "net primary productivity (carbon)", "g/m**2/a", 20.0, 2000.0,
        "Whittaker & Likens (1975, Primary Productivity of the Biosphere): mean NPP of desert scrub "
        "90 and tropical rain forest 2 200 g dry matter m⁻² a⁻¹, carbon ≈ 45 % of dry matter; "
        "MOD17A3 caps NPP at 3.27 kg C m⁻² a⁻¹"),
    "erosivity": Plausible(
        "RUSLE rainfall erosivity R", "MJ*mm/(ha*h*a)", 10.0, 30000.0,
        "Panagos et al. (2017, Sci. Rep. 7:4175, GloREDa): global mean 2 190 MJ mm ha⁻¹ h⁻¹ a⁻¹, "
        "highest in the humid tropics; bounds assumed about a factor 14 around the mean — R in US "
        "units (hundreds of ft·tonf·in/(ac·h·a)) is 17.02 times smaller than in SI"),
    "erodibility": Plausible(
        "RUSLE soil erodibility K", "t*ha*h/(ha*MJ*mm)", 0.002, 0.09,
        "Wischmeier & Smith (1978, USDA Agriculture Handbook 537) nomograph: K of mineral soils up "
        "to ≈ 0.7 US customary units = 0.09 SI (1 US unit = 0.1317 SI); lower bound assumed"),
    "water_evaporation": Plausible(
        "annual open-water evaporation", "mm/a", 100.0, 3000.0,
        f"{_ENERGY}, more in deserts where dry air brings heat (upper bound assumed 3 000); lower "
        "bound assumed"),
    "property_value": Plausible(
        "residential property value per m² of ground", "CNY/m**2", 100.0, 500000.0,
        "NBS: average selling price of commercial housing in China ≈ 10 000 CNY/m² of floor (2023), "
        "city cores above 100 000; bounds assumed — set your own"),
    "weather_factor": Plausible("RWEQ weather factor WF", "kg/m", None, None,
                                "no published range found: physical bounds only"),
    "soil_erodible_fraction": Plausible("RWEQ erodible fraction EF", "1", None, None,
                                        "a fraction: physical bounds only"),
    "soil_crust_factor": Plausible("RWEQ crust factor SCF", "1", None, None,
                                   "a fraction: physical bounds only"),
    "soil_respiration": Plausible("heterotrophic soil respiration", "g/m**2/a", None, None,
                                  "no published range found: physical bounds only"),
})

#: Vector attributes: reservoir capacity (万m³) and the mean depth it implies over the outline.
RESERVOIR_CAPACITY = Plausible(
    "reservoir total storage capacity", "万m³", 10.0, 3.93e6,
    "SL 252-2017 水利水电工程等级划分及洪水标准: the smallest class (小(2)型) starts at 0.001 亿m³ "
    "= 10 万m³; the largest reservoir in China, the Three Gorges, holds 393 亿m³ = 3.93 × 10⁶ 万m³",
    floor=0.0)
RESERVOIR_DEPTH = Plausible(
    "mean depth of a reservoir (capacity ÷ outline area)", "m", 0.5, None,
    "no reservoir is deeper on average than its dam is high: the tallest dam in the world, "
    "Jinping-I, is 305 m (ICOLD World Register of Dams); below 0.5 m it is a wet meadow, not a "
    "reservoir (lower bound assumed). Deeper than 305 m and bigger than the Three Gorges is an "
    "error, either alone a warning (an outline drawn as a marker)", ceiling=305.0)

#: Any quantity of the statistics or reported tables, in its canonical unit: beyond this no
#: region's figure can be (the world's GDP is ≈ 7 × 10¹⁴ CNY, its yearly water use ≈ 4 × 10¹²
#: m³, its hydropower ≈ 4 × 10¹² kW·h), and money computed from it would overflow 元 to the fen.
TABLE_CEILING = 1e15

#: statistics item -> plausible range of one row (canonical unit of ``expectations``)
STATISTICS = MappingProxyType({
    "wage:daily": Plausible(
        "daily wage", "CNY/d", 20.0, 5000.0,
        "NBS: average wage of urban non-private units 120 698 CNY in 2023 ≈ 330 CNY/d; bounds assumed "
        "a factor 15 either side"),
    "tourism:expenditure": Plausible(
        "travel expenditure per visit", "CNY/visit", 10.0, 20000.0,
        "Ministry of Culture and Tourism: domestic tourism 2019, 60.06 亿 trips spending 5.73 万亿元 "
        "≈ 954 CNY per trip; bounds assumed"),
    "tourism:travel_hours": Plausible("travel time per visit", "h/visit", 0.1, 72.0,
                                      "assumed: from a walk in a park to a three-day trip", floor=0.0),
    "climate:ac_days": Plausible("air-conditioning days", "d", 0.0, 250.0,
                                 "a year has 365 days; more than 250 days above 26 °C is assumed "
                                 "implausible outside the tropics", floor=0.0, ceiling=366.0),
    "hydropower": Plausible(
        "hydropower generation of one region", "kW*h", None, 1.2e11,
        "the world's largest plant, the Three Gorges, generated a record 1 118 亿kW·h in 2020 "
        "(China Three Gorges Corporation)"),
})

#: a product price per tonne in the prices table (CNY/t)
PRODUCT_PRICE_PER_T = Plausible(
    "price of a product per tonne", "CNY/t", 100.0, 2.0e6,
    "NDRC minimum purchase price of early indica rice 2023: 2 500 CNY/t; fine tea ≈ 10⁵ CNY/t; "
    "bounds assumed — a price per kg written as per t reads 1 000 times too low")

_WIDEN = 10.0  # published values widened tenfold each way (assumed)


def _published(quantity: str, unit: str, values: tuple[float, ...], tags: str,
               floor: float | None = 0.0, ceiling: float | None = None) -> Plausible:
    lo, hi = min(values), max(values)
    shown = f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"
    return Plausible(quantity, unit, lo / _WIDEN, hi * _WIDEN,
                     f"published {shown} {unit} {tags}, widened tenfold each way (assumed: a value "
                     "outside is more likely a unit slip than a local figure)", floor=floor, ceiling=ceiling)


def _fraction(quantity: str, values: tuple[float, ...], tags: str) -> Plausible:
    return _published(quantity, "1", values, tags, floor=0.0, ceiling=1.0)


#: profile parameter id -> unit the engine reads it in and its plausible range (the tags
#: resolve in docs/sources.md; values are those of profiles/cn-2022 and its
#: cn-2022.uncertainty.toml)
PARAMETERS = MappingProxyType({
    "reservoir_cost": _published("reservoir construction cost per m³ of storage", "CNY/m**3",
                                 (0.67, 7.06), "[S1][S3][S4][S6]"),
    "water_price.domestic": _published("domestic water price", "CNY/m**3", (2.6,), "[S1]"),
    "water_price.industrial": _published("industrial water price", "CNY/m**3", (3.6,), "[S1]"),
    "water_price.agricultural": _published("agricultural water price", "CNY/m**3", (0.07,), "[S1]"),
    "hydropower_price": _published("hydropower price", "CNY/(kW*h)", (0.53,), "[S1]"),
    "soil.silting_coef": _fraction("share of eroded soil silting reservoirs", (0.24,), "[S1]"),
    "soil.bulk_density": _published("soil bulk density", "t/m**3", (0.93, 1.125), "[S1][S41a]",
                                    ceiling=2.65),
    "soil.dredging_cost": _published("reservoir dredging cost", "CNY/m**3", (15.58, 19.76), "[S1][S41a]"),
    "soil.n_fraction": _fraction("soil nitrogen content", (0.0037,), "[S1]"),
    "soil.p_fraction": _fraction("soil phosphorus content", (0.00108,), "[S1]"),
    "soil.n_cost": _published("nitrogen removal cost", "CNY/t", (875, 3000), "[S1][S6]"),
    "soil.p_cost": _published("phosphorus removal cost", "CNY/t", (2500, 3000), "[S1][S6]"),
    "sand.bulk_density": _published("sand bulk density", "t/m**3", (1.28,), "[S1]", ceiling=2.65),
    "sand.cover_thickness": _published("sand-cover thickness", "m", (0.1,), "[S1]"),
    "sand.control_cost": _published("sand-control cost", "CNY/m**2", (3.75,), "[S1]"),
    "sand.roughness": _fraction("RWEQ surface roughness factor", (0.5,), "(assumed in cn-2022)"),
    "sand.field_length": _published("RWEQ downwind field length", "m", (50,), "(assumed in cn-2022)"),
    "flood.lake_a": _published("lake storage regression coefficient a", "1", (6.636,), "[S1]", floor=None),
    "flood.lake_b": _published("lake storage regression exponent b", "1", (0.678,), "[S1]", floor=None),
    "flood.lake_turnover": _published("lake turnover count", "1", (1,), "[S1]"),
    "flood.reservoir_share": _fraction("flood-control share of reservoir capacity", (0.35,), "[S1]"),
    "air.so2_cost": _published("SO₂ treatment cost", "CNY/t", (830, 1200), "[S1][S4][S47]"),
    "air.nox_cost": _published("NOₓ treatment cost", "CNY/t", (630,), "[S1]"),
    "air.dust_cost": _published("dust treatment cost", "CNY/t", (150, 230), "[S1][S4][S47]"),
    "water.cod_cost": _published("COD treatment cost", "CNY/t", (700, 5570), "[S1][S6]"),
    "water.nh3n_cost": _published("NH₃-N treatment cost", "CNY/t", (875,), "[S1]"),
    "water.tn_cost": _published("TN removal cost", "CNY/t", (2500, 3000), "[S6]"),
    "water.tp_cost": _published("TP removal cost", "CNY/t", (2500, 3000), "[S6]"),
    "carbon.dm_carbon_fraction": _fraction("carbon share of dry matter", (0.44, 0.49), "(IPCC-style convention)"),
    "carbon.co2_per_dm": _published("CO₂ fixed per kg dry matter", "1", (1.63,), "[S3][S5]"),
    "carbon.price": _published("carbon price per t CO₂", "CNY/t", (327.27, 380), "[S3][S4][S5]"),
    "oxygen.o2_per_dm": _published("O₂ released per kg dry matter", "1", (1.2,), "[S3][S5]"),
    "oxygen.price": _published("oxygen price", "CNY/t", (727, 1160.7), "[S3][S5]"),
    "climate.eer": _published("air-conditioner energy-efficiency ratio", "1", (3.0,), "[S2]"),
    "climate.latent_heat": _published("latent heat of vaporisation", "J/g", (2450,), "(physical constant)"),
    "climate.humidifier_energy": _published("humidifier electricity per m³", "kW*h/m**3", (120,), "[S41a]"),
    "climate.electricity_price": _published("electricity price", "CNY/(kW*h)", (0.52, 0.717), "[S1]"),
    "pest.forest_cost": _published("forest pest-control cost", "CNY/ha", (375,), "[S1]"),
    "pest.grassland_cost": _published("grassland pest-control cost", "CNY/ha", (112.5,), "[S1]"),
    "recreation.time_value_share": _fraction("share of the wage valuing travel time", (0.30,), "[S3]"),
    "recreation.consumer_surplus": _published("consumer surplus per visit", "CNY/visit", (50, 578.03), "[S3]"),
    "recreation.working_hours_per_day": Plausible("working hours per day", "h/d", 4.0, 12.0,
                                                  "8-hour statutory day (国务院 1995); bounds assumed",
                                                  floor=0.0, ceiling=24.0),
    "landscape.premium_rate": _fraction("property premium near green/blue space", (0.05, 0.1), "[S47]"),
    "landscape.distance": _published("distance of the landscape premium", "m", (500,), "(assumed in cn-2022)"),
    "landscape.annualisation_rate": _published("annualisation rate of the premium", "1/a", (0.0277,),
                                               "(assumed in cn-2022)", ceiling=1.0),
})
