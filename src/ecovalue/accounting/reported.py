"""Departments' reported physical quantities (统计报表) replacing or complementing the model.

A ``replace`` row rescales the model's pixels of that region (and ecosystem type, when
given) so they sum to the reported quantity; value follows at the same unit value, so maps
and tables stay consistent. A ``complement`` row fills a region × indicator where the model
has nothing (e.g. an indicator without inputs), spreading the quantity evenly over the
region's pixels of the stated ecosystem type. The output says which source each number
came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from ecovalue.accounting.context import Context, Layer
from ecovalue.errors import InputError


def apply_reported(
    ctx: Context, layers: dict[str, Layer], not_applicable: dict[str, str]
) -> tuple[dict[str, Layer], dict[tuple[int, str], str]]:
    """Apply the run year's reported rows; return new layers and (region idx, indicator) → source."""
    from ecovalue.accounting.indicators import UNIT_PRICE

    rep = ctx.ds.reported
    rep = rep[rep["year"] == ctx.year] if not rep.empty else rep
    sources: dict[tuple[int, str], str] = {}
    if rep.empty:
        return layers, sources
    out = dict(layers)
    copied: set[str] = set()
    codes = {r.code: i for i, r in enumerate(ctx.ds.regions)}
    for _, row in rep.iterrows():
        ind, code, q = str(row["indicator"]), str(row["region_code"]), float(row["quantity"])
        dept, mode, et = str(row["department"]), str(row["mode"]), str(row["ecosystem_type"] or "")
        et = "" if et == "all" else et  # "all" (the platform's word) and "" both mean every type
        if ind not in ctx.profile.indicators:
            ctx.notes.append(f"reported {ind} for {code} by {dept} ignored: the profile does not include {ind}")
            continue
        r = codes[code]
        mask = ctx.valid & (ctx.ds.region_index == r)
        if et:
            mask &= ctx.lc_type_mask((et,))
        n = int(mask.sum())
        if n == 0:
            raise InputError(f"reported {ind} for region {code} ({dept}): the region has no pixels of ecosystem "
                             f"type '{et or 'any'}'; correct the ecosystem_type column of the reported table")
        if ind not in out:
            zeros = np.where(ctx.valid, 0.0, np.nan)
            out[ind] = Layer(zeros, zeros.copy(), method="reported", source="reported")
            copied.add(ind)
        lay = out[ind]
        if ind not in copied:
            lay = replace(lay, physical=lay.physical.copy(), value=lay.value.copy())
            out[ind], copied = lay, copied | {ind}
        model_sum = float(np.nansum(lay.physical[mask], dtype=np.float64))
        if mode == "complement" and model_sum > 0:
            ctx.notes.append(f"reported {ind} for {code} by {dept} (complement) not used: the model already has "
                             f"{model_sum:.6g} {lay.unit or ''} there")
            continue
        if model_sum > 0:
            ratio = q / model_sum
            lay.physical[mask] *= ratio
            lay.value[mask] *= ratio
        else:
            unit_value = _unit_value(ctx, ind, lay, UNIT_PRICE)
            lay.physical[mask] = q / n
            lay.value[mask] = q / n * unit_value
        not_applicable.pop(ind, None)
        sources[(r, ind)] = f"reported:{dept}"
        ctx.notes.append(f"{ind} for {code}: {mode} by reported quantity {q:.6g} from {dept}")
    return out, sources


def _unit_value(ctx: Context, ind: str, lay: Layer, unit_price: Mapping[str, Callable[[Context], float]]) -> float:
    phys, val = float(np.nansum(lay.physical, dtype=np.float64)), float(np.nansum(lay.value, dtype=np.float64))
    if phys > 0:
        return val / phys
    if ind in unit_price:
        return float(unit_price[ind](ctx))
    raise InputError(f"reported {ind}: no unit value is known to value the reported quantity (the model has no "
                     f"{ind} anywhere and the indicator has no single price); report it in a region the model covers")
