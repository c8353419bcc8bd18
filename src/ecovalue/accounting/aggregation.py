"""Single-pass zonal aggregation of per-pixel layers by region × ecosystem type.

Sums use float64 accumulators (``np.bincount``) over a combined key
``region * n_types + type``; pixels outside the regions (index −1) or with NaN are not
counted. Money becomes :class:`~decimal.Decimal` here, exactly once per table cell,
rounded half-even to 0.01 元, so that district rows add up to the city total exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from ecovalue.datasets.expectations import ECOSYSTEM_TYPES

CENT = Decimal("0.01")


def to_money(x: float) -> Decimal:
    """Float 元 → Decimal rounded half-even to 0.01 元 (the one float→Decimal rule)."""
    if not np.isfinite(x):
        raise ValueError(f"money value {x!r} is not finite")
    return Decimal(repr(float(x))).quantize(CENT, rounding=ROUND_HALF_EVEN)


def ecosystem_index(landcover: np.ndarray, codes: np.ndarray, types: list[str]) -> np.ndarray:
    """Per-pixel index into ECOSYSTEM_TYPES (int8; −1 where the code is not in the table)."""
    from ecovalue.raster.pixelwise import class_rows

    lut_codes = np.asarray(codes, dtype=np.int64)
    type_idx = np.array([ECOSYSTEM_TYPES.index(t) for t in types] + [-1], dtype=np.int8)
    rows, _missing = class_rows(landcover, lut_codes, np.ones(landcover.shape, dtype=bool))
    return type_idx[rows]  # row −1 (code not in the table) → −1


def zone_keys(region_index: np.ndarray, eco_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Combined key per pixel (−1 where not counted) and the number of keys."""
    n_types = len(ECOSYSTEM_TYPES)
    n_regions = int(region_index.max()) + 1 if region_index.size else 0
    counted = (region_index >= 0) & (eco_index >= 0)
    key = np.where(counted, region_index.astype(np.int64) * n_types + eco_index, -1)
    return key, counted, max(n_regions, 0) * n_types


def zonal_sums(
    layers: list[np.ndarray],
    key: np.ndarray | Callable[[int, int], np.ndarray],
    n_keys: int,
    block_rows: int = 1024,
) -> np.ndarray:
    """Sums of each layer per (region, type) key, streamed over blocks of rows.

    Returns an array of shape (len(layers), n_keys). Accumulators are float64; NaN pixels
    count as nothing. The result does not depend on ``block_rows`` beyond float rounding.
    ``key`` is the whole grid of keys, or a function giving the keys of rows ``start:stop``
    (the same sums without a whole-grid key array: 8 bytes per pixel less at the peak).
    """
    if block_rows < 1:
        raise ValueError(f"block_rows must be ≥ 1, got {block_rows}")
    from ecovalue.raster.pixelwise import zonal_add

    out = np.zeros((len(layers), n_keys), dtype=np.float64)
    if callable(key) and not layers:
        return out
    height = int(np.shape(layers[0])[0]) if callable(key) else key.shape[0]
    for start in range(0, height, block_rows):
        stop = min(start + block_rows, height)
        k = key(start, stop) if callable(key) else key[start:stop]
        for i, layer in enumerate(layers):
            # each chunk's sum starts at 0 and is added to the total (the order the streamed
            # path reproduces, streaming_blocks.continue_sums)
            out[i] += zonal_add(np.zeros(n_keys), layer[start:start + block_rows], k)
    return out
