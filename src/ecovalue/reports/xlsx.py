"""The GEP accounting workbook (核算表) officials work in, and the tables behind it.

``write_xlsx`` writes eight sheets: 总表 (GEP by district), 实物量表 (physical
quantities), 价值量表 and 价值量表(不变价) (values at current and constant prices),
生态系统类型, 参数表 (every parameter with its source; assumed ones highlighted), 明细
(the tidy table) and 说明 (provenance, not-applicable indicators, the synthetic-data
warning).

The table builders here (``district_summary``, ``value_matrix``, ``indicator_info`` …)
are also what the HTML report and the charts show, so every output agrees.

Money stays :class:`~decimal.Decimal` from ``RunResult.table`` to the cell: 元 rounded to
0.01 divided by 10⁴ is exact in 万元 (six decimals), so a cell holds the amount to the fen
and every 合计/小计 cell is the exact Decimal sum of the cells it totals; the ``#,##0.00``
format only changes what is shown. Every other number is held as shown or without float
noise: areas to 0.01 km², per-km² values to 0.01 and GEP/GDP to 0.0001 (their formats),
physical quantities to :data:`~ecovalue.units.QUANTITY_SIGNIFICANT_DIGITS` significant
digits with a format that shows at least three of them. Units are written by
:func:`ecovalue.units.format_unit`, like every output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

import ecovalue
from ecovalue.accounting.catalogue import ECOSYSTEM_TYPES, INDICATORS
from ecovalue.accounting.result import (
    CATEGORY_ZH,
    ECOSYSTEM_TYPE_ZH,
    TABLE_COLUMNS,
    RunResult,
)
from ecovalue.errors import InputError
from ecovalue.units import (
    QUANTITY_SIGNIFICANT_DIGITS,
    WAN_YUAN,
    YI_YUAN,
    format_unit,
    round_significant,
)

if TYPE_CHECKING:
    from ecovalue.accounting.uncertainty import UncertaintyResult

ZERO = Decimal("0")
CATEGORY_EN = {"provisioning": "Provisioning", "regulating": "Regulating", "cultural": "Cultural"}
ECOSYSTEM_TYPE_EN = {e: e.capitalize() for e in (*ECOSYSTEM_TYPES, "all")} | {"all": "Not by type"}
ASSUMED_NOTE = "assumed — set your own / 假设值，请按本地数据设置"
SYNTHETIC_NOTE = (
    "合成数据：栅格为合成演示数据，非真实观测 / SYNTHETIC: rasters are synthetic demo data"
)

COLUMN_ZH = {
    "region_code": "区划代码",
    "region_name_zh": "区名称",
    "region_name_en": "区名称(英文)",
    "year": "核算年份",
    "indicator": "指标代码",
    "indicator_zh": "指标",
    "indicator_en": "指标(英文)",
    "category": "类别代码",
    "category_zh": "类别",
    "ecosystem_type": "生态系统类型代码",
    "ecosystem_type_zh": "生态系统类型",
    "physical_quantity": "实物量",
    "physical_unit": "实物量单位",
    "value_current": "价值量(当年价,元)",
    "value_constant": "价值量(不变价,元)",
    "method": "方法",
    "source": "数据来源",
}

MONEY_FMT = "#,##0.00"
RATIO_FMT = "0.0000"
AREA_PLACES = Decimal("0.01")  # km², as the 面积 column shows
PER_KM2_PLACES = Decimal("0.01")  # 万元/km²
RATIO_PLACES = Decimal("0.0001")  # GEP/GDP
QUANTITY_NOTE = f"实物量保留{QUANTITY_SIGNIFICANT_DIGITS}位有效数字 / quantities to {QUANTITY_SIGNIFICANT_DIGITS} significant digits"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
ASSUMED_FILL = PatternFill("solid", fgColor="FFE699")
THIN = Side(style="thin", color="BFBFBF")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


# --------------------------------------------------------------------------- tables


def to_wan(yuan: Decimal) -> Decimal:
    """元 → 万元, exact for amounts in whole fen."""
    return WAN_YUAN.of(yuan)


def to_yi(yuan: Decimal) -> Decimal:
    """元 → 亿元."""
    return YI_YUAN.of(yuan)


def quantity_cell(v: Any) -> float | None:
    """A physical quantity as a cell holds it: rounded to QUANTITY_SIGNIFICANT_DIGITS
    significant digits (no float noise such as 7014144.099999359), None when missing."""
    v = _cell_value(v)
    if v is None:
        return None
    return round_significant(float(v))


def quantity_format(v: float | None) -> str:
    """Excel number format of a quantity: two decimals, more for a value below 1 so that
    three significant digits show (0.000123 is not shown as 0.00)."""
    if v is None or v == 0 or abs(v) >= 0.01:
        return MONEY_FMT
    return "0." + "0" * min(15, 2 - math.floor(math.log10(abs(v))))


def check_table(result: RunResult) -> None:
    """Raise :class:`InputError` unless ``result.table`` has TABLE_COLUMNS and Decimal money."""
    t = result.table
    missing = [c for c in TABLE_COLUMNS if c not in t.columns]
    if missing:
        raise InputError(
            f"RunResult.table lacks columns {missing}; expected all of TABLE_COLUMNS "
            "(ecovalue.accounting.result). Fix the pipeline that built the table."
        )
    for col in ("value_current", "value_constant"):
        bad = [v for v in t[col] if not isinstance(v, Decimal)]
        if bad:
            raise InputError(
                f"RunResult.table['{col}'] holds {type(bad[0]).__name__} value {bad[0]!r}; "
                "expected decimal.Decimal 元 rounded to 0.01. Fix: convert once when floats "
                "leave the engine."
            )
    known = {r.code for r in result.regions}
    unknown = sorted(set(t["region_code"]) - known)
    if unknown:
        raise InputError(
            f"RunResult.table has region codes {unknown} that are not in RunResult.regions "
            f"{sorted(known)}; every row must belong to one accounting region."
        )


@dataclass(frozen=True)
class IndicatorInfo:
    """Display data of one indicator."""

    id: str
    name_zh: str
    name_en: str
    category: str
    physical_unit: str


def indicator_info(result: RunResult) -> list[IndicatorInfo]:
    """Indicators of the run (table rows and layers), ordered by category then catalogue."""
    t = result.table
    ids = list(dict.fromkeys([*t["indicator"], *result.layers]))
    first = t.drop_duplicates("indicator").set_index("indicator")
    order = {k: n for n, k in enumerate(INDICATORS)}
    infos = []
    for i in ids:
        spec = INDICATORS.get(i)
        if i in first.index:
            row = first.loc[i]
            info = IndicatorInfo(
                i, row["indicator_zh"], row["indicator_en"], row["category"], row["physical_unit"]
            )
        elif spec is not None:
            unit = result.layers[i].physical_unit if i in result.layers else spec.physical_unit
            info = IndicatorInfo(i, spec.name_zh, spec.name_en, spec.category, unit)
        else:
            info = IndicatorInfo(i, i, i, "regulating", result.layers[i].physical_unit)
        infos.append(info)
    cats = list(CATEGORY_ZH)
    return sorted(
        infos,
        key=lambda x: (
            cats.index(x.category) if x.category in cats else 9,
            order.get(x.id, 999),
        ),
    )


@dataclass(frozen=True)
class DistrictRow:
    """One row of the 总表: money in 万元 (Decimal); ratios as Decimal or None."""

    code: str
    name_zh: str
    name_en: str
    area_km2: Decimal
    by_category: dict[str, Decimal]
    gep: Decimal
    gep_constant: Decimal
    gdp: Decimal | None

    @property
    def gep_per_km2(self) -> Decimal | None:
        """万元/km²."""
        return (self.gep / self.area_km2).quantize(Decimal("0.000001")) if self.area_km2 else None

    @property
    def gep_gdp(self) -> Decimal | None:
        """GEP/GDP (dimensionless)."""
        return (self.gep / self.gdp).quantize(Decimal("0.000001")) if self.gdp else None


def district_summary(result: RunResult) -> tuple[list[DistrictRow], DistrictRow]:
    """District rows (in ``result.regions`` order) and the 合计 row, whose money fields are
    the exact Decimal sums of the district rows."""
    check_table(result)
    t = result.table
    rows = []
    for r in result.regions:
        sub = t[t["region_code"] == r.code]
        by_cat = {
            c: to_wan(sum(sub.loc[sub["category"] == c, "value_current"], ZERO))
            for c in CATEGORY_ZH
        }
        gdp = result.gdp.get(r.code)
        rows.append(
            DistrictRow(
                r.code,
                r.name_zh,
                r.name_en,
                Decimal(repr(float(r.area_km2))),
                by_cat,
                sum(by_cat.values(), ZERO),
                to_wan(sum(sub["value_constant"], ZERO)),
                to_wan(gdp) if gdp is not None else None,
            )
        )
    all_gdp = all(x.gdp is not None for x in rows) and bool(rows)
    total = DistrictRow(
        "",
        "合计",
        "Total",
        sum((x.area_km2 for x in rows), ZERO),
        {c: sum((x.by_category[c] for x in rows), ZERO) for c in CATEGORY_ZH},
        sum((x.gep for x in rows), ZERO),
        sum((x.gep_constant for x in rows), ZERO),
        sum((x.gdp for x in rows if x.gdp is not None), ZERO) if all_gdp else None,
    )
    return rows, total


def value_matrix(result: RunResult, column: str = "value_current") -> dict[str, dict[str, Decimal]]:
    """indicator → region code → 万元 (Decimal) of ``column``."""
    out: dict[str, dict[str, Decimal]] = {}
    for (ind, code), g in result.table.groupby(["indicator", "region_code"], sort=False):
        out.setdefault(str(ind), {})[str(code)] = to_wan(sum(g[column], ZERO))
    return out


def physical_matrix(result: RunResult) -> dict[str, dict[str, float]]:
    """indicator → region code → physical quantity (NaN rows skipped; absent when all NaN)."""
    out: dict[str, dict[str, float]] = {}
    for (ind, code), g in result.table.groupby(["indicator", "region_code"], sort=False):
        q = pd.to_numeric(g["physical_quantity"], errors="coerce")
        if q.notna().any():
            out.setdefault(str(ind), {})[str(code)] = float(q.sum())
    return out


def ecosystem_matrix(result: RunResult) -> dict[str, dict[str, Decimal]]:
    """ecosystem type → indicator → 万元 at current prices, types in catalogue order."""
    out: dict[str, dict[str, Decimal]] = {}
    t = result.table
    order = [*ECOSYSTEM_TYPES, "all"]
    types = sorted(set(t["ecosystem_type"]), key=lambda e: order.index(e) if e in order else 99)
    for e in types:
        sub = t[t["ecosystem_type"] == e]
        out[e] = {
            str(i): to_wan(sum(g["value_current"], ZERO)) for i, g in sub.groupby("indicator")
        }
    return out


def ecosystem_label(etype: str) -> tuple[str, str]:
    """(Chinese, English) label of an ecosystem type; ``all`` means value not split by type."""
    if etype == "all":
        return "未按类型分配", "Not by type"
    return ECOSYSTEM_TYPE_ZH.get(etype, etype), ECOSYSTEM_TYPE_EN.get(etype, etype)


# --------------------------------------------------------------------------- cell helpers


def _rounded(v: Decimal | None, places: Decimal) -> Decimal | None:
    """A derived number (area, per-km² value, ratio) held to the decimals its column shows."""
    return None if v is None else v.quantize(places)


def _cell_value(v: Any) -> Any:
    """Excel-safe value: NaN/None → empty cell; numpy scalars → Python numbers."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item") and not isinstance(v, Decimal):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v


