"""Departments' reported physical quantities (统计报表) replacing or complementing the model.

A ``replace`` row sets the model's pixels of that region (and ecosystem type, when given) so
they sum to the reported quantity: where the model has some, it rescales them (the map keeps
its pattern); where it has none, it spreads the quantity evenly. A ``complement`` row fills a
region × indicator where the model has nothing (e.g. an indicator without inputs) and is not
used where the model has something (a note says so). The output says which source each
number came from.

Indicators with sub-items (catalogue ``sub_items``: air purification by pollutant, water
purification, flood storage, climate regulation, soil retention) take a row per sub-item
(``sub_item`` column), each valued at its own unit price. A row without ``sub_item`` is the
indicator's total: accepted where its value does not depend on the split (one price for every
sub-item that makes up the quantity, or a split fixed by parameters, as soil retention's N
and P contents), refused otherwise with the sub-items to report — valuing a department's
total at the model's pollutant mix was wrong by −73 % on a real table (issue 22).

Two rows for the same pixels (year, region, indicator, overlapping ecosystem types and
sub-items) are an error: which number is right is the departments' decision, not the
engine's (``datasets.tables.reported_conflicts``).

Both engines apply the same decisions (:func:`decide`): each row is an affine map
``new = a · old + b`` of one or more parts' physical quantity on the row's pixels, which the
in-memory engine applies to pixels and the streamed engine to zonal sums (decision 0030).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import pandas as pd

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.context import Context, Layer, parts_layer
from ecovalue.accounting.indicators import FIXED_SPLIT, UNIT_PRICE, common_price, sub_item_prices
from ecovalue.datasets.expectations import ECOSYSTEM_TYPES
from ecovalue.datasets.tables import reported_conflicts
from ecovalue.errors import InputError, ValidationFailed

WHOLE = ""
"""The part of an indicator without sub-items (its one layer), and the sub-item of a total."""


@dataclass(frozen=True)
class ReportedRow:
    """One row of the reported table of the run year, as the engines apply it."""

    line: int  # line of the CSV (header = 1)
    region: int  # index into the dataset's regions
    code: str
    indicator: str
    ecosystem_type: str  # "" = every type
    sub_item: str  # "" = the indicator's total
    quantity: float
    department: str
    mode: str

    @property
    def what(self) -> str:
        sub = f" {self.sub_item}" if self.sub_item else ""
        return f"reported {self.indicator}{sub} for {self.code} by {self.department} (line {self.line})"


@dataclass(frozen=True)
class Decision:
    """What one row does: per part, ``(a, b)`` with ``new = a · old + b`` per pixel of the row's
    pixels (physical quantity; a part's value follows at its price, a layer without parts
    rescales its value by ``a`` and adds ``b × unit_value``), or a ``note`` when it is not used."""

    maps: Mapping[str, tuple[float, float]]
    unit_value: float = 0.0  # value per unit of a spread quantity (layers without parts)
    note: str = ""


def run_rows(
    reported: pd.DataFrame, year: int, indicators: tuple[str, ...], codes: Mapping[str, int],
    notes: list[str],
) -> list[ReportedRow]:
    """The reported rows of ``year`` for the profile's indicators, checked for conflicts
    (ValidationFailed naming both lines); rows of other indicators are noted and left out."""
    rep = reported[reported["year"] == year] if not reported.empty else reported
    if rep.empty:
        return []
    conflicts = reported_conflicts(rep, "reported table (tables/reported.csv)")
    if conflicts:
        raise ValidationFailed(conflicts)
    out = []
    for i, row in rep.iterrows():
        ind, code = str(row["indicator"]), str(row["region_code"])
        dept = str(row["department"])
        if ind not in indicators:
            notes.append(f"reported {ind} for {code} by {dept} ignored: the profile does not include {ind}")
            continue
        et = str(row["ecosystem_type"] or "")
        sub = str(row.get("sub_item", "") or "")
        out.append(ReportedRow(
            int(i) + 2, codes[code], code, ind, "" if et in ("all", "nan") else et,  # type: ignore[call-overload]
            "" if sub == "nan" else sub, float(row["quantity"]), dept, str(row["mode"]),
        ))
    return out


def type_indices(row: ReportedRow) -> list[int]:
    """The ecosystem types (indices into ``ECOSYSTEM_TYPES``) a row is for."""
    return [ECOSYSTEM_TYPES.index(row.ecosystem_type)] if row.ecosystem_type else list(range(len(ECOSYSTEM_TYPES)))


def decide(
    row: ReportedRow,
    model: Mapping[str, float],
    n_pixels: int,
    prices: Mapping[str, float],
    fixed_split: Mapping[str, float] | None,
    unit_value: Callable[[], float],
) -> Decision:
    """The row's affine maps from the model's physical sums on its pixels (``model``: part →
    sum; parts without sub-items have the one part :data:`WHOLE`), its pixel count, the parts'
    unit prices (``prices``: sub-item → 元 per unit; empty for an indicator without
    sub-items), the split fixed by parameters (sub-item → quantity per unit of the indicator's,
    or None) and the value per unit of a layer without parts (called only when needed).

    Raises InputError for a total of an indicator whose sub-items have different prices, or a
    sub-item the indicator does not have."""
    if n_pixels == 0:
        raise InputError(f"{row.what}: the region has no pixels of ecosystem type "
                         f"'{row.ecosystem_type or 'any'}'; correct the ecosystem_type column of the reported table")
    spec = INDICATORS[row.indicator]
    q = row.quantity
    if not spec.sub_items:
        if row.sub_item:
            raise InputError(f"{row.what}: {row.indicator} has no sub-items; leave sub_item empty")
        return _one_part(row, WHOLE, model.get(WHOLE, 0.0), q, n_pixels, unit_value)
    if row.sub_item:
        try:
            spec.sub_item(row.sub_item)
        except KeyError:
            raise InputError(f"{row.what}: sub_item '{row.sub_item}' is not one of {row.indicator}'s "
                             f"{[s.id for s in spec.sub_items]}; correct the sub_item column") from None
        return _one_part(row, row.sub_item, model.get(row.sub_item, 0.0), q, n_pixels, lambda: 0.0)
    # a total: every part in proportion
    in_total = {s.id for s in spec.sub_items if s.in_total} | {WHOLE}
    common = common_price(row.indicator, prices, fixed_split)  # (None: the split matters)
    if common is None:
        listed = ", ".join(f"{s.id} ({s.name_en}) {prices.get(s.id, float('nan')):.6g} 元"
                           for s in spec.sub_items if s.in_total and s.id in prices)
        raise InputError(
            f"{row.what} is a total without sub-items, but the profile values {row.indicator}'s "
            f"sub-items at different prices ({listed} per {spec.physical_unit}), so its value "
            "depends on the split; report each sub-item on its own row (sub_item column: "
            f"{', '.join(s.id for s in spec.sub_items if s.in_total)}), or give them one price in your profile")
    total = sum(v for p, v in model.items() if p in in_total)
    if row.mode == "complement" and total > 0:
        return Decision({}, note=f"{row.what} (complement) not used: the model already has {total:.6g} "
                                 f"{spec.physical_unit} there")
    if total > 0:
        ratio = q / total
        return Decision({p: (ratio, 0.0) for p in model})
    if fixed_split is not None:  # e.g. soil retention: N and P follow the soil by their contents
        return Decision({p: (0.0, q * share / n_pixels) for p, share in fixed_split.items()})
    return Decision({WHOLE: (0.0, q / n_pixels)})  # one price: not split


def _one_part(row: ReportedRow, part: str, model_sum: float, q: float, n: int,
              unit_value: Callable[[], float]) -> Decision:
    if row.mode == "complement" and model_sum > 0:
        unit = INDICATORS[row.indicator].physical_unit
        return Decision({}, note=f"{row.what} (complement) not used: the model already has "
                                 f"{model_sum:.6g} {unit} there")
    if model_sum > 0:
        return Decision({part: (q / model_sum, 0.0)})
    return Decision({part: (0.0, q / n)}, unit_value=unit_value() if part == WHOLE else 0.0)


Sources = dict[tuple[int, str, str, str], str]
"""(region index, indicator, sub-item or "" for a total, ecosystem type or "" for every type)
→ ``reported:<department>``."""


def sources_of(sources: Mapping[tuple[int, str, str, str], str], region: int, indicator: str,
               ecosystem_type: str, part: str | None = None) -> str | None:
    """The reported source of a table row (``part`` None: any of its parts) or of a sub-item
    row; None where the model's number stands."""
    for (r, ind, p, et), src in sources.items():
        if (r == region and ind == indicator and et in ("", ecosystem_type)
                and (part is None or p in ("", part))):
            return src
    return None


