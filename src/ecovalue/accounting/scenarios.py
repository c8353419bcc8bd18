"""Before/after scenarios for a plot: what a planned project does to GEP (ADR 0004).

A :class:`Scenario` describes changes inside a plot: land-cover conversion rules ("60 % of
cropland → built-up"), a replacement land-cover raster, polygons with a new code, new
reservoirs, and parameter overrides. :func:`run_scenario` builds the scenario dataset (a copy of
the baseline with the changes), reruns the same account on it and compares the two runs pixel
by pixel, so effects that reach outside the plot (the landscape premium within its distance,
caps by district emissions, a water body's storage) are counted where they fall and reported as
"outside the plot", each with its cause (ADR 0004, 0032).

Only the plot's area is converted: a pixel the outline covers in part is converted by that
fraction (exact coverage, as plot GEP), its layers the baseline's plus that fraction of the
change. Statistics-based indicators (provisioning, recreation) follow the converted area: a
converted pixel loses the output per hectare of its old class in its district and gains that
of its new class; the district's statistics are not re-spread over its remaining land (which
showed a cropland conversion as −X inside and +X outside, no loss of food at all).

Rasters that follow land cover (NPP, AET, property value) take, on converted pixels, the mean of
the new class over the baseline dataset ("class_mean"; assumed — user-settable per raster in the
scenario's ``[rasters_on_change]``: "class_mean", "keep" or a number in the raster's canonical unit).
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ecovalue.accounting.aggregation import to_money
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.parameters import Parameter, make_parameter
from ecovalue.accounting.plot import (
    PlotEngine,
    PlotResult,
    check_plot_geometry,
    read_plot_file,
    to_grid_crs,
)
from ecovalue.accounting.profiles import Profile, load_profile
from ecovalue.accounting.result import IndicatorLayer, RunResult
from ecovalue.accounting.streaming_blocks import streamed_ways
from ecovalue.datasets.loader import Dataset, Feature
from ecovalue.errors import DataFileError, InputError

# Rasters whose values depend on land cover, and what converted pixels get by default (assumed — user-settable).
DEFAULT_RASTERS_ON_CHANGE: Mapping[str, str] = {
    "npp": "class_mean",
    "aet": "class_mean",
    "property_value": "class_mean",
    "soil_respiration": "class_mean",
}
#: The method of a statistics-based indicator in a scenario (stated in comparison.csv).
AREA_METHOD = (
    "scenario: output per hm² of the class in its district (baseline statistics) × area "
    "converted; the district's statistics are not re-spread"
)


@dataclass(frozen=True)
class ConversionRule:
    """Convert ``share`` of the plot's pixels with a code in ``from_codes`` to code ``to``."""

    from_codes: tuple[int, ...]
    to: int
    share: float = 1.0


@dataclass(frozen=True)
class PolygonChange:
    """Pixels of the plot inside ``geometry`` (dataset CRS after loading) take code ``to``."""

    geometry: BaseGeometry
    to: int
    crs: str | None = None


@dataclass(frozen=True)
class NewReservoir:
    """A new reservoir (flood regulation: share × capacity [S1]); geometry None = the plot."""

    name: str
    capacity_wan_m3: float
    geometry: BaseGeometry | None = None
    crs: str | None = None


@dataclass(frozen=True)
class Scenario:
    """A planned change inside a plot."""

    name: str = "scenario"
    title_zh: str = ""
    title_en: str = ""
    description: str = ""
    seed: int = 0
    conversions: tuple[ConversionRule, ...] = ()
    landcover_raster: Path | None = None
    polygons: tuple[PolygonChange, ...] = ()
    reservoirs: tuple[NewReservoir, ...] = ()
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rasters_on_change: Mapping[str, str | float] = field(
        default_factory=lambda: dict(DEFAULT_RASTERS_ON_CHANGE)
    )

    def describe(self) -> list[str]:
        """One line per change, for reports."""
        out = [
            f"convert {r.share:.0%} of pixels with code {list(r.from_codes)} to {r.to}"
            for r in self.conversions
        ]
        if self.landcover_raster:
            out.append(f"replacement land cover inside the plot from {self.landcover_raster}")
        out += [f"polygon {i + 1} → code {p.to}" for i, p in enumerate(self.polygons)]
        out += [f"new reservoir '{r.name}' of {r.capacity_wan_m3:g} 万m³" for r in self.reservoirs]
        out += [
            f"parameter {pid} = {e.get('value')} {e.get('unit', '')}".rstrip()
            for pid, e in self.parameters.items()
        ]
        return out or ["no change"]