def _title(ws: Worksheet, title: str, note: str, ncols: int) -> None:
    ws.cell(1, 1, title).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(ncols, 1))
    ws.cell(2, 1, note).font = Font(italic=True, color="595959")


def _header(ws: Worksheet, row: int, headers: Sequence[str]) -> None:
    for j, h in enumerate(headers, start=1):
        c = ws.cell(row, j, h)
        c.font = Font(bold=True)
        c.fill = HEADER_FILL
        c.border = BORDER
        c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.freeze_panes = ws.cell(row + 1, 1)


def _row(
    ws: Worksheet,
    row: int,
    values: Iterable[Any],
    fmt: str | dict[int, str] = MONEY_FMT,
    total: bool = False,
) -> None:
    for j, v in enumerate(values, start=1):
        c = ws.cell(row, j, _cell_value(v))
        c.border = BORDER
        if isinstance(c.value, int | float | Decimal) and not isinstance(c.value, bool):
            c.number_format = fmt.get(j, MONEY_FMT) if isinstance(fmt, dict) else fmt
        if total:
            c.font = Font(bold=True)
            c.fill = TOTAL_FILL


def _text_width(v: Any) -> int:
    s = str(v) if v is not None else ""
    if isinstance(v, Decimal | float):
        s = f"{v:,.2f}"
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def _autowidth(ws: Worksheet, first_row: int, max_width: int = 60) -> None:
    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=first_row):
        for c in row:
            widths[c.column] = max(widths.get(c.column, 0), _text_width(c.value))
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(8, w + 2), max_width)


