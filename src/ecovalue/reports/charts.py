"""Charts of a run: GEP by category, district ranking, indicators and ecosystem types.

All amounts are current-price GEP in 亿元 (10⁸ 元), computed from the Decimal table and
converted to float only for drawing. Labels are bilingual (Chinese first).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ecovalue.accounting.result import CATEGORY_ZH, RunResult
from ecovalue.reports.fonts import figure_png, new_figure
from ecovalue.reports.xlsx import (
    CATEGORY_EN,
    ZERO,
    district_summary,
    ecosystem_label,
    indicator_info,
    to_yi,
)
from ecovalue.units import format_quantity

CATEGORY_COLOR = {"provisioning": "#E3A33B", "regulating": "#2E8B57", "cultural": "#8E5BA8"}
SYNTHETIC_MARK = "合成数据 SYNTHETIC"
YI_LABEL = "亿元（当年价）100 million yuan, current prices"


def _finish(fig: Figure, synthetic: bool) -> Figure:
    if synthetic:
        fig.text(0.01, 0.995, SYNTHETIC_MARK, ha="left", va="top", fontsize=7, color="#C00000")
    return fig


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "无数据 no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def category_chart(result: RunResult) -> Figure:
    """Donut of GEP by category (物质供给 / 调节服务 / 文化服务), with 亿元 and shares."""
    by_cat = result.totals()["by_category"]
    total = sum(by_cat.values(), ZERO)
    fig = new_figure(6.4, 4.2)
    ax = fig.add_subplot()
    ax.set_title(f"GEP构成  GEP by category（{result.year}）", fontsize=11)
    parts = [(c, float(to_yi(v))) for c, v in by_cat.items() if v > 0]
    if not parts or total <= 0:
        _empty(ax)
        return _finish(fig, result.synthetic)
    gep = float(to_yi(total))
    labels = [
        f"{CATEGORY_ZH[c]} {CATEGORY_EN[c]}\n{format_quantity(v)} 亿元 ({v / gep:.1%})" for c, v in parts
    ]
    ax.pie(
        [v for _, v in parts],
        labels=labels,
        colors=[CATEGORY_COLOR[c] for c, _ in parts],
        startangle=90,
        counterclock=False,
        wedgeprops={"width": 0.38, "edgecolor": "white"},
        textprops={"fontsize": 8},
    )
    ax.text(0, 0, f"GEP\n{format_quantity(gep)}\n亿元", ha="center", va="center", fontsize=10)
    ax.set_aspect("equal")
    return _finish(fig, result.synthetic)


def district_ranking_chart(result: RunResult) -> Figure:
    """Horizontal bars of GEP by district, largest on top, stacked by category (亿元)."""
    rows, _ = district_summary(result)
    rows = sorted(rows, key=lambda r: r.gep)
    fig = new_figure(7.0, 1.3 + 0.32 * max(len(rows), 2))
    ax = fig.add_subplot()
    ax.set_title(f"各区GEP排名  GEP ranking by district（{result.year}）", fontsize=11)
    if not rows:
        _empty(ax)
        return _finish(fig, result.synthetic)
    ys = list(range(len(rows)))
    left = [0.0] * len(rows)
    for c in CATEGORY_ZH:
        vals = [float(r.by_category[c] / 10_000) for r in rows]
        ax.barh(ys, vals, left=left, color=CATEGORY_COLOR[c],
                label=f"{CATEGORY_ZH[c]} {CATEGORY_EN[c]}")  # fmt: skip
        left = [a + b for a, b in zip(left, vals, strict=True)]
    for y, r in enumerate(rows):
        gep = float(r.gep / 10_000)
        ax.text(max(gep, 0), y, " " + format_quantity(gep), va="center", fontsize=7)
    ax.set_yticks(ys, [f"{r.name_zh} {r.name_en}" for r in rows])
    ax.set_xlabel(YI_LABEL, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.margins(x=0.12)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _finish(fig, result.synthetic)


def _barh(ax: Axes, labels: list[str], values: list[float], colors: list[str]) -> None:
    ys = list(range(len(values)))
    ax.barh(ys, values, color=colors)
    ax.set_yticks(ys, labels)
    for y, v in enumerate(values):
        ax.text(max(v, 0), y, " " + format_quantity(v), va="center", fontsize=7)
    ax.set_xlabel(YI_LABEL, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.margins(x=0.15)
    ax.spines[["top", "right"]].set_visible(False)


def indicator_chart(result: RunResult) -> Figure:
    """Horizontal bars of value by indicator (亿元), coloured by category, largest on top."""
    by_ind: dict[str, Decimal] = result.totals()["by_indicator"]
    infos = sorted(
        (i for i in indicator_info(result) if i.id in by_ind), key=lambda i: by_ind[i.id]
    )
    fig = new_figure(7.0, 1.3 + 0.32 * max(len(infos), 2))
    ax = fig.add_subplot()
    ax.set_title(f"各指标价值量  Value by indicator（{result.year}）", fontsize=11)
    if not infos:
        _empty(ax)
        return _finish(fig, result.synthetic)
    _barh(
        ax,
        [f"{i.name_zh} {i.name_en}" for i in infos],
        [float(to_yi(by_ind[i.id])) for i in infos],
        [CATEGORY_COLOR.get(i.category, "#888888") for i in infos],
    )
    handles = [
        Patch(color=CATEGORY_COLOR[c], label=f"{CATEGORY_ZH[c]} {CATEGORY_EN[c]}")
        for c in CATEGORY_ZH
    ]
    ax.legend(handles=handles, fontsize=7, loc="lower right", frameon=False)
    return _finish(fig, result.synthetic)


def ecosystem_chart(result: RunResult) -> Figure:
    """Horizontal bars of value by ecosystem type (亿元), largest on top."""
    by_type: dict[str, Decimal] = result.totals()["by_ecosystem_type"]
    items = sorted(by_type.items(), key=lambda kv: kv[1])
    fig = new_figure(7.0, 1.3 + 0.32 * max(len(items), 2))
    ax = fig.add_subplot()
    ax.set_title(f"各生态系统类型价值量  Value by ecosystem type（{result.year}）", fontsize=11)
    if not items:
        _empty(ax)
        return _finish(fig, result.synthetic)
    _barh(
        ax,
        [" ".join(ecosystem_label(e)) for e, _ in items],
        [float(to_yi(v)) for _, v in items],
        ["#4C9F70"] * len(items),
    )
    return _finish(fig, result.synthetic)


CHARTS = {
    "chart_category": category_chart,
    "chart_districts": district_ranking_chart,
    "chart_indicators": indicator_chart,
    "chart_ecosystems": ecosystem_chart,
}


def render_charts(result: RunResult, dpi: int = 110) -> dict[str, bytes]:
    """PNG bytes of every chart, keyed as in ``CHARTS``."""
    return {name: figure_png(make(result), dpi) for name, make in CHARTS.items()}


def write_charts(result: RunResult, out_dir: Path, dpi: int = 110) -> dict[str, Path]:
    """Write every chart as ``out_dir/<name>.png``; return name → path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, png in render_charts(result, dpi).items():
        paths[name] = out_dir / f"{name}.png"
        paths[name].write_bytes(png)
    return paths
