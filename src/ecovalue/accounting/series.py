"""Multi-year GEP series of one region and the decomposition of each district's change.

:func:`run_series` accounts several years (one dataset per year, same profile) and
:func:`decompose` splits each district's GEP change between two years ``a < b`` (decision
0005). With ``V`` values at current prices and ``f_t = I[base]/I[t]`` the pipeline's
constant-price factor (decision 0003), ``V_b·f_b/f_a`` is year ``b`` valued at year-``a``
prices (``Σ Q_b·P_a``), and

* quantity effect  ``QE = Σ (Q_b − Q_a)·P_a = V_b·f_b/f_a − V_a``   (ecosystem change)
* price effect     ``PE = Σ Q_b·(P_b − P_a) = V_b − V_b·f_b/f_a``
* ``QE + PE = V_b − V_a`` exactly (Decimal, fen), with no interaction term.

When the base year is ``a``, QE equals the change at constant prices ``Σ ΔQ·P_base``; the
table gives that change too. QE is split further, per indicator:

* statistics-based indicators (provisioning, water supply, recreation): ``statistics_effect``
  (their pixels are an allocation of a district total, so a pixel split would be spurious);
* per-pixel model indicators, when both years share grid and districts: per pixel
  ``d = v_b·f_b/f_a − v_a``; ``conversion_effect`` sums ``d`` over pixels whose land-cover
  class changed, ``condition_effect`` over pixels whose class stayed; both are rounded to
  the fen once per district × indicator, and ``rounding_residual = QE_model − conversion −
  condition`` holds the difference between cell-rounded table values and pixel sums (a few
  fen at most).

Identities that hold exactly in every row: ``change_current = quantity_effect +
price_effect``, ``quantity_effect = model_effect + statistics_effect`` and, when split,
``model_effect = conversion_effect + condition_effect + rounding_residual``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting import aggregation as agg
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.context import Context
from ecovalue.accounting.pipeline import constant_factor, prepare, run_account
from ecovalue.accounting.profiles import Profile, load_profile
from ecovalue.accounting.result import RunResult
from ecovalue.datasets.loader import Dataset
from ecovalue.errors import InputError
from ecovalue.units import format_unit, round_significant

DatasetRef = Dataset | str | Path
Progress = Callable[[str, int, int], None]
ZERO = Decimal("0.00")

DECOMPOSITION_COLUMNS = (
    "year_from", "year_to", "region_code", "region_name_zh", "region_name_en", "indicator",
    "indicator_zh", "indicator_en", "basis", "value_from", "value_to", "change_current",
    "value_from_constant", "value_to_constant", "change_constant", "value_to_at_from_prices",
    "quantity_effect", "price_effect", "model_effect", "statistics_effect", "conversion_effect",
    "condition_effect", "rounding_residual", "converted_area_km2",
)  # fmt: skip
SERIES_COLUMNS = (
    "year", "region_code", "region_name_zh", "region_name_en", "indicator", "indicator_zh",
    "indicator_en", "physical_quantity", "physical_unit", "value_current", "value_constant",
)  # fmt: skip


@dataclass
class SeriesResult:
    """Runs of several years (sorted by year) with the series and decomposition tables."""

    profile_id: str
    base_year: int
    runs: list[RunResult]
    datasets: list[Dataset]
    factors: list[Decimal]  # constant-price factor I[base]/I[year] of each run
    table: pd.DataFrame  # SERIES_COLUMNS, one row per year × region × indicator plus "GEP"
    decomposition: pd.DataFrame  # DECOMPOSITION_COLUMNS for each consecutive pair of years
    notes: list[str] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        return [r.year for r in self.runs]

    @property
    def synthetic(self) -> bool:
        return any(r.synthetic for r in self.runs)


def _items(
    items: Sequence[DatasetRef | tuple[DatasetRef, int | None]],
) -> list[tuple[DatasetRef, int | None]]:
    out = []
    for it in items:
        out.append(it if isinstance(it, tuple) else (it, None))
    if len(out) < 2:
        raise InputError(f"a series needs at least two datasets (one per year); got {len(out)}")
    return out


def run_series(
    items: Sequence[DatasetRef | tuple[DatasetRef, int | None]],
    profile: Profile | str | Path = "cn-2022",
    progress: Progress | None = None,
) -> SeriesResult:
    """Account each (dataset, year) with one profile and decompose consecutive changes.

    A year of None means the dataset's own year. Raises InputError when two items have the
    same year or the datasets do not describe the same districts.
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    loaded = []
    for i, (ref, year) in enumerate(_items(items)):
        if progress:
            progress("loading datasets", i, len(items))
        ds, _, y, _ = prepare(ref, prof, year)
        loaded.append((y, ds))
    years = [y for y, _ in loaded]
    if len(set(years)) != len(years):
        raise InputError(
            f"the series has the same year more than once ({sorted(years)}); give one dataset per "
            f"year, or set each dataset's year explicitly"
        )
    loaded.sort(key=lambda t: t[0])
    _check_same_regions([ds for _, ds in loaded])
    runs: list[RunResult] = []
    notes: list[str] = []
    factors: list[Decimal] = []
    for i, (y, ds) in enumerate(loaded):
        if progress:
            progress(f"accounting {y}", i, len(loaded))
        run = run_account(ds, prof, y)
        runs.append(run)
        factors.append(constant_factor(Context(ds, y, prof, prof.parameters), notes))
    datasets = [ds for _, ds in loaded]
    decomp = [
        decompose(runs[i], runs[i + 1], factors[i], factors[i + 1], notes)
        for i in range(len(runs) - 1)
    ]
    return SeriesResult(
        prof.id,
        prof.base_year,
        runs,
        datasets,
        factors,
        series_table(runs),
        pd.concat(decomp, ignore_index=True),
        list(dict.fromkeys(notes)),
    )


