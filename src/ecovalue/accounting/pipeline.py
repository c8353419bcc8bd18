"""The accounting run: dataset + profile + year → :class:`RunResult`.

Steps (each timed): load and validate the dataset for the profile's needs; restate prices
to the accounting year; compute every indicator as per-pixel layers (statistics-based
indicators are allocated to matching pixels so they map and sum over any polygon); apply
departments' reported quantities (replace / complement); aggregate by region × ecosystem
type in one pass; convert money to Decimal once; value at constant prices.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import ecovalue
from ecovalue.accounting import aggregation as agg
from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.checks import result_warnings
from ecovalue.accounting.context import Context, Layer
from ecovalue.accounting.indicators import COMPUTE
from ecovalue.accounting.parameters import Parameter, ParameterRegister, make_parameter
from ecovalue.accounting.profiles import Profile, load_profile
from ecovalue.accounting.reported import WHOLE, Sources, apply_reported, sources_of
from ecovalue.accounting.result import (
    CATEGORY_ZH,
    ECOSYSTEM_TYPE_ZH,
    SUB_ITEM_COLUMNS,
    TABLE_COLUMNS,
    IndicatorLayer,
    ParameterUsed,
    Region,
    RunResult,
)
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.datasets.loader import Dataset, load_dataset
from ecovalue.datasets.validation import needs_for_profile
from ecovalue.errors import EngineError, InputError, NotApplicable, Problem
from ecovalue.raster.routing_cache import RoutingCache

Progress = Callable[[str, int, int], None]  # (step name, step number, total steps)


def code_version() -> str:
    """Package version plus a hash of the package's source files (reproducibility)."""
    root = Path(ecovalue.__file__).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".toml", ".j2") and "__pycache__" not in p.parts:
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return f"{ecovalue.__version__}+src.{h.hexdigest()[:16]}"


def dataset_prices(ds: Dataset) -> dict[str, Parameter]:
    """The dataset's local prices as register entries ``price.<item>`` (status 'dataset')."""
    out: dict[str, Parameter] = {}
    for _, row in ds.prices.iterrows():
        pid = f"price.{row['item']}"
        out[pid] = make_parameter(pid, {
            "value": row["value"], "unit": row["unit"], "price_year": row.get("price_year"),
            "region": row.get("region", ""), "source": row.get("source", "") or "dataset prices table",
            "status": "dataset", "name_zh": str(row["item"])[8:], "name_en": str(row["item"])[8:],
        }, "prices table")
    return out


def prepare(
    dataset: Dataset | str | Path, profile: Profile | str | Path, year: int | None = None
) -> tuple[Dataset, Profile, int, list[str]]:
    """Load the profile and (if given a path) the dataset, validated for the profile's needs;
    the warnings as text (:func:`prepare_checked` gives them as problems)."""
    ds, prof, year_, problems = prepare_checked(dataset, profile, year)
    return ds, prof, year_, [str(p) for p in problems]