# --------------------------------------------------------------------------- sheets


def _sheet_summary(wb: Workbook, result: RunResult) -> None:
    ws = wb.create_sheet("总表")
    headers = [
        "区划代码", "区名称", "District", "面积(km²)", "物质供给", "调节服务", "文化服务",
        "GEP", "GEP(不变价)", "地均GEP(万元/km²)", "GDP", "GEP/GDP",
    ]  # fmt: skip
    _title(
        ws,
        f"{result.year}年生态系统生产总值(GEP)汇总表 / GEP summary",
        "单位：万元（当年价）",
        len(headers),
    )
    if result.synthetic:
        ws.cell(2, 1).value = f"单位：万元（当年价）  {SYNTHETIC_NOTE}"
        ws.cell(2, 1).font = Font(bold=True, color="FF0000")
    _header(ws, 3, headers)
    rows, total = district_summary(result)
    fmt = {10: MONEY_FMT, 12: RATIO_FMT}
    for i, r in enumerate([*rows, total]):
        _row(
            ws,
            4 + i,
            [
                r.code, r.name_zh, r.name_en, _rounded(r.area_km2, AREA_PLACES),
                *(r.by_category[c] for c in CATEGORY_ZH),
                r.gep, r.gep_constant, _rounded(r.gep_per_km2, PER_KM2_PLACES), r.gdp,
                _rounded(r.gep_gdp, RATIO_PLACES),
            ],
            fmt,
            total=r is total,
        )  # fmt: skip
    _autowidth(ws, 3)