# ------------------------------------------------------------------ the in-memory engine


def apply_reported(
    ctx: Context, layers: dict[str, Layer], not_applicable: dict[str, str]
) -> tuple[dict[str, Layer], Sources]:
    """Apply the run year's reported rows; return new layers and their :data:`Sources`."""
    codes = {r.code: i for i, r in enumerate(ctx.ds.regions)}
    rows = run_rows(ctx.ds.reported, ctx.year, ctx.profile.indicators, codes, ctx.notes)
    sources: Sources = {}
    out = dict(layers)
    parts_of: dict[str, dict[str, np.ndarray]] = {}  # indicator → its parts, copied for writing
    values_of: dict[str, np.ndarray] = {}  # … and the value of a layer without parts
    for row in rows:
        ind = row.indicator
        prices = sub_item_prices(ctx, ind)
        if ind not in parts_of:
            out[ind] = out[ind] if ind in out else _empty_layer(ctx, ind, prices)
            parts_of[ind] = {p: a.copy() for p, a in _parts(out[ind]).items()}
            values_of[ind] = out[ind].value.copy()
        parts = parts_of[ind]
        mask = ctx.valid & (ctx.ds.region_index == row.region)
        if row.ecosystem_type:
            mask &= ctx.lc_type_mask((row.ecosystem_type,))
        model = {p: float(np.nansum(a[mask], dtype=np.float64)) for p, a in parts.items()}
        split = FIXED_SPLIT[ind](ctx) if ind in FIXED_SPLIT else None
        d = decide(row, model, int(mask.sum()), prices, split,
                   partial(_unit_value, ctx, ind, out[ind], UNIT_PRICE))
        if d.note:
            ctx.notes.append(d.note)
            continue
        for part, (a, b) in d.maps.items():
            arr = parts.setdefault(part, np.where(ctx.valid, 0.0, np.nan))
            arr[mask] = a * arr[mask] + b
            if part == WHOLE and not INDICATORS[ind].sub_items:  # its value follows
                values_of[ind][mask] = a * values_of[ind][mask] + b * d.unit_value
        not_applicable.pop(ind, None)
        sources[(row.region, ind, row.sub_item, row.ecosystem_type)] = f"reported:{row.department}"
        ctx.notes.append(f"{ind}{' ' + row.sub_item if row.sub_item else ''} for {row.code}: {row.mode} "
                         f"by reported quantity {row.quantity:.6g} from {row.department}")
    for ind, parts in parts_of.items():
        lay = out[ind]
        if INDICATORS[ind].sub_items:
            out[ind] = parts_layer(ind, parts, sub_item_prices(ctx, ind), lay.method, lay.notes,
                                   lay.unit, lay.source)
        else:
            out[ind] = replace(lay, physical=parts[WHOLE], value=values_of[ind])
    return out, sources