# ------------------------------------------------------------------ reading


def _geometry(
    entry: Mapping[str, Any], base: Path | None, what: str
) -> tuple[BaseGeometry | None, str | None]:
    if "path" in entry:
        p = Path(entry["path"])
        geom, crs = read_plot_file(p if p.is_absolute() or base is None else base / p)
        return geom, entry.get("crs") or crs or None
    if "geometry" in entry:
        try:
            g = shape(entry["geometry"])
        except Exception as exc:
            raise InputError(f"scenario {what}: 'geometry' is not GeoJSON ({exc})") from exc
        return g, entry.get("crs")
    return None, None


def scenario_from_dict(raw: Mapping[str, Any], base_dir: Path | None = None) -> Scenario:
    """Build a Scenario from its TOML/JSON structure (see docs/decisions/0004); InputError on bad entries."""
    head = dict(raw.get("scenario", {}))
    known = {
        "scenario",
        "conversion",
        "landcover",
        "polygon",
        "reservoir",
        "parameters",
        "rasters_on_change",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise InputError(f"scenario: unknown sections {unknown}; known: {sorted(known)}")
    rules = []
    for i, c in enumerate(raw.get("conversion", [])):
        if "from" not in c or "to" not in c:
            raise InputError(
                f"scenario conversion {i + 1}: needs 'from' (codes) and 'to' (code), got {dict(c)}"
            )
        frm = c["from"] if isinstance(c["from"], list) else [c["from"]]
        share = float(c.get("share", 1.0))
        if not 0.0 <= share <= 1.0:
            raise InputError(
                f"scenario conversion {i + 1}: share {share} must be between 0 and 1 (0.6 = 60 %)"
            )
        rules.append(ConversionRule(tuple(int(x) for x in frm), int(c["to"]), share))
    polys = []
    for i, p in enumerate(raw.get("polygon", [])):
        g, crs = _geometry(p, base_dir, f"polygon {i + 1}")
        if g is None or "to" not in p:
            raise InputError(
                f"scenario polygon {i + 1}: needs 'to' (code) and 'geometry' (GeoJSON) or 'path'"
            )
        polys.append(PolygonChange(g, int(p["to"]), crs))
    reservoirs = []
    for i, r in enumerate(raw.get("reservoir", [])):
        if "capacity_wan_m3" not in r:
            raise InputError(
                f"scenario reservoir {i + 1}: needs capacity_wan_m3 (total storage, 万m³)"
            )
        g, crs = _geometry(r, base_dir, f"reservoir {i + 1}")
        reservoirs.append(
            NewReservoir(
                str(r.get("name", f"new reservoir {i + 1}")), float(r["capacity_wan_m3"]), g, crs
            )
        )
    lc = raw.get("landcover", {}).get("path")
    lc_path = (
        None
        if lc is None
        else (Path(lc) if Path(lc).is_absolute() or base_dir is None else base_dir / lc)
    )
    on_change = dict(DEFAULT_RASTERS_ON_CHANGE)
    on_change.update(raw.get("rasters_on_change", {}))
    return Scenario(
        name=str(head.get("name", "scenario")),
        title_zh=str(head.get("title_zh", "")),
        title_en=str(head.get("title_en", "")),
        description=str(head.get("description", "")),
        seed=int(head.get("seed", 0)),
        conversions=tuple(rules),
        landcover_raster=lc_path,
        polygons=tuple(polys),
        reservoirs=tuple(reservoirs),
        parameters=dict(raw.get("parameters", {})),
        rasters_on_change=on_change,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a .toml or .json file (relative paths inside are relative to the file)."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"scenario file {p} not found; give a .toml or .json scenario file")
    try:
        raw = (
            json.loads(p.read_text("utf-8"))
            if p.suffix.lower() == ".json"
            else tomllib.loads(p.read_text("utf-8"))
        )
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"scenario file {p} cannot be parsed ({exc})") from exc
    return scenario_from_dict(raw, p.parent)


# ------------------------------------------------------------------ building the scenario dataset


@dataclass
class AppliedScenario:
    """The scenario dataset and what changed."""

    dataset: Dataset
    profile: Profile
    changed: np.ndarray  # bool per pixel: land cover changed (on some of its area)
    transitions: pd.DataFrame  # from_code, to_code, pixels, area_km2
    notes: list[str]
    weight: np.ndarray | None = None  # per pixel: the fraction of its area converted (0–1)


def plot_cover(engine: PlotEngine, geom: BaseGeometry) -> np.ndarray:
    """Per pixel, the fraction of its area inside ``geom`` (exactextract, ADR 0004)."""
    ids, cov = engine.coverage(geom)
    out = np.zeros(engine.grid.shape)
    out.ravel()[ids] = np.minimum(cov, 1.0)
    return out


def _check_codes(codes: set[int], ds: Dataset) -> None:
    known = set(int(c) for c in ds.landcover_table["code"])
    missing = sorted(codes - known)
    if missing:
        raise InputError(
            f"scenario uses land-cover codes {missing} that the land-cover table lacks; "
            f"use one of {sorted(known)} or add rows for them to tables/landcover.csv"
        )


def _convert(
    lc: np.ndarray, cover: np.ndarray, rules: tuple[ConversionRule, ...], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Apply conversion rules to the baseline codes inside the plot (``cover``: each pixel's
    fraction inside it). A rule converts ``share`` of the plot's area of its from-codes
    (counted on the baseline): pixels chosen at random with ``seed`` among those no earlier
    rule took, each with its covered fraction, the last one in part so that the area is
    exact. Returns the new codes and each pixel's converted fraction."""
    rng = np.random.default_rng(seed)
    out = lc.copy()
    weight = np.zeros(lc.shape)
    for i, r in enumerate(rules):
        base = (cover > 0) & np.isin(lc, r.from_codes)
        target = r.share * float(cover[base].sum())
        free = rng.permutation(np.flatnonzero(base & (weight == 0)))
        cum = np.cumsum(cover.ravel()[free])
        if target > (cum[-1] if cum.size else 0.0) * (1 + 1e-9) + 1e-12:
            raise InputError(
                f"scenario conversion {i + 1}: the shares of rules converting codes {list(r.from_codes)} "
                "add up to more than 100 %; lower them"
            )
        n_full = int(np.searchsorted(cum, target * (1 - 1e-12), side="right"))
        pick = free[:n_full]
        weight.ravel()[pick] = cover.ravel()[pick]
        rest = target - (float(cum[n_full - 1]) if n_full else 0.0)
        if rest > 1e-12 * max(target, 1.0) and n_full < free.size:  # the last pixel in part
            weight.ravel()[free[n_full]] = rest
            pick = free[: n_full + 1]
        out.ravel()[pick] = r.to
    return out, weight


def _replacement(ds: Dataset, path: Path, cover: np.ndarray, lc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The replacement raster's codes inside the plot, and where they differ from ``lc`` the
    pixels' covered fraction as their converted fraction."""
    from ecovalue.raster import io

    if not io.info(path).grid.same_as(ds.grid):
        raise InputError(
            f"replacement land cover {path} is not on the dataset grid ({ds.grid}); "
            "resample it with nearest neighbour onto the dataset grid"
        )
    arr, ok = io.read(path)
    take = (cover > 0) & ok & (arr.astype(lc.dtype) != lc)
    return np.where(take, arr.astype(lc.dtype), lc), np.where(take, cover, 0.0)


def _rasters_on_change(
    ds: Dataset,
    new_lc: np.ndarray,
    changed: np.ndarray,
    how: Mapping[str, str | float],
    notes: list[str],
) -> dict[str, np.ndarray]:
    rasters = dict(ds.rasters)
    base_lc = ds.rasters["landcover"]
    for key, rule in how.items():
        if key not in rasters or not changed.any() or rule == "keep":
            continue
        arr = rasters[key].copy()
        if rule == "class_mean":
            for code in np.unique(new_lc[changed]):
                sel = ds.valid & (base_lc == code) & np.isfinite(arr)
                px = changed & (new_lc == code)
                if sel.any():
                    arr[px] = float(arr[sel].mean())
                else:
                    notes.append(
                        f"{key}: class {code} has no pixel in the baseline to take a mean from; "
                        f"converted pixels keep their {key} (set [rasters_on_change] {key} = a number)"
                    )
        else:
            try:
                arr[changed] = float(rule)
            except (TypeError, ValueError):
                raise InputError(
                    f"scenario [rasters_on_change] {key} = {rule!r}; expected 'class_mean', 'keep' "
                    "or a number in the raster's canonical unit"
                ) from None
        rasters[key] = arr
    return rasters


def _parameter_overrides(
    prof: Profile, ds: Dataset, entries: Mapping[str, Mapping[str, Any]]
) -> tuple[Profile, Dataset]:
    params: dict[str, Parameter] = {}
    prices = ds.prices.copy()
    for pid, e in entries.items():
        e = dict(e) if isinstance(e, Mapping) else {"value": e}
        if pid.startswith(
            "price."
        ):  # dataset prices override the profile in the run, so change them there
            hit = prices["item"] == pid[len("price.") :]
            if not hit.any():
                raise InputError(
                    f"scenario parameter {pid}: the dataset prices table has no item '{pid[6:]}'"
                )
            for col in ("value", "unit", "price_year", "source"):
                if col in e:
                    prices.loc[hit, col] = e[col]
            continue
        old = prof.parameters[pid] if pid in prof.parameters else None
        full = {
            "unit": old.unit if old else None,
            "source": "scenario override",
            "status": "assumed",
            "price_year": old.price_year if old else None,
            "name_zh": old.name_zh if old else "",
            "name_en": old.name_en if old else "",
        }
        full.update(e)
        params[pid] = make_parameter(pid, full, "scenario")
    raw = dict(prof.raw)
    raw["scenario_parameters"] = {
        k: dict(v) if isinstance(v, Mapping) else v for k, v in entries.items()
    }
    prof2 = dataclasses.replace(prof, parameters=prof.parameters.with_overrides(params), raw=raw)
    return prof2, dataclasses.replace(ds, prices=prices)


def _reservoirs(
    ds: Dataset, plot: BaseGeometry, new: tuple[NewReservoir, ...]
) -> dict[str, list[Feature]]:
    vectors = dict(ds.vectors)
    if new:
        feats = list(vectors.get("reservoirs", []))
        for r in new:
            g = (
                plot
                if r.geometry is None
                else to_grid_crs(check_plot_geometry(r.geometry), r.crs, ds.grid.crs)
            )
            if r.capacity_wan_m3 < 0:
                raise InputError(
                    f"new reservoir '{r.name}': capacity {r.capacity_wan_m3} 万m³ must be ≥ 0"
                )
            feats.append(Feature(g, {"name": r.name, "capacity_wan_m3": r.capacity_wan_m3}))
        vectors["reservoirs"] = feats
    return vectors


def apply_scenario(
    ds: Dataset, profile: Profile, engine: PlotEngine, plot: BaseGeometry, scenario: Scenario
) -> AppliedScenario:
    """The scenario dataset and profile: the baseline with the scenario's changes inside ``plot``
    (grid CRS), and each pixel's converted fraction (the plot's area only, pixel by pixel)."""
    notes: list[str] = []
    lc = ds.rasters["landcover"]
    cover = np.where(ds.valid, plot_cover(engine, plot), 0.0)
    _check_codes({r.to for r in scenario.conversions} | {p.to for p in scenario.polygons}, ds)
    new_lc, weight = _convert(lc, cover, scenario.conversions, scenario.seed)
    if scenario.landcover_raster is not None:
        new_lc, w = _replacement(ds, Path(scenario.landcover_raster), cover, new_lc)
        weight = np.where(w > 0, w, weight)
    for i, p in enumerate(scenario.polygons):
        g = to_grid_crs(check_plot_geometry(p.geometry), p.crs, ds.grid.crs)
        if not g.within(plot.buffer(1e-6)):
            notes.append(
                f"polygon change {i + 1} extends outside the plot; only the part inside the plot is applied"
            )
        part = g.intersection(plot)
        w = np.where(ds.valid, plot_cover(engine, part), 0.0) if not part.is_empty else np.zeros(lc.shape)
        take = (w > 0) & (lc != p.to)
        new_lc = np.where(take, p.to, new_lc).astype(lc.dtype)
        weight = np.where(take, w, np.where(w > 0, 0.0, weight))
    _check_codes(set(int(c) for c in np.unique(new_lc[ds.valid])), ds)
    changed = (new_lc != lc) & ds.valid
    weight = np.where(changed, weight, 0.0)
    rasters = _rasters_on_change(ds, new_lc, changed, scenario.rasters_on_change, notes)
    rasters["landcover"] = new_lc
    ds2 = dataclasses.replace(
        ds, rasters=rasters, vectors=_reservoirs(ds, plot, scenario.reservoirs)
    )
    prof2, ds2 = _parameter_overrides(profile, ds2, scenario.parameters)
    ds2.content_hash = ds2.compute_hash()
    px_km2 = ds.grid.pixel_area_m2 / 1e6
    pairs = pd.DataFrame({"from_code": lc[changed], "to_code": new_lc[changed],
                          "area_km2": weight[changed] * px_km2})
    if len(pairs):
        trans = pairs.groupby(["from_code", "to_code"], as_index=False).agg(
            pixels=("area_km2", "size"), area_km2=("area_km2", "sum"))
    else:
        trans = pd.DataFrame(columns=["from_code", "to_code", "pixels", "area_km2"])
    partial = int(((weight > 0) & (weight < 1)).sum())
    if partial:
        notes.append(
            f"{partial} pixels on the plot's outline are converted by the fraction of them inside it "
            "(their layers: the baseline's plus that fraction of the change); effects beyond them "
            "(routing, neighbourhood) are computed with those pixels converted whole"
        )
    return AppliedScenario(
        ds2, prof2, changed,
        trans[["from_code", "to_code", "pixels", "area_km2"]].sort_values(["from_code", "to_code"])
        .reset_index(drop=True),
        notes, weight,
    )


# ------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class ScenarioRow:
    """Baseline vs scenario for one indicator: in the plot, and the change outside it."""

    indicator: str
    name_zh: str
    name_en: str
    category: str
    physical_unit: str
    baseline_physical: float
    scenario_physical: float
    delta_physical_outside: float
    baseline_value: Decimal
    scenario_value: Decimal
    delta_value_outside: Decimal
    affected_km2_outside: float  # area outside the plot whose value or quantity changed
    reach: str  # why the effect reaches outside the plot ("" if it does not)
    method: str = ""  # how the scenario's number was found (e.g. AREA_METHOD)

    @property
    def delta_physical_in_plot(self) -> float:
        return self.scenario_physical - self.baseline_physical

    @property
    def delta_value_in_plot(self) -> Decimal:
        return self.scenario_value - self.baseline_value

    @property
    def delta_value_total(self) -> Decimal:
        return self.delta_value_in_plot + self.delta_value_outside


@dataclass
class ScenarioResult:
    """Baseline and scenario runs and their comparison for one plot."""

    scenario: Scenario
    baseline: RunResult
    after: RunResult
    plot_baseline: PlotResult
    plot_after: PlotResult
    rows: list[ScenarioRow]
    delta_value: np.ndarray  # 元 per pixel, all indicators, scenario − baseline (0 where unchanged)
    changed: np.ndarray  # bool: land cover changed
    transitions: pd.DataFrame
    notes: list[str]
    class_names: dict[int, str] = field(default_factory=dict)  # land-cover code -> "名称 name"

    @property
    def plot(self) -> BaseGeometry:
        return self.plot_baseline.geometry

    def totals(self) -> dict[str, Decimal]:
        z = Decimal(0)
        return {
            "baseline": sum((r.baseline_value for r in self.rows), z),
            "scenario": sum((r.scenario_value for r in self.rows), z),
            "delta_in_plot": sum((r.delta_value_in_plot for r in self.rows), z),
            "delta_outside": sum((r.delta_value_outside for r in self.rows), z),
            "delta_total": sum((r.delta_value_total for r in self.rows), z),
        }

    @property
    def reaches_outside(self) -> list[ScenarioRow]:
        return [r for r in self.rows if r.affected_km2_outside > 0]

    @property
    def losses(self) -> list[ScenarioRow]:
        """Indicators whose value falls (in and outside the plot), the largest loss first."""
        return sorted((r for r in self.rows if r.delta_value_total < 0), key=lambda r: r.delta_value_total)

    @property
    def gains(self) -> list[ScenarioRow]:
        """Indicators whose value rises, the largest gain first."""
        return sorted((r for r in self.rows if r.delta_value_total > 0), key=lambda r: -r.delta_value_total)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "indicator": r.indicator,
                    "indicator_zh": r.name_zh,
                    "indicator_en": r.name_en,
                    "category": r.category,
                    "physical_unit": r.physical_unit,
                    "baseline_physical": r.baseline_physical,
                    "scenario_physical": r.scenario_physical,
                    "delta_physical_in_plot": r.delta_physical_in_plot,
                    "delta_physical_outside_plot": r.delta_physical_outside,
                    "baseline_value": r.baseline_value,
                    "scenario_value": r.scenario_value,
                    "delta_value_in_plot": r.delta_value_in_plot,
                    "delta_value_outside_plot": r.delta_value_outside,
                    "delta_value_total": r.delta_value_total,
                    "affected_area_outside_plot_km2": r.affected_km2_outside,
                    "reaches_outside_because": r.reach,
                    "method": r.method,
                }
                for r in self.rows
            ]
        )


