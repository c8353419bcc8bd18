"""Plot-level GEP: the GEP of any polygon (a land parcel, a project site, a district), by indicator.

Every indicator is a per-pixel layer (ADR 0001), so the GEP of a plot is the sum of each layer
over the plot, each pixel weighted by the fraction of it the plot covers. Coverage fractions are
exact (``exactextract`` [Baston 2023], polygon ∩ pixel area / pixel area), so a plot of a few
pixels and a whole district are treated alike, and plots that partition an area add up to the
area's total (ADR 0004).

:class:`PlotEngine` keeps a run's layers in memory as one pixel-major array holding only the
pixels of the accounting regions, so one plot costs one coverage computation plus one gather
and one matrix-vector product: it is meant to answer many plots per second for a platform.
:func:`plot_gep` is the one-call form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ecovalue.accounting.aggregation import to_money
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.result import CATEGORY_ZH, IndicatorLayer, Region, RunResult
from ecovalue.errors import DataFileError, InputError
from ecovalue.raster.grid import Grid
from ecovalue.units import format_unit

STATISTICS_NOTE = (
    "统计类指标（物质供给、休闲游憩等）按面积份额计入：区级统计总量按生态系统类型均摊到像元（ADR 0001）。 "
    "Statistics-based indicators ({names}) are area shares: each district's statistical total is spread "
    "evenly over its pixels of the producing ecosystem types (docs/decisions/0001), so a plot gets its "
    "area's share, not a measured quantity."
)

PLOT_COLUMNS: tuple[str, ...] = (
    "indicator", "indicator_zh", "indicator_en", "category", "category_zh", "physical_quantity",
    "physical_unit", "value_current", "statistics_based",
)  # fmt: skip


@dataclass(frozen=True)
class PlotRow:
    """One indicator of a plot: physical quantity and value (元, current prices, Decimal)."""

    indicator: str
    name_zh: str
    name_en: str
    category: str
    physical: float
    physical_unit: str
    value: Decimal
    statistics_based: bool


@dataclass
class PlotResult:
    """The GEP of one plot by indicator, with its areas and notes."""

    rows: list[PlotRow]
    plot_area_km2: float  # area of the plot geometry (dataset CRS)
    covered_area_km2: float  # part of the plot on pixels of the accounting regions with data
    regions: dict[str, float]  # region code -> covered area km²
    year: int | None = None
    profile_id: str = ""
    dataset_name: str = ""
    synthetic: bool = False
    notes: list[str] = field(default_factory=list)
    geometry: Any = None  # the plot in the dataset CRS

    @property
    def total(self) -> Decimal:
        """Plot GEP: sum of the rounded indicator values (元)."""
        return sum((r.value for r in self.rows), Decimal(0))

    def by_category(self) -> dict[str, Decimal]:
        return {
            c: sum((r.value for r in self.rows if r.category == c), Decimal(0)) for c in CATEGORY_ZH
        }

    def row(self, indicator: str) -> PlotRow:
        for r in self.rows:
            if r.indicator == indicator:
                return r
        raise InputError(
            f"indicator '{indicator}' is not in this plot result; it has "
            f"{[r.indicator for r in self.rows]}"
        )

    def to_frame(self) -> pd.DataFrame:
        """The table by indicator (value as Decimal 元)."""
        return pd.DataFrame(
            [
                (
                    r.indicator,
                    r.name_zh,
                    r.name_en,
                    r.category,
                    CATEGORY_ZH.get(r.category, ""),
                    r.physical,
                    r.physical_unit,
                    r.value,
                    r.statistics_based,
                )
                for r in self.rows
            ],
            columns=list(PLOT_COLUMNS),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; money as strings so no float rounding creeps in."""
        return {
            "dataset": self.dataset_name,
            "synthetic": self.synthetic,
            "year": self.year,
            "profile": self.profile_id,
            "plot_area_km2": self.plot_area_km2,
            "covered_area_km2": self.covered_area_km2,
            "regions_km2": self.regions,
            "gep_current": str(self.total),
            "by_category": {k: str(v) for k, v in self.by_category().items()},
            "indicators": [
                {
                    "indicator": r.indicator,
                    "name_zh": r.name_zh,
                    "name_en": r.name_en,
                    "category": r.category,
                    "physical_quantity": r.physical,
                    "physical_unit": r.physical_unit,
                    "value_current": str(r.value),
                    "statistics_based": r.statistics_based,
                }
                for r in self.rows
            ],
            "notes": self.notes,
        }


