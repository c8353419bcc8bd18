"""Outputs of a before/after scenario: comparison CSV, maps of value gained and lost, one-page HTML.

The summary (``summary.html``) is written for an approver: it leads with what the project loses
(each indicator whose value falls, the largest loss first, with its physical quantity), then
what it gains; then the plot's GEP before and after, the change inside the plot and outside it (where an indicator's effect reaches beyond the plot, the
page says which and why), a table by indicator in Chinese and English, the land-cover changes,
two maps and the notes. Everything is embedded in the one file (PNG as data URIs, a CJK font
subset), like report.html.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from matplotlib.colors import ListedColormap, TwoSlopeNorm
from matplotlib.figure import Figure

from ecovalue.accounting.scenarios import ScenarioResult
from ecovalue.reports.fonts import figure_png, new_figure
from ecovalue.reports.html import data_uri, font_face_css
from ecovalue.reports.maps import SYNTHETIC_MARK, block_mean, draw_outlines, value_per_ha
from ecovalue.reports.xlsx import SYNTHETIC_NOTE
from ecovalue.units import format_amount, format_quantity, format_unit

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "scenario.html.j2"
MAX_PANEL_PX = 1200  # long side of a map panel in pixels before block averaging


def _window(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return slice(0, mask.shape[0]), slice(0, mask.shape[1])
    h, w = mask.shape
    return (
        slice(max(0, rows.min() - margin), min(h, rows.max() + 1 + margin)),
        slice(max(0, cols.min() - margin), min(w, cols.max() + 1 + margin)),
    )


def _extent(res: ScenarioResult, win: tuple[slice, slice]) -> tuple[float, float, float, float]:
    t = res.baseline.grid.transform
    left, right = t.c + win[1].start * t.a, t.c + win[1].stop * t.a
    top, bottom = t.f + win[0].start * t.e, t.f + win[0].stop * t.e
    return (left, right, min(top, bottom), max(top, bottom))


def _plot_mask(res: ScenarioResult) -> np.ndarray:
    from rasterio import features

    g = res.baseline.grid
    return features.rasterize(
        [(res.plot, 1)],
        out_shape=g.shape,
        transform=g.transform,
        fill=0,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)


def _delta_panel(
    fig: Figure,
    ax: Any,
    res: ScenarioResult,
    delta: np.ndarray,
    win: tuple[slice, slice],
    title: str,
) -> None:
    """Value gained (green) / lost (red) in 元/ha over a window, symmetric scale at the 98th percentile."""
    arr, _f = block_mean(np.where(delta[win] != 0, delta[win], np.nan), MAX_PANEL_PX)
    lim = float(np.nanpercentile(np.abs(arr), 98)) if np.isfinite(arr).any() else 1.0
    lim = lim if lim > 0 else 1.0
    im = ax.imshow(
        arr,
        cmap="RdYlGn",
        norm=TwoSlopeNorm(0.0, -lim, lim),
        extent=_extent(res, win),
        interpolation="nearest",
    )
    draw_outlines(ax, [res.plot], lw=1.2)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7, extend="both", location="bottom", label="元/ha")


def _landcover_panel(ax: Any, res: ScenarioResult, win: tuple[slice, slice]) -> None:
    lc = res.after.landcover[win].astype(float)
    inside = res.baseline.region_index[win] >= 0
    codes = sorted({int(c) for c in np.unique(res.after.landcover[res.changed])})
    ax.imshow(
        np.where(inside, 0.0, np.nan),
        cmap=ListedColormap(["#E6E6E6"]),
        extent=_extent(res, win),
        interpolation="nearest",
    )
    if codes:
        show = np.where(res.changed[win], np.searchsorted(codes, lc), np.nan)
        ax.imshow(
            show,
            cmap=ListedColormap([f"C{i % 10}" for i in range(len(codes))]),
            vmin=-0.5,
            vmax=len(codes) - 0.5,
            extent=_extent(res, win),
            interpolation="nearest",
        )
        for i, c in enumerate(codes):
            ax.plot([], [], "s", color=f"C{i % 10}", label=f"→ {c} {res.class_names.get(c, '')}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=7, framealpha=0.85)
    draw_outlines(ax, [res.plot], lw=1.2)
    ax.set_title("土地覆被变化 Land-cover change", fontsize=9)


def change_map(res: ScenarioResult, width_in: float = 11.0) -> Figure:
    """Three panels: land-cover change near the plot, value gained/lost near the plot, and over the
    whole affected area (every pixel whose value changed; each panel has its own colour scale)."""
    plot_px = _plot_mask(res)
    span = max(plot_px.any(axis=0).sum(), plot_px.any(axis=1).sum(), 1)
    near = _window(plot_px, max(3, int(0.25 * span)))
    delta = value_per_ha(res.delta_value, res.baseline.grid.pixel_area_m2)
    far = _window((res.delta_value != 0) | res.changed | plot_px, 3)
    fig = new_figure(width_in, width_in * 0.42 + 0.8)
    ax1, ax2, ax3 = fig.subplots(1, 3)
    _landcover_panel(ax1, res, near)
    _delta_panel(fig, ax2, res, delta, near, "地块附近价值增减 Value gained/lost near the plot")
    _delta_panel(fig, ax3, res, delta, far, "受影响范围 Whole affected area")
    for ax in (ax1, ax2, ax3):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    if res.baseline.synthetic:
        fig.text(0.01, 0.995, SYNTHETIC_MARK, ha="left", va="top", fontsize=7, color="#C00000")
    return fig


def indicator_chart(res: ScenarioResult, width_in: float = 9.0) -> Figure:
    """Horizontal bars: value change by indicator inside and outside the plot (元)."""
    rows = [r for r in res.rows if r.delta_value_in_plot != 0 or r.delta_value_outside != 0]
    fig = new_figure(width_in, 0.9 + 0.32 * max(len(rows), 1))
    ax = fig.subplots()
    y = np.arange(len(rows))
    ax.barh(
        y - 0.2,
        [float(r.delta_value_in_plot) for r in rows],
        0.4,
        color="#2E8B57",
        label="地块内 in plot",
    )
    ax.barh(
        y + 0.2,
        [float(r.delta_value_outside) for r in rows],
        0.4,
        color="#E69F00",
        label="地块外 outside",
    )
    ax.set_yticks(y, [f"{r.name_zh} {r.name_en}" for r in rows], fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("价值变化 Value change (元)")
    ax.legend(fontsize=8)
    if not rows:
        ax.text(0.5, 0.5, "无变化 No change", transform=ax.transAxes, ha="center")
    return fig


def _pct(delta: Decimal, base: Decimal) -> str:
    return f"{float(delta) / float(base) * 100:+.1f} %" if base else "—"


def _context(res: ScenarioResult, images: dict[str, bytes]) -> dict[str, Any]:
    tot = res.totals()
    sc = res.scenario
    rows = [
        {
            "zh": r.name_zh,
            "en": r.name_en,
            "unit": format_unit(r.physical_unit),
            "bp": format_quantity(r.baseline_physical),
            "sp": format_quantity(r.scenario_physical),
            "dp": format_quantity(r.delta_physical_in_plot),
            "dpo": format_quantity(r.delta_physical_outside),
            "bv": format_amount(r.baseline_value),
            "sv": format_amount(r.scenario_value),
            "dv": format_amount(r.delta_value_in_plot),
            "dvo": format_amount(r.delta_value_outside),
            "dvt": format_amount(r.delta_value_total),
            "neg": r.delta_value_total < 0,
            "outside": bool(r.reach),
        }
        for r in res.rows
    ]
    def change(r: Any) -> dict[str, Any]:
        return {
            "zh": r.name_zh, "en": r.name_en, "unit": format_unit(r.physical_unit),
            "dp": format_quantity(r.delta_physical_in_plot + r.delta_physical_outside),
            "dv": format_amount(r.delta_value_total), "method": r.method,
        }

    names = res.class_names
    records: list[dict[Any, Any]] = res.transitions.to_dict("records")
    trans = [
        {
            "from": f"{int(t['from_code'])} {names.get(int(t['from_code']), '')}",
            "to": f"{int(t['to_code'])} {names.get(int(t['to_code']), '')}",
            "pixels": int(t["pixels"]),
            "km2": f"{t['area_km2']:.4g}",
        }
        for t in records
    ]
    return dict(
        r=res.baseline,
        sc=sc,
        changes=sc.describe(),
        tot={k: format_amount(v) for k, v in tot.items()},
        pct_plot=_pct(tot["delta_in_plot"], tot["baseline"]),
        gain=tot["delta_total"] >= 0,
        plot_km2=f"{res.plot_baseline.plot_area_km2:.4g}",
        covered_km2=f"{res.plot_baseline.covered_area_km2:.4g}",
        rows=rows,
        losses=[change(r) for r in res.losses],
        gains=[change(r) for r in res.gains],
        transitions=trans,
        outside=[
            {
                "zh": r.name_zh,
                "en": r.name_en,
                "km2": f"{r.affected_km2_outside:.3g}",
                "dv": format_amount(r.delta_value_outside),
                "why": r.reach,
            }
            for r in res.reaches_outside
        ],
        notes=res.notes + res.plot_baseline.notes,
        synthetic_note=SYNTHETIC_NOTE,
        images={k: data_uri(v) for k, v in images.items()},
    )


def render_summary(res: ScenarioResult, images: dict[str, bytes], embed_font: bool = True) -> str:
    """The one-page summary as an HTML string."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined
    )
    template = env.get_template(TEMPLATE_NAME)
    ctx = _context(res, images)
    html = template.render(font_css="", **ctx)
    if not embed_font:
        return html
    css = font_face_css(re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html))
    return template.render(font_css=Markup(css), **ctx)