def reach_reason(
    indicator: str, method: str, after: RunResult, overridden: frozenset[str] = frozenset()
) -> str:
    """Why an indicator's change reaches outside the plot, from how the indicator is computed
    (``streaming_blocks.streamed_ways``, the catalogue's inputs) and the scenario's overrides."""
    spec = INDICATORS[indicator]
    used = set(spec.parameters) | {p for s in spec.sub_items for p in s.parameters}
    way = streamed_ways()[indicator]
    if used & overridden or (way == "statistics" and any(p.startswith("price.") for p in overridden)):
        return (
            "参数调整作用于全域 a parameter override applies to the whole dataset, not only the plot: "
            + ", ".join(sorted(overridden))
        )
    if way == "global":  # the landscape premium: a neighbourhood within a distance
        dist = next((p.value for p in after.parameters if p.id == "landscape.distance"), "the set")
        return (f"邻近效应 neighbourhood: the landscape premium reaches built-up pixels within {dist} m "
                "of green space or water")
    if way == "pollutants" and method.endswith("_capped"):
        return "受区排放总量约束 district cap: a binding cap by the district's reported total rescales the whole district"
    if way == "polygons":
        return "水体调蓄 water body: a lake's or reservoir's storage is spread over its pixels, which may lie outside the plot"
    if "dem" in spec.required_rasters:
        return "汇流 routing: the change travels along the DEM's flow paths to pixels downslope"
    if way == "statistics":
        return "统计总量 statistics: the district's statistics changed"
    return ("无外溢机制 the model has no mechanism that reaches outside the plot for this indicator; "
            "the change outside is a defect (please report it with the scenario)")


