"""Maps of a run: value per pixel of each indicator and a district choropleth of GEP.

Indicator maps show value density in 元/hm² (value per pixel ÷ pixel area in hectares), so colours
do not change with the raster resolution. Values are binned into quantile classes
(zero gets its own class when present) because ecosystem-service values are strongly
skewed: a linear scale would paint almost every pixel the lowest colour. Maps are
north-up in the dataset's projected CRS, with a scale bar in km and the region
outlines drawn from the shapely geometries.

Large rasters are block-averaged (NaN-aware) to at most ``MAX_MAP_PIXELS`` on the long
side before drawing; this only affects the picture, never the numbers in the tables.

Maps are laid out by hand (:func:`_map_axes`: title band, map, colour bar at fixed heights)
rather than by matplotlib's constrained layout, which measures every text once more and
renders each figure twice; outlines are one line collection and district fills one patch
collection (no limits recomputed per patch). A report's 19 maps at 200 m render in about a
third of the time (docs/benchmarks.md, "The first run").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import BoundaryNorm, Colormap, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from ecovalue.accounting.result import RunResult
from ecovalue.errors import InputError
from ecovalue.reports.fonts import figure_png, new_figure
from ecovalue.reports.xlsx import IndicatorInfo, district_summary, indicator_info
from ecovalue.units import format_tick

MAX_MAP_PIXELS = 600
N_CLASSES = 7
CHOROPLETH_CLASSES = 5
CHOROPLETH_MIN_FOR_CLASSES = 6
CATEGORY_CMAP = {"provisioning": "YlOrBr", "regulating": "YlGnBu", "cultural": "RdPu"}
SYNTHETIC_MARK = "合成数据 SYNTHETIC"
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def value_per_ha(value_per_pixel: np.ndarray, pixel_area_m2: float) -> np.ndarray:
    """元/pixel → 元/ha (1 ha = 10 000 m²)."""
    if not pixel_area_m2 > 0:
        raise InputError(
            f"pixel area {pixel_area_m2!r} m² is not positive; the grid CRS must be projected "
            "in metres (e.g. EPSG:4547)"
        )
    return value_per_pixel / (pixel_area_m2 / 10_000.0)


def block_mean(arr: np.ndarray, max_px: int = MAX_MAP_PIXELS) -> tuple[np.ndarray, int]:
    """NaN-aware block mean so the long side is ≤ ``max_px``; returns (array, factor)."""
    f = max(1, math.ceil(max(arr.shape) / max_px))
    if f == 1:
        return arr, 1
    h, w = arr.shape
    ph, pw = math.ceil(h / f) * f, math.ceil(w / f) * f
    pad = np.full((ph, pw), np.nan)
    pad[:h, :w] = arr
    blocks = pad.reshape(ph // f, f, pw // f, f)
    finite = np.isfinite(blocks)
    count = finite.sum(axis=(1, 3))
    total = np.where(finite, blocks, 0.0).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan), f


def quantile_breaks(values: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Class breaks at quantiles of the finite values; zero is its own class when present.

    Returns an increasing array of ≥ 2 breaks (a constant field gets [v − ½, v + ½]).
    """
    v = values[np.isfinite(values)]
    if v.size == 0:
        return np.array([0.0, 1.0])
    has_zero = bool((v == 0).any()) and v.min() >= 0
    rest = v[v != 0] if has_zero else v
    if rest.size == 0:
        return np.array([-0.5, 0.5])
    breaks = np.unique(np.quantile(rest, np.linspace(0.0, 1.0, n_classes + 1)))
    if has_zero:
        breaks = np.unique(np.concatenate([[0.0], breaks]))
    if breaks.size < 2:
        breaks = np.array([breaks[0] - 0.5, breaks[0] + 0.5])
    return breaks


def _rings(geom: Any) -> Iterable[np.ndarray]:
    """Exterior and interior rings (as coordinate arrays) of a (multi)polygon."""
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type == "Polygon":
            yield np.asarray(poly.exterior.coords)
            for hole in poly.interiors:
                yield np.asarray(hole.coords)
        elif hasattr(poly, "geoms"):
            yield from _rings(poly)


def geometry_path(geom: Any) -> MplPath:
    """A compound matplotlib path of a shapely (multi)polygon, holes included."""
    verts, codes = [], []
    for ring in _rings(geom):
        xy = ring[:, :2]
        verts.append(xy)
        c = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
        c[0], c[-1] = MplPath.MOVETO, MplPath.CLOSEPOLY
        codes.append(c)
    if not verts:
        return MplPath(np.zeros((1, 2)), [MplPath.MOVETO])
    return MplPath(np.concatenate(verts), np.concatenate(codes))


