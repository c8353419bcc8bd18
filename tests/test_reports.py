"""Tests of ecovalue.reports: workbook totals, HTML content, maps, charts and CJK fonts.

The RunResult is built by hand (two 1 km × 2 km districts on a 20 × 20 grid of 100 m
pixels in EPSG:4547) so these tests do not depend on the pipeline.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import font_manager
from openpyxl import load_workbook
from shapely.geometry import box

from ecovalue.accounting.result import (
    CATEGORY_ZH,
    ECOSYSTEM_TYPE_ZH,
    TABLE_COLUMNS,
    IndicatorLayer,
    ParameterUsed,
    Region,
    RunResult,
)
from ecovalue.errors import InputError
from ecovalue.raster.grid import Grid
from ecovalue.reports import write_all
from ecovalue.reports.charts import render_charts
from ecovalue.reports.fonts import CJK_FAMILY, cjk_font_path, new_figure, use_cjk_font
from ecovalue.reports.html import write_html
from ecovalue.reports.maps import block_mean, quantile_breaks, render_maps, value_per_ha
from ecovalue.reports.xlsx import (
    ASSUMED_NOTE,
    SYNTHETIC_NOTE,
    district_summary,
    write_xlsx,
)
from ecovalue.units import round_significant

LEFT, TOP, RES = 500_000.0, 3_400_000.0, 100.0
NAMES = {
    "agriculture": ("农业产品", "Agricultural products", "provisioning", "t"),
    "water_conservation": ("水源涵养", "Water conservation", "regulating", "m**3"),
    "recreation": ("休闲游憩", "Recreation and tourism", "cultural", "visit"),
}
# (region, indicator, ecosystem type, physical, value current 元, value constant 元)
ROWS = [
    ("420102", "agriculture", "farmland", 100.0, "12345.67", "12000.00"),
    ("420103", "agriculture", "farmland", 50.0, "6172.84", "6000.00"),
    ("420102", "water_conservation", "forest", 1000.0, "23456.78", "23456.78"),
    ("420102", "water_conservation", "water", 500.0, "1111.11", "1111.11"),
    ("420103", "water_conservation", "forest", 2000.0, "46913.57", "46913.57"),
    ("420102", "recreation", "all", 300.0, "99999.99", "90000.00"),
    ("420103", "recreation", "all", float("nan"), "0.01", "0.01"),
]
# District GEP by hand, 元 → 万元 (÷ 10⁴):
#   420102: 12345.67 + 23456.78 + 1111.11 + 99999.99 = 136913.55 元 = 13.691355 万元
#   420103:  6172.84 + 46913.57 + 0.01               =  53086.42 元 =  5.308642 万元
#   total                                             = 189999.97 元 = 18.999997 万元
GEP_WAN = {"420102": Decimal("13.691355"), "420103": Decimal("5.308642")}


def _table(rows: list[tuple]) -> pd.DataFrame:
    names = {"420102": ("江岸区", "Jiang'an"), "420103": ("江汉区", "Jianghan")}
    recs = []
    for code, ind, eco, q, cur, const in rows:
        zh, en, cat, unit = NAMES[ind]
        recs.append(
            {
                "region_code": code, "region_name_zh": names[code][0],
                "region_name_en": names[code][1], "year": 2023, "indicator": ind,
                "indicator_zh": zh, "indicator_en": en, "category": cat,
                "category_zh": CATEGORY_ZH[cat], "ecosystem_type": eco,
                "ecosystem_type_zh": ECOSYSTEM_TYPE_ZH[eco], "physical_quantity": q,
                "physical_unit": unit, "value_current": Decimal(cur),
                "value_constant": Decimal(const), "method": "test", "source": "model",
            }
        )  # fmt: skip
    return pd.DataFrame(recs, columns=list(TABLE_COLUMNS))


def make_result(synthetic: bool = True, rows: list[tuple] | None = None) -> RunResult:
    grid = Grid("EPSG:4547", __import__("affine").Affine(RES, 0, LEFT, 0, -RES, TOP), 20, 20)
    regions = [
        Region("420102", "江岸区", "Jiang'an", box(LEFT, TOP - 2000, LEFT + 1000, TOP), 2.0),
        Region("420103", "江汉区", "Jianghan", box(LEFT + 1000, TOP - 2000, LEFT + 2000, TOP), 2.0),
    ]
    region_index = np.zeros((20, 20), dtype=np.int32)
    region_index[:, 10:] = 1
    rr, cc = np.mgrid[0:20, 0:20]
    wc = np.exp(rr / 4.0) * 10.0  # skewed, like real service values
    wc[:5, :5] = 0.0  # a patch of zero value (urban)
    agri = np.where(cc % 3 == 0, 40.0, np.nan)  # only on farmland pixels
    layers = {
        "water_conservation": IndicatorLayer("water_conservation", wc / 10, "m**3", wc),
        "agriculture": IndicatorLayer("agriculture", agri / 100, "t", agri),
    }
    params = [
        ParameterUsed("reservoir_cost", "6.1107", "CNY/m**3", 2010, "China",
                      "[S1] Ouyang et al. 2013, reservoir construction cost", "published",
                      "水库单位库容造价", "Reservoir cost per m³"),
        ParameterUsed("recreation.consumer_surplus", "0.3", "1", None, "Wuhan",
                      "assumed — set your own", "assumed", "消费者剩余系数", "Consumer surplus share"),
    ]  # fmt: skip
    return RunResult(
        dataset_name="test-city", dataset_title_zh="测试市", dataset_title_en="Test city",
        synthetic=synthetic, year=2023, profile_id="cn-2022-trial", base_year=2020, grid=grid,
        regions=regions, table=_table(rows if rows is not None else ROWS), layers=layers,
        landcover=np.ones((20, 20), dtype=np.int16), region_index=region_index, parameters=params,
        not_applicable={"sand_fixation": "无风速数据，RWEQ不适用 no wind data for RWEQ"},
        notes=["水资源供给按用水统计 water supply from statistics"],
        hashes={"dataset": "sha256:aaa111", "profile": "sha256:bbb222"},
        timings={"models": 1.25},
        gdp={"420102": Decimal("1000000.00"), "420103": Decimal("2000000.00")},
    )  # fmt: skip


@pytest.fixture(scope="module")
def images() -> dict[str, bytes]:
    r = make_result()
    return {**render_maps(r), **render_charts(r)}


def _dec(v: object) -> Decimal:
    # openpyxl reads numbers as float; repr() gives the shortest text that round-trips,
    # i.e. exactly the digits written from the Decimal
    return Decimal(repr(v))


# ------------------------------------------------------------------ files


def test_write_all_writes_html_xlsx_and_pngs(tmp_path: Path) -> None:
    paths = write_all(make_result(), tmp_path)
    assert paths["html"] == tmp_path / "report.html"
    assert paths["xlsx"].suffix == ".xlsx"
    # statistics-only recreation has no layer, so two indicator maps
    figs = {k for k in paths if k not in ("html", "xlsx")}
    assert figs == {"districts", "map_agriculture", "map_water_conservation", "chart_category",
                    "chart_districts", "chart_indicators", "chart_ecosystems"}  # fmt: skip
    for k in figs:
        assert paths[k].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["html"].stat().st_size < 10_000_000
    # the page carries a CJK font subset holding the characters it shows
    html = paths["html"].read_text(encoding="utf-8")
    woff = re.search(r"data:font/woff;base64,([A-Za-z0-9+/=]+)", html)
    assert woff is not None
    cmap = TTFont(io.BytesIO(base64.b64decode(woff.group(1)))).getBestCmap()
    assert all(ord(ch) in cmap for ch in "水源涵养江岸区合成数据")


# ------------------------------------------------------------------ xlsx


def test_xlsx_total_row_is_exact_sum_of_districts(tmp_path: Path) -> None:
    wb = load_workbook(write_xlsx(make_result(), tmp_path / "a.xlsx"))
    assert wb.sheetnames == ["总表", "实物量表", "价值量表", "价值量表(不变价)", "生态系统类型",
                             "参数表", "明细", "说明"]  # fmt: skip
    ws = wb["总表"]
    header = [c.value for c in ws[3]]
    assert ws.cell(6, 2).value == "合计"
    for name in ("物质供给", "调节服务", "文化服务", "GEP", "GEP(不变价)", "GDP", "面积(km²)"):
        j = header.index(name) + 1
        assert _dec(ws.cell(6, j).value) == _dec(ws.cell(4, j).value) + _dec(ws.cell(5, j).value)
    gep = header.index("GEP") + 1
    assert _dec(ws.cell(4, gep).value) == GEP_WAN["420102"]
    assert _dec(ws.cell(6, gep).value) == Decimal("18.999997")
    # GEP/km² of the total is total GEP / total area, not a sum: 18.999997 / 4 = 4.74999925,
    # held to the 0.01 万元/km² its column shows
    assert _dec(ws.cell(6, header.index("地均GEP(万元/km²)") + 1).value) == Decimal("4.75")
    assert ws.freeze_panes == "A4"
    assert ws.cell(4, gep).number_format == "#,##0.00"


def test_xlsx_value_sheet_totals_match_summary(tmp_path: Path) -> None:
    wb = load_workbook(write_xlsx(make_result(), tmp_path / "a.xlsx"))
    ws = wb["价值量表"]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    subtotals = [r for r in rows if r[1] == "小计"]
    grand = next(r for r in rows if r[1] == "GEP合计")
    assert len(subtotals) == 3
    for j in (3, 4, 5):  # two districts and 合计
        assert _dec(grand[j]) == sum((_dec(s[j]) for s in subtotals), Decimal(0))
    assert _dec(grand[5]) == Decimal("18.999997")
    phys = {r[1]: r for r in wb["实物量表"].iter_rows(min_row=4, values_only=True)}
    # water conservation: 1000 + 500 = 1500 m³ in 420102; 2000 in 420103; 3500 total
    assert phys["水源涵养"][3:7] == ("m³", 1500.0, 2000.0, 3500.0)
    assert phys["休闲游憩"][5] is None  # all-NaN physical quantity stays blank, not 0


def test_xlsx_parameters_about_and_detail(tmp_path: Path) -> None:
    wb = load_workbook(write_xlsx(make_result(), tmp_path / "a.xlsx"))
    ps = wb["参数表"]
    assumed = next(
        r for r in ps.iter_rows(min_row=4) if r[0].value == "recreation.consumer_surplus"
    )
    assert assumed[-1].value == ASSUMED_NOTE
    assert assumed[0].fill.fgColor.rgb.endswith("FFE699")
    published = next(r for r in ps.iter_rows(min_row=4) if r[0].value == "reservoir_cost")
    assert published[-1].value is None and "[S1]" in published[7].value
    about = wb["说明"]
    cell = next(c for row in about.iter_rows() for c in row if c.value == SYNTHETIC_NOTE)
    assert cell.font.b and cell.font.color.rgb.endswith("FF0000")
    texts = " ".join(str(c.value) for row in about.iter_rows() for c in row if c.value)
    assert "no wind data for RWEQ" in texts and "sha256:aaa111" in texts
    detail = wb["明细"]
    assert detail.cell(1, 1).value == "区划代码" and detail.max_row == len(ROWS) + 1
    plain = load_workbook(write_xlsx(make_result(synthetic=False), tmp_path / "b.xlsx"))
    assert SYNTHETIC_NOTE not in [c.value for row in plain["说明"].iter_rows() for c in row]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["420102", "420103"]),
                          st.sampled_from(list(NAMES)),
                          st.integers(0, 10**13)), min_size=1, max_size=12))  # fmt: skip
def test_district_summary_total_is_exact_sum(cells: list[tuple[str, str, int]]) -> None:
    # any amounts in fen: the 合计 row equals the Decimal sum of the district rows and the
    # table total, with no rounding loss
    rows = [(c, i, "all", 1.0, str(Decimal(f) / 100), "0.00") for c, i, f in cells]
    result = make_result(rows=rows)
    districts, total = district_summary(result)
    assert total.gep == sum((d.gep for d in districts), Decimal(0))
    assert total.gep * 10_000 == result.totals()["gep_current"]
    for cat in CATEGORY_ZH:
        assert total.by_category[cat] == sum((d.by_category[cat] for d in districts), Decimal(0))


def test_bad_table_errors_name_the_problem() -> None:
    r = make_result()
    bad = dataclasses.replace(r, table=r.table.assign(value_current=1.5))
    with pytest.raises(InputError, match=r"value_current.*float.*Decimal"):
        write_xlsx(bad, Path("/nonexistent/x.xlsx"))
    stray = r.table.copy()
    stray.loc[0, "region_code"] = "999999"
    with pytest.raises(InputError, match="999999"):
        district_summary(dataclasses.replace(r, table=stray))


# ------------------------------------------------------------------ html


def test_html_content_and_synthetic_banner(tmp_path: Path, images: dict[str, bytes]) -> None:
    html = write_html(make_result(), tmp_path / "s.html", images, embed_font=False).read_text(
        encoding="utf-8"
    )
    assert 'id="synthetic-banner"' in html and SYNTHETIC_NOTE in html
    for text in ("水源涵养", "农业产品", "休闲游憩", "江岸区", "[S1] Ouyang et al. 2013",
                 "no wind data for RWEQ", "assumed — set your own", "sha256:bbb222"):  # fmt: skip
        assert text in html, text
    assert html.count("data:image/png;base64,") == len(images)
    # 420102 GEP 13.691355 万元 shown with two decimals
    assert "13.69" in html
    plain = write_html(make_result(synthetic=False), tmp_path / "p.html", images, False)
    text = plain.read_text(encoding="utf-8")
    assert "synthetic-banner" not in text and SYNTHETIC_NOTE not in text


def test_html_escapes_text(tmp_path: Path, images: dict[str, bytes]) -> None:
    r = make_result()
    r.notes.append("<script>alert(1)</script>")
    html = write_html(r, tmp_path / "e.html", images, embed_font=False).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


# ------------------------------------------------------------------ maps and fonts


def test_value_per_ha_and_block_mean() -> None:
    # 30 m pixels are 0.09 ha: 9 元/pixel → 100 元/ha
    assert value_per_ha(np.array([9.0]), 900.0)[0] == pytest.approx(100.0)
    with pytest.raises(InputError, match="not positive"):
        value_per_ha(np.array([1.0]), 0.0)
    a = np.array([[1, 2, 3], [4, np.nan, 6], [7, 8, 9]], dtype=float)
    m, f = block_mean(a, max_px=2)
    # blocks (padded with NaN): (1+2+4)/3, (3+6)/2, (7+8)/2, 9
    assert f == 2
    np.testing.assert_allclose(m, [[7 / 3, 4.5], [7.5, 9.0]])


def test_quantile_breaks_zero_class() -> None:
    # zeros get their own class [0, 1); quantiles of [1, 2, 3, 4] at 0, ½, 1 are 1, 2.5, 4
    b = quantile_breaks(np.array([0, 0, 1, 2, 3, 4, np.nan]), n_classes=2)
    np.testing.assert_allclose(b, [0, 1, 2.5, 4])
    assert list(quantile_breaks(np.array([5.0, 5.0]))) == [4.5, 5.5]


def test_cjk_font_is_used_and_no_glyph_missing() -> None:
    path = use_cjk_font()
    assert path == cjk_font_path() and "mplfonts" in str(path)
    found = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    assert Path(found) == path
    assert (
        Path(
            font_manager.findfont(
                font_manager.FontProperties(family=[CJK_FAMILY]), fallback_to_default=False
            )
        )
        == path
    )
    fig = new_figure(3, 2)
    ax = fig.add_subplot()
    ax.set_title("生态系统生产总值 水源涵养 −1 m³")
    ax.plot([0, 1], [-1, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.canvas.draw()
    glyph = [w for w in caught if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert not glyph, [str(w.message) for w in glyph]


def test_xlsx_cells_hold_rounded_values_not_float_noise(tmp_path: Path) -> None:
    # a physical quantity with float noise, as summing pixels gives (7014144.1 m³ of water)
    rows = [*ROWS[:2], ("420102", "water_conservation", "forest", 7014144.099999359, "1.00", "1.00"),
            ("420103", "water_conservation", "forest", 0.000123456789, "1.00", "1.00")]  # fmt: skip
    result = make_result(rows=rows)
    result = dataclasses.replace(
        result, regions=[dataclasses.replace(r, area_km2=r.area_km2 + 1 / 3) for r in result.regions]
    )
    wb = load_workbook(write_xlsx(result, tmp_path / "r.xlsx"))
    ws = wb["明细"]
    header = [c.value for c in ws[1]]
    q = header.index("实物量") + 1
    cells = {ws.cell(r, q).value: ws.cell(r, q).number_format for r in range(2, ws.max_row + 1)}
    assert 7014144.1 in cells and cells[7014144.1] == "#,##0.00"
    assert 0.000123456789 in cells and cells[0.000123456789] == "0.000000"  # 0.000123 shows
    phys = wb["实物量表"]
    assert 7014144.1 in [c.value for row in phys.iter_rows() for c in row]
    assert "9位有效数字" in phys.cell(2, 1).value  # the sheet states the rule
    summary = wb["总表"]
    head = [c.value for c in summary[3]]
    assert summary.cell(4, head.index("面积(km²)") + 1).value == 2.33  # 2.3333… km² to 0.01
    # no cell anywhere holds float noise: money is whole fen (≤ 6 decimals in 万元), the rest
    # holds at most QUANTITY_SIGNIFICANT_DIGITS significant digits
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for c in row:
                v = c.value
                if isinstance(v, float):
                    assert v == round(v, 6) or v == round_significant(v), (sheet.title, c.coordinate, v)