def scenario_layers(
    baseline: RunResult, after: RunResult, applied: AppliedScenario, profile: Profile
) -> tuple[dict[str, IndicatorLayer], dict[str, str]]:
    """The scenario's layers: statistics-based indicators follow the converted area
    (:data:`AREA_METHOD`), and on a converted pixel every layer is the baseline's plus its
    converted fraction of the change (the plot's area only). Also each indicator's method."""
    methods = {str(i): str(m) for i, m in zip(after.table["indicator"], after.table["method"], strict=True)}
    weight = applied.weight if applied.weight is not None else applied.changed.astype(float)
    changed = weight > 0
    out: dict[str, IndicatorLayer] = {}
    for ind, la in after.layers.items():
        lb = baseline.layers.get(ind)
        if lb is None:
            out[ind] = la
            continue
        if streamed_ways()[ind] == "statistics":
            la = _follow_area(ind, baseline, lb, applied, profile)
            methods[ind] = AREA_METHOD
        phys, val = la.physical.copy(), la.value.copy()
        for arr, base in ((phys, lb.physical), (val, lb.value)):
            arr[changed] = base[changed] + weight[changed] * (arr[changed] - base[changed])
        out[ind] = IndicatorLayer(ind, phys, la.physical_unit, val)
    return out, methods


