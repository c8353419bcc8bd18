"""Per-block work of the streamed account (``accounting/streaming.py``): the picklable plan and
the functions a dask worker (or the local loop) runs on one block of rows.

A block is rows ``[start, stop)`` of the dataset grid, every column. Each function reads only
its window of every input raster (``raster.io.read(path, window=…)``), so its memory is
proportional to ``block_rows × width``, and returns small per-(region, ecosystem type)
partial sums that the caller adds up in block order (results do not depend on the worker
count). The per-pixel arithmetic is the in-memory pipeline's own: the same indicator
functions (``accounting.indicators.COMPUTE``) run on a windowed :class:`Dataset`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from affine import Affine

from ecovalue.accounting import aggregation as agg
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.context import Context, Layer, parts_layer
from ecovalue.accounting.indicators import POLLUTANT_MODELS, sub_item_prices
from ecovalue.accounting.parameters import ParameterRegister
from ecovalue.accounting.profiles import Profile
from ecovalue.accounting.reported import WHOLE
from ecovalue.accounting.result import Region
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.datasets.loader import Dataset, Feature
from ecovalue.datasets.manifest import DatasetInfo
from ecovalue.datasets.validation import water_balance_facts
from ecovalue.errors import EngineError, InputError
from ecovalue.raster import io
from ecovalue.raster.grid import Grid

# How the streamed engine computes each catalogue indicator, derived from the catalogue and the
# indicator functions (never listed by hand: an indicator in no list would be dropped from GEP
# without a word). The check below runs at import; every run checks again at its end
# (``pipeline.check_every_indicator``; decision 0033).
#: Indicators summed per pollutant (caps by reported emissions/loads apply per region later).
POLLUTANTS: tuple[str, ...] = tuple(POLLUTANT_MODELS)
#: Statistics-based indicators: region totals spread over the pixels of their ecosystem types
#: (the catalogue's physical method says "statistics:"), spread with whole-region pixel counts.
STATISTICS: tuple[str, ...] = tuple(
    i for i, spec in INDICATORS.items() if spec.physical_method.startswith("statistics:")
)
#: Polygon storage spread over each polygon's pixels (whole-polygon pixel counts from the scan).
POLYGONS: tuple[str, ...] = ("flood_regulation",)
#: Whole-grid steps of ``streaming.py`` (nearest green/blue pixel within a distance).
GLOBAL: tuple[str, ...] = ("landscape_premium",)
#: Everything else: computed per block by the in-memory function unchanged (per-pixel inputs;
#: the soil retention with its slice of the global LS factor).
LOCAL: tuple[str, ...] = tuple(
    i for i in INDICATORS if i not in (*POLLUTANTS, *STATISTICS, *POLYGONS, *GLOBAL)
)


def streamed_ways() -> dict[str, str]:
    """Catalogue indicator → how the streamed engine computes it ("local", "pollutants",
    "statistics", "polygons", "global")."""
    ways: dict[str, str] = {}
    for way, members in (("local", LOCAL), ("pollutants", POLLUTANTS), ("statistics", STATISTICS),
                         ("polygons", POLYGONS), ("global", GLOBAL)):
        for ind in members:
            ways.setdefault(ind, way)
    return ways


def check_streamed_ways() -> None:
    """Raise :class:`EngineError` unless every catalogue indicator has exactly one way to be
    computed in the streamed engine and the per-block ones have the function they run."""
    from ecovalue.accounting.indicators import COMPUTE

    ways = streamed_ways()
    none = [i for i in INDICATORS if i not in ways]
    counted = [*LOCAL, *POLLUTANTS, *STATISTICS, *POLYGONS, *GLOBAL]
    twice = sorted({i for i in counted if counted.count(i) > 1})
    no_function = [i for i in (*LOCAL, *STATISTICS) if i not in COMPUTE]
    unknown = sorted(set(counted) - set(INDICATORS))
    if none or twice or no_function or unknown:
        raise EngineError(
            "the streamed engine's indicator lists do not cover the catalogue: "
            + "; ".join(
                f"{what} {items}" for what, items in (
                    ("no way to compute", none), ("in two lists", twice),
                    ("no indicator function", no_function), ("not in the catalogue", unknown),
                ) if items
            )
            + " (accounting/streaming_blocks.py); a dropped indicator would leave GEP short"
        )


check_streamed_ways()
N_TYPES = len(ECOSYSTEM_TYPES)
#: Rows per aggregation chunk: ``run_account``'s default ``block_rows``. Sums are accumulated
#: chunk by chunk in grid order, as ``aggregation.zonal_sums`` does in memory.
AGG_ROWS = 1024


@dataclass
class Plan:
    """Everything a block task needs, sent once to every worker (small: no pixel arrays)."""

    root: Path
    info: DatasetInfo
    grid: Grid
    raster_paths: dict[str, Path]  # key -> file (all on the land-cover grid)
    factors: dict[str, float]  # key -> unit conversion to the canonical unit
    regions: list[Region]
    landcover_table: pd.DataFrame
    statistics: pd.DataFrame
    reported: pd.DataFrame
    prices: pd.DataFrame
    price_index: dict[int, float]
    vectors: dict[str, list[Feature]]
    profile: Profile
    params: ParameterRegister
    year: int
    indicators: tuple[str, ...]  # the block-wise ones among the profile's indicators
    ls_path: Path | None = None  # LS factor (float64 GeoTIFF) from the global routing step
    ls: np.ndarray | None = None  # … or the LS array itself, when blocks run in this process
    routing_method: str = "mfd"
    flood: dict[str, Any] = field(default_factory=dict)  # per polygon: capacity, pixel counts
    spread: dict[str, Any] = field(default_factory=dict)  # statistics indicator -> region values
    global_layers: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # whole-grid layers
    # the scan's whole-grid valid mask, when blocks run in this process and the scan kept it:
    # blocks then read only the rasters their indicators use (see ``open_block``)
    valid: np.ndarray | None = None
    # … and its region index (``region_dtype``): blocks take their slice, no rasterizing
    region_index: np.ndarray | None = None
    # the land-cover file's dtype ("" unknown): only a float land cover is checked for
    # non-integer codes, on its raw values
    landcover_dtype: str = ""
    # rasters whose digest the run already has (``raster.file_digests``): the scan does not
    # hash their rows
    known_digests: frozenset[str] = frozenset()
    # rasters whose value range (``pixelwise.range_facts`` over the whole file) the run
    # already has from the same entries: the scan does not look at their values again
    known_ranges: frozenset[str] = frozenset()
    # ``context.statistic_sums`` of the run year, computed once for every block's context
    stat_sums: dict[tuple[Any, Any], float] | None = None


def block_context(plan: Plan, ds: Dataset) -> Context:
    """The context of a block's dataset, with the run's statistics sums (``Plan.stat_sums``)."""
    ctx = Context(ds, plan.year, plan.profile, plan.params)
    if plan.stat_sums is not None:
        ctx.__dict__["stat_sums"] = plan.stat_sums  # the cached property, as it would compute it
    return ctx


def region_dtype(n_regions: int) -> np.dtype:
    """The smallest signed integer dtype that holds region numbers ``-1 … n_regions − 1``."""
    for dt in (np.int8, np.int16):
        if n_regions <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.int32)


def block_grid(grid: Grid, start: int, stop: int) -> Grid:
    """The grid of rows ``[start, stop)``."""
    return Grid(grid.crs, grid.transform @ Affine.translation(0, start), grid.width, stop - start)


def read_block(plan: Plan, key: str, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """One raster's window, converted exactly as the loader converts the whole raster, and its
    validity mask."""
    window = (slice(start, stop), slice(0, plan.grid.width))
    data, valid = io.read(plan.raster_paths[key], window=window)
    return _converted(plan, key, data), valid


def read_block_values(plan: Plan, key: str, start: int, stop: int) -> np.ndarray:
    """:func:`read_block` without the mask, for readers that have it or do not need it."""
    window = (slice(start, stop), slice(0, plan.grid.width))
    return _converted(plan, key, io.read_values(plan.raster_paths[key], window=window))


def _converted(plan: Plan, key: str, data: np.ndarray) -> np.ndarray:
    # ``data`` is this call's own array: converted in place when it already has the dtype
    if key == "landcover":
        return data.astype(np.int32, copy=False)
    arr = data.astype(np.float32, copy=False)
    factor = plan.factors.get(key, 1.0)
    if factor != 1.0:
        arr *= np.float32(factor)
    return arr


# rasterio's rasterize builds an in-memory dataset and reads its transform before setting it,
# which warns "Dataset has no geotransform" for a perfectly georeferenced window (seen when
# blocks run on threads); the output uses the transform passed in. Only that message from
# rasterio.features is silenced: opening a file without a transform still warns.
warnings.filterwarnings(
    "ignore", message="Dataset has no geotransform", module="rasterio.features"
)


def rasterize(
    shapes: list[tuple[Any, int]], grid: Grid, fill: int, dtype: Any = np.int32
) -> np.ndarray:
    """Pixel-centre rasterization on ``grid`` (a window gives the same pixels as the full grid).

    Only the rows and columns the shapes' bounding boxes reach are handed to GDAL (a pixel
    whose centre is outside every box is never burned): a lake in one corner of a district
    costs a few of its pixels, not the whole block (the same pixels, ``tests/
    test_streaming_blocks.py``). ``dtype``: of the result, holding ``fill`` and every value
    (e.g. :func:`region_dtype`: a whole grid of 16 M pixels in 16 MB instead of 64 MB)."""
    from rasterio import features

    dt = np.dtype(dtype)
    out = np.full(grid.shape, fill, dt)
    window = _shapes_window(shapes, grid)
    if window is None:
        return out
    (r0, r1), (c0, c1) = window
    sub = Grid(grid.crs, grid.transform @ Affine.translation(c0, r0), c1 - c0, r1 - r0)
    out[r0:r1, c0:c1] = features.rasterize(
        shapes,
        out_shape=sub.shape,
        transform=sub.transform,
        fill=fill,
        dtype=dt.name,
        all_touched=False,
    )
    return out


def _shapes_window(
    shapes: list[tuple[Any, int]], grid: Grid
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Rows and columns ``((r0, r1), (c0, c1))`` of ``grid`` that hold every pixel whose centre
    may fall in a shape (one pixel of margin), or None when none can; the whole grid when the
    grid is rotated or a shape has no finite bounds."""
    if not shapes:
        return None
    whole = (0, grid.height), (0, grid.width)
    t = grid.transform
    if t.b != 0 or t.d != 0:
        return whole
    b = np.array([geom.bounds for geom, _value in shapes], dtype=np.float64).reshape(-1, 4)
    b = b[~np.isnan(b).any(axis=1)]  # empty geometries have NaN bounds and burn nothing
    if b.size == 0:
        return None
    if not np.isfinite(b).all():
        return whole
    xs = (np.array([b[:, 0].min(), b[:, 2].max()]) - t.c) / t.a
    ys = (np.array([b[:, 1].min(), b[:, 3].max()]) - t.f) / t.e
    c0 = max(int(np.floor(xs.min())) - 1, 0)
    c1 = min(int(np.ceil(xs.max())) + 1, grid.width)
    r0 = max(int(np.floor(ys.min())) - 1, 0)
    r1 = min(int(np.ceil(ys.max())) + 1, grid.height)
    if c0 >= c1 or r0 >= r1:
        return None
    return (r0, r1), (c0, c1)