def _check_same_regions(datasets: list[Dataset]) -> None:
    first = [r.code for r in datasets[0].regions]
    for ds in datasets[1:]:
        codes = [r.code for r in ds.regions]
        if codes != first:
            raise InputError(
                f"dataset {ds.info.name} has regions {codes}, but {datasets[0].info.name} has {first}; "
                f"a series needs the same districts (same codes, same order) every year"
            )


def series_table(runs: list[RunResult]) -> pd.DataFrame:
    """Per year, region and indicator: physical quantity and value (current and constant), plus GEP."""
    rows = []
    for run in runs:
        t = run.table
        for reg in run.regions:
            sub = t[t["region_code"] == reg.code]
            for ind, g in sub.groupby("indicator", sort=False):
                spec = INDICATORS[str(ind)]
                rows.append(
                    (
                        run.year,
                        reg.code,
                        reg.name_zh,
                        reg.name_en,
                        ind,
                        spec.name_zh,
                        spec.name_en,
                        float(g["physical_quantity"].sum()),
                        str(g["physical_unit"].iloc[0]),
                        sum(g["value_current"], ZERO),
                        sum(g["value_constant"], ZERO),
                    )
                )
            rows.append(
                (
                    run.year,
                    reg.code,
                    reg.name_zh,
                    reg.name_en,
                    "GEP",
                    "生态系统生产总值",
                    "GEP",
                    float("nan"),
                    "",
                    sum(sub["value_current"], ZERO),
                    sum(sub["value_constant"], ZERO),
                )
            )
    return pd.DataFrame(rows, columns=list(SERIES_COLUMNS))


def comparable_landcover(a: RunResult, b: RunResult) -> bool:
    """True when both runs share grid and district raster, so pixels can be compared."""
    return (
        a.grid == b.grid
        and a.landcover.shape == b.landcover.shape
        and bool(np.array_equal(a.region_index, b.region_index))
    )


MONEY_PARTS = (
    "value_from", "value_to", "change_current", "value_from_constant", "value_to_constant",
    "change_constant", "value_to_at_from_prices", "quantity_effect", "price_effect", "model_effect",
    "statistics_effect", "conversion_effect", "condition_effect", "rounding_residual",
)  # fmt: skip


def is_statistics_based(indicator: str) -> bool:
    """Indicators whose pixels allocate a statistics total (not split by land-cover change)."""
    return INDICATORS[indicator].physical_method.startswith("statistics")


def _cell_sums(run: RunResult, code: str, ind: str) -> tuple[Decimal, Decimal]:
    t = run.table
    g = t[(t["region_code"] == code) & (t["indicator"] == ind)]
    return sum(g["value_current"], ZERO), sum(g["value_constant"], ZERO)


def _pixel_split(
    a: RunResult, b: RunResult, ind: str, rb: float, changed: np.ndarray, in_r: np.ndarray
) -> tuple[Decimal, Decimal]:
    """Σ (v_b·f_b/f_a − v_a) over converted and over unchanged pixels of one district."""
    va = a.layers[ind].value if ind in a.layers else np.zeros(a.landcover.shape)
    vb = b.layers[ind].value if ind in b.layers else np.zeros(b.landcover.shape)
    d = np.nan_to_num(vb, nan=0.0) * rb - np.nan_to_num(va, nan=0.0)
    return agg.to_money(float(d[changed & in_r].sum())), agg.to_money(
        float(d[~changed & in_r].sum())
    )