def _follow_area(
    ind: str, baseline: RunResult, lb: IndicatorLayer, applied: AppliedScenario, profile: Profile
) -> IndicatorLayer:
    """A statistics-based indicator on the scenario's land cover: a converted pixel takes the
    output per pixel (equal-area pixels: per hectare) of its district's producing pixels in the
    baseline (those of the indicator's ecosystem types, which share the district's total
    evenly, ADR 0001) when its new class produces it, else nothing; every other pixel keeps its
    baseline value. A district whose total the baseline spread over all its pixels (it had no
    producing pixel) keeps its pixels' shares."""
    ds = applied.dataset
    t = ds.landcover_table
    types = profile.scopes.get(ind, INDICATORS[ind].ecosystem_types)
    producing = [int(c) for c, e in zip(t["code"], t["ecosystem_type"], strict=True) if not types or e in types]
    base_in = np.isin(baseline.landcover, producing)
    new_in = np.isin(ds.rasters["landcover"], producing)
    phys, val = lb.physical.copy(), lb.value.copy()
    for r in np.unique(ds.region_index[applied.changed]):
        unit = ds.valid & (ds.region_index == r) & base_in
        if r < 0 or not unit.any():
            continue
        px = applied.changed & (ds.region_index == r)
        phys[px] = np.where(new_in[px], float(np.mean(lb.physical[unit])), 0.0)
        val[px] = np.where(new_in[px], float(np.mean(lb.value[unit])), 0.0)
    return IndicatorLayer(ind, phys, lb.physical_unit, val)