def _by_indicator_sheet(
    wb: Workbook,
    result: RunResult,
    name: str,
    title: str,
    matrix: dict[str, dict[str, Any]],
    unit_col: bool,
    subtotals: bool,
) -> None:
    ws = wb.create_sheet(name)
    regions = result.regions
    head = ["类别", "指标", "Indicator", *(["单位"] if unit_col else [])]
    headers = [*head, *(r.name_zh for r in regions), "合计"]
    _title(ws, title, "单位：万元" if not unit_col else f"单位见“单位”列；{QUANTITY_NOTE}", len(headers))
    _header(ws, 3, headers)
    row = 4
    grand = {r.code: ZERO for r in regions}
    for cat in CATEGORY_ZH:
        infos = [i for i in indicator_info(result) if i.category == cat and i.id in matrix]
        sub = {r.code: ZERO for r in regions}
        for info in infos:
            # a region without rows for a valued indicator has value 0; missing physical
            # quantities stay blank because 0 would claim a measurement
            vals = [matrix[info.id].get(r.code, ZERO if subtotals else None) for r in regions]
            present = [v for v in vals if v is not None]
            tot = sum(present, ZERO if not unit_col else 0.0) if present else None
            cells = [CATEGORY_ZH[cat], info.name_zh, info.name_en]
            if unit_col:  # physical quantities: rounded cells, a format that shows them
                qs = [quantity_cell(v) for v in [*vals, tot]]
                fmt = {len(cells) + 1 + j: quantity_format(q) for j, q in enumerate(qs, start=1)}
                _row(ws, row, [*cells, format_unit(info.physical_unit), *qs], fmt)
            else:
                _row(ws, row, [*cells, *vals, tot])
            row += 1
            if subtotals:
                for r in regions:
                    sub[r.code] += matrix[info.id].get(r.code, ZERO)
        if subtotals and infos:
            s = [sub[r.code] for r in regions]
            _row(ws, row, [CATEGORY_ZH[cat], "小计", "Subtotal", *s, sum(s, ZERO)], total=True)
            row += 1
            for r in regions:
                grand[r.code] += sub[r.code]
    if subtotals:
        g = [grand[r.code] for r in regions]
        _row(ws, row, ["", "GEP合计", "GEP total", *g, sum(g, ZERO)], total=True)
    _autowidth(ws, 3)