# ------------------------------------------------------------------ geometry input


def read_plot_file(path: str | Path) -> tuple[BaseGeometry, str]:
    """Read a plot from a ``.geojson``/``.gpkg`` (any OGR vector) file: the union of its features and its CRS.

    Raises DataFileError when the file cannot be read and InputError when it holds no geometry.
    """
    import pyogrio

    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            f"plot file {p} not found; give the path of a .geojson or .gpkg file with the plot polygon"
        )
    try:
        meta, _fids, wkb, _fields = pyogrio.raw.read(p)
    except Exception as exc:
        raise DataFileError(
            f"plot file {p} cannot be read as a vector file ({exc}); "
            "expected GeoJSON or GeoPackage with one or more polygons"
        ) from exc
    geoms = [g for g in shapely.from_wkb(wkb) if g is not None and not g.is_empty]
    if not geoms:
        raise InputError(f"plot file {p} holds no geometry; expected at least one polygon feature")
    bad = [i for i, g in enumerate(geoms) if not g.is_valid]
    if bad:
        raise InputError(
            f"plot file {p}: feature {bad[0]} is invalid ({shapely.is_valid_reason(geoms[bad[0]])}); "
            "repair it (e.g. QGIS 'Fix geometries' or shapely.make_valid) and try again"
        )
    geom = geoms[0] if len(geoms) == 1 else shapely.union_all(geoms)
    return geom, meta.get("crs") or ""


def _same_crs(a: str, b: str) -> bool:
    from pyproj import CRS

    return bool(CRS.from_user_input(a).equals(CRS.from_user_input(b)))


def to_grid_crs(geom: BaseGeometry, plot_crs: str | None, grid_crs: str) -> BaseGeometry:
    """The plot in the grid CRS (vertices transformed with pyproj, always x/y order)."""
    if not plot_crs or _same_crs(plot_crs, grid_crs):
        return geom
    from pyproj import Transformer
    from pyproj.exceptions import CRSError

    try:
        tr = Transformer.from_crs(plot_crs, grid_crs, always_xy=True)
    except CRSError as exc:
        raise InputError(
            f"plot CRS {plot_crs!r} is not a CRS pyproj knows ({exc}); give e.g. 'EPSG:4326'"
        ) from exc
    out = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    if not out.is_valid:
        raise InputError(
            f"the plot is invalid after reprojection from {plot_crs} to {grid_crs} "
            f"({shapely.is_valid_reason(out)}); reproject and repair it yourself first"
        )
    return out


def check_plot_geometry(geom: Any) -> BaseGeometry:
    """Raise InputError unless ``geom`` is a non-empty, valid (multi)polygon of positive area."""
    if geom is None or not isinstance(geom, BaseGeometry):
        raise InputError(
            f"the plot must be a shapely Polygon or MultiPolygon, got {type(geom).__name__}"
        )
    if geom.is_empty:
        raise InputError(
            "the plot geometry is empty; give a polygon with at least three distinct corners"
        )
    if geom.geom_type == "GeometryCollection":
        parts = list(shapely.get_parts(geom))
        polys = [g for g in parts if g.geom_type in ("Polygon", "MultiPolygon")]
        if len(polys) != len(parts):
            raise InputError(
                "the plot is a GeometryCollection with points or lines; a plot must be polygons only"
            )
        geom = shapely.union_all(polys)
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(
            f"the plot is a {geom.geom_type}; a plot must be a Polygon or MultiPolygon "
            "(buffer a point or line if you mean the area around it)"
        )
    if not geom.is_valid:
        raise InputError(
            f"the plot geometry is invalid: {shapely.is_valid_reason(geom)}; repair it "
            "(e.g. shapely.make_valid(geom) or QGIS 'Fix geometries') and try again"
        )
    if geom.area <= 0:
        raise InputError("the plot has zero area; give a polygon that encloses an area")
    return geom