def _indicator_row(
    a: RunResult,
    b: RunResult,
    code: str,
    ind: str,
    ratio: Decimal,
    changed: np.ndarray | None,
    in_r: np.ndarray,
) -> dict[str, Any]:
    va, va_c = _cell_sums(a, code, ind)
    vb, vb_c = _cell_sums(b, code, ind)
    vb_at_a = (vb * ratio).quantize(agg.CENT)
    qe, pe = vb_at_a - va, vb - vb_at_a
    spec = INDICATORS[ind]
    row: dict[str, Any] = {
        "indicator": ind, "indicator_zh": spec.name_zh, "indicator_en": spec.name_en,
        "value_from": va, "value_to": vb, "change_current": vb - va, "value_from_constant": va_c,
        "value_to_constant": vb_c, "change_constant": vb_c - va_c, "value_to_at_from_prices": vb_at_a,
        "quantity_effect": qe, "price_effect": pe, "conversion_effect": None, "condition_effect": None,
        "rounding_residual": None,
    }  # fmt: skip
    if is_statistics_based(ind):
        row.update(basis="statistics", model_effect=ZERO, statistics_effect=qe)
        return row
    row.update(basis="model", model_effect=qe, statistics_effect=ZERO)
    if changed is not None:
        conv, cond = _pixel_split(a, b, ind, float(ratio), changed, in_r)
        row.update(
            conversion_effect=conv, condition_effect=cond, rounding_residual=qe - conv - cond
        )
    return row


def _sum_rows(rows: list[dict[str, Any]], **fixed: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict(fixed)
    for col in MONEY_PARTS:
        vals = [r[col] for r in rows if r.get(col) is not None]
        out[col] = sum(vals, ZERO) if vals else None
    return out


def decompose(
    a: RunResult, b: RunResult, f_a: Decimal, f_b: Decimal, notes: list[str] | None = None
) -> pd.DataFrame:
    """Decompose each district's value change from run ``a`` to run ``b`` (module docstring).

    ``f_a``/``f_b`` are the runs' constant-price factors I[base]/I[year]. Rows: every
    district × indicator, a "GEP" row per district, and the same for region "ALL".
    """
    if a.year >= b.year:
        raise InputError(f"decompose from an earlier to a later year; got {a.year} → {b.year}")
    notes = notes if notes is not None else []
    ratio = f_b / f_a
    changed = (a.landcover != b.landcover) if comparable_landcover(a, b) else None
    if changed is None:
        notes.append(
            f"{a.year}→{b.year}: the land-cover rasters do not share grid and districts, so the "
            f"quantity effect is not split into land-cover conversion and condition change"
        )
    inds = [i for i in INDICATORS if i in set(a.table["indicator"]) | set(b.table["indicator"])]
    km2 = b.grid.pixel_area_m2 / 1e6
    head = {"year_from": a.year, "year_to": b.year}
    rows: list[dict[str, Any]] = []
    by_ind: dict[str, list[dict[str, Any]]] = {i: [] for i in inds}
    for r, reg in enumerate(b.regions):
        in_r = b.region_index == r
        area = float(np.sum(changed & in_r)) * km2 if changed is not None else None
        names = {
            "region_code": reg.code,
            "region_name_zh": reg.name_zh,
            "region_name_en": reg.name_en,
            "converted_area_km2": area,
        }
        ind_rows = [
            {**head, **names, **_indicator_row(a, b, reg.code, i, ratio, changed, in_r)}
            for i in inds
        ]
        for row in ind_rows:
            by_ind[row["indicator"]].append(row)
        rows += ind_rows
        rows.append(_sum_rows(ind_rows, **head, **names, **_GEP))
    total_area = (
        float(np.sum(changed & (b.region_index >= 0))) * km2 if changed is not None else None
    )
    names = {
        "region_code": "ALL",
        "region_name_zh": "全部",
        "region_name_en": "All regions",
        "converted_area_km2": total_area,
    }
    all_rows = [
        _sum_rows(
            by_ind[i],
            **head,
            **names,
            indicator=i,
            indicator_zh=INDICATORS[i].name_zh,
            indicator_en=INDICATORS[i].name_en,
            basis=by_ind[i][0]["basis"],
        )
        for i in inds
        if by_ind[i]
    ]
    rows += all_rows
    rows.append(_sum_rows(all_rows, **head, **names, **_GEP))
    return pd.DataFrame(rows, columns=list(DECOMPOSITION_COLUMNS))


_GEP = {
    "indicator": "GEP",
    "indicator_zh": "生态系统生产总值",
    "indicator_en": "GEP",
    "basis": "total",
}


# --------------------------------------------------------------------------- outputs


def write_workbook(
    path: Path,
    sheets: Sequence[tuple[str, str, str, pd.DataFrame]],
    synthetic: bool,
    headers: dict[str, str] | None = None,
) -> Path:
    """An XLSX of tables: one sheet per (name, title, note, table), styled as the 核算表.

    ``headers`` maps column names to display headers (e.g. bilingual). Decimal money stays exact.
    """
    from openpyxl import Workbook

    from ecovalue.reports.xlsx import SYNTHETIC_NOTE, _autowidth, _header, _row, _title

    wb = Workbook()
    wb.remove(wb.active)
    for name, title, note, df in sheets:
        ws = wb.create_sheet(name)
        df = _for_users(df)
        cols = list(df.columns)
        _title(ws, title, f"{note}  {SYNTHETIC_NOTE}" if synthetic else note, len(cols))
        _header(ws, 3, [(headers or {}).get(c, c) for c in cols])
        for i, rec in enumerate(df.itertuples(index=False)):
            _row(
                ws,
                4 + i,
                [round_significant(v) if isinstance(v, float) else v for v in rec],  # no float noise
                fmt={j + 1: "General" for j, c in enumerate(cols) if c.startswith("year")},
            )
        _autowidth(ws, 3)
        if synthetic:
            ws.oddHeader.center.text = "SYNTHETIC DATA / 合成数据"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def _for_users(df: pd.DataFrame) -> pd.DataFrame:
    """The table with its unit columns spelled as users read them (``format_unit``)."""
    out = df.copy()
    for c in ("unit", "physical_unit"):
        if c in out.columns:
            out[c] = out[c].map(lambda u: format_unit(u) if isinstance(u, str) else u)
    return out


def _csv(df: pd.DataFrame, path: Path) -> Path:
    out = _for_users(df)
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, Decimal)).any():
            out[c] = out[c].map(lambda v: "" if v is None else str(v))
    out.to_csv(path, index=False, encoding="utf-8")
    return path


