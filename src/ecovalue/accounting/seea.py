"""SEEA Ecosystem Accounting tables between two years (spec/gep-accounting.md §12, [S39]).

* **Extent account** (SEEA EA ch. 4): area by ecosystem type — opening, additions,
  reductions, net change, closing — per district and for the whole area, and the change
  matrix (opening type × closing type). When both years share grid and districts the flows
  are gross (pixel by pixel) and ``opening + additions − reductions = closing`` holds exactly
  (areas are Decimal km² = pixel count × pixel area); otherwise only net changes can be
  known and additions/reductions are the positive/negative net change (the notes say so).
* **Condition account** (SEEA EA ch. 5), where inputs allow: mean NPP (g C m⁻² a⁻¹) and a
  class-level vegetation-cover proxy (the land-cover table's ``rweq_veg_cover``) per type.
* **Ecosystem-service supply tables** (SEEA EA ch. 7), physical and monetary: service ×
  ecosystem type, from each run's results table.
* **Monetary ecosystem asset account** (SEEA EA para 8.20 [S39]): asset value = net present
  value of the year's service flows held constant over the asset life,
  ``NPV = V · (1 − (1 + r)^−T) / r`` (r = 0 → V·T); 2.77 % over 100 years is the choice
  of [S2] (defaults here, both user-settable). Changes split into revaluation (the price
  effect of the decomposition, decision 0005, × annuity factor) and volume change (the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from ecovalue.accounting import aggregation as agg
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.profiles import Profile
from ecovalue.accounting.result import ECOSYSTEM_TYPE_ZH, RunResult
from ecovalue.accounting.series import SeriesResult, run_series, write_workbook
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.datasets.loader import Dataset
from ecovalue.errors import InputError

DISCOUNT_RATE = 0.0277  # [S2] ICBC deposit rates 2010–2015
ASSET_LIFE_YEARS = 100  # [S2]
ZERO = Decimal("0.00")
NT = len(ECOSYSTEM_TYPES)


def ecosystem_types(ds: Dataset) -> np.ndarray:
    """Per-pixel index into ECOSYSTEM_TYPES inside the districts (−1 outside or unclassified)."""
    t = ds.landcover_table
    eco = agg.ecosystem_index(
        ds.rasters["landcover"], t["code"].to_numpy(), list(t["ecosystem_type"])
    )
    return np.where(ds.region_index >= 0, eco, -1).astype(np.int8)


def same_grid(a: Dataset, b: Dataset) -> bool:
    """True when pixels of the two datasets can be compared one to one."""
    return a.grid == b.grid and bool(np.array_equal(a.region_index, b.region_index))


def _km2(ds: Dataset) -> Decimal:
    return Decimal(repr(ds.grid.pixel_area_m2)) / Decimal(1_000_000)


def _regions(ds: Dataset) -> list[tuple[str, str, str, np.ndarray]]:
    out = [(r.code, r.name_zh, r.name_en, ds.region_index == i) for i, r in enumerate(ds.regions)]
    return [*out, ("ALL", "全部", "All regions", ds.region_index >= 0)]


def region_mask(ds: Dataset, code: str) -> np.ndarray:
    """Pixels of district ``code`` ("ALL" = every district) of ``ds``."""
    if code == "ALL":
        return ds.region_index >= 0
    codes = [r.code for r in ds.regions]
    if code not in codes:
        raise InputError(f"district '{code}' is not in dataset {ds.info.name} (districts: {codes})")
    return ds.region_index == codes.index(code)


# --------------------------------------------------------------------------- extent


def change_matrix(eco_a: np.ndarray, eco_b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixel counts (opening type × closing type) over ``mask``, pixels classified in both years."""
    sel = mask & (eco_a >= 0) & (eco_b >= 0)
    key = eco_a[sel].astype(np.int64) * NT + eco_b[sel]
    return np.bincount(key, minlength=NT * NT).reshape(NT, NT)