# ------------------------------------------------------------------ engine


def _statistics_based(indicator: str, methods: Mapping[str, str]) -> bool:
    if indicator in methods:
        return methods[indicator].startswith("statistics:")
    spec = INDICATORS[indicator]
    return spec.category != "regulating" and bool(spec.statistics_items)


@dataclass(frozen=True)
class PlotMeta:
    """What a plot result says about the run its engine holds."""

    year: int | None = None
    profile_id: str = ""
    dataset_name: str = ""
    synthetic: bool = False

    @classmethod
    def of(cls, run: RunResult | None) -> PlotMeta:
        if run is None:
            return cls()
        return cls(run.year, run.profile_id, run.dataset_name, run.synthetic)


ENGINE_ARRAYS = ("stack", "pos", "region")
ENGINE_META = "engine.json"


class PlotEngine:
    """A run's layers held in memory for fast plot queries.

    Only pixels of the accounting regions are stored, pixel-major (one row per pixel, columns
    = physical quantities then values of every indicator), as ``dtype`` (float64 by default;
    float32 halves the memory at a relative error ~1e-7 per pixel, sums still accumulate in
    float64). NaN counts as nothing, as in the run's aggregation.
    """

    def __init__(
        self,
        layers: Mapping[str, IndicatorLayer],
        grid: Grid,
        region_index: np.ndarray | None = None,
        regions: list[Region] | None = None,
        methods: Mapping[str, str] | None = None,
        dtype: Any = np.float64,
        run: RunResult | None = None,
    ):
        if not layers:
            raise InputError("no indicator layers to sum over the plot; run the account first")
        self.grid = grid
        self.indicators = list(layers)
        self.units = [layers[k].physical_unit for k in self.indicators]
        self.regions = list(regions or [])
        self.methods = dict(methods or {})
        self.run = run
        self.meta = PlotMeta.of(run)
        shape = grid.shape
        inside = np.ones(shape, bool) if region_index is None else np.asarray(region_index) >= 0
        has_data = np.zeros(shape, bool)
        for lay in layers.values():
            if lay.physical.shape != shape or lay.value.shape != shape:
                raise InputError(
                    f"layer '{lay.indicator}' has shape {lay.value.shape}, not the grid's {shape}"
                )
            has_data |= np.isfinite(lay.value) | np.isfinite(lay.physical)
        mask = (inside & has_data).ravel()
        self.n_pixels = int(mask.sum())
        self._pos = np.full(mask.size, -1, np.int64 if mask.size >= 2**31 else np.int32)
        self._pos[mask] = np.arange(self.n_pixels, dtype=self._pos.dtype)
        n = len(self.indicators)
        self._stack = np.empty((self.n_pixels, 2 * n), dtype=dtype)
        for j, k in enumerate(self.indicators):
            for col, arr in ((j, layers[k].physical), (n + j, layers[k].value)):
                v = arr.ravel()[mask]
                self._stack[:, col] = np.where(np.isfinite(v), v, 0.0)
        ri = (
            np.zeros(mask.size, np.int32)
            if region_index is None
            else np.asarray(region_index).ravel()
        )
        self._region = ri[mask].astype(np.int32)
        self._source = _coverage_source(grid)

    @classmethod
    def from_run(cls, run: RunResult, dtype: Any = np.float64) -> PlotEngine:
        """An engine over every layer of ``run``."""
        methods = {
            str(i): str(m) for i, m in zip(run.table["indicator"], run.table["method"], strict=True)
        }
        return cls(run.layers, run.grid, run.region_index, run.regions, methods, dtype, run)

    @property
    def nbytes(self) -> int:
        return int(self._stack.nbytes + self._pos.nbytes + self._region.nbytes)

    def save(self, folder: str | Path) -> Path:
        """Write the engine to ``folder`` (``.npy`` arrays and ``engine.json``) for :meth:`load`."""
        import json

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name, arr in zip(ENGINE_ARRAYS, (self._stack, self._pos, self._region), strict=True):
            np.save(out / f"{name}.npy", np.ascontiguousarray(arr))
        g = self.grid
        meta = {
            "indicators": self.indicators, "units": self.units, "methods": self.methods,
            "regions": [[r.code, r.name_zh, r.name_en, r.area_km2] for r in self.regions],
            "grid": {"crs": g.crs, "transform": list(g.transform)[:6], "width": g.width,
                     "height": g.height},
            "meta": self.meta.__dict__, "n_pixels": self.n_pixels,
        }  # fmt: skip
        (out / ENGINE_META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | Path) -> PlotEngine:
        """An engine :meth:`save` wrote; its arrays are memory-mapped (read as plots need them),
        so loading costs milliseconds at any resolution and the numbers are the saved ones."""
        import json

        from affine import Affine

        src = Path(folder)
        try:
            meta = json.loads((src / ENGINE_META).read_text(encoding="utf-8"))
            arrays = [np.load(src / f"{name}.npy", mmap_mode="r") for name in ENGINE_ARRAYS]
        except (OSError, ValueError, KeyError) as exc:
            raise DataFileError(f"{src}: not a saved plot engine ({exc}); delete the folder "
                                "and let it be built again") from exc  # fmt: skip
        eng = cls.__new__(cls)
        g = meta["grid"]
        eng.grid = Grid(g["crs"], Affine(*g["transform"]), int(g["width"]), int(g["height"]))
        eng.indicators, eng.units = list(meta["indicators"]), list(meta["units"])
        eng.methods = dict(meta["methods"])
        eng.regions = [Region(c, zh, en, None, float(a)) for c, zh, en, a in meta["regions"]]
        eng.run, eng.meta = None, PlotMeta(**meta["meta"])
        eng.n_pixels = int(meta["n_pixels"])
        eng._stack, eng._pos, eng._region = arrays
        eng._source = _coverage_source(eng.grid)
        return eng

    def coverage(self, geom: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
        """Flat cell indices (row × width + col) the plot touches and the fraction of each it covers."""
        from exactextract import exact_extract
        from exactextract.feature import JSONFeatureSource

        feat = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(geom)}
        res = exact_extract(
            self._source, JSONFeatureSource([feat]), ["cell_id", "coverage"], output="geojson"
        )
        props = res[0]["properties"]
        ids = np.asarray(props["cell_id"], dtype=np.int64)
        cov = np.asarray(props["coverage"], dtype=np.float64)
        keep = cov > 0
        return ids[keep], cov[keep]

    def sums(
        self, ids: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Weighted sums over cells: (physical per indicator, value per indicator, stored positions, weights)."""
        pos = self._pos[ids]
        keep = pos >= 0
        pos, w = pos[keep], weights[keep]
        tot = (
            w @ self._stack[pos].astype(np.float64, copy=False)
            if pos.size
            else np.zeros(self._stack.shape[1])
        )
        n = len(self.indicators)
        return tot[:n], tot[n:], pos, w

    def plot(
        self, plot_geometry: BaseGeometry | str | Path, plot_crs: str | None = None
    ) -> PlotResult:
        """GEP of one plot; a path is read as a vector file (its CRS is used unless ``plot_crs`` is given)."""
        geom, crs = _load_geometry(plot_geometry, plot_crs)
        geom = to_grid_crs(check_plot_geometry(geom), crs, self.grid.crs)
        ids, cov = self.coverage(geom)
        phys, val, pos, w = self.sums(ids, cov)
        if pos.size == 0:
            raise InputError(self._outside_message(geom, crs))
        px_km2 = self.grid.pixel_area_m2 / 1e6
        by_region = (
            np.bincount(self._region[pos], weights=w, minlength=len(self.regions) or 1) * px_km2
        )
        regions = {
            (self.regions[i].code if self.regions else str(i)): float(a)
            for i, a in enumerate(by_region)
            if a > 0
        }
        rows = [self._row(j, k, phys[j], val[j]) for j, k in enumerate(self.indicators)]
        covered = float(w.sum() * px_km2)
        area = geom.area / 1e6
        notes = []
        if covered < area * (1 - 1e-6):
            notes.append(
                f"{area - covered:.4g} km² of the plot ({100 * (1 - covered / area):.1f} %) lie outside the "
                "accounting regions or on pixels without data and count as nothing"
            )
        stats = [r.name_en for r in rows if r.statistics_based]
        if stats:
            notes.append(STATISTICS_NOTE.format(names=", ".join(stats)))
        meta = self.meta
        return PlotResult(
            rows,
            area,
            covered,
            regions,
            year=meta.year,
            profile_id=meta.profile_id,
            dataset_name=meta.dataset_name,
            synthetic=meta.synthetic,
            notes=notes,
            geometry=geom,
        )

    def _row(self, j: int, indicator: str, phys: float, val: float) -> PlotRow:
        spec = INDICATORS[indicator]
        return PlotRow(
            indicator,
            spec.name_zh,
            spec.name_en,
            spec.category,
            float(phys),
            self.units[j],
            to_money(float(val)),
            _statistics_based(indicator, self.methods),
        )

    def _outside_message(self, geom: BaseGeometry, crs: str | None) -> str:
        b = tuple(round(v, 1) for v in geom.bounds)
        d = tuple(round(v, 1) for v in self.grid.bounds)
        hint = ""
        if not crs and all(abs(v) <= 360 for v in geom.bounds):
            hint = " The coordinates look like longitude/latitude: pass plot_crs='EPSG:4326' (--plot-crs)."
        return (
            f"the plot (bounds {b} in {self.grid.crs}) covers no pixel of the accounting regions with data "
            f"(data bounds {d}); draw the plot inside the dataset's regions or check its CRS.{hint}"
        )


def _coverage_source(grid: Grid) -> Any:
    """An exactextract raster source on the grid that holds no data (coverage needs only the geometry)."""
    from exactextract.raster import NumPyRasterSource

    left, bottom, right, top = grid.bounds
    # a zero-stride view: the grid's shape at the memory cost of one byte
    dummy = np.broadcast_to(np.zeros(1, np.uint8), grid.shape)
    return NumPyRasterSource(dummy, left, bottom, right, top)


def _load_geometry(plot: BaseGeometry | str | Path, plot_crs: str | None) -> tuple[Any, str | None]:
    if isinstance(plot, str | Path):
        geom, file_crs = read_plot_file(plot)
        return geom, plot_crs or file_crs or None
    return plot, plot_crs


def plot_gep(
    run_or_layers: RunResult | PlotEngine | Mapping[str, IndicatorLayer],
    plot_geometry: BaseGeometry | str | Path,
    plot_crs: str | None = None,
    *,
    grid: Grid | None = None,
) -> PlotResult:
    """GEP of a plot by indicator (physical quantity and value), with exact partial-pixel coverage.

    ``run_or_layers`` is a RunResult, a prepared :class:`PlotEngine` (fastest for many plots) or a
    mapping of indicator layers (then ``grid`` is required). ``plot_geometry`` is a shapely
    (multi)polygon in ``plot_crs`` (default: the dataset CRS) or the path of a .geojson/.gpkg file.
    Raises InputError for an empty, invalid or non-polygon plot and for a plot outside the data.
    """
    if isinstance(run_or_layers, PlotEngine):
        engine = run_or_layers
    elif isinstance(run_or_layers, RunResult):
        engine = PlotEngine.from_run(run_or_layers)
    else:
        if grid is None:
            raise InputError("plot_gep with a mapping of layers needs grid=Grid(...) to place them")
        engine = PlotEngine(run_or_layers, grid)
    return engine.plot(plot_geometry, plot_crs)


def write_plot(result: PlotResult, out: str | Path) -> dict[str, Path]:
    """Write plot.csv (table by indicator) and plot.json (table, areas, notes) into ``out``."""
    import json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    df = result.to_frame()
    df["value_current"] = df["value_current"].map(str)
    df["physical_unit"] = df["physical_unit"].map(format_unit)  # units as users read them
    csv = folder / "plot.csv"
    df.to_csv(csv, index=False, encoding="utf-8")
    data = result.to_json()
    for row in data["indicators"]:
        row["physical_unit"] = format_unit(row["physical_unit"])
    js = folder / "plot.json"
    js.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return {"csv": csv, "json": js}