def prepare_checked(
    dataset: Dataset | str | Path, profile: Profile | str | Path, year: int | None = None
) -> tuple[Dataset, Profile, int, list[Problem]]:
    """:func:`prepare` with the warnings of the profile and the dataset as problems."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    if isinstance(dataset, Dataset):
        ds = dataset
        problems = list(ds.warnings) + [w for w in prof.warnings if w not in ds.warnings]
    else:
        from ecovalue.datasets.manifest import read_manifest

        manifest, _ = read_manifest(dataset)
        y = year or (manifest.dataset.year if manifest else 0)
        ds, problems = load_dataset(dataset, needs_for_profile(prof, (y,)))
    return ds, prof, year or ds.info.year, problems


def run_account(
    dataset: Dataset | str | Path,
    profile: Profile | str | Path = "cn-2022",
    year: int | None = None,
    progress: Progress | None = None,
    block_rows: int = 1024,
    cache: RoutingCache | None = None,
) -> RunResult:
    """Run the full GEP account. Raises ValidationFailed (nothing computed) on bad input.

    ``block_rows`` sets the row-block size of the streamed aggregation (results do not depend on it).
    ``cache``: a :class:`ecovalue.raster.routing_cache.RoutingCache` where the LS factor of the
    routing is kept and found again for the same DEM, parameters and routing code (None: always
    route).
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ds, prof, year, warnings = prepare_checked(dataset, profile, year)
    timings["load_and_validate"] = time.perf_counter() - t0
    notes: list[str] = []
    if year != ds.info.year:
        notes.append(f"the rasters describe {ds.info.year}; statistics and prices are of {year}")
    params = prof.parameters.with_overrides(dataset_prices(ds))
    if prof.switches.get("restate_prices", True):
        if ds.price_index:
            params, restate_notes = params.adjusted_to_year(year, ds.price_index)
            notes += restate_notes
        else:
            notes.append("prices were not restated to the accounting year: the dataset has no price index")
    ctx = Context(ds, year, prof, params, routing_cache=cache)
    indicators = list(prof.indicators)
    total = len(indicators) + 2
    layers: dict[str, Layer] = {}
    not_applicable: dict[str, str] = {}

    def step(name: str, i: int) -> None:
        if progress:
            progress(name, i, total)

    ctx.progress = lambda name: step(name, 0)
    for i, ind in enumerate(indicators, start=1):
        step(ind, i)
        t = time.perf_counter()
        compute = COMPUTE.get(ind)
        try:
            if compute is not None:
                layers[ind] = compute(ctx)
        except NotApplicable as exc:
            not_applicable[ind] = str(exc)
        timings[ind] = time.perf_counter() - t
    step("reported quantities", total - 1)
    t = time.perf_counter()
    layers, sources = apply_reported(ctx, layers, not_applicable)
    timings["reported"] = time.perf_counter() - t
    check_every_indicator(indicators, layers, not_applicable, "in-memory")
    step("aggregation", total)
    t = time.perf_counter()
    table, sub_items = build_table(ctx, layers, sources, constant_factor(ctx, notes), block_rows)
    timings["aggregation"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    for lay in layers.values():
        notes += list(lay.notes)
    notes += ctx.notes
    notes = list(dict.fromkeys(notes))  # the same note from several indicators once
    return RunResult(
        dataset_name=ds.info.name, dataset_title_zh=ds.info.title_zh, dataset_title_en=ds.info.title_en,
        synthetic=ds.synthetic, year=year, profile_id=prof.id, base_year=prof.base_year, grid=ds.grid,
        regions=ds.regions, table=table,
        layers={k: IndicatorLayer(k, v.physical, v.unit or INDICATORS[k].physical_unit, v.value)
                for k, v in layers.items()},
        landcover=ds.rasters["landcover"], region_index=ds.region_index,
        parameters=parameters_used(params, indicators), not_applicable=not_applicable, notes=notes,
        hashes={"dataset": ds.content_hash, "profile": prof.hash, "code": code_version()},
        timings=timings, gdp=gdp_by_region(ctx), routing_from_cache=ctx.routing_from_cache,
        sub_items=sub_items,
        warnings=warnings + result_warnings(table, ds.regions, indicators, not_applicable),
    )


def check_every_indicator(
    indicators: Iterable[str], computed: Iterable[str], not_applicable: Mapping[str, str], engine: str
) -> None:
    """The end-of-run check of both engines: every indicator of the profile was computed (it has
    a layer or zonal sums, zero or not) or is named not applicable with its reason. Raises
    :class:`EngineError` naming the ones that were neither: the run would otherwise publish a
    GEP without them and say nothing."""
    done = set(computed)
    missing = [i for i in indicators if i not in done and not str(not_applicable.get(i, "")).strip()]
    if missing:
        raise EngineError(
            f"the {engine} engine computed no result for {missing} and named no reason why they "
            "are not applicable; GEP would leave them out silently, so the run stops. This is a "
            "defect of ecovalue (please report it with the profile and the dataset's manifest)"
        )


def constant_factor(ctx: Context, notes: list[str]) -> Decimal:
    """Factor from current prices of the run year to constant prices of the profile's base year."""
    idx, base, year = ctx.ds.price_index, ctx.profile.base_year, ctx.year
    if base == year:
        return Decimal(1)
    if base in idx and year in idx:
        return Decimal(repr(idx[base])) / Decimal(repr(idx[year]))
    notes.append(f"constant prices equal current prices: the price index lacks {base if base not in idx else year}")
    return Decimal(1)


@dataclass(frozen=True)
class IndicatorSums:
    """One indicator's zonal sums per (region, ecosystem type) key, as both engines hand them
    to :func:`indicator_rows`: per part (:data:`reported.WHOLE` for an indicator without
    sub-items) the physical sums, and the value sums of a part without a price (``None``:
    value = price × physical)."""

    indicator: str
    physical: Mapping[str, np.ndarray]
    value: Mapping[str, np.ndarray | None]
    prices: Mapping[str, float]
    unit: str
    method: str


def indicator_rows(
    regions: list[Region], year: int, sums: IndicatorSums, factor: Decimal,
    sources: Sources, default_source: str,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The table's rows (TABLE_COLUMNS) and the sub-item rows (SUB_ITEM_COLUMNS) of one
    indicator; each row's source is its reported one (``sources``), else ``default_source``. Money becomes
    Decimal here, once per sub-item cell; the indicator's row is the sum of its sub-items'."""
    spec = INDICATORS[sums.indicator]
    unit = sums.unit or spec.physical_unit
    in_total = {s.id for s in spec.sub_items if s.in_total} | {""}
    order = [s.id for s in spec.sub_items if s.id in sums.physical] + [p for p in sums.physical if p == ""]
    n_types = len(ECOSYSTEM_TYPES)
    n_keys = len(next(iter(sums.physical.values()))) if sums.physical else 0
    rows, sub_rows = [], []

    def source(r: int, et: str, part: str | None) -> str:
        return sources_of(sources, r, sums.indicator, et, part) or default_source

    for k in range(n_keys):
        r, e = divmod(k, n_types)
        region, et = regions[r], ECOSYSTEM_TYPES[e]
        head = (region.code, region.name_zh, region.name_en, year, sums.indicator, spec.name_zh, spec.name_en)
        tail = (spec.category, CATEGORY_ZH[spec.category], et, ECOSYSTEM_TYPE_ZH[et])
        phys_total, value_total, const_total, any_part = 0.0, Decimal(0), Decimal(0), False
        for part in order:
            phys = float(sums.physical[part][k])
            val_sums = sums.value.get(part)
            val = float(val_sums[k]) if val_sums is not None else phys * sums.prices[part]
            if phys == 0 and val == 0:
                continue
            any_part = True
            current = agg.to_money(val)
            constant = (current * factor).quantize(agg.CENT)
            if part in in_total:
                phys_total += phys
            value_total += current
            const_total += constant
            if spec.sub_items:
                sub = spec.sub_item(part) if part else None
                sub_rows.append((
                    *head, part, sub.name_zh if sub else "未分项", sub.name_en if sub else "not split",
                    part in in_total, *tail, phys, unit, current, constant, sums.method, source(r, et, part),
                ))
        if any_part:
            rows.append((*head, *tail, phys_total, unit, value_total, const_total, sums.method,
                         source(r, et, None)))
    return rows, sub_rows


def result_tables(rows: list[tuple[Any, ...]], sub_rows: list[tuple[Any, ...]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The results table and the sub-item table, each sorted by region, catalogue order,
    (sub-item order,) ecosystem type."""
    order = {c: i for i, c in enumerate(INDICATORS)}
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["_o"] = table["indicator"].map(order)
    table = table.sort_values(["region_code", "_o", "ecosystem_type"], kind="stable").drop(columns="_o")
    subs = pd.DataFrame(sub_rows, columns=list(SUB_ITEM_COLUMNS))
    subs["_o"] = subs["indicator"].map(order)
    subs["_s"] = [_sub_order(i, s) for i, s in zip(subs["indicator"], subs["sub_item"], strict=True)]
    subs = subs.sort_values(["region_code", "_o", "_s", "ecosystem_type"], kind="stable").drop(columns=["_o", "_s"])
    return table.reset_index(drop=True), subs.reset_index(drop=True)


def _sub_order(indicator: str, sub: str) -> int:
    ids = [s.id for s in INDICATORS[indicator].sub_items]
    return ids.index(sub) if sub in ids else len(ids)


def build_table(ctx: Context, layers: dict[str, Layer], sources: Sources,
                factor: Decimal, block_rows: int = 1024) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate all layers by region × ecosystem type into the tidy results table and the
    sub-item table."""
    t = ctx.ds.landcover_table
    eco = agg.ecosystem_index(ctx.landcover, t["code"].to_numpy(), list(t["ecosystem_type"]))
    region_index = np.where(ctx.valid, ctx.ds.region_index, -1)
    key, _, n_keys = agg.zone_keys(region_index, eco)
    rows: list[tuple[Any, ...]] = []
    sub_rows: list[tuple[Any, ...]] = []
    for ind, lay in layers.items():
        if lay.parts:
            parts = list(lay.parts)
            sums = agg.zonal_sums([lay.parts[p] for p in parts], key, n_keys, block_rows)
            isums = IndicatorSums(ind, dict(zip(parts, sums, strict=True)), {}, lay.prices, lay.unit, lay.method)
        else:
            phys, val = agg.zonal_sums([lay.physical, lay.value], key, n_keys, block_rows)
            isums = IndicatorSums(ind, {WHOLE: phys}, {WHOLE: val}, {}, lay.unit, lay.method)
        a, b = indicator_rows(ctx.ds.regions, ctx.year, isums, factor, sources, lay.source)
        rows += a
        sub_rows += b
    return result_tables(rows, sub_rows)


def parameters_used(params: ParameterRegister, indicators: list[str]) -> list[ParameterUsed]:
    used_ids: list[str] = []
    for ind in indicators:
        used_ids += [p for p in INDICATORS[ind].parameters if p not in used_ids]
    used_ids += sorted(p for p in params if p.startswith("price.") and p not in used_ids)
    out = []
    for pid in used_ids:
        if pid not in params:
            continue
        p = params[pid]
        out.append(ParameterUsed(pid, str(p.value), p.unit, p.price_year, p.region,
                                 p.source + (f" ({p.note})" if p.note else ""), p.status, p.name_zh, p.name_en))
    return out


def gdp_by_region(ctx: Context) -> dict[str, Decimal]:
    out = {}
    for r in ctx.ds.regions:
        v = ctx.stat(r.code, "gdp")
        if v is not None:
            out[r.code] = agg.to_money(v)
    return out


def ensure_known(indicator: str) -> None:
    if indicator not in INDICATORS:
        raise InputError(f"unknown indicator '{indicator}'; known: {sorted(INDICATORS)}")