def extent_account(
    ds_a: Dataset, ds_b: Dataset, year_a: int, year_b: int, notes: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(extent account, change matrix) per district and "ALL"; areas in Decimal km²."""
    notes = notes if notes is not None else []
    eco_a, eco_b = ecosystem_types(ds_a), ecosystem_types(ds_b)
    gross = same_grid(ds_a, ds_b)
    if not gross:
        notes.append(
            f"extent {year_a}→{year_b}: the land-cover rasters do not share grid and districts; "
            "additions and reductions are net changes per type, and there is no change matrix"
        )
    else:
        lost = int(np.sum((ds_a.region_index >= 0) & ((eco_a < 0) ^ (eco_b < 0))))
        if lost:
            notes.append(
                f"extent {year_a}→{year_b}: {lost} pixels are classified in one year only and are left out"
            )
    rows, mrows = [], []
    for code, zh, en, mask in _regions(ds_b):
        if gross:
            m = change_matrix(eco_a, eco_b, mask)
            opening, closing = m.sum(axis=1), m.sum(axis=0)
            add, red = closing - np.diag(m), opening - np.diag(m)
            unit_a = unit_b = _km2(ds_b)
            mrows += [
                (
                    code,
                    zh,
                    en,
                    ECOSYSTEM_TYPES[i],
                    ECOSYSTEM_TYPES[j],
                    int(m[i, j]),
                    unit_b * int(m[i, j]),
                )
                for i in range(NT)
                for j in range(NT)
                if m[i, j]
            ]
        else:
            mask_a = region_mask(ds_a, code)
            opening = np.bincount(eco_a[mask_a & (eco_a >= 0)], minlength=NT)
            closing = np.bincount(eco_b[mask & (eco_b >= 0)], minlength=NT)
            add, red = np.clip(closing - opening, 0, None), np.clip(opening - closing, 0, None)
            unit_a, unit_b = _km2(ds_a), _km2(ds_b)
        rows += _extent_rows(
            code, zh, en, year_a, year_b, opening, add, red, closing, unit_a, unit_b, gross
        )
    cols = [
        "region_code",
        "region_name_zh",
        "region_name_en",
        "from_type",
        "to_type",
        "pixels",
        "area_km2",
    ]
    return pd.DataFrame(rows), pd.DataFrame(mrows, columns=cols)


def _extent_rows(
    code: str,
    zh: str,
    en: str,
    ya: int,
    yb: int,
    opening: np.ndarray,
    add: np.ndarray,
    red: np.ndarray,
    closing: np.ndarray,
    ua: Decimal,
    ub: Decimal,
    gross: bool,
) -> list[dict]:
    rows = []
    for i, et in enumerate([*ECOSYSTEM_TYPES, "total"]):
        sl = slice(None) if et == "total" else i
        o, a, r, c = (int(np.sum(x[sl])) for x in (opening, add, red, closing))
        # with one grid every area is a pixel count × the same pixel area, so the account closes exactly
        op, ad, rd, cl = o * ua, a * ub, r * ub, c * ub
        rows.append(
            {
                "region_code": code,
                "region_name_zh": zh,
                "region_name_en": en,
                "year_opening": ya,
                "year_closing": yb,
                "ecosystem_type": et,
                "ecosystem_type_zh": ECOSYSTEM_TYPE_ZH.get(et, "合计"),
                "opening_km2": op,
                "additions_km2": ad,
                "reductions_km2": rd,
                "net_change_km2": ad - rd,
                "closing_km2": cl,
                "flows": "gross" if gross else "net",
            }
        )
    return rows


# --------------------------------------------------------------------------- condition


def condition_account(ds_a: Dataset, ds_b: Dataset, year_a: int, year_b: int) -> pd.DataFrame:
    """Mean condition indicators per ecosystem type (whole area), where both years have the input."""
    eco_a, eco_b = ecosystem_types(ds_a), ecosystem_types(ds_b)
    specs = []
    if "npp" in ds_a.rasters and "npp" in ds_b.rasters:
        specs.append(
            (
                "npp",
                "净初级生产力",
                "Net primary productivity",
                "g/m**2/a",
                "raster npp (mean of pixels)",
                ds_a.rasters["npp"].astype(float),
                ds_b.rasters["npp"].astype(float),
            )
        )
    col = "rweq_veg_cover"
    if col in ds_a.landcover_table.columns and col in ds_b.landcover_table.columns:
        specs.append(
            (
                "vegetation_cover",
                "植被覆盖度（类别代理）",
                "Vegetation cover (class-level proxy)",
                "1",
                "land-cover table rweq_veg_cover: changes only by conversion between classes",
                _class_values(ds_a, col),
                _class_values(ds_b, col),
            )
        )
    rows = []
    for key, zh, en, unit, basis, va, vb in specs:
        for i, et in enumerate(ECOSYSTEM_TYPES):
            ma = (eco_a == i) & ds_a.valid & np.isfinite(va)
            mb = (eco_b == i) & ds_b.valid & np.isfinite(vb)
            if not ma.any() and not mb.any():
                continue
            # 6 decimals: more would show float noise of the mean as change
            o = round(float(va[ma].mean()), 6) if ma.any() else None
            c = round(float(vb[mb].mean()), 6) if mb.any() else None
            rows.append(
                {
                    "indicator": key,
                    "indicator_zh": zh,
                    "indicator_en": en,
                    "unit": unit,
                    "ecosystem_type": et,
                    "ecosystem_type_zh": ECOSYSTEM_TYPE_ZH[et],
                    "year_opening": year_a,
                    "year_closing": year_b,
                    "opening": o,
                    "closing": c,
                    "change": round(c - o, 6) if o is not None and c is not None else None,
                    "basis": basis,
                }
            )
    return pd.DataFrame(rows)


def _class_values(ds: Dataset, column: str) -> np.ndarray:
    from ecovalue.models.common import class_lookup

    t = ds.landcover_table
    return class_lookup(
        ds.rasters["landcover"], t["code"].to_numpy(), t[column].to_numpy(float), column, ds.valid
    )


# --------------------------------------------------------------------------- supply and assets


def supply_tables(run: RunResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(physical, monetary) supply tables: one row per service, one column per ecosystem type + total."""
    t = run.table
    phys_rows, money_rows = [], []
    for ind in [i for i in INDICATORS if i in set(t["indicator"])]:
        g = t[t["indicator"] == ind]
        spec = INDICATORS[ind]
        head = {
            "year": run.year,
            "indicator": ind,
            "indicator_zh": spec.name_zh,
            "indicator_en": spec.name_en,
        }
        by = {et: g[g["ecosystem_type"] == et] for et in ECOSYSTEM_TYPES}
        phys_rows.append(
            {
                **head,
                "unit": str(g["physical_unit"].iloc[0]),
                **{et: float(by[et]["physical_quantity"].sum()) for et in ECOSYSTEM_TYPES},
                "total": float(g["physical_quantity"].sum()),
            }
        )
        money_rows.append(
            {
                **head,
                "unit": "元 (current prices)",
                **{et: sum(by[et]["value_current"], ZERO) for et in ECOSYSTEM_TYPES},
                "total": sum(g["value_current"], ZERO),
            }
        )
    money = pd.DataFrame(money_rows)
    if not money.empty:
        total = {
            "year": run.year,
            "indicator": "GEP",
            "indicator_zh": "生态系统生产总值",
            "indicator_en": "GEP",
            "unit": "元 (current prices)",
        }
        money = pd.concat(
            [
                money,
                pd.DataFrame(
                    [{**total, **{c: sum(money[c], ZERO) for c in [*ECOSYSTEM_TYPES, "total"]}}]
                ),
            ],
            ignore_index=True,
        )
    return pd.DataFrame(phys_rows), money


def annuity_factor(rate: float, years: int) -> Decimal:
    """Present value of 1 元 a year for ``years`` years at ``rate``: (1 − (1+r)^−T)/r [S39 para 8.20]."""
    if years < 1:
        raise InputError(
            f"asset life {years} years: give a whole number of years ≥ 1 (e.g. 100 [S2])"
        )
    if not -1 < rate < 1:
        raise InputError(f"discount rate {rate}: give a fraction such as 0.0277 for 2.77 % [S2]")
    if rate == 0:
        return Decimal(years)
    return Decimal(repr((1.0 - (1.0 + rate) ** -years) / rate))


def asset_account(
    a: RunResult,
    b: RunResult,
    f_a: Decimal,
    f_b: Decimal,
    rate: float = DISCOUNT_RATE,
    years: int = ASSET_LIFE_YEARS,
) -> pd.DataFrame:
    """Monetary ecosystem asset account per district (and ALL) × ecosystem type, Decimal 元.

    ``opening + volume_change + revaluation = closing`` exactly; revaluation is the price
    effect (Σ Q_b·(P_b − P_a), decision 0005) capitalised with the same annuity factor.
    """
    af = annuity_factor(rate, years)
    ratio = f_b / f_a
    codes = [(r.code, r.name_zh, r.name_en) for r in b.regions] + [("ALL", "全部", "All regions")]
    rows = []
    for code, zh, en in codes:
        ta = a.table if code == "ALL" else a.table[a.table["region_code"] == code]
        tb = b.table if code == "ALL" else b.table[b.table["region_code"] == code]
        acc = []
        for et in ECOSYSTEM_TYPES:
            va = sum(ta.loc[ta["ecosystem_type"] == et, "value_current"], ZERO)
            vb = sum(tb.loc[tb["ecosystem_type"] == et, "value_current"], ZERO)
            opening, closing = (af * va).quantize(agg.CENT), (af * vb).quantize(agg.CENT)
            reval = (af * (vb - (vb * ratio).quantize(agg.CENT))).quantize(agg.CENT)
            acc.append(
                {
                    "region_code": code,
                    "region_name_zh": zh,
                    "region_name_en": en,
                    "ecosystem_type": et,
                    "ecosystem_type_zh": ECOSYSTEM_TYPE_ZH[et],
                    "year_opening": a.year,
                    "year_closing": b.year,
                    "annual_flow_opening": va,
                    "annual_flow_closing": vb,
                    "opening": opening,
                    "volume_change": closing - opening - reval,
                    "revaluation": reval,
                    "closing": closing,
                }
            )
        tot = {
            k: sum((r[k] for r in acc), ZERO)
            for k in (
                "annual_flow_opening",
                "annual_flow_closing",
                "opening",
                "volume_change",
                "revaluation",
                "closing",
            )
        }
        rows += acc + [{**acc[0], "ecosystem_type": "total", "ecosystem_type_zh": "合计", **tot}]
    out = pd.DataFrame(rows)
    return out.assign(
        discount_rate=rate,
        asset_life_years=years,
        annuity_factor=pd.Series([af] * len(out), dtype=object),
    )


# --------------------------------------------------------------------------- the whole set


@dataclass
class SeeaResult:
    """SEEA EA accounts between two years, plus the natural-resource asset accounts."""

    series: SeriesResult
    extent: pd.DataFrame
    change_matrix: pd.DataFrame
    condition: pd.DataFrame
    supply_physical: pd.DataFrame
    supply_monetary: pd.DataFrame
    assets: pd.DataFrame
    natural_resources: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def run_seea(
    dataset_a: Dataset | str | Path,
    dataset_b: Dataset | str | Path,
    profile: Profile | str | Path = "cn-2022",
    years: Sequence[int | None] = (None, None),
    discount_rate: float = DISCOUNT_RATE,
    asset_life: int = ASSET_LIFE_YEARS,
) -> SeeaResult:
    """Account both years and build every SEEA EA and natural-resource table."""
    from ecovalue.accounting.assets import natural_resource_account

    annuity_factor(discount_rate, asset_life)  # check the arguments before the long runs
    s = run_series([(dataset_a, years[0]), (dataset_b, years[1])], profile)
    (ra, rb), (da, db), (fa, fb) = s.runs, s.datasets, s.factors
    notes = list(s.notes)
    extent, matrix = extent_account(da, db, ra.year, rb.year, notes)
    pa, ma = supply_tables(ra)
    pb, mb = supply_tables(rb)
    return SeeaResult(
        series=s,
        extent=extent,
        change_matrix=matrix,
        condition=condition_account(da, db, ra.year, rb.year),
        supply_physical=pd.concat([pa, pb], ignore_index=True),
        supply_monetary=pd.concat([ma, mb], ignore_index=True),
        assets=asset_account(ra, rb, fa, fb, discount_rate, asset_life),
        natural_resources=natural_resource_account(da, db, ra.year, rb.year, notes),
        notes=list(dict.fromkeys(notes)),
    )


# --------------------------------------------------------------------------- outputs

EXTENT_LINES = (
    ("opening_km2", "期初面积 Opening extent"), ("additions_km2", "增加 Additions"),
    ("reductions_km2", "减少 Reductions"), ("net_change_km2", "净变化 Net change"),
    ("closing_km2", "期末面积 Closing extent"),
)  # fmt: skip
ASSET_LINES = (
    ("opening", "期初资产价值 Opening value"), ("volume_change", "物量变化 Volume change"),
    ("revaluation", "重估价 Revaluation"), ("closing", "期末资产价值 Closing value"),
)  # fmt: skip


def seea_layout(
    table: pd.DataFrame, lines: Sequence[tuple[str, str]], code: str = "ALL"
) -> pd.DataFrame:
    """SEEA EA layout of an account: one row per account line, one column per ecosystem type + total."""
    g = table[table["region_code"] == code].set_index("ecosystem_type")
    types = [*ECOSYSTEM_TYPES, "total"]
    heads = [f"{ECOSYSTEM_TYPE_ZH.get(t, '合计')} {t}" for t in types]
    return pd.DataFrame(
        [[label, *(g.at[t, col] for t in types)] for col, label in lines],
        columns=["账户项目 Account line", *heads],
    )


def matrix_layout(matrix: pd.DataFrame, code: str = "ALL") -> pd.DataFrame:
    """The change matrix as opening type (rows) × closing type (columns), km²."""
    g = matrix[matrix["region_code"] == code]
    cells: dict[tuple[str, str], Decimal] = {
        (str(f), str(t)): a
        for f, t, a in zip(g["from_type"], g["to_type"], g["area_km2"], strict=True)
    }
    zeros: list[list[object]] = [
        [cells.get((f, t), Decimal(0)) for t in ECOSYSTEM_TYPES] for f in ECOSYSTEM_TYPES
    ]
    out = pd.DataFrame(zeros, index=list(ECOSYSTEM_TYPES), columns=list(ECOSYSTEM_TYPES))
    out.index = [f"{ECOSYSTEM_TYPE_ZH[t]} {t}" for t in out.index]
    out.columns = [f"→ {ECOSYSTEM_TYPE_ZH[t]} {t}" for t in out.columns]
    return out.rename_axis("期初类型 Opening type \\ 期末类型 Closing type").reset_index()


def write_seea(result: SeeaResult, out_dir: str | Path) -> dict[str, Path]:
    """CSV of every account and ``seea.xlsx`` laid out as the SEEA EA tables."""
    from ecovalue.accounting.series import _csv

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "extent": result.extent,
        "extent_change_matrix": result.change_matrix,
        "condition": result.condition,
        "supply_physical": result.supply_physical,
        "supply_monetary": result.supply_monetary,
        "asset_account": result.assets,
        "natural_resources": result.natural_resources,
    }
    paths = {f"{k}.csv": _csv(v, out / f"{k}.csv") for k, v in tables.items()}
    ya, yb = result.series.years
    sheets = [
        (
            "生态系统范围",
            f"生态系统范围账户 {ya}–{yb} / Ecosystem extent account",
            "单位：km²（全部区域）",
            seea_layout(result.extent, EXTENT_LINES),
        ),
        (
            "范围变化矩阵",
            f"生态系统类型变化矩阵 {ya}→{yb} / Ecosystem type change matrix",
            "单位：km²",
            matrix_layout(result.change_matrix),
        ),
        ("范围明细", "分区范围账户 / Extent account by district", "单位：km²", result.extent),
        (
            "生态系统状况",
            "生态系统状况账户 / Ecosystem condition account",
            "各类型像元均值",
            result.condition,
        ),
        (
            "服务供给(实物量)",
            "生态系统服务供给表（实物量）/ Supply table, physical",
            "单位见 unit 列",
            result.supply_physical,
        ),
        (
            "服务供给(价值量)",
            "生态系统服务供给表（价值量）/ Supply table, monetary",
            "单位：元（当年价）",
            result.supply_monetary,
        ),
        (
            "资产账户",
            f"生态系统货币资产账户 {ya}–{yb} / Monetary ecosystem asset account",
            _asset_note(result),
            seea_layout(result.assets, ASSET_LINES),
        ),
        ("资产明细", "分区资产账户 / Asset account by district", "单位：元", result.assets),
        (
            "自然资源资产",
            "自然资源资产账户 / Natural-resource asset accounts",
            "面积：公顷 ha；体积见单位列",
            result.natural_resources,
        ),
        (
            "说明",
            "说明 / Notes",
            "extent flows: gross when both years share one grid",
            pd.DataFrame({"note": result.notes or ["—"]}),
        ),
    ]
    paths["seea.xlsx"] = write_workbook(out / "seea.xlsx", sheets, result.series.synthetic)
    return paths


def _asset_note(result: SeeaResult) -> str:
    a = result.assets
    if a.empty:
        return "单位：元"
    return (
        f"单位：元；净现值，贴现率 {a['discount_rate'].iloc[0]:.2%}，年限 {a['asset_life_years'].iloc[0]} 年 "
        f"[S2]；discount rate and asset life are user-settable"
    )
