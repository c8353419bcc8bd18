"""The in-memory result of an accounting run, shared by the pipeline, reports and CLI.

``RunResult.table`` is the tidy table written to ``results.csv``: one row per
(region, indicator, ecosystem type). Money columns hold :class:`decimal.Decimal` 元
rounded to 0.01 (rule: ROUND_HALF_EVEN, applied once when floats leave the engine), so
district rows add up to the city total exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.errors import Problem
from ecovalue.raster.grid import Grid

# Columns of RunResult.table, in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "region_code",
    "region_name_zh",
    "region_name_en",
    "year",
    "indicator",
    "indicator_zh",
    "indicator_en",
    "category",  # provisioning | regulating | cultural
    "category_zh",  # 物质供给 | 调节服务 | 文化服务
    "ecosystem_type",  # forest, shrub, grassland, wetland, water, farmland, urban, bare, or "all"
    "ecosystem_type_zh",
    "physical_quantity",  # float, in physical_unit
    "physical_unit",
    "value_current",  # Decimal 元, current prices of the accounting year
    "value_constant",  # Decimal 元, constant prices of the profile's base year
    "method",  # e.g. "model:water_balance", "statistics:quantity_x_price"
    "source",  # "model" | "statistics" | "reported:<department>"
)

# Columns of RunResult.sub_items: the table's, with the sub-item after the indicator. One row
# per (region, indicator, sub-item, ecosystem type) of the indicators with sub-items; the
# table's row of that (region, indicator, type) holds their sum (value: exactly, to the fen;
# physical quantity: of the sub-items with in_indicator_total).
SUB_ITEM_COLUMNS: tuple[str, ...] = (
    *TABLE_COLUMNS[:7],
    "sub_item",  # e.g. so2, cod, lake, vegetation, sediment; "" = a reported total not split
    "sub_item_zh",
    "sub_item_en",
    "in_indicator_total",  # False: a quantity contained in the indicator's (soil N and P)
    *TABLE_COLUMNS[7:],
)

CATEGORY_ZH = {"provisioning": "物质供给", "regulating": "调节服务", "cultural": "文化服务"}

ECOSYSTEM_TYPE_ZH = {
    "forest": "森林",
    "shrub": "灌丛",
    "grassland": "草地",
    "wetland": "湿地",
    "water": "水体",
    "farmland": "农田",
    "urban": "城镇",
    "bare": "裸地",
    "all": "全部",
}


@dataclass(frozen=True)
class Region:
    """An accounting region (e.g. a district) with its geometry in the dataset CRS."""

    code: str
    name_zh: str
    name_en: str
    geometry: Any  # shapely geometry
    area_km2: float


@dataclass(frozen=True)
class IndicatorLayer:
    """Per-pixel physical quantity and value of one indicator (NaN outside the regions)."""

    indicator: str
    physical: np.ndarray  # float64, physical_unit per pixel
    physical_unit: str
    value: np.ndarray  # float64, 元 per pixel at current prices


@dataclass(frozen=True)
class ParameterUsed:
    """A parameter as used by a run, with its provenance."""

    id: str
    value: str
    unit: str
    price_year: int | None
    region: str
    source: str
    status: str  # "published" | "assumed" | "dataset"
    name_zh: str = ""
    name_en: str = ""


@dataclass
class RunResult:
    """Everything one run produced; writers in ``reports`` and ``accounting.outputs`` render it."""

    dataset_name: str
    dataset_title_zh: str
    dataset_title_en: str
    synthetic: bool
    year: int
    profile_id: str
    base_year: int
    grid: Grid
    regions: list[Region]
    table: pd.DataFrame
    layers: dict[str, IndicatorLayer]
    landcover: np.ndarray
    region_index: np.ndarray  # int32: index into ``regions``, -1 outside
    parameters: list[ParameterUsed]
    not_applicable: dict[str, str] = field(default_factory=dict)  # indicator -> reason
    notes: list[str] = field(default_factory=list)
    hashes: dict[str, str] = field(default_factory=dict)  # dataset, profile, code
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds
    gdp: dict[str, Decimal] = field(default_factory=dict)  # region code -> GDP 元
    routing_from_cache: bool = False  # the LS factor was read from the routing cache
    sub_items: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(SUB_ITEM_COLUMNS)))
    warnings: list[Problem] = field(default_factory=list)
    """What the user must look at before trusting the numbers: the inputs' and the profile's
    warnings (validation) and the results' (``accounting.checks``); printed at the top of the
    run, in ``summary.json`` and in the report."""

    def totals(self) -> dict[str, Any]:
        """GEP and its parts for the whole area and each region, as Decimals (元)."""
        t = self.table
        out: dict[str, Any] = {}
        zero = Decimal("0")
        gep = sum(t["value_current"], zero)
        gep_const = sum(t["value_constant"], zero)
        area = sum(r.area_km2 for r in self.regions)
        out["gep_current"] = gep
        out["gep_constant"] = gep_const
        out["area_km2"] = area
        out["gep_per_km2"] = gep / Decimal(repr(area)) if area else None
        out["by_category"] = {
            c: sum(t.loc[t["category"] == c, "value_current"], zero) for c in CATEGORY_ZH
        }
        out["by_indicator"] = {
            i: sum(g["value_current"], zero) for i, g in t.groupby("indicator", sort=False)
        }
        out["by_ecosystem_type"] = {
            e: sum(g["value_current"], zero) for e, g in t.groupby("ecosystem_type", sort=False)
        }
        out["by_region"] = {
            r.code: sum(t.loc[t["region_code"] == r.code, "value_current"], zero) for r in self.regions
        }
        total_gdp = sum(self.gdp.values(), zero)
        out["gdp"] = total_gdp if self.gdp else None
        out["gep_gdp_ratio"] = (gep / total_gdp) if self.gdp and total_gdp else None
        return out
