"""Pure rules of the eco-product catalogue (生态产品目录清单): classes, sub-items, checks.

Classes follow the GEP framework's three categories [S1][S3] as the catalogue names them:
物质产品 (provisioning), 调节服务 (regulating), 文化服务 (cultural). Sub-items are the
indicator ids of :data:`ecovalue.accounting.catalogue.INDICATORS` with their Chinese names,
plus free census items (e.g. ``census:tea_garden`` 茶园). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.errors import Problem, UnitError
from ecovalue.units import conversion_factor, parse_unit

CLASS_ZH: Mapping[str, str] = MappingProxyType(
    {"provisioning": "物质产品", "regulating": "调节服务", "cultural": "文化服务"}
)
CLASS_BY_ZH: Mapping[str, str] = MappingProxyType({v: k for k, v in CLASS_ZH.items()})

# Department answering for each sub-item in the catalogue; assumed — user-settable
# (``departments=`` of the build), named after Wuhan's municipal bureaus.
DEFAULT_DEPARTMENTS: Mapping[str, str] = MappingProxyType(
    {
        "agriculture": "农业农村局",
        "forestry": "园林和林业局",
        "livestock": "农业农村局",
        "fishery": "农业农村局",
        "water_supply": "水务和湖泊局",
        "hydropower": "发展和改革委员会",
        "other_products": "农业农村局",
        "water_conservation": "水务和湖泊局",
        "soil_retention": "水务和湖泊局",
        "sand_fixation": "园林和林业局",
        "flood_regulation": "水务和湖泊局",
        "air_purification": "生态环境局",
        "water_purification": "生态环境局",
        "carbon_sequestration": "园林和林业局",
        "oxygen_release": "园林和林业局",
        "climate_regulation": "生态环境局",
        "pest_control": "园林和林业局",
        "recreation": "文化和旅游局",
        "landscape_premium": "自然资源和规划局",
    }
)

XLSX_HEADERS = (
    "序号",
    "产品类别",
    "产品子项",
    "子项编码",
    "行政区划代码",
    "区域名称",
    "数量",
    "计量单位",
    "质量等级",
    "位置",
    "关联登记单元",
    "责任部门",
    "年度",
    "数据来源",
    "价值量（元）",
)


@dataclass(frozen=True)
class EntryDraft:
    """A catalogue line before it is stored."""

    product_class: str
    sub_item: str
    sub_item_zh: str
    region_code: str
    region_name: str | None
    quantity: Decimal | None
    unit: str
    quality_grade: str | None
    location: str | None
    department: str
    source: str
    value_current: Decimal | None = None
    parcel_ids: tuple[int, ...] = ()


def product_class(text: str) -> str | None:
    """The class id for an id or Chinese name ('物质产品' → 'provisioning'), else None."""
    if text in CLASS_ZH:
        return text
    return CLASS_BY_ZH.get(text)


def _decimal(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _sub_item_problems(where: str, row: Mapping[str, Any], cls: str | None) -> list[Problem]:
    sub = str(row.get("sub_item") or "").strip()
    spec = INDICATORS.get(sub)
    problems = []
    if spec is None and not sub.startswith("census:"):
        problems.append(
            Problem(
                where,
                f"sub_item '{sub}' is neither an indicator id nor a census item",
                "an id of ecovalue.accounting.catalogue.INDICATORS or 'census:<name>'",
                "e.g. forestry, or census:tea_garden with sub_item_zh 茶园",
            )
        )
    if spec is None and not str(row.get("sub_item_zh") or "").strip():
        problems.append(Problem(where, "sub_item_zh is empty", "the Chinese name", "e.g. 茶园"))
    if spec is not None and cls is not None and spec.category != cls:
        problems.append(
            Problem(
                where,
                f"'{sub}' belongs to {CLASS_ZH[spec.category]}, not {CLASS_ZH[cls]}",
                f"product_class {spec.category}",
                "correct the class",
            )
        )
    if spec is not None:
        try:
            conversion_factor(str(row.get("unit") or ""), spec.physical_unit, where)
        except UnitError as exc:
            problems.append(
                Problem(
                    where, str(exc), f"a unit convertible to {spec.physical_unit}", "fix the unit"
                )
            )
    return problems


def census_problems(i: int, row: Mapping[str, Any]) -> list[Problem]:
    """Every problem of one census row (keys of :class:`EntryDraft`, ``parcel_ids`` a list)."""
    where = f"census row {i}"
    problems = []
    cls = product_class(str(row.get("product_class") or ""))
    if cls is None:
        problems.append(
            Problem(
                where,
                f"product_class '{row.get('product_class')}' is unknown",
                ", ".join(f"{k} ({v})" for k, v in CLASS_ZH.items()),
                "choose one of the three classes",
            )
        )
    problems += _sub_item_problems(where, row, cls)
    if not str(row.get("region_code") or "").strip():
        problems.append(Problem(where, "region_code is empty", "an admin code", "e.g. 420115"))
    if _decimal(row.get("quantity")) is None or (_decimal(row.get("quantity")) or 0) < 0:
        problems.append(
            Problem(
                where,
                f"quantity '{row.get('quantity')}' is not a non-negative number",
                "a finite decimal ≥ 0",
                "write digits, e.g. 1520.5",
            )
        )
    try:
        parse_unit(str(row.get("unit") or ""), where)
    except UnitError as exc:
        problems.append(Problem(where, str(exc), "a pint unit", "e.g. t, ha, m**3"))
    if not str(row.get("department") or "").strip():
        problems.append(
            Problem(where, "department is empty", "the responsible department", "e.g. 农业农村局")
        )
    return problems


def census_draft(row: Mapping[str, Any]) -> EntryDraft:
    """A validated census row (see :func:`census_problems`) as an :class:`EntryDraft`."""
    sub = str(row["sub_item"]).strip()
    spec = INDICATORS.get(sub)
    value = row.get("value_current")
    return EntryDraft(
        product_class=product_class(str(row["product_class"])) or "",
        sub_item=sub,
        sub_item_zh=str(row.get("sub_item_zh") or (spec.name_zh if spec else "")).strip(),
        region_code=str(row["region_code"]).strip(),
        region_name=row.get("region_name"),
        quantity=_decimal(row["quantity"]),
        unit=str(row["unit"]).strip(),
        quality_grade=row.get("quality_grade"),
        location=row.get("location"),
        department=str(row["department"]).strip(),
        source="census",
        value_current=_decimal(value) if value is not None else None,
        parcel_ids=tuple(int(p) for p in row.get("parcel_ids") or ()),
    )


@dataclass(frozen=True)
class RunRow:
    """The fields of a stored run result row the catalogue needs."""

    region_code: str
    region_name_zh: str
    indicator: str
    category: str
    physical_quantity: Decimal | None
    physical_unit: str
    value_current: Decimal


def run_drafts(
    run_id: int, rows: Sequence[RunRow], departments: Mapping[str, str] | None = None
) -> list[EntryDraft]:
    """One draft per region × indicator: physical quantities summed over ecosystem types.

    Departments default to :data:`DEFAULT_DEPARTMENTS` (others: 统计局, assumed —
    user-settable through ``departments``). Quantities in other units than the indicator's physical unit are converted; a region
    and indicator without any physical quantity gets ``quantity=None`` (value only).
    """
    depts = {**DEFAULT_DEPARTMENTS, **(departments or {})}
    groups: dict[tuple[str, str], list[RunRow]] = {}
    for r in rows:
        groups.setdefault((r.region_code, r.indicator), []).append(r)
    drafts = []
    for (region, indicator), group in sorted(groups.items()):
        spec = INDICATORS.get(indicator)
        unit = spec.physical_unit if spec else group[0].physical_unit
        quantities = [
            r.physical_quantity
            * Decimal(repr(conversion_factor(r.physical_unit, unit, f"run row {region}")))
            for r in group
            if r.physical_quantity is not None
        ]
        drafts.append(
            EntryDraft(
                product_class=spec.category if spec else group[0].category,
                sub_item=indicator,
                sub_item_zh=spec.name_zh if spec else indicator,
                region_code=region,
                region_name=group[0].region_name_zh,
                quantity=sum(quantities, Decimal(0)) if quantities else None,
                unit=unit,
                quality_grade=None,
                location=group[0].region_name_zh,
                department=depts.get(indicator, "统计局"),
                source=f"accounting run {run_id}",
                value_current=sum((r.value_current for r in group), Decimal(0)),
            )
        )
    return drafts