def write_scenario_outputs(
    res: ScenarioResult, out: str | Path, embed_font: bool = True
) -> dict[str, Path]:
    """Write comparison.csv, transitions.csv, scenario.json, change_map.png, indicators.png and summary.html."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "comparison": folder / "comparison.csv",
        "transitions": folder / "transitions.csv",
        "json": folder / "scenario.json",
        "change_map": folder / "change_map.png",
        "indicators": folder / "indicators.png",
        "summary": folder / "summary.html",
    }
    df = res.to_frame()
    for c in (
        "baseline_value",
        "scenario_value",
        "delta_value_in_plot",
        "delta_value_outside_plot",
        "delta_value_total",
    ):
        df[c] = df[c].map(str)
    df["physical_unit"] = df["physical_unit"].map(format_unit)
    df.to_csv(paths["comparison"], index=False, encoding="utf-8")
    res.transitions.to_csv(paths["transitions"], index=False, encoding="utf-8")
    tot = res.totals()
    paths["json"].write_text(
        json.dumps(
            {
                "scenario": res.scenario.name,
                "changes": res.scenario.describe(),
                "year": res.baseline.year,
                "profile": res.baseline.profile_id,
                "dataset": res.baseline.dataset_name,
                "synthetic": res.baseline.synthetic,
                "plot_area_km2": res.plot_baseline.plot_area_km2,
                "totals": {k: str(v) for k, v in tot.items()},
                "notes": res.notes,
                "hashes": {"baseline": res.baseline.hashes, "scenario": res.after.hashes},
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    images = {
        "change_map": figure_png(change_map(res)),
        "indicators": figure_png(indicator_chart(res)),
    }
    for k, png in images.items():
        paths[k].write_bytes(png)
    paths["summary"].write_text(render_summary(res, images, embed_font), encoding="utf-8")
    return paths
