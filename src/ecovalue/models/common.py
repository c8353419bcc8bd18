"""Shared helpers of the per-pixel service models.

* :func:`class_lookup` maps a column of the land-cover table onto the land-cover raster
  (a code in the raster without a table row is an error, never a silent zero).
* :func:`cap_by_region` scales a per-pixel quantity down, region by region, so that a region's
  total does not exceed a reported cap (e.g. pollutant emissions or loads, spec §6.2 R6/R7).
* :func:`masked`, :func:`check_finite`, :func:`check_parameter` keep the nodata and
  bad-input rules in one place: every model returns NaN where ``valid`` is False and refuses
  NaN inside valid pixels or out-of-range parameters with a message that says how to fix it.
* :func:`priced_sum` multiplies several physical quantities by their unit prices.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ecovalue.errors import InputError, ParameterError

M2_PER_HA = 10_000.0
KG_PER_T = 1_000.0
G_PER_T = 1_000_000.0
MM_PER_M = 1_000.0


def check_parameter(name: str, value: float, low: float, high: float) -> float:
    """Return ``value`` as float if ``low <= value <= high``, else raise :class:`ParameterError`."""
    v = float(value)
    if not np.isfinite(v) or v < low or v > high:
        raise ParameterError(
            f"parameter {name} = {value!r} is out of range; expected a number in [{low}, {high}]; "
            f"fix the value in the parameter profile"
        )
    return v


def check_valid_mask(valid: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return ``valid`` as a bool array of ``shape`` or raise :class:`InputError`."""
    v = np.asarray(valid)
    if v.dtype != bool:
        raise InputError(f"valid mask has dtype {v.dtype}; expected a boolean array")
    if v.shape != shape:
        raise InputError(f"valid mask has shape {v.shape}; expected {shape} (the raster shape)")
    return v


def check_finite(name: str, array: np.ndarray | float, valid: np.ndarray) -> np.ndarray:
    """Return ``array`` as float64 broadcast to ``valid``'s shape; NaN/inf inside valid pixels raise.

    A NaN inside a valid pixel is a data problem (the nodata mask and the data disagree); it
    is refused rather than turned into a zero.
    """
    a = np.asarray(array, dtype=np.float64)
    try:
        a = np.broadcast_to(a, valid.shape)
    except ValueError as exc:
        raise InputError(
            f"{name} has shape {a.shape}; expected a number or an array of shape {valid.shape}"
        ) from exc
    from ecovalue.raster.pixelwise import count_nonfinite

    n_bad = count_nonfinite(a, valid)
    if n_bad:
        raise InputError(
            f"{name} is NaN or infinite at {n_bad} valid pixel(s); expected finite numbers; "
            f"declare those pixels nodata in the raster or fill them"
        )
    return a


def check_array_range(
    name: str, array: np.ndarray, valid: np.ndarray, low: float, high: float, fix: str
) -> None:
    """Raise :class:`InputError` if valid pixels of ``array`` fall outside ``[low, high]``."""
    from ecovalue.raster.pixelwise import count_outside

    if count_outside(array, valid, low, high):
        bad = valid & ((array < low) | (array > high))
        examples = np.unique(array[bad])[:5].tolist()
        raise InputError(
            f"{name} has {int(bad.sum())} valid pixel(s) outside [{low}, {high}] "
            f"(e.g. {examples}); {fix}"
        )