def _parts(lay: Layer) -> dict[str, np.ndarray]:
    return dict(lay.parts) if lay.parts else {WHOLE: lay.physical}


def _empty_layer(ctx: Context, ind: str, prices: Mapping[str, float]) -> Layer:
    zeros = np.where(ctx.valid, 0.0, np.nan)
    if INDICATORS[ind].sub_items:
        return parts_layer(ind, {}, prices, "reported", source="reported", empty=zeros)
    return Layer(zeros, zeros.copy(), method="reported", source="reported")


def _unit_value(ctx: Context, ind: str, lay: Layer, unit_price: Mapping[str, Callable[[Context], float]]) -> float:
    phys, val = float(np.nansum(lay.physical, dtype=np.float64)), float(np.nansum(lay.value, dtype=np.float64))
    return unit_value_of(ind, phys, val, lambda: float(unit_price[ind](ctx)) if ind in unit_price else None)


def unit_value_of(ind: str, phys: float, val: float, price: Callable[[], float | None]) -> float:
    """The value per unit of a spread quantity of an indicator without sub-items: the model's
    own (its value over its quantity), else its single price; InputError when it has neither."""
    if phys > 0:
        return val / phys
    p = price()
    if p is not None:
        return p
    raise InputError(f"reported {ind}: no unit value is known to value the reported quantity (the model has no "
                     f"{ind} anywhere and the indicator has no single price); report it in a region the model covers")