def compare(
    baseline: RunResult,
    after_layers: dict[str, IndicatorLayer],
    plot: BaseGeometry,
    engine_before: PlotEngine,
    weight: np.ndarray,
    methods: dict[str, str],
    after: RunResult,
    overridden: frozenset[str] = frozenset(),
) -> tuple[list[ScenarioRow], np.ndarray, PlotResult]:
    """Per-indicator comparison in and outside the plot, and the per-pixel value delta.

    A converted pixel's change is the plot's (its converted part lies inside the outline); any
    other pixel's change is split by the fraction of it inside the plot."""
    pb = engine_before.plot(plot)
    inside_w = np.where(weight > 0, 1.0, plot_cover(engine_before, plot))
    outside_w = 1.0 - inside_w
    px_km2 = baseline.grid.pixel_area_m2 / 1e6
    delta_total = np.zeros(baseline.grid.shape)
    rows = []
    for ind in dict.fromkeys([*baseline.layers, *after_layers]):
        lb, la = baseline.layers.get(ind), after_layers.get(ind)
        if lb is None or la is None:
            continue
        dp = np.nan_to_num(la.physical) - np.nan_to_num(lb.physical)
        dv = np.nan_to_num(la.value) - np.nan_to_num(lb.value)
        delta_total += dv
        in_p, in_v = float((dp * inside_w).sum()), float((dv * inside_w).sum())
        out_p, out_v = float((dp * outside_w).sum()), float((dv * outside_w).sum())
        affected = float((((dp != 0) | (dv != 0)) * outside_w).sum() * px_km2)
        rb = pb.row(ind)
        method = methods.get(ind, "")
        reach = reach_reason(ind, method, after, overridden) if affected > 0 else ""
        spec = INDICATORS[ind]
        rows.append(ScenarioRow(
            ind, spec.name_zh, spec.name_en, spec.category, rb.physical_unit, rb.physical,
            rb.physical + in_p, out_p, rb.value, rb.value + to_money(in_v), to_money(out_v),
            affected, reach, method,
        ))
    return rows, delta_total, pb