def masked(result: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return a float64 copy of ``result`` with NaN where ``valid`` is False."""
    from ecovalue.raster.pixelwise import nan_outside

    return nan_outside(result, valid)


def class_lookup(
    landcover: np.ndarray,
    codes: np.ndarray,
    values: np.ndarray,
    what: str,
    valid: np.ndarray,
) -> np.ndarray:
    """Map a per-class column of the land-cover table onto the land-cover raster.

    Args:
        landcover: integer land-cover codes (any shape).
        codes: the ``code`` column of the land-cover table (unique integers).
        values: the column ``what`` of the table, one value per code.
        what: the column name, used in messages (e.g. ``"storm_runoff_coef"``).
        valid: boolean mask, True where ``landcover`` holds data.

    Returns:
        float64 array of ``landcover``'s shape: the value of each pixel's class, NaN where
        ``valid`` is False.

    Raises:
        InputError: duplicate codes; a code present in valid pixels but absent from ``codes``;
            or a code present in the raster whose value is NaN (an empty table cell).
    """
    lc = np.asarray(landcover)
    valid = check_valid_mask(valid, lc.shape)
    codes = np.asarray(codes).astype(np.int64).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    if codes.shape != values.shape:
        raise InputError(
            f"land-cover table column {what!r} has {values.size} values for {codes.size} codes"
        )
    uniq, counts = np.unique(codes, return_counts=True)
    if (counts > 1).any():
        raise InputError(
            f"land-cover code(s) {uniq[counts > 1].tolist()} appear more than once in the "
            f"land-cover table; keep one row per code"
        )
    present = np.unique(lc[valid].astype(np.int64))
    missing = np.setdiff1d(present, codes)
    if missing.size:
        listed = ", ".join(str(c) for c in missing.tolist())
        if missing.size == 1:
            head, tail = f"land-cover code {listed} occurs", "has no row"
        else:
            head, tail = f"land-cover codes {listed} occur", "have no rows"
        raise InputError(
            f"{head} in the raster but {tail} in the land-cover table (needed for column "
            f"{what!r}); add a row for it"
        )
    order = np.argsort(codes)
    sorted_codes, sorted_values = codes[order], values[order]
    empty = present[np.isnan(sorted_values[np.searchsorted(sorted_codes, present)])]
    if empty.size:
        raise InputError(
            f"land-cover table column {what!r} is empty for code(s) {empty.tolist()} that occur "
            f"in the raster; fill the cell(s) (0 if the class has no such service)"
        )
    out = np.full(lc.shape, np.nan)
    idx = np.searchsorted(sorted_codes, lc[valid].astype(np.int64))
    out[valid] = sorted_values[idx]
    return out


def _caps_as_dict(caps: Mapping[int, float] | np.ndarray) -> dict[int, float]:
    """Caps given as a mapping or as an array indexed by region (NaN = no cap)."""
    if isinstance(caps, Mapping):
        items = {int(k): float(v) for k, v in caps.items()}
    else:
        arr = np.asarray(caps, dtype=np.float64).ravel()
        items = {i: float(v) for i, v in enumerate(arr) if not np.isnan(v)}
    for region, cap in items.items():
        if not np.isfinite(cap) or cap < 0:
            raise InputError(
                f"cap for region index {region} is {cap!r}; expected a finite number >= 0 "
                f"(leave the region out, or NaN in an array, for no cap)"
            )
    return items


def cap_by_region(
    quantity: np.ndarray,
    region_index: np.ndarray,
    caps: Mapping[int, float] | np.ndarray,
) -> tuple[np.ndarray, dict[int, float]]:
    """Scale each region's pixels down proportionally so the region total does not exceed its cap.

    Used where the spec takes reported emissions/loads as the quantity actually purified
    (Garzê [S1]: "quantity taken as pollutant emissions") — ecosystem capacity beyond what is
    emitted is not a final service. Scaling is never upward.

    Args:
        quantity: per-pixel non-negative quantity (NaN outside valid pixels is kept as NaN).
        region_index: int array of the same shape, region number per pixel, -1 outside regions.
        caps: ``{region_index: cap}`` or an array indexed by region (NaN = no cap), in the
            unit of ``quantity``. Regions without a cap are unchanged.

    Returns:
        ``(capped, scale)``: the capped array and ``{region_index: factor}`` (factor in [0, 1])
        for every capped region present in ``region_index``.

    Raises:
        InputError: shapes differ, a cap is negative/NaN, or a capped region holds negative values.
    """
    q = np.asarray(quantity, dtype=np.float64)
    reg = np.asarray(region_index)
    if q.shape != reg.shape:
        raise InputError(f"quantity shape {q.shape} differs from region_index shape {reg.shape}")
    cap_map = _caps_as_dict(caps)
    capped = q.copy()
    scale: dict[int, float] = {}
    for region, cap in cap_map.items():
        in_region = (reg == region) & np.isfinite(q)
        if not in_region.any():
            continue
        if (q[in_region] < 0).any():
            raise InputError(
                f"quantity has negative values in region index {region}; a cap only applies "
                f"to non-negative quantities"
            )
        total = float(q[in_region].sum())
        factor = cap / total if total > cap else 1.0
        capped[in_region] = q[in_region] * factor
        scale[region] = factor
    return capped, scale


def priced_sum(
    quantities: Mapping[str, np.ndarray],
    prices: Mapping[str, float],
    what: str,
) -> np.ndarray:
    """Σ_k quantity_k × price_k over the items of ``quantities`` (each priced in ``prices``).

    Raises:
        InputError: an item of ``quantities`` has no price, or a price is negative.
    """
    missing = sorted(set(quantities) - set(prices))
    if missing:
        raise InputError(f"{what}: no unit price for {missing}; add them to the parameter profile")
    if not quantities:
        raise InputError(f"{what}: no quantities given")
    total: np.ndarray | None = None
    for key, q in quantities.items():
        price = check_parameter(f"{what} price of {key}", prices[key], 0.0, np.inf)
        term = np.asarray(q, dtype=np.float64) * price
        total = term if total is None else total + term
    assert total is not None
    return total


def rate_times_area_t(
    rate_kg_per_ha: np.ndarray, pixel_area_m2: float, valid: np.ndarray, what: str
) -> np.ndarray:
    """Annual quantity per pixel from a per-area rate: ``Q = rate · A / 10⁴ / 10³`` (t/a).

    Args:
        rate_kg_per_ha: rate per pixel (kg·ha⁻¹·a⁻¹), usually a land-cover column.
        pixel_area_m2: pixel area (m²); / 10 000 gives ha, / 1 000 turns kg into t.
        valid: True where the land cover holds data.
        what: name of the rate, for messages.
    """
    valid = check_valid_mask(valid, np.shape(valid))
    rate = check_finite(what, rate_kg_per_ha, valid)
    check_array_range(what, rate, valid, 0.0, np.inf, "rates are kg/ha/a >= 0")
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    from ecovalue.raster.pixelwise import fill_outside

    quantity = rate * (area / M2_PER_HA)
    quantity /= KG_PER_T
    return fill_outside(quantity, valid, np.nan)  # ``masked`` without copying the temporary
