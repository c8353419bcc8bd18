"""The run context handed to every indicator: dataset, year, profile, restated parameters,
per-class lookups and the shared routing (computed once, on first use)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting.parameters import ParameterRegister
from ecovalue.accounting.profiles import Profile
from ecovalue.datasets.loader import Dataset
from ecovalue.errors import InputError
from ecovalue.raster.routing_cache import RoutingCache


@dataclass(frozen=True)
class Layer:
    """What an indicator computes: per-pixel physical quantity and value (元, current prices).

    An indicator with sub-items (catalogue ``sub_items``) also has ``parts``: each sub-item's
    physical quantity per pixel, valued at ``prices[sub-item]`` (元 per unit); its
    ``physical`` and ``value`` are then :func:`parts_layer`'s sums of them. A part ``""``
    holds a reported total that is not split (one price for every sub-item)."""

    physical: np.ndarray
    value: np.ndarray
    method: str
    source: str = "model"
    unit: str = ""  # physical unit; empty = the catalogue's unit
    notes: tuple[str, ...] = ()
    parts: Mapping[str, np.ndarray] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)


def parts_layer(
    indicator: str,
    parts: Mapping[str, np.ndarray],
    prices: Mapping[str, float],
    method: str,
    notes: tuple[str, ...] = (),
    unit: str = "",
    source: str = "model",
    empty: np.ndarray | None = None,
) -> Layer:
    """The layer of an indicator with sub-items from its parts: physical = the sum of the parts
    that make up the indicator's quantity (sub-item ``in_total``, and ``""``), value = the sum
    of every part times its price, pixel by pixel in sub-item order. ``empty``: the zero layer
    (NaN outside the valid pixels) of an indicator with no part yet."""
    from ecovalue.accounting.catalogue import INDICATORS

    spec = INDICATORS[indicator]
    order = [s.id for s in spec.sub_items if s.id in parts] + [p for p in parts if p == ""]
    if not order:
        if empty is None:
            raise ValueError(f"{indicator}: a layer of no parts needs its empty grid")
        return Layer(empty, empty.copy(), method, source, unit, notes, {}, dict(prices))
    in_total = {s.id for s in spec.sub_items if s.in_total} | {""}
    physical: np.ndarray | None = None
    value: np.ndarray | None = None
    for p in order:
        if p in in_total:
            physical = parts[p].copy() if physical is None else physical + parts[p]
        v = parts[p] * prices[p]
        value = v if value is None else value + v
    assert value is not None
    if physical is None:  # only parts outside the total (cannot happen for a computed layer)
        physical = np.where(np.isnan(value), np.nan, 0.0)
    return Layer(physical, value, method, source, unit, notes, dict(parts), dict(prices))


def missing_raster(key: str) -> InputError:
    """The error of a computation that needs raster ``key`` and a dataset without it."""
    return InputError(f"raster '{key}' is not in the dataset; add [rasters.{key}] to dataset.toml")


def statistic_sums(statistics: pd.DataFrame, year: int) -> dict[tuple[Any, Any], float]:
    """(region code, item) → the sum of its quantities in ``year``, for every pair with rows
    (each the ``Series.sum`` of its rows in table order: NaN skipped)."""
    s = statistics[statistics["year"] == year]
    out: dict[tuple[Any, Any], float] = {}
    for (code, item), rows in s.groupby(["region_code", "item"], sort=False):
        out[(code, item)] = float(rows["quantity"].sum())
    return out


@dataclass
class Context:
    ds: Dataset
    year: int
    profile: Profile
    params: ParameterRegister
    notes: list[str] = field(default_factory=list)
    progress: Callable[[str], None] | None = None
    routing_cache: RoutingCache | None = None
    """Where :attr:`ls` is kept and found again (:mod:`ecovalue.raster.routing_cache`)."""
    routing_from_cache: bool = False

    @property
    def valid(self) -> np.ndarray:
        return self.ds.valid

    @property
    def pixel_area_m2(self) -> float:
        return self.ds.grid.pixel_area_m2

    @property
    def landcover(self) -> np.ndarray:
        return self.ds.rasters["landcover"]

    def p(self, pid: str, unit: str | None = None) -> float:
        """A parameter's value (converted to ``unit`` when given)."""
        return self.params.get_float(pid, unit)

    @cached_property
    def class_row(self) -> np.ndarray:
        """Per-pixel row number in the land-cover table (−1 outside valid pixels), found once per run.

        Checked here, once: every code of a valid pixel has a row (else the same error as
        ``models.common.class_lookup``, naming the codes).
        """
        from ecovalue.models.common import class_lookup
        from ecovalue.raster.pixelwise import class_rows

        t = self.ds.landcover_table
        codes = t["code"].to_numpy()
        rows, missing = class_rows(self.landcover, codes, self.valid)
        if missing or len(np.unique(codes)) != len(codes):
            # the slow path words the error (codes missing from the table, duplicates)
            class_lookup(self.landcover, codes, np.arange(len(t), dtype=np.float64), "code", self.valid)
        return rows

    def lc(self, column: str) -> np.ndarray:
        """Per-pixel value of a land-cover table column (NaN outside valid pixels)."""
        from ecovalue.raster.pixelwise import gather

        values = np.append(self.lc_values(column), np.nan)  # row −1 → NaN
        return gather(values, self.class_row)

    def lc_values(self, column: str) -> np.ndarray:
        """A land-cover table column's values by table row (float64), for kernels that look
        them up by :attr:`class_row` themselves."""
        t = self.ds.landcover_table
        if column not in t.columns:
            raise InputError(f"the land-cover table has no column '{column}'; add it (docs/dataset-format.md)")
        return t[column].to_numpy(np.float64)

    def in_scope_rows(self, indicator: str) -> np.ndarray:
        """By land-cover table row: whether its class is in the indicator's scope (all True
        without a scope); :meth:`in_scope` by row."""
        types = self.scope(indicator)
        t = self.ds.landcover_table
        if not types:
            return np.ones(len(t), dtype=bool)
        return t["ecosystem_type"].isin(list(types)).to_numpy()

    def lc_type_mask(self, types: tuple[str, ...] | list[str]) -> np.ndarray:
        """Valid pixels whose class maps to one of the ecosystem ``types`` (kept for the run:
        treat as read-only)."""
        key = tuple(sorted(set(types)))
        cache = self.__dict__.setdefault("_type_masks", {})
        if key not in cache:
            t = self.ds.landcover_table
            wanted = np.append(t["ecosystem_type"].isin(list(key)).to_numpy(), False)
            mask = wanted[self.class_row]
            mask.flags.writeable = False
            cache[key] = mask
        return cache[key]

    def scope(self, indicator: str) -> tuple[str, ...]:
        """Ecosystem types an indicator applies to (profile [scopes], else the catalogue's; () = all)."""
        from ecovalue.accounting.catalogue import INDICATORS

        return self.profile.scopes.get(indicator, INDICATORS[indicator].ecosystem_types)

    def in_scope(self, indicator: str, layer: np.ndarray) -> np.ndarray:
        """``layer`` with 0 on valid pixels outside the indicator's scope (unchanged if no scope)."""
        types = self.scope(indicator)
        if not types:
            return layer
        return np.where(self.lc_type_mask(types) | ~self.valid, layer, 0.0)

    def raster(self, key: str) -> np.ndarray:
        """A float64 copy of an input raster (the kernel may modify it)."""
        return self.raster_view(key).astype(np.float64)

    def raster_view(self, key: str) -> np.ndarray:
        """An input raster as stored (float32; read-only by convention): no whole-grid copy."""
        if key not in self.ds.rasters:
            raise missing_raster(key)
        return self.ds.rasters[key]

    @cached_property
    def stats_year(self) -> pd.DataFrame:
        s = self.ds.statistics
        return s[s["year"] == self.year]

    @cached_property
    def stat_sums(self) -> dict[tuple[Any, Any], float]:
        """:func:`statistic_sums` of the run year (a caller with many contexts on one dataset,
        e.g. the streamed engine's blocks, may set it once for all of them)."""
        return statistic_sums(self.ds.statistics, self.year)

    def stat(self, region_code: str, item: str) -> float | None:
        """Sum of a statistics item for a region in the run year (None when absent)."""
        return self.stat_sums.get((region_code, item))

    def stat_by_region(self, item: str) -> dict[int, float]:
        """Region index → quantity of ``item`` for regions that report it."""
        out: dict[int, float] = {}
        for i, r in enumerate(self.ds.regions):
            v = self.stat(r.code, item)
            if v is not None:
                out[i] = v
        return out

    @cached_property
    def routing(self) -> Any:
        """Depression filling, flow accumulation and LS factor, computed once for the run."""
        from ecovalue.raster.hydrology import default_threads, route

        if self.progress:
            self.progress("routing")
        # the DEM as loaded: the routing converts it itself (a DEM of float32 values is
        # routed in float32, the same bits)
        return route(self.ds.rasters["dem"], self.routing_valid, self.ds.grid.cell_width,
                     method=self.routing_method,
                     formulation=self.profile.methods.get("ls_formulation", "desmet_govers"),
                     threads=default_threads())

    @property
    def routing_valid(self) -> np.ndarray:
        """The pixels the routing runs on: every pixel where the DEM has data, inside the
        regions or not (real DEMs extend beyond the districts: flow from upslope outside them
        reaches the pixels inside, and a district's outer boundary is no edge of the slope).
        The account itself stays inside the regions (:attr:`valid`). A dataset without the
        DEM's own mask (built by hand) routes on :attr:`valid`."""
        mask = self.ds.raster_valid.get("dem")
        return mask if mask is not None and mask.shape == self.valid.shape else self.valid

    @property
    def routing_method(self) -> str:
        return str(self.profile.methods.get("routing", "mfd"))

    @cached_property
    def ls(self) -> np.ndarray:
        """The LS factor of :attr:`routing`, through :attr:`routing_cache` when there is one."""
        if self.routing_cache is None:
            return np.asarray(self.routing.ls)
        from ecovalue.raster.hydrology import default_threads
        from ecovalue.raster.routing_cache import route_ls_cached

        if self.progress:
            self.progress("routing")
        ls, self.routing_from_cache = route_ls_cached(
            self.ds.rasters["dem"], self.routing_valid, self.ds.grid.cell_width,
            method=self.routing_method,
            formulation=self.profile.methods.get("ls_formulation", "desmet_govers"),
            cache=self.routing_cache, threads=default_threads(),
        )
        return ls