HEADERS_ZH = {
    "year": "年份 Year", "year_from": "起始年 From", "year_to": "终止年 To", "region_code": "区划代码 Code",
    "region_name_zh": "区名称", "region_name_en": "District", "indicator": "指标代码 Indicator id",
    "indicator_zh": "指标", "indicator_en": "Indicator", "basis": "类型 Basis",
    "physical_quantity": "实物量 Physical", "physical_unit": "单位 Unit",
    "value_current": "价值量(当年价,元) Value, current", "value_constant": "价值量(不变价,元) Value, constant",
    "value_from": "起始年价值(当年价) From, current", "value_to": "终止年价值(当年价) To, current",
    "change_current": "变化(当年价) Change, current", "value_from_constant": "起始年(不变价) From, constant",
    "value_to_constant": "终止年(不变价) To, constant", "change_constant": "变化(不变价) Change, constant",
    "value_to_at_from_prices": "终止年按起始年价格 To at from-year prices",
    "quantity_effect": "数量效应 Quantity effect", "price_effect": "价格效应 Price effect",
    "model_effect": "模型指标数量效应 Model indicators", "statistics_effect": "统计指标数量效应 Statistics-based",
    "conversion_effect": "土地覆被转换 Land-cover conversion", "condition_effect": "类内状况变化 Condition change",
    "rounding_residual": "舍入差 Rounding residual", "converted_area_km2": "转换面积(km²) Converted area",
}  # fmt: skip