def dataset_on(
    source: Any,
    grid: Grid,
    rasters: dict[str, np.ndarray],
    valid: np.ndarray,
    region_index: np.ndarray,
) -> Dataset:
    """A :class:`Dataset` on ``grid`` with the given pixels and everything else (tables,
    regions, vectors, prices) from ``source`` — the plan or the dataset metadata."""
    return Dataset(
        info=source.info,
        grid=grid,
        rasters=rasters,
        valid=valid,
        regions=source.regions,
        region_index=region_index,
        landcover_table=source.landcover_table,
        statistics=source.statistics,
        reported=source.reported,
        prices=source.prices,
        price_index=source.price_index,
        vectors=source.vectors,
        root=source.root,
    )


def block_dataset(
    plan: Plan, start: int, stop: int
) -> tuple[Dataset, dict[str, np.ndarray], np.ndarray]:
    """Windowed dataset of a block; also each raster's own validity and the inside-regions mask.
    The regions' pixels are the slice of ``plan.region_index`` when the run has it (the same
    pixels: rasterizing a window gives the whole grid's), else rasterized here."""
    g = block_grid(plan.grid, start, stop)
    rasters: dict[str, np.ndarray] = {}
    masks: dict[str, np.ndarray] = {}
    for key in plan.raster_paths:
        rasters[key], masks[key] = read_block(plan, key, start, stop)
    if plan.region_index is not None:
        region_index = plan.region_index[start:stop].astype(np.int32)
    else:
        region_index = rasterize([(r.geometry, i) for i, r in enumerate(plan.regions)], g, -1)
    inside = region_index >= 0
    valid = inside.copy()
    for m in masks.values():
        valid &= m
    ds = dataset_on(plan, g, rasters, valid, region_index)
    return ds, masks, inside