def _sheet_ecosystem(wb: Workbook, result: RunResult) -> None:
    ws = wb.create_sheet("生态系统类型")
    infos = [i for i in indicator_info(result) if i.id in set(result.table["indicator"])]
    headers = ["生态系统类型", "Ecosystem type", *(i.name_zh for i in infos), "合计"]
    _title(
        ws, "分生态系统类型价值量 / Value by ecosystem type", "单位：万元（当年价）", len(headers)
    )
    _header(ws, 3, headers)
    mat = ecosystem_matrix(result)
    col_tot = {i.id: ZERO for i in infos}
    row = 4
    for etype, vals in mat.items():
        cells = [vals.get(i.id) for i in infos]
        for i in infos:
            col_tot[i.id] += vals.get(i.id, ZERO)
        _row(ws, row, [*ecosystem_label(etype), *cells, sum(vals.values(), ZERO)])
        row += 1
    tots = [col_tot[i.id] for i in infos]
    _row(ws, row, ["合计", "Total", *tots, sum(tots, ZERO)], total=True)
    _autowidth(ws, 3)


def _number_or_text(v: str) -> Decimal | str:
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        return str(v)
    return d if d.is_finite() else str(v)


def _sheet_parameters(wb: Workbook, result: RunResult) -> None:
    ws = wb.create_sheet("参数表")
    headers = [
        "参数ID",
        "名称",
        "Name",
        "值",
        "单位",
        "价格年份",
        "适用区域",
        "来源",
        "状态",
        "备注",
    ]
    _title(
        ws, "核算参数 / Parameters", "黄色行为假设值 / yellow rows are assumed values", len(headers)
    )
    _header(ws, 3, headers)
    status_zh = {"published": "已发表", "assumed": "假设", "dataset": "数据集"}
    for n, p in enumerate(result.parameters):
        row = 4 + n
        note = ASSUMED_NOTE if p.status == "assumed" else ""
        status = f"{status_zh.get(p.status, p.status)} {p.status}"
        _row(
            ws,
            row,
            [p.id, p.name_zh, p.name_en, _number_or_text(p.value), format_unit(p.unit),
             p.price_year, p.region, p.source, status, note],
            fmt={4: "General", 6: "0"},
        )  # fmt: skip
        if p.status == "assumed":
            for j in range(1, len(headers) + 1):
                ws.cell(row, j).fill = ASSUMED_FILL
    _autowidth(ws, 3)


def _sheet_detail(wb: Workbook, result: RunResult) -> None:
    ws = wb.create_sheet("明细")
    _header(ws, 1, [COLUMN_ZH[c] for c in TABLE_COLUMNS])
    unit_at = TABLE_COLUMNS.index("physical_unit")
    q_at = TABLE_COLUMNS.index("physical_quantity")
    for n, rec in enumerate(result.table.loc[:, list(TABLE_COLUMNS)].itertuples(index=False)):
        vals = list(rec)
        vals[unit_at] = format_unit(vals[unit_at])
        vals[q_at] = quantity_cell(vals[q_at])
        fmt = {TABLE_COLUMNS.index("year") + 1: "0", q_at + 1: quantity_format(vals[q_at])}
        _row(ws, 2 + n, vals, fmt=fmt)
    ws.auto_filter.ref = ws.dimensions
    _autowidth(ws, 1, max_width=40)