def run_scenario(
    dataset: Dataset | str | Path,
    plot_geometry: BaseGeometry | str | Path,
    scenario: Scenario | str | Path,
    profile: Profile | str | Path = "cn-2022",
    year: int | None = None,
    plot_crs: str | None = None,
    baseline: RunResult | None = None,
) -> ScenarioResult:
    """Run the baseline (unless given) and the scenario account and compare them for the plot.

    The scenario dataset is the baseline with the scenario's changes inside the plot; the same
    profile (plus the scenario's parameter overrides) is run on it over the whole dataset, so
    changes outside the plot are counted. Raises InputError for a bad plot or scenario.
    """
    from ecovalue.accounting.pipeline import prepare, run_account
    from ecovalue.accounting.plot import _load_geometry

    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    ds, prof, year, _warnings = prepare(dataset, prof, year)
    base = baseline if baseline is not None else run_account(ds, prof, year)
    eng_b = PlotEngine.from_run(base)
    geom, crs = _load_geometry(plot_geometry, plot_crs)
    geom = to_grid_crs(check_plot_geometry(geom), crs, ds.grid.crs)
    eng_b.plot(geom)  # raises a clear error for a plot outside the data before the long rerun
    applied = apply_scenario(ds, prof, eng_b, geom, scen)
    after = run_account(applied.dataset, applied.profile, year)
    layers, methods = scenario_layers(base, after, applied, applied.profile)
    weight = applied.weight if applied.weight is not None else applied.changed.astype(float)
    rows, delta, pb = compare(base, layers, geom, eng_b, weight, methods, after,
                              frozenset(scen.parameters))
    after = dataclasses.replace(after, layers=layers)
    pa = PlotEngine.from_run(after).plot(geom)
    notes = list(applied.notes)
    if not applied.changed.any() and not scen.parameters and not scen.reservoirs:
        notes.append(
            "the scenario changes no pixel of the plot (check the codes and shares against the plot's land cover)"
        )
    if any(r.method == AREA_METHOD and r.delta_value_total != 0 for r in rows):
        notes.append(
            "统计类指标按面积变化 statistics-based indicators (provisioning, recreation) follow the converted "
            "area: output per hm² of each class in its district × the area converted; the district's "
            "statistics are not re-spread over its remaining land"
        )
    for r in rows:
        if r.reach:
            notes.append(
                f"{r.name_zh} {r.name_en}: changes reach {r.affected_km2_outside:.3g} km² outside the plot "
                f"(Δ {r.delta_value_outside} 元 there) — {r.reach}"
            )
    t = ds.landcover_table
    names = {
        int(c): f"{zh} {en}"
        for c, zh, en in zip(t["code"], t["name_zh"], t["name_en"], strict=True)
    }
    return ScenarioResult(
        scen, base, after, pb, pa, rows, delta, applied.changed, applied.transitions, notes, names
    )