class LazyRasters(dict[str, np.ndarray]):
    """A block's input rasters, each read (``read_block``) on first use.

    Membership (``in``) answers for every raster of the plan; iteration and ``len`` see only
    the rasters read so far. Used where the block's valid mask comes from the scan, so no
    raster has to be read just for its nodata mask.
    """

    def __init__(self, plan: Plan, start: int, stop: int) -> None:
        super().__init__()
        self.plan, self.start, self.stop = plan, start, stop

    def __missing__(self, key: str) -> np.ndarray:
        if key not in self.plan.raster_paths:
            raise KeyError(key)
        arr = read_block_values(self.plan, key, self.start, self.stop)
        self[key] = arr
        return arr

    def __contains__(self, key: object) -> bool:
        return key in self.plan.raster_paths

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default


def lazy_block_dataset(plan: Plan, start: int, stop: int) -> Dataset:
    """Windowed dataset of a block whose valid mask is the slice of ``plan.valid`` (the scan's
    own mask of these pixels: inside a region and every raster has data); rasters are read
    when an indicator first asks for them."""
    assert plan.valid is not None
    g = block_grid(plan.grid, start, stop)
    if plan.region_index is not None:
        region_index = plan.region_index[start:stop].astype(np.int32)
    else:
        region_index = rasterize([(r.geometry, i) for i, r in enumerate(plan.regions)], g, -1)
    valid = plan.valid[start:stop].copy()  # the kernels get a mask of their own, as before
    return dataset_on(plan, g, LazyRasters(plan, start, stop), valid, region_index)


def block_keys(ds: Dataset, rows: np.ndarray | None = None) -> np.ndarray:
    """Combined (region, ecosystem type) key per pixel, −1 where not counted (not valid,
    outside the regions, or a land-cover code not in the table).

    ``rows``: the pixels' land-cover table rows when already known (``Context.class_row``);
    otherwise they are looked up here.
    """
    from ecovalue.raster.pixelwise import class_rows

    if rows is None:
        t = ds.landcover_table
        rows, _missing = class_rows(ds.rasters["landcover"], t["code"].to_numpy(np.int64), ds.valid)
    return window_keys(ds.landcover_table, rows, ds.region_index, ds.valid)