def _sheet_sub_items(wb: Workbook, result: RunResult) -> None:
    """分项: the indicators the published accounts show by sub-item (pollutants, storage types,
    cooling processes, soil retention's benefits), by region, summed over ecosystem types;
    each indicator's value is the sum of its sub-items' (RunResult.sub_items)."""
    subs = getattr(result, "sub_items", None)
    if subs is None or subs.empty:
        return
    ws = wb.create_sheet("分项")
    _title(ws, "分项核算表 / Results by sub-item",
           "每项按其单价核算；指标价值量为各分项之和 / each sub-item at its own price; an indicator's "
           "value is the sum of its sub-items'", 8)
    _header(ws, 3, ["区名称", "指标", "分项", "实物量", "实物量单位", "价值量(当年价,元)",
                    "价值量(不变价,元)", "数据来源"])
    row = 4
    keys = ["region_code", "region_name_zh", "indicator", "indicator_zh", "sub_item", "sub_item_zh"]
    for (_code, name, _ind, ind_zh, _sub, sub_zh), g in subs.groupby(keys, sort=False):
        sources = sorted(set(g["source"]))
        q = quantity_cell(g["physical_quantity"].sum())
        _row(ws, row, [name, ind_zh, sub_zh, q,
                       format_unit(str(g["physical_unit"].iloc[0])), sum(g["value_current"], ZERO),
                       sum(g["value_constant"], ZERO), "; ".join(sources)], fmt={4: quantity_format(q)})
        row += 1
    _autowidth(ws, 3)


def about_rows(result: RunResult) -> list[tuple[str, str]]:
    """(label, text) provenance rows shared by the 说明 sheet and the HTML report."""
    h = result.hashes
    rows = [
        ("数据集 Dataset", f"{result.dataset_name} — {result.dataset_title_zh} / {result.dataset_title_en}"),
        ("合成数据 Synthetic", "是 yes" if result.synthetic else "否 no"),
        ("核算年份 Year", str(result.year)),
        ("参数方案 Profile", result.profile_id),
        ("不变价基年 Constant-price base year", str(result.base_year)),
        ("坐标系 CRS", result.grid.crs),
        ("像元 Pixel", f"{result.grid.cell_width:g} × {result.grid.cell_height:g} m, "
                       f"{result.grid.width} × {result.grid.height}"),
        ("代码版本 Code version", f"ecovalue {ecovalue.__version__}"),
    ]  # fmt: skip
    rows += [(f"哈希 Hash ({k})", v) for k, v in h.items()]
    rows += [(f"耗时 Time ({k})", f"{v:.2f} s") for k, v in result.timings.items()]
    rows.append(
        ("金额 Money", "万元 = 元/10⁴，精确到分；合计为各区精确之和 / exact sums of district rows")
    )
    return rows


def _sheet_about(wb: Workbook, result: RunResult) -> None:
    ws = wb.create_sheet("说明")
    ws.cell(1, 1, "说明 / About this workbook").font = Font(bold=True, size=14)
    row = 2
    if result.synthetic:
        ws.cell(row, 1, SYNTHETIC_NOTE).font = Font(bold=True, color="FF0000", size=12)
        row += 1
    row += 1
    for label, text in about_rows(result):
        ws.cell(row, 1, label).font = Font(bold=True)
        ws.cell(row, 2, text)
        row += 1
    row += 1
    ws.cell(row, 1, "不适用指标 Not applicable").font = Font(bold=True)
    row += 1
    names = {i.id: i for i in indicator_info(result)}
    for ind, reason in result.not_applicable.items():
        spec = INDICATORS.get(ind)
        zh = names[ind].name_zh if ind in names else (spec.name_zh if spec else ind)
        ws.cell(row, 1, f"{zh} ({ind})")
        ws.cell(row, 2, reason)
        row += 1
    if not result.not_applicable:
        ws.cell(row, 1, "无 none")
        row += 1
    row += 1
    ws.cell(row, 1, "备注 Notes").font = Font(bold=True)
    for note in result.notes:
        row += 1
        ws.cell(row, 2, note)
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["B"].width = 100