def draw_outlines(ax: Axes, geometries: Sequence[Any], lw: float = 0.6) -> None:
    """Region outlines in dark grey (one collection of every ring; the axes limits stay)."""
    rings = [ring[:, :2] for g in geometries for ring in _rings(g)]
    ax.add_collection(LineCollection(rings, colors="#333333", linewidths=lw), autolim=False)


TITLE_IN = 0.42  # inches above the map: the synthetic mark and the title
COLORBAR_IN = 0.9  # inches below it: the colour bar, its rotated ticks and its label
BAR_IN = 0.16  # the colour bar's height


def _map_axes(fig: Figure, left: float, right: float) -> tuple[Axes, Axes]:
    """A map's axes between ``left`` and ``right`` (figure fractions), under the title band,
    and a horizontal colour bar's axes below it."""
    height = fig.get_size_inches()[1]
    bottom = COLORBAR_IN / height
    ax = fig.add_axes((left, bottom, right - left, 1 - (COLORBAR_IN + TITLE_IN) / height))
    inset = 0.05 * (right - left)
    cax = fig.add_axes((left + inset, (COLORBAR_IN - 0.3) / height, right - left - 2 * inset,
                        BAR_IN / height))  # fmt: skip
    return ax, cax


def _nice_length_km(span_m: float) -> float:
    target = span_m / 4 / 1000
    exp = 10 ** math.floor(math.log10(target)) if target > 0 else 1
    return max(m * exp for m in (1, 2, 5) if m * exp <= max(target, exp))


def draw_scale_and_north(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    """A scale bar in km (lower left) and a north arrow (upper right); the grid is north-up."""
    left, bottom, right, top = bounds
    km = _nice_length_km(right - left)
    x0, y0 = left + 0.05 * (right - left), bottom + 0.05 * (top - bottom)
    ax.plot([x0, x0 + km * 1000], [y0, y0], color="black", lw=3, solid_capstyle="butt")
    ax.text(x0 + km * 500, y0 + 0.015 * (top - bottom), f"{km:g} km", ha="center", va="bottom",
            fontsize=8, path_effects=_HALO)  # fmt: skip
    ax.annotate("N", xy=(0.94, 0.95), xytext=(0.94, 0.81), xycoords="axes fraction",
                ha="center", va="center", fontsize=9,
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.2})  # fmt: skip


def _frame(ax: Axes, bounds: tuple[float, float, float, float]) -> None:
    left, bottom, right, top = bounds
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _mark_synthetic(fig: Figure, synthetic: bool) -> None:
    if synthetic:
        fig.text(0.01, 0.995, SYNTHETIC_MARK, ha="left", va="top", fontsize=7, color="#C00000")


def _map_size(result: RunResult, width_in: float) -> tuple[float, float]:
    h, w = result.grid.height, result.grid.width
    return width_in, min(width_in * h / max(w, 1) + 1.2, 2.2 * width_in)


def indicator_map(result: RunResult, indicator: str, width_in: float = 4.6) -> Figure:
    """Map of one indicator's value density (元/ha, current prices, quantile classes).

    Raises :class:`InputError` when the run has no per-pixel layer for ``indicator``.
    """
    if indicator not in result.layers:
        raise InputError(
            f"no per-pixel layer for indicator '{indicator}'; layers present: "
            f"{sorted(result.layers)}. Statistics-only indicators have no map."
        )
    info = {i.id: i for i in indicator_info(result)}.get(indicator)
    info = info or IndicatorInfo(indicator, indicator, indicator, "regulating", "")
    dens, _ = block_mean(value_per_ha(result.layers[indicator].value, result.grid.pixel_area_m2))
    fig = new_figure(*_map_size(result, width_in), layout=None)
    ax, cax = _map_axes(fig, 0.02, 0.98)
    bounds = result.grid.bounds
    _frame(ax, bounds)
    ax.set_title(f"{info.name_zh}  {info.name_en}", fontsize=11)
    if not np.isfinite(dens).any():
        ax.text(0.5, 0.5, "无数据 no data", transform=ax.transAxes, ha="center")
        cax.set_axis_off()
    else:
        breaks = quantile_breaks(dens)
        cmap: Colormap = colormaps[CATEGORY_CMAP.get(info.category, "viridis")]
        norm = BoundaryNorm(breaks, cmap.N)
        left, bottom, right, top = bounds
        im = ax.imshow(dens, cmap=cmap, norm=norm, extent=(left, right, bottom, top),
                       interpolation="nearest", origin="upper")  # fmt: skip
        cb = fig.colorbar(im, cax=cax, orientation="horizontal", spacing="uniform", ticks=breaks)
        cb.ax.set_xticklabels([format_tick(b) for b in breaks], fontsize=7, rotation=30)
        cb.set_label("元/hm²（当年价，分位数分级）yuan per hm², quantile classes", fontsize=8)
    draw_outlines(ax, [r.geometry for r in result.regions])
    draw_scale_and_north(ax, bounds)
    _mark_synthetic(fig, result.synthetic)
    return fig