def window_keys(
    table: pd.DataFrame, rows: np.ndarray, region_index: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """:func:`block_keys` of any window, from its land-cover table rows, region index and mask
    (e.g. one aggregation chunk of a whole-grid layer, so no whole-grid key array is made)."""
    from ecovalue.raster.pixelwise import zone_key

    types = np.array([ECOSYSTEM_TYPES.index(e) for e in table["ecosystem_type"]])
    return zone_key(rows, region_index, valid, types, N_TYPES)


def sums(
    layers: list[np.ndarray], key: np.ndarray | Callable[[int, int], np.ndarray], n_keys: int
) -> np.ndarray:
    """Sums of a whole-grid layer in the in-memory pipeline's own chunking and order; ``key``
    the whole grid's keys or a function of a chunk's rows ``start, stop`` (same sums)."""
    return agg.zonal_sums(layers, key, n_keys, block_rows=AGG_ROWS)


def continue_sums(acc: np.ndarray, layers: list[np.ndarray], key: np.ndarray) -> np.ndarray:
    """``acc`` plus each layer's sums per key, *continuing* ``zonal_sums``' sequential order.

    ``zonal_sums`` adds a chunk's pixels one by one in pixel order to accumulators starting
    at 0 (``raster.pixelwise.zonal_add``). Starting from ``acc`` instead continues that very
    float64 sum, so a chunk computed in blocks of any size gives the in-memory chunk sum bit
    for bit.
    """
    from ecovalue.raster.pixelwise import zonal_add_many

    out = np.array(acc, dtype=np.float64, copy=True)
    zonal_add_many(list(out), layers, key)
    return out


# ------------------------------------------------------------------ scan (validation + counts)


def scan_block(plan: Plan, start: int, stop: int, keep_valid: bool) -> dict[str, Any]:
    """Per-raster range/coverage facts, land-cover codes, pixel counts per key and per polygon,
    and each converted raster's row digests (``"row_digests"``, :mod:`ecovalue.raster.digest`:
    the dataset hash is joined from them, so it needs no reading of its own); with
    ``keep_valid`` the block's valid mask and region index."""
    ds, masks, inside = block_dataset(plan, start, stop)
    return _scan_facts(plan, ds, masks, inside, start, keep_valid)[0]


def _scan_facts(
    plan: Plan,
    ds: Dataset,
    masks: dict[str, np.ndarray],
    inside: np.ndarray,
    start: int,
    keep_valid: bool,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """:func:`scan_block`'s facts of a block read by :func:`block_dataset`, and the land-cover
    table row of every valid pixel (``Context.class_row``; None when a code has no row)."""
    from ecovalue.datasets.validation import RASTERS
    from ecovalue.raster.digest import row_digests
    from ecovalue.raster.pixelwise import class_rows, range_facts

    stop = start + ds.grid.height
    out: dict[str, Any] = {"ranges": {}, "holes": {}, "hole_regions": {}, "nonint": 0, "codes": set()}
    for key, arr in ds.rasters.items():
        m = masks[key]
        if key == "landcover":
            # integer codes (a known integer file) have nothing to check: no second read
            if not plan.landcover_dtype or np.issubdtype(plan.landcover_dtype, np.floating):
                raw = io.read_values(
                    plan.raster_paths[key], window=(slice(start, stop), slice(0, plan.grid.width))
                )
                if np.issubdtype(raw.dtype, np.floating):
                    out["nonint"] += int((m & (raw != np.round(raw))).sum())
        elif key not in plan.known_ranges:
            _canonical, lo, hi, _res = RASTERS.get(key, ("", None, None, ""))
            n, vmin, vmax, n_lo, n_hi = range_facts(arr, m, lo, hi)
            if n:
                out["ranges"][key] = (float(vmin), float(vmax), int(n_lo), int(n_hi))
        holes = inside & ~m
        if holes.any():
            r, c = (int(x[0]) for x in np.nonzero(holes))
            out["holes"][key] = (int(holes.sum()), start + r, c)
            # per region, for the message's shares (datasets.validation.coverage_problem)
            out["hole_regions"][key] = np.bincount(ds.region_index[holes], minlength=len(plan.regions))
    lc = ds.rasters["landcover"]
    rows, n_missing = class_rows(lc, plan.landcover_table["code"].to_numpy(), inside)
    # only the codes the table lacks are needed (the reduce step names them)
    out["codes"] = set(np.unique(lc[inside & (rows < 0)]).tolist()) if n_missing else set()
    out["inside"] = int(inside.sum())
    out["inside_regions"] = np.bincount(ds.region_index[inside], minlength=len(plan.regions))
    rows_valid = None
    if not n_missing:
        # every valid pixel's code has a row (valid ⊆ inside): the rows of the valid pixels
        rows_valid = np.where(ds.valid, rows, np.int32(-1))
        keys = block_keys(ds, rows_valid)
        n_keys = len(plan.regions) * N_TYPES
        out["counts"] = np.bincount(keys[keys >= 0], minlength=n_keys).astype(np.int64)
        out["polygons"] = _polygon_counts(plan, ds, rows_valid)
        if "water_conservation" in plan.profile.indicators and {"precipitation", "aet"} <= set(ds.rasters):
            out["water_balance"] = water_balance_facts(
                ds.rasters["precipitation"], ds.rasters["aet"], rows_valid, plan.landcover_table,
                plan.profile.scopes.get("water_conservation", INDICATORS["water_conservation"].ecosystem_types))
    if keep_valid:
        out["valid"] = ds.valid
        out["region_index"] = ds.region_index.astype(region_dtype(len(plan.regions)))
    # hashed here, on the worker that read the block (in parallel; 32 bytes per row go back),
    # unless the run remembers the file's digest
    out["row_digests"] = {
        key: row_digests(arr) for key, arr in ds.rasters.items() if key not in plan.known_digests
    }
    return out, rows_valid


def block_has_errors(facts: dict[str, Any]) -> bool:
    """Whether a block's scan facts already hold an error of ``validate_scan`` (a value out of
    its range, a hole inside the regions, a non-integer or unknown land-cover code)."""
    return bool(
        facts["holes"]
        or facts["nonint"]
        or facts["codes"]
        or "counts" not in facts
        or any(n_lo or n_hi for _lo, _hi, n_lo, n_hi in facts["ranges"].values())
    )


#: The ecosystem types whose pixels hold a lake's or reservoir's storage.
WATER_TYPES = ("water", "wetland")


def _water_mask(ctx: Context) -> np.ndarray:
    return ctx.lc_type_mask(WATER_TYPES)


def _polygon_ids(plan: Plan, layer: str, g: Grid) -> np.ndarray:
    feats = plan.vectors.get(layer, [])
    return rasterize([(f.geometry, i + 1) for i, f in enumerate(feats)], g, 0)


def _polygon_counts(
    plan: Plan, ds: Dataset, rows: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per polygon of lakes/reservoirs: valid pixels inside, and of them water/wetland ones.
    ``rows``: the block's ``Context.class_row`` when the caller has it."""
    if "flood_regulation" not in plan.indicators:
        return {}
    layers = ("lakes", "reservoirs")
    ids_of = {layer: _polygon_ids(plan, layer, ds.grid) for layer in layers}
    out = {}
    if not any(ids.any() for ids in ids_of.values()):  # no polygon reaches this block
        for layer in layers:
            out[layer] = np.zeros((2, len(plan.vectors.get(layer, []))), dtype=np.int64)
        return out
    ctx = block_context(plan, ds)
    if rows is not None:
        ctx.__dict__["class_row"] = rows  # the cached property, as it would compute it
    water = _water_mask(ctx)
    for layer in layers:
        n = len(plan.vectors.get(layer, []))
        ids = ids_of[layer]
        inside = np.where(ds.valid, ids, 0)
        out[layer] = np.stack(
            [
                np.bincount(inside.ravel(), minlength=n + 1)[1:],
                np.bincount(np.where(water, inside, 0).ravel(), minlength=n + 1)[1:],
            ]
        )
    return out


# ------------------------------------------------------------------ block computations


def open_block(plan: Plan, start: int, stop: int) -> Context:
    """A context on the block's windowed dataset, with the block's slice of the global LS."""
    if plan.valid is not None:
        ds = lazy_block_dataset(plan, start, stop)
    else:
        ds, _masks, _inside = block_dataset(plan, start, stop)
    ctx = block_context(plan, ds)
    _attach_ls(plan, ctx, start, stop)
    return ctx


def _attach_ls(plan: Plan, ctx: Context, start: int, stop: int) -> None:
    """Give a block's context its slice of the global LS factor, when the run has it."""
    from ecovalue.raster.hydrology import Routing

    ls: np.ndarray | None = None
    if plan.ls is not None:
        ls = plan.ls[start:stop]
    elif plan.ls_path is not None:
        ls, _ = io.read(plan.ls_path, window=(slice(start, stop), slice(0, plan.grid.width)))
        ls = ls.astype(np.float64)
    if ls is not None:
        ctx.__dict__["routing"] = Routing(
            filled=ls,
            slope=ls,
            accumulation=ls,
            ls=ls,
            method=plan.routing_method,
            cell_size=plan.grid.cell_width,
        )


def iter_layers(
    plan: Plan,
    ctx: Context,
    notes: list[str],
    indicators: tuple[str, ...] | None = None,
    by_class: bool = False,
) -> Iterator[tuple[str, Any]]:
    """Per-pixel layers of one block, one indicator at a time (the caller drops each after use).

    Yields ``(indicator, Layer)``; air/water purification yield ``{pollutant: (quantity,
    value)}`` uncapped, or with ``by_class`` a :class:`ByClass` for a pollutant whose rate is a
    land-cover column (for zonal sums, not pixels). Kernel notes are appended to ``notes``.
    """
    from ecovalue.accounting.indicators import COMPUTE
    from ecovalue.errors import NotApplicable

    for ind in plan.indicators if indicators is None else indicators:
        if ind in LOCAL:
            try:
                lay = COMPUTE[ind](ctx)
            except NotApplicable:
                continue
            notes += list(lay.notes)
            yield ind, lay
        elif ind in POLLUTANTS:
            yield ind, _pollutant_layers(ctx, ind, by_class)
        elif ind in POLYGONS:
            yield ind, _flood_layer(plan, ctx)
        elif ind in plan.spread:
            yield ind, _spread_layer(ctx, plan.spread[ind])
    notes += ctx.notes


@dataclass(frozen=True)
class ByClass:
    """A pollutant's quantity and value per land-cover table row, for the rows of the classes
    present in the block (``present``); a pixel's layer value is its row's entry."""

    quantity: np.ndarray
    value: np.ndarray
    present: np.ndarray

    def pixels(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quantity and value per pixel of table rows ``rows`` (row −1, not valid: NaN)."""
        from ecovalue.raster.pixelwise import gather

        return (
            gather(np.append(self.quantity, np.nan), rows),
            gather(np.append(self.value, np.nan), rows),
        )

    def zonal(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Zonal sums of quantity and value from pixels per (key, table row) (``counts``,
        :func:`ecovalue.raster.pixelwise.key_row_counts`), non-finite entries skipped as
        :func:`ecovalue.raster.pixelwise.zonal_add` skips such pixels."""
        cols = counts[:, self.present].astype(np.float64)
        out = []
        for per_row in (self.quantity, self.value):
            f = per_row[self.present]
            out.append((cols * np.where(np.isfinite(f), f, 0.0)).sum(axis=1))
        return out[0], out[1]


def _pollutant_layers(
    ctx: Context, ind: str, by_class: bool = False
) -> dict[str, tuple[np.ndarray, np.ndarray] | ByClass]:
    """Per pollutant, its quantity and value per pixel, as ``indicators._pollutants`` computes
    them before the caps (which apply per region to the sums); with ``by_class``, a
    :class:`ByClass` where the rate is a land-cover column whose checks pass."""
    model = POLLUTANT_MODELS[ind]
    present = _classes_present(ctx)
    out: dict[str, tuple[np.ndarray, np.ndarray] | ByClass] = {}
    for pol, col in model.columns.items():
        price = {pol: ctx.p(model.costs[pol], "CNY/t")}
        per_class = _pollutant_by_class(ctx, model, pol, col, price, present)
        if per_class is not None:
            out[pol] = per_class if by_class else per_class.pixels(ctx.class_row)
            continue
        q = model.rate_to_t(ctx.lc(col), ctx.pixel_area_m2, ctx.valid, pol)
        out[pol] = (q, model.value({pol: q}, price))
    return out


def _classes_present(ctx: Context) -> np.ndarray:
    """Per land-cover table row: True when a valid pixel of the block has that class (found
    once per block: treat as read-only)."""
    from ecovalue.raster.pixelwise import rows_present

    found = ctx.__dict__.get("_classes_present")
    if found is None:
        found = ctx.__dict__["_classes_present"] = rows_present(
            ctx.class_row, len(ctx.ds.landcover_table)
        )
    return found  # type: ignore[no-any-return]


def _pollutant_by_class(
    ctx: Context, model: Any, pol: str, col: str, price: dict[str, float], present: np.ndarray
) -> ByClass | None:
    """A pollutant's rate is a land-cover column, so its quantity and value are functions of the
    class: the model's own functions run on the table's rows of the classes present (the same
    checks, the same float operations on the same numbers, hence the same bits per pixel) and
    each pixel takes its class's result (:meth:`ByClass.pixels`: two lookups per pixel instead
    of a lookup, two checks and three arithmetic passes), or the zonal sums come from pixel
    counts per class (:meth:`ByClass.zonal`: no pass over the pixels at all). ``present``: per
    table row, whether a valid pixel has that class. None when the table or a check says no:
    the pixel path then raises its own error, with pixel counts."""
    t = ctx.ds.landcover_table
    if col not in t.columns:
        return None
    rates = t[col].to_numpy(np.float64)[None, :]
    try:
        q_class = model.rate_to_t(rates, ctx.pixel_area_m2, present[None, :], pol)
        v_class = model.value({pol: q_class}, price)
    except InputError:
        return None
    return ByClass(np.asarray(q_class[0]), np.asarray(v_class[0]), present)


def _flood_layer(plan: Plan, ctx: Context) -> Layer:
    """Flood storage as ``indicators.flood_regulation_layer``, with whole-polygon pixel counts."""
    from ecovalue.models import flood_regulation

    veg = ctx.profile.switches.get("vegetation_flood_regulation", False)
    # one pass over the pixels (the numpy path's numbers bit for bit; it names bad input)
    t = ctx.ds.landcover_table
    fused = flood_regulation.storage_layer(
        ctx.valid, ctx.class_row,
        t["ecosystem_type"].isin(WATER_TYPES).to_numpy(),  # _water_mask by row
        _polygon_parts(plan, ctx, "lakes"), _polygon_parts(plan, ctx, "reservoirs"),
        ctx.lc_values("marsh_storage_depth"), ctx.lc_values("flood_storage_depth") if veg else None,
        ctx.pixel_area_m2, ctx.p("reservoir_cost", "CNY/m**3"),
    )
    prices = sub_item_prices(ctx, "flood_regulation")
    if fused is not None:
        return parts_layer("flood_regulation", fused[2], prices, "")
    water = _water_mask(ctx)
    lake, res = (_polygon_storage(plan, ctx, layer, water) for layer in ("lakes", "reservoirs"))
    parts = {"lake": lake, "reservoir": res,
             "marsh": flood_regulation.marsh_storage_m3(ctx.pixel_area_m2, ctx.lc("marsh_storage_depth"), ctx.valid)}
    if veg:
        parts["vegetation"] = flood_regulation.vegetation_storage_m3(
            ctx.pixel_area_m2, ctx.lc("flood_storage_depth"), ctx.valid
        )
    flood_regulation.value(0.0, ctx.p("reservoir_cost", "CNY/m**3"))  # its check of the price
    return parts_layer("flood_regulation", parts, prices, "")


def _polygon_parts(plan: Plan, ctx: Context, layer: str) -> Any:
    """A layer's :class:`ecovalue.models.flood_regulation.PolygonStorage` on the block (None
    without polygons): what :func:`_polygon_storage` spreads, by polygon id."""
    from ecovalue.models.flood_regulation import PolygonStorage

    entries = plan.flood.get(layer, [])
    if not entries:
        return None
    share = np.zeros(len(entries) + 1)  # by polygon id (0: no polygon)
    mode = np.zeros(len(entries) + 1, dtype=np.int8)
    for i, (cap, n_inside, n_water) in enumerate(entries):
        if n_inside:
            share[i + 1] = cap / (n_water or n_inside)
            mode[i + 1] = 2 if n_water else 1
    return PolygonStorage(_polygon_ids(plan, layer, ctx.ds.grid), share, mode)


def _polygon_storage(plan: Plan, ctx: Context, layer: str, water: np.ndarray) -> np.ndarray:
    """Each counted polygon's storage per pixel on its valid water pixels (all its valid pixels
    if it has no water pixel), 0 elsewhere, NaN outside valid.

    A pixel belongs to at most one polygon (the rasterized id), so one lookup of the polygon's
    share per pixel gives what adding every polygon's share in turn gives (``0 + c``).
    """
    part = np.where(ctx.valid, 0.0, np.nan)
    parts = _polygon_parts(plan, ctx, layer)
    if parts is None:
        return part
    mode = parts.mode[parts.ids]
    mask = ctx.valid & ((mode == 1) | ((mode == 2) & water))
    part[mask] += parts.share[parts.ids[mask]]
    return part


def _spread_layer(ctx: Context, spec: dict[str, Any]) -> Layer:
    """A statistics indicator's pixels: region value per pixel on the pixels it is spread over."""
    scope = ctx.lc_type_mask(spec["types"])
    reg = ctx.ds.region_index
    safe = np.where(reg >= 0, reg, 0)
    layers = []
    for what in ("physical", "value"):
        per_pixel = np.asarray(spec[what], dtype=np.float64)  # region -> value per pixel
        everywhere = np.asarray(
            spec[f"{what}_all"], dtype=bool
        )  # region spread over all its pixels
        weights = (scope | everywhere[safe]) & (reg >= 0) & ctx.valid
        lay = np.where(weights, per_pixel[safe], 0.0)
        lay[~ctx.valid] = np.nan
        layers.append(lay)
    return Layer(layers[0], layers[1], method="")


def pass1_chunk(
    plan: Plan,
    start: int,
    stop: int,
    block_rows: int,
    indicators: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Zonal sums of every block-wise indicator over one aggregation chunk (AGG_ROWS grid rows,
    the in-memory pipeline's chunk), computed in blocks of ``block_rows`` rows.

    Pollutant indicators are summed per pollutant (caps are applied per region afterwards). A
    pollutant whose rate is a land-cover column is summed from the chunk's pixel counts per
    (key, class) times its per-class quantity and value (:class:`ByClass`): the same sums up to
    the order of the additions (≤ 1e-12 relative, tested), with no per-pixel layer at all.
    ``indicators`` restricts the pass to some of the plan's (each indicator's sums are
    independent, so splitting the pass does not change them).
    """
    wanted = plan.indicators if indicators is None else indicators
    if "soil_retention" in wanted and plan.ls is None and plan.ls_path is None:
        # a block's own routing would cut every flow path at the block's edges
        raise RuntimeError(
            "soil retention on a block needs the global LS factor (plan.ls or plan.ls_path) "
            "of the routing step; run the routing step first"
        )
    sums = _ChunkSums(plan, indicators)
    for s in range(start, stop, block_rows):
        sums.add(open_block(plan, s, min(s + block_rows, stop)))
    return {"notes": sums.notes, "sums": sums.finish()}


def scan_pass1_chunk(
    plan: Plan,
    start: int,
    stop: int,
    block_rows: int,
    indicators: tuple[str, ...],
    compute: bool = True,
) -> dict[str, Any]:
    """:func:`scan_block` and :func:`pass1_chunk` of one aggregation chunk in one reading of
    its rasters: each block's scan facts (``"scans"``, in block order, for ``_reduce_scan``),
    then, on the same windows, the zonal sums of ``indicators`` (none that needs the
    statistics spreads or the flood storage's whole-polygon counts: those need the whole scan
    first; the soil retention only with the global LS factor in ``plan.ls``).

    The sums are computed before the run's validation has seen every block, so they are
    speculative: a block whose own facts hold an error stops the chunk's sums (``"sums"``
    is None; the run fails validation anyway), and an exception of an indicator is returned
    (``"error"``), not raised, for the caller to raise once validation has passed (the
    validation's problems, naming file, row and column, come first). ``compute`` False: the
    facts only (e.g. the dataset's tables already have errors).
    """
    if "soil_retention" in indicators and plan.ls is None:
        raise RuntimeError("soil retention in the scan's pass needs the LS factor in plan.ls")
    scans: list[dict[str, Any]] = []
    sums = _ChunkSums(plan, indicators)
    error: Exception | None = None
    # the scan's rows of the valid pixels are Context.class_row when the codes are unique
    # (with duplicate codes class_row raises the loader's error itself)
    rows_are_class_rows = bool(plan.landcover_table["code"].is_unique)
    for s in range(start, stop, block_rows):
        ds, masks, inside = block_dataset(plan, s, min(s + block_rows, stop))
        facts, rows = _scan_facts(plan, ds, masks, inside, s, keep_valid=False)
        scans.append(facts)
        if not compute or block_has_errors(facts):
            compute = False
            continue
        ctx = block_context(plan, ds)
        if rows_are_class_rows and rows is not None:
            ctx.__dict__["class_row"] = rows  # the cached property, as it would compute it
        _attach_ls(plan, ctx, s, min(s + block_rows, stop))
        try:
            sums.add(ctx)
        except Exception as exc:  # raised after validation (see above)
            error, compute = exc, False
        del ctx, ds, masks
    return {
        "scans": scans,
        "sums": sums.finish() if compute else None,
        "notes": sums.notes,
        "error": error,
    }


class _ChunkSums:
    """The zonal sums of one aggregation chunk, added block by block in grid order."""

    def __init__(self, plan: Plan, indicators: tuple[str, ...] | None) -> None:
        self.plan, self.indicators = plan, indicators
        self.n_keys = len(plan.regions) * N_TYPES
        self.n_rows = len(plan.landcover_table)
        self.notes: list[str] = []
        self.acc: dict[str, Any] = {}
        # pollutants summed from class counts
        self.by_class: dict[tuple[str, str], _ClassTotals] = {}

    def add(self, ctx: Context) -> None:
        """Add one block's pixels (its context)."""
        from ecovalue.raster.pixelwise import MAX_FUSED, key_row_counts, zonal_add_many

        acc, n_keys = self.acc, self.n_keys
        key = block_keys(ctx.ds, ctx.class_row)
        counts = None  # pixels per (key, table row), for layers that are functions of the class
        # (accumulator, layer) pairs not summed yet: several layers go through one pass over
        # the key (each accumulator still gets its pixels in order, so sums are unchanged)
        outs: list[np.ndarray] = []
        layers: list[np.ndarray] = []
        for ind, lay in iter_layers(self.plan, ctx, self.notes, self.indicators, by_class=True):
            if ind in POLLUTANTS or lay.parts:  # physical sums per sub-item (value: × its price)
                per_part = acc.setdefault(ind, {})
                items = lay.items() if ind in POLLUTANTS else lay.parts.items()
                for part, item in items:
                    target = per_part.setdefault(part, np.zeros(n_keys))
                    if isinstance(item, ByClass):
                        if counts is None:
                            counts = key_row_counts(key, ctx.class_row, n_keys, self.n_rows)
                        totals = self.by_class.get((ind, part))
                        if totals is None:
                            totals = self.by_class[(ind, part)] = _ClassTotals(n_keys, self.n_rows)
                        totals.add(counts, item)
                        continue
                    outs.append(target)
                    layers.append(item[0] if isinstance(item, tuple) else item)
            else:
                target = acc.setdefault(ind, np.zeros((2, n_keys)))
                outs += [target[0], target[1]]
                layers += [lay.physical, lay.value]
            del lay
            if len(layers) >= MAX_FUSED:  # bounded: few layers are held at once
                zonal_add_many(outs, layers, key)
                outs, layers = [], []
        if layers:
            zonal_add_many(outs, layers, key)

    def finish(self) -> dict[str, Any]:
        """The chunk's sums; the pollutants' class sums go in last (the chunk's pixel counts
        are exact integers: its class sums do not depend on ``block_rows``)."""
        for (ind, pol), totals in self.by_class.items():
            self.acc[ind][pol] += totals.zonal()[0]
        self.by_class = {}
        return self.acc


class _ClassTotals:
    """One pollutant's pixel counts per (key, table row) over a chunk's blocks, with its quantity
    and value per row (the same numbers in every block: the model's functions of the row)."""

    def __init__(self, n_keys: int, n_rows: int) -> None:
        self.counts = np.zeros((n_keys, n_rows), dtype=np.int64)
        self.quantity = np.full(n_rows, np.nan)
        self.value = np.full(n_rows, np.nan)
        self.present = np.zeros(n_rows, dtype=bool)

    def add(self, counts: np.ndarray, item: ByClass) -> None:
        self.counts += counts
        p = item.present
        self.quantity[p] = item.quantity[p]
        self.value[p] = item.value[p]
        self.present |= p

    def zonal(self) -> tuple[np.ndarray, np.ndarray]:
        return ByClass(self.quantity, self.value, self.present).zonal(self.counts)


def pass2_block(
    plan: Plan, start: int, stop: int, factors: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Final per-pixel layers of one block (caps and reported quantities applied), float32 for GeoTIFFs.

    ``factors[ind]`` holds per-key affine maps ``(a_phys, b_phys, a_val, b_val)`` and, for the
    pollutant indicators, ``scale[pol]`` per region.
    """
    ctx = open_block(plan, start, stop)
    ds = ctx.ds
    key = block_keys(ds)
    safe_key = np.where(key >= 0, key, 0)
    reg = np.where(ds.region_index >= 0, ds.region_index, 0)
    out: dict[str, np.ndarray] = {}

    def affine(ab: list[Any], x: np.ndarray) -> np.ndarray:
        a, b = (np.asarray(v)[safe_key] for v in ab)
        return np.where(key >= 0, a * x + b, x)

    def final(ind: str, lay: Any) -> None:
        f = factors[ind]
        spec = INDICATORS[ind]
        if spec.sub_items:  # each part scaled (caps, reported), value at its price
            parts: dict[str, np.ndarray] = {}
            if ind in POLLUTANTS and lay is not None:
                for pol, (q, _v) in lay.items():
                    parts[pol] = q * np.asarray(f["scale"][pol])[reg]
            elif lay is not None:
                parts = dict(lay.parts)
            for part in f["affine"]:
                parts.setdefault(part, np.where(ds.valid, 0.0, np.nan))  # only reported
            parts = {p: affine(f["affine"][p], q) if p in f["affine"] else q for p, q in parts.items()}
            empty = np.where(ds.valid, 0.0, np.nan)
            lay = parts_layer(ind, parts, f["prices"], "", empty=empty)
            phys, val = lay.physical, lay.value
        else:
            if lay is not None:
                phys, val = lay.physical, lay.value
            else:  # only reported quantities (the model has nothing)
                phys = val = np.where(ds.valid, 0.0, np.nan)
            if WHOLE in f["affine"]:
                phys = affine(f["affine"][WHOLE], phys)
                val = affine(f["value_affine"], val)
        out[f"{ind}_physical"] = phys.astype(np.float32)
        out[f"{ind}_value"] = val.astype(np.float32)

    for ind, lay in iter_layers(plan, ctx, []):
        if ind in factors:
            final(ind, lay)
    window = (slice(start, stop), slice(0, plan.grid.width))
    for ind, (phys_path, value_path) in plan.global_layers.items():
        if ind in factors:
            final(
                ind, Layer(io.read(phys_path, window)[0], io.read(value_path, window)[0], method="")
            )
    for ind in factors:
        if f"{ind}_value" not in out:
            final(ind, None)
    return {f"{ind}_{q}": out[f"{ind}_{q}"] for ind in factors for q in ("physical", "value")}