def _sheet_uncertainty(wb: Workbook, u: UncertaintyResult) -> None:
    """不确定性: P5/P50/P95 of GEP, districts and indicators (万元), and the sensitivity ranking."""
    ws = wb.create_sheet("不确定性")
    headers = ["区域/指标", "Region / indicator", "点估计 Point", "P5", "P50", "P95"]
    _title(
        ws,
        f"不确定性分析（{u.draws}次抽样，种子 {u.seed}）/ Uncertainty ranges",
        "单位：万元（当年价）",
        len(headers),
    )
    _header(ws, 3, headers)
    row = 4
    q = ("point", "p5", "p50", "p95")
    for rec in u.regions.to_dict("records"):
        _row(ws, row, [rec["region_name_zh"], rec["region_name_en"], *(to_wan(rec[k]) for k in q)])
        row += 1
    _row(
        ws,
        row,
        ["GEP合计", "GEP total", *(to_wan(u.total[k]) for k in ("point", "p5", "p50", "p95"))],
        total=True,
    )
    row += 1
    for rec in u.indicators.to_dict("records"):
        _row(ws, row, [rec["indicator_zh"], rec["indicator_en"], *(to_wan(rec[k]) for k in q)])
        row += 1
    row += 1
    sens = ["排名 Rank", "参数 Parameter", "分布 Distribution", "Spearman ρ", "ρ²", "占比 Share"]
    _header(ws, row, sens)
    ws.freeze_panes = ws.cell(4, 1)
    gep = u.sensitivity[u.sensitivity["target"] == "GEP"]
    for srec in gep.itertuples(index=False):
        row += 1
        _row(
            ws,
            row,
            [
                srec.rank,
                srec.parameter,
                srec.distribution,
                round(float(srec.spearman_rho), 3),  # type: ignore[arg-type]
                round(float(srec.rho2), 3),  # type: ignore[arg-type]
                round(float(srec.share), 3),  # type: ignore[arg-type]
            ],
            fmt={1: "0", 4: "0.000", 5: "0.000", 6: "0.0%"},
        )
    _autowidth(ws, 3)


def write_xlsx(result: RunResult, path: Path, ranges: UncertaintyResult | None = None) -> Path:
    """Write the accounting workbook (核算表) to ``path`` and return it.

    With ``ranges`` (a Monte Carlo run of this result) a sheet 不确定性 follows 价值量表.
    Raises :class:`InputError` when ``result.table`` is malformed (see ``check_table``).
    """
    check_table(result)
    wb = Workbook()
    wb.remove(wb.active)
    _sheet_summary(wb, result)
    _by_indicator_sheet(
        wb, result, "实物量表", f"{result.year}年生态产品实物量表 / Physical quantities",
        physical_matrix(result), unit_col=True, subtotals=False,
    )  # fmt: skip
    _by_indicator_sheet(
        wb, result, "价值量表", f"{result.year}年生态产品价值量表（当年价）/ Values, current prices",
        value_matrix(result), unit_col=False, subtotals=True,
    )  # fmt: skip
    _by_indicator_sheet(
        wb, result, "价值量表(不变价)",
        f"生态产品价值量表（{result.base_year}年不变价）/ Values, constant {result.base_year} prices",
        value_matrix(result, "value_constant"), unit_col=False, subtotals=True,
    )  # fmt: skip
    if ranges is not None:
        _sheet_uncertainty(wb, ranges)
    _sheet_ecosystem(wb, result)
    _sheet_parameters(wb, result)
    _sheet_detail(wb, result)
    _sheet_sub_items(wb, result)
    _sheet_about(wb, result)
    if result.synthetic:
        for ws in wb.worksheets:
            ws.oddHeader.center.text = "SYNTHETIC DATA / 合成数据"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