def _choropleth_panel(
    fig: Figure, axes: tuple[Axes, Axes], result: RunResult, values: list[float], title: str, label: str
) -> None:
    ax, cax = axes
    cmap = colormaps["YlGn"]
    arr = np.array(values, dtype=float)
    # quantile classes when there are enough districts (per-km² values are skewed by small
    # urban districts); otherwise a linear scale over the data range
    norm: Normalize
    if np.isfinite(arr).sum() >= CHOROPLETH_MIN_FOR_CLASSES:
        breaks = quantile_breaks(arr, CHOROPLETH_CLASSES)
        norm, ticks = BoundaryNorm(breaks, cmap.N), list(breaks)
    else:
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm, ticks = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1), None
    patches = [PathPatch(geometry_path(r.geometry)) for r in result.regions]
    colors = [cmap(norm(v)) if math.isfinite(v) else "#DDDDDD" for v in values]
    ax.add_collection(PatchCollection(patches, facecolors=colors, edgecolors="#333333", linewidths=0.6),
                      autolim=False)  # fmt: skip
    for region in result.regions:
        p = region.geometry.representative_point()
        ax.text(p.x, p.y, region.name_zh, ha="center", va="center", fontsize=7,
                path_effects=_HALO)  # fmt: skip
    bounds = _regions_bounds(result)
    _frame(ax, bounds)
    draw_scale_and_north(ax, bounds)
    ax.set_title(title, fontsize=11)
    sm = ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, cax=cax, orientation="horizontal", spacing="uniform", ticks=ticks)
    if ticks is not None:
        cb.ax.set_xticklabels([format_tick(b) for b in ticks], rotation=30)
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)


def _regions_bounds(result: RunResult) -> tuple[float, float, float, float]:
    if not result.regions:
        return result.grid.bounds
    bs = np.array([r.geometry.bounds for r in result.regions])
    left, bottom, right, top = bs[:, 0].min(), bs[:, 1].min(), bs[:, 2].max(), bs[:, 3].max()
    pad = 0.03 * max(right - left, top - bottom)
    return (left - pad, bottom - pad, right + pad, top + pad)


def district_choropleth(result: RunResult) -> Figure:
    """Two panels: GEP by district (亿元) and GEP per km² (万元/km²), current prices."""
    rows, _ = district_summary(result)
    gep_yi = [float(r.gep / 10_000) for r in rows]
    per_km2 = [float(r.gep_per_km2) if r.gep_per_km2 is not None else math.nan for r in rows]
    left, bottom, right, top = _regions_bounds(result)
    w = 9.0
    fig = new_figure(w, min(w / 2 * (top - bottom) / max(right - left, 1) + 1.2, 9.0), layout=None)
    ax1, ax2 = _map_axes(fig, 0.01, 0.495), _map_axes(fig, 0.505, 0.99)
    _choropleth_panel(fig, ax1, result, gep_yi, f"{result.year}年各区GEP  GEP by district",
                      "亿元（当年价）100 million yuan, current prices")  # fmt: skip
    _choropleth_panel(fig, ax2, result, per_km2, "地均GEP  GEP per km²",
                      "万元/km²  10 000 yuan per km²")  # fmt: skip
    _mark_synthetic(fig, result.synthetic)
    return fig


def render_maps(result: RunResult, dpi: int = 110) -> dict[str, bytes]:
    """PNG bytes of every map: ``districts`` and ``map_<indicator>`` per layer, in report order."""
    out = {"districts": figure_png(district_choropleth(result), dpi)}
    for info in indicator_info(result):
        if info.id in result.layers:
            out[f"map_{info.id}"] = figure_png(indicator_map(result, info.id), dpi)
    return out


def write_maps(result: RunResult, out_dir: Path, dpi: int = 110) -> dict[str, Path]:
    """Write every map as ``out_dir/<name>.png``; return name → path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, png in render_maps(result, dpi).items():
        paths[name] = out_dir / f"{name}.png"
        paths[name].write_bytes(png)
    return paths
