"""The single-file HTML report of a run (report.html).

Everything is embedded (PNG images as base64 data URIs, inline CSS, and a subset of the
Noto Sans CJK font holding just the characters the page uses, ~100 KB), so the file can
be mailed or archived alone and Chinese shows even where no CJK font is installed. Rendering uses Jinja2 with autoescaping; numbers are
formatted here from the Decimal tables of ``ecovalue.reports.xlsx``, so the report and
the workbook show the same figures.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.result import CATEGORY_ZH, RunResult
from ecovalue.reports.fonts import cjk_font_path
from ecovalue.reports.xlsx import (
    ASSUMED_NOTE,
    CATEGORY_EN,
    SYNTHETIC_NOTE,
    ZERO,
    DistrictRow,
    about_rows,
    check_table,
    district_summary,
    indicator_info,
    physical_matrix,
    to_wan,
    to_yi,
    value_matrix,
)
from ecovalue.units import DASH, format_amount, format_quantity, format_unit

if TYPE_CHECKING:
    from ecovalue.accounting.uncertainty import UncertaintyResult

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "report.html.j2"
EMBEDDED_FAMILY = "EcovalueCJK"

DISTRICT_HEADERS = (
    "区 District", "代码 Code", "面积 Area (km²)", "物质供给 Provisioning", "调节服务 Regulating",
    "文化服务 Cultural", "GEP", "地均GEP GEP/km² (万元/km²)", "GDP", "GEP/GDP",
)  # fmt: skip

CHART_CAPTIONS = {
    "chart_category": "GEP构成 GEP by category",
    "chart_districts": "各区GEP排名 GEP ranking by district",
    "chart_indicators": "各指标价值量 Value by indicator",
    "chart_ecosystems": "各生态系统类型价值量 Value by ecosystem type",
}


def _cards(result: RunResult, total: DistrictRow) -> list[dict[str, str]]:
    t = result.totals()
    gep = t["gep_current"]
    cards = [
        {"label": "GEP（当年价）GEP, current prices", "value": format_amount(to_yi(gep)), "unit": "亿元"},
        {"label": f"GEP（{result.base_year}年不变价）constant prices",
         "value": format_amount(to_yi(t["gep_constant"])), "unit": "亿元"},
        {"label": "地均GEP GEP per km²", "value": format_amount(total.gep_per_km2), "unit": "万元/km²"},
        {"label": "GEP/GDP", "value": format_amount(total.gep_gdp), "unit": "倍 ratio"},
    ]  # fmt: skip
    for c, v in t["by_category"].items():
        share = f"{v / gep:.1%}" if gep else DASH
        cards.append(
            {"label": f"{CATEGORY_ZH[c]} {CATEGORY_EN[c]}", "value": format_amount(to_yi(v)),
             "unit": f"亿元 · {share}"}
        )  # fmt: skip
    return cards


def _district_rows(rows: list[DistrictRow], total: DistrictRow) -> list[list[str]]:
    out = []
    for r in [*rows, total]:
        name = f"{r.name_zh} {r.name_en}"
        out.append(
            [name, r.code, format_amount(r.area_km2),
             *(format_amount(r.by_category[c]) for c in CATEGORY_ZH),
             format_amount(r.gep), format_amount(r.gep_per_km2), format_amount(r.gdp), format_amount(r.gep_gdp)]
        )  # fmt: skip
    return out


def _indicator_rows(result: RunResult) -> list[dict[str, str]]:
    cur, const, phys = (
        value_matrix(result),
        value_matrix(result, "value_constant"),
        physical_matrix(result),
    )
    rows = []
    for i in indicator_info(result):
        if i.id not in cur:
            continue
        q = phys.get(i.id)
        rows.append(
            {
                "category": f"{CATEGORY_ZH.get(i.category, i.category)} {CATEGORY_EN.get(i.category, '')}",
                "name": f"{i.name_zh} {i.name_en}",
                "physical": format_quantity(sum(q.values()) if q else None),
                "unit": format_unit(i.physical_unit),
                "current": format_amount(sum(cur[i.id].values(), ZERO)),
                "constant": format_amount(sum(const.get(i.id, {}).values(), ZERO)),
            }
        )
    return rows


def _not_applicable(result: RunResult) -> list[tuple[str, str]]:
    out = []
    for ind, reason in result.not_applicable.items():
        spec = INDICATORS.get(ind)
        name = f"{spec.name_zh} {spec.name_en} ({ind})" if spec else ind
        out.append((name, reason))
    return out


def _parameters(result: RunResult) -> list[dict[str, Any]]:
    return [
        {
            "id": p.id,
            "name": " ".join(x for x in (p.name_zh, p.name_en) if x),
            "value": p.value,
            "unit": format_unit(p.unit),
            "price_year": p.price_year if p.price_year is not None else DASH,
            "region": p.region,
            "source": p.source,
            "status": p.status,
            "assumed": p.status == "assumed",
        }
        for p in result.parameters
    ]


def _uncertainty(u: UncertaintyResult | None) -> dict[str, Any] | None:
    """Rows of the ranges section (万元), or None when the run has no Monte Carlo ranges."""
    if u is None:
        return None

    def cells(rec: Mapping[Any, Any]) -> list[str]:
        return [format_amount(to_wan(rec[k])) for k in ("point", "p5", "p50", "p95")]

    rows = [
        [f"{r['region_name_zh']} {r['region_name_en']}", *cells(r)]
        for r in u.regions.to_dict("records")
    ]
    rows.append(["合计 Total", *cells(u.total)])
    inds = [
        [f"{r['indicator_zh']} {r['indicator_en']}", *cells(r)]
        for r in u.indicators.to_dict("records")
        if r["p5"] != r["p95"]
    ]
    sens = u.sensitivity[u.sensitivity["target"] == "GEP"].head(10)
    return {
        "draws": u.draws,
        "seed": u.seed,
        "regions": rows,
        "indicators": inds,
        "sensitivity": [
            (r.rank, r.parameter, r.distribution, f"{r.rho2:.3f}", f"{r.share:.1%}")
            for r in sens.itertuples(index=False)
        ],
    }


def data_uri(png: bytes) -> str:
    """A base64 ``data:image/png`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def font_face_css(text: str) -> str:
    """An ``@font-face`` rule embedding the CJK font subset to the characters of ``text``."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # the subset keeps the whole font's bounding boxes: recomputing them costs a third of the
    # subsetting and changes no glyph
    font = TTFont(str(cjk_font_path()), lazy=True, recalcBBoxes=False)
    options = subset.Options()
    options.flavor = "woff"  # zlib-compressed; woff2 would need the brotli package
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(ch) for ch in text if ch.isprintable()}))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; '
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}'
    )


def render_html(
    result: RunResult,
    images: Mapping[str, bytes],
    embed_font: bool = True,
    ranges: UncertaintyResult | None = None,
) -> str:
    """The report as an HTML string; ``images`` maps names from ``maps``/``charts`` to PNGs.

    With ``embed_font`` the page carries its own CJK font subset (costs ~2 s to subset).
    """
    check_table(result)
    rows, total = district_summary(result)
    infos = {i.id: i for i in indicator_info(result)}
    maps = [
        (f"map_{i}", f"{infos[i].name_zh} {infos[i].name_en}")
        for i in infos
        if f"map_{i}" in images
    ]
    uris = {k: data_uri(v) for k, v in images.items()}
    uris.setdefault("districts", "")
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined
    )
    context = dict(
        r=result,
        synthetic_note=SYNTHETIC_NOTE,
        assumed_note=ASSUMED_NOTE,
        cards=_cards(result, total),
        district_headers=DISTRICT_HEADERS,
        district_rows=_district_rows(rows, total),
        indicator_rows=_indicator_rows(result),
        charts=[(k, v) for k, v in CHART_CAPTIONS.items() if k in images],
        maps=maps,
        images=uris,
        not_applicable=_not_applicable(result),
        parameters=_parameters(result),
        about=about_rows(result),
        uncertainty=_uncertainty(ranges),
    )
    template = env.get_template(TEMPLATE_NAME)
    html = template.render(font_css="", **context)
    if not embed_font:
        return html
    # subset to what the page shows: the rendered text without the image data
    css = font_face_css(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html))
    return template.render(font_css=Markup(css), **context)


def write_html(
    result: RunResult,
    path: Path,
    images: Mapping[str, bytes] | None = None,
    embed_font: bool = True,
    ranges: UncertaintyResult | None = None,
) -> Path:
    """Write the self-contained report to ``path`` and return it.

    ``images`` (name → PNG bytes, as from ``render_maps`` and ``render_charts``) is rendered
    here when not given.
    """
    if images is None:
        from ecovalue.reports.charts import render_charts
        from ecovalue.reports.maps import render_maps

        images = {**render_maps(result), **render_charts(result)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, images, embed_font, ranges), encoding="utf-8")
    return path