def decomposition_chart(result: SeriesResult, year_from: int, year_to: int) -> bytes:
    """PNG: each district's GEP change split into conversion, condition, statistics and price effects."""
    from ecovalue.reports.fonts import figure_png, new_figure

    d = result.decomposition
    g = d[
        (d["year_from"] == year_from)
        & (d["year_to"] == year_to)
        & (d["indicator"] == "GEP")
        & (d["region_code"] != "ALL")
    ]
    parts = [
        ("conversion_effect", "土地覆被转换 Land-cover conversion", "#C0504D"),
        ("condition_effect", "类内状况变化 Condition change", "#2E8B57"),
        ("rounding_residual", "舍入差 Rounding", "#999999"),
        ("statistics_effect", "统计指标数量 Statistics-based quantity", "#E3A33B"),
        ("price_effect", "价格效应 Price effect", "#4F81BD"),
    ]
    if g["conversion_effect"].isna().all():
        parts = [
            ("model_effect", "模型指标数量效应 Model-indicator quantity", "#2E8B57"),
            *parts[3:],
        ]
    fig = new_figure(9.0, 0.45 * len(g) + 2.2)
    ax = fig.add_subplot()
    labels = [f"{z} {e}" for z, e in zip(g["region_name_zh"], g["region_name_en"], strict=True)]
    y = np.arange(len(g))
    pos, neg = np.zeros(len(g)), np.zeros(len(g))
    for col, label, color in parts:
        v = np.array([float(x or 0) for x in g[col]]) / 1e4
        left = np.where(v >= 0, pos, neg)
        ax.barh(y, v, left=left, color=color, label=label, height=0.6)
        pos, neg = pos + np.clip(v, 0, None), neg + np.clip(v, None, 0)
    total = np.array([float(x) for x in g["change_current"]]) / 1e4
    ax.scatter(
        total, y, marker="D", color="black", zorder=3, label="总变化(当年价) Total change, current"
    )
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("万元 10 000 CNY")
    ax.set_title(f"GEP变化分解 {year_from}→{year_to} / Decomposition of the GEP change")
    ax.legend(fontsize=8, loc="best")
    if result.synthetic:
        fig.text(
            0.99, 0.01, "合成数据 SYNTHETIC", ha="right", va="bottom", color="#C00000", fontsize=9
        )
    return figure_png(fig)


def series_chart(result: SeriesResult) -> bytes:
    """PNG: GEP of each district by year at constant prices of the base year."""
    from ecovalue.reports.fonts import figure_png, new_figure

    t = result.table[result.table["indicator"] == "GEP"]
    fig = new_figure(9.0, 5.0)
    ax = fig.add_subplot()
    for _code, g in t.groupby("region_code", sort=False):
        ax.plot(
            g["year"],
            [float(v) / 1e8 for v in g["value_constant"]],
            marker="o",
            label=f"{g['region_name_zh'].iloc[0]} {g['region_name_en'].iloc[0]}",
        )
    ax.set_xticks(result.years)
    ax.set_ylabel(
        f"亿元（{result.base_year}年不变价）100 million CNY, constant {result.base_year} prices"
    )
    ax.set_title("各区GEP时间序列 / GEP by district and year")
    ax.legend(fontsize=7, ncol=2)
    if result.synthetic:
        fig.text(
            0.99, 0.01, "合成数据 SYNTHETIC", ha="right", va="bottom", color="#C00000", fontsize=9
        )
    return figure_png(fig)


def write_series(result: SeriesResult, out_dir: str | Path) -> dict[str, Path]:
    """series.csv, decomposition.csv, series.xlsx and PNG charts under ``out_dir``."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    paths = {
        "series.csv": _csv(result.table, out / "series.csv"),
        "decomposition.csv": _csv(result.decomposition, out / "decomposition.csv"),
    }
    d = result.decomposition
    gep = d[d["indicator"] == "GEP"].drop(
        columns=["indicator", "indicator_zh", "indicator_en", "basis"]
    )
    const = (
        result.table[result.table["indicator"] == "GEP"]
        .pivot_table(
            index=["region_code", "region_name_zh", "region_name_en"],
            columns="year",
            values="value_constant",
            aggfunc="first",
            sort=False,
        )
        .reset_index()
    )
    const.columns = [str(c) for c in const.columns]
    sheets = [
        (
            "时间序列",
            f"各区GEP（{result.base_year}年不变价，元）/ GEP by year, constant prices",
            "单位：元",
            const,
        ),
        (
            "变化分解",
            "各区GEP变化分解 / Decomposition of each district's GEP change",
            "单位：元；数量效应+价格效应=当年价变化 / quantity + price effect = change at current prices",
            gep,
        ),
        ("分解明细", "分指标变化分解 / Decomposition by indicator", "单位：元", d),
        ("序列明细", "分指标时间序列 / Series by indicator", "单位：元", result.table),
        (
            "说明",
            "说明 / Notes",
            "见 docs/decisions/0005",
            pd.DataFrame({"note": result.notes or ["—"]}),
        ),
    ]
    paths["series.xlsx"] = write_workbook(out / "series.xlsx", sheets, result.synthetic, HEADERS_ZH)
    for a, b in zip(result.years[:-1], result.years[1:], strict=True):
        p = out / "figures" / f"decomposition_{a}_{b}.png"
        p.write_bytes(decomposition_chart(result, a, b))
        paths[p.name] = p
    paths["gep_series.png"] = out / "figures" / "gep_series.png"
    paths["gep_series.png"].write_bytes(series_chart(result))
    return paths
