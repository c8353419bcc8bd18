"""Single-pass numba kernels for the per-pixel bookkeeping of an account: zonal sums, land-cover
row lookup and the range checks of a block.

They replace numpy idioms that copy or sort the whole array (``np.bincount`` after
``np.concatenate``/``np.where``, ``np.unique`` of the land cover for every lookup, boolean
indexing before ``min``/``max``) with one pass and no temporaries. Every kernel is ``nogil``
so blocks can run on threads.

Bit-for-bit contract of :func:`zonal_add`: it adds each pixel's value to its key's float64
accumulator in pixel (row-major) order, exactly as ``np.bincount(keys, weights)`` does, so sums
do not change when a caller switches from one to the other; non-finite values count as
nothing (the pipeline's rule, ``aggregation.zonal_sums``).
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

#: Largest span of land-cover codes (max − min + 1) looked up through a dense table; wider
#: code ranges fall back to a sorted search (still one pass).
DENSE_CODE_SPAN = 1 << 22


@njit(cache=True, nogil=True)
def _zonal_add(out, values, key):  # type: ignore[no-untyped-def]
    """Returns the first key beyond ``out`` (−1 if none); stops there."""
    n = key.size
    for i in range(n):
        k = key[i]
        if k >= 0:
            if k >= out.size:
                return k
            v = np.float64(values[i])
            if np.isfinite(v):
                out[k] += v
    return -1


def zonal_add(out: np.ndarray, values: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Add ``values`` to ``out[key]`` in pixel order (keys < 0 and non-finite values skipped).

    ``out`` is a 1-D float64 array (modified in place and returned); ``values`` and ``key``
    have the same shape (any). Equal to ``out + np.bincount(key[key >= 0], values…)`` bit for bit
    when ``out`` starts at zero, and to continuing that sequential sum when it does not.
    """
    if out.dtype != np.float64 or out.ndim != 1:
        raise ValueError(f"out must be a 1-D float64 array, got {out.dtype} with shape {out.shape}")
    v = np.ascontiguousarray(values).ravel()
    k = np.ascontiguousarray(key).ravel()
    if v.shape != k.shape:
        raise ValueError(f"values has {v.size} pixels but key has {k.size}")
    if k.dtype != np.int64:
        k = k.astype(np.int64)
    bad = _zonal_add(out, v, k)
    if bad >= 0:  # a caller's bug, not bad data: keys come from the region × type index
        raise ValueError(f"key {int(bad)} is out of range for {out.size} accumulators")
    return out


@njit(cache=True, nogil=True)
def _key_row_counts(key, rows, n_keys, n_rows):  # type: ignore[no-untyped-def]
    out = np.zeros((n_keys, n_rows), dtype=np.int64)
    for i in range(key.size):
        k = key[i]
        if k >= 0:
            r = rows[i]
            if k >= n_keys or r < 0 or r >= n_rows:
                return out, i
            out[k, r] += 1
    return out, -1


def key_row_counts(key: np.ndarray, rows: np.ndarray, n_keys: int, n_rows: int) -> np.ndarray:
    """Pixels per (key, land-cover table row): ``out[k, r]`` counts the pixels with key ``k``
    (keys < 0 skipped) and table row ``r`` (int64, exact).

    A layer that is a function of the class alone, ``f[row]`` per pixel, has the zonal sums
    ``out @ f``: one product per class instead of a lookup and an addition per pixel (the same
    sums up to the order of the additions, i.e. within a few units in the last place).
    """
    k = np.ascontiguousarray(key).ravel()
    r = np.ascontiguousarray(rows).ravel()
    if k.shape != r.shape:
        raise ValueError(f"key has {k.size} pixels but rows has {r.size}")
    out, bad = _key_row_counts(k.astype(np.int64, copy=False), r, int(n_keys), int(n_rows))
    if bad >= 0:  # a caller's bug: keys and rows come from the region × type index and table
        raise ValueError(
            f"pixel {int(bad)}: key {int(k[bad])} or row {int(r[bad])} out of range for "
            f"{n_keys} keys and {n_rows} rows"
        )
    counts: np.ndarray = out
    return counts


#: Most layers one :func:`zonal_add_many` kernel call takes (more are split into calls of this
#: many): numba indexes a tuple of arrays through a switch, which stops paying off beyond ≈ 8.
MAX_FUSED = 8


@njit(cache=True, nogil=True)
def _zonal_add_many(outs, values, key):  # type: ignore[no-untyped-def]
    """``_zonal_add`` of several layers in one pass over ``key``; per layer the same order."""
    n = key.size
    n_out = outs[0].size
    for i in range(n):
        k = key[i]
        if k >= 0:
            if k >= n_out:
                return k
            for j in range(len(values)):
                v = np.float64(values[j][i])
                if np.isfinite(v):
                    outs[j][k] += v
    return -1


def zonal_add_many(
    outs: list[np.ndarray], layers: list[np.ndarray], key: np.ndarray
) -> list[np.ndarray]:
    """:func:`zonal_add` of ``layers[j]`` into ``outs[j]`` for every ``j``, reading ``key`` once.

    Each accumulator receives its layer's pixels in the same pixel order as :func:`zonal_add`,
    so the results are bit for bit those of one :func:`zonal_add` call per layer; only the
    independent sums of different layers interleave, which lets the CPU overlap them (a
    single sum is one chain of dependent additions). ``outs`` are 1-D float64 arrays of one
    length (modified in place and returned).
    """
    if len(outs) != len(layers):
        raise ValueError(f"{len(outs)} accumulators for {len(layers)} layers")
    k = np.ascontiguousarray(key).ravel()
    if k.dtype != np.int64:
        k = k.astype(np.int64)
    n_out = outs[0].size if outs else 0
    vals = []
    for out, layer in zip(outs, layers, strict=True):
        if (
            out.dtype != np.float64
            or out.ndim != 1
            or out.size != n_out
            or not out.flags.c_contiguous
        ):
            raise ValueError(
                "outs must be contiguous 1-D float64 arrays of one length, got "
                f"{out.dtype} with shape {out.shape}"
            )
        # float64 up front is what the kernel's np.float64() of each value does
        v = np.ascontiguousarray(layer, dtype=np.float64).ravel()
        if v.shape != k.shape:
            raise ValueError(f"values has {v.size} pixels but key has {k.size}")
        vals.append(v)
    for lo in range(0, len(vals), MAX_FUSED):
        bad = _zonal_add_many(tuple(outs[lo : lo + MAX_FUSED]), tuple(vals[lo : lo + MAX_FUSED]), k)
        if bad >= 0:  # a caller's bug, not bad data: keys come from the region × type index
            raise ValueError(f"key {int(bad)} is out of range for {n_out} accumulators")
    return outs


@njit(cache=True, nogil=True)
def _rows_dense(lc, valid, lut, lo):  # type: ignore[no-untyped-def]
    """Row of each valid pixel's code through ``lut[code − lo]``; −1 elsewhere.

    Returns the rows and the number of valid pixels whose code has no row.
    """
    flat = lc.ravel()
    ok = valid.ravel()
    rows = np.full(flat.size, -1, dtype=np.int32)
    span = lut.size
    missing = 0
    for i in range(flat.size):
        if ok[i]:
            j = np.int64(flat[i]) - lo
            r = lut[j] if 0 <= j < span else -1
            if r < 0:
                missing += 1
            rows[i] = r
    return rows, missing


@njit(cache=True, nogil=True)
def _kind_masks_dense(lc, valid, lut, lo, first, second):  # type: ignore[no-untyped-def]
    flat = lc.ravel()
    ok = valid.ravel()
    span = lut.size
    for i in range(flat.size):
        k = 0
        if ok[i]:
            j = np.int64(flat[i]) - lo
            if 0 <= j < span:
                k = lut[j]
        first[i] = k == 1
        second[i] = k == 2


def kind_masks(
    landcover: np.ndarray, codes: np.ndarray, kind_by_row: np.ndarray, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The valid pixels whose land-cover table row (:func:`class_rows`) has kind 1, and those
    whose row has kind 2 (``kind_by_row``: 0, 1 or 2 per row; a code not in the table is
    neither): two boolean grids in one pass, without the int32 grid of rows."""
    codes = np.asarray(codes).astype(np.int64).ravel()
    kinds = np.asarray(kind_by_row).astype(np.uint8).ravel()
    if kinds.shape != codes.shape:
        raise ValueError(f"{kinds.size} kinds for {codes.size} codes")
    lc = np.ascontiguousarray(landcover)
    ok = np.ascontiguousarray(valid, dtype=np.bool_)
    if ok.shape != lc.shape:
        raise ValueError(f"valid has shape {ok.shape}, the land cover {lc.shape}")
    if codes.size and int(codes.max()) - int(codes.min()) + 1 <= DENSE_CODE_SPAN:
        lo = int(codes.min())
        lut = np.zeros(int(codes.max()) - lo + 1, dtype=np.uint8)
        lut[codes - lo] = kinds
        first, second = np.empty(lc.shape, np.bool_), np.empty(lc.shape, np.bool_)
        _kind_masks_dense(lc, ok, lut, lo, first.reshape(-1), second.reshape(-1))
        return first, second
    rows, _missing = class_rows(lc, codes, ok)  # sparse codes (or none): through the rows
    k = np.append(kinds, np.uint8(0))[rows]
    return k == 1, k == 2


@njit(cache=True, nogil=True)
def _rows_present(rows, out):  # type: ignore[no-untyped-def]
    n = out.size
    for i in range(rows.size):
        r = rows[i]
        if 0 <= r < n:
            out[r] = True


def rows_present(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Per table row ``0 … n_rows − 1``: whether any pixel has it (``rows`` as
    :func:`class_rows` gives them, −1 for none): one pass, no temporaries."""
    out = np.zeros(n_rows, dtype=np.bool_)
    _rows_present(np.ascontiguousarray(rows).reshape(-1), out)
    return out


def class_rows(landcover: np.ndarray, codes: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-pixel row of the land-cover table (int32, −1 where not valid or the code is missing).

    ``codes`` must be unique integers (checked by the caller). Returns ``(rows, n_missing)``:
    the number of valid pixels whose code is not in ``codes`` (the caller turns it into a
    message naming the codes).
    """
    codes = np.asarray(codes).astype(np.int64).ravel()
    lc = np.ascontiguousarray(landcover)
    ok = np.ascontiguousarray(valid, dtype=np.bool_)
    if codes.size == 0:
        return np.full(lc.shape, -1, np.int32), int(ok.sum())
    lo, hi = int(codes.min()), int(codes.max())
    if hi - lo + 1 <= DENSE_CODE_SPAN:
        lut = np.full(hi - lo + 1, -1, dtype=np.int32)
        lut[codes - lo] = np.arange(codes.size, dtype=np.int32)
        rows, missing = _rows_dense(lc, ok, lut, lo)
        return rows.reshape(lc.shape), int(missing)
    # sparse codes: sorted search
    order = np.argsort(codes)
    sc = codes[order]
    flat = lc.ravel().astype(np.int64)
    pos = np.clip(np.searchsorted(sc, flat), 0, sc.size - 1)
    found = ok.ravel() & (sc[pos] == flat)
    rows = np.where(found, order[pos], -1).astype(np.int32)
    return rows.reshape(lc.shape), int((ok.ravel() & ~found).sum())


@njit(cache=True, nogil=True)
def _range_facts(values, mask, lo, hi, check_lo, check_hi):  # type: ignore[no-untyped-def]
    v = values.ravel()
    m = mask.ravel()
    n = 0
    vmin = np.inf
    vmax = -np.inf
    below = 0
    above = 0
    for i in range(v.size):
        if m[i]:
            x = np.float64(v[i])
            n += 1
            if x < vmin:
                vmin = x
            if x > vmax:
                vmax = x
            if check_lo and x < lo:
                below += 1
            if check_hi and x > hi:
                above += 1
    return n, vmin, vmax, below, above


#: What numba's registries load without in a command's process
#: (:func:`ecovalue.process.lean_numba`: the engine's kernels use neither; module doc there).
_OPTIONAL_SUPPORT = ("scipy.linalg.cython_blas", "cffi")


def load_kernels() -> None:
    """Load numba and a compiled kernel from numba's cache (≈ 0.4 s, once per process: most
    of it importing numba's typing and lowering registries, under numba's compiler lock;
    ≈ 0.2 s in a command's process, :func:`ecovalue.process.lean_numba`).

    The streamed engine calls it on its main thread while its worker threads read (GDAL and
    hashing release the GIL), so the blocks' first kernels find numba loaded instead of
    waiting on the lock one after the other.
    """
    from ecovalue import process

    hidden = []
    if process.LEAN_NUMBA and "numba.np.arraymath" not in sys.modules:
        for name in _OPTIONAL_SUPPORT:
            if name not in sys.modules:
                sys.modules[name] = None  # type: ignore[assignment]  # an import of it fails
                hidden.append(name)
    try:
        range_facts(np.zeros((1, 1), np.float32), np.ones((1, 1), np.bool_), 0.0, 1.0)
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def range_facts(
    values: np.ndarray, mask: np.ndarray, low: float | None, high: float | None
) -> tuple[int, float, float, int, int]:
    """One pass over the masked pixels: ``(count, min, max, n below low, n above high)``."""
    return _range_facts(
        np.ascontiguousarray(values),
        np.ascontiguousarray(mask, dtype=np.bool_),
        -np.inf if low is None else float(low),
        np.inf if high is None else float(high),
        low is not None,
        high is not None,
    )


@njit(cache=True, nogil=True)
def _gather(table, rows):  # type: ignore[no-untyped-def]
    """``table[rows]``; stops at the first row out of range and returns it as well (else 0)."""
    n = table.size
    out = np.empty(rows.size, dtype=table.dtype)
    for i in range(rows.size):
        j = rows[i]
        if j < 0:
            j += n
        if j < 0 or j >= n:
            return out, rows[i], True
        out[i] = table[j]
    return out, 0, False


def gather(table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``table[rows]`` (numpy indexing: −1 is the last entry) in one pass, without numpy's
    general fancy-indexing machinery; equal to it element for element."""
    t = np.ascontiguousarray(table).ravel()
    r = np.ascontiguousarray(rows)
    out, row, bad = _gather(t, r.ravel())
    if bad:
        raise IndexError(f"row {int(row)} is out of range for a table of {t.size} entries")
    return out.reshape(r.shape)


@njit(cache=True, nogil=True)
def _count_nonfinite(values, mask):  # type: ignore[no-untyped-def]
    # without branches (the loop vectorizes: ≈ 1.7× faster than ``if mask[i] and …``)
    n = 0
    for i in range(values.size):
        n += mask[i] & (not np.isfinite(values[i]))
    return n


@njit(cache=True, nogil=True)
def _count_outside(values, mask, lo, hi):  # type: ignore[no-untyped-def]
    # without branches, as _count_nonfinite; NaN compares False both ways (inside)
    n = 0
    for i in range(values.size):
        x = values[i]
        n += mask[i] & ((x < lo) | (x > hi))
    return n


@njit(cache=True, nogil=True)
def _nan_outside(values, mask):  # type: ignore[no-untyped-def]
    out = np.empty(values.size, dtype=np.float64)
    for i in range(values.size):
        out[i] = values[i] if mask[i] else np.nan
    return out


@njit(cache=True, nogil=True)
def _fill_outside(values, mask, fill):  # type: ignore[no-untyped-def]
    for i in range(values.size):
        if not mask[i]:
            values[i] = fill


def fill_outside(values: np.ndarray, mask: np.ndarray, fill: float) -> np.ndarray:
    """``values[~mask] = fill`` in place (one pass, no temporaries); returns ``values``."""
    flat = _flat_pair(values, mask)
    if flat is None or not values.flags.writeable:
        values[~mask] = fill
    else:
        _fill_outside(flat[0], flat[1], float(fill))
    return values


def _constant(values: np.ndarray) -> bool:
    """True for a broadcast scalar (every stride 0): one value stands for all pixels."""
    return isinstance(values, np.ndarray) and values.size > 0 and not any(values.strides)


def _bool_like(mask: np.ndarray, shape: tuple[int, ...]) -> bool:
    return isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == shape


def _flat_pair(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Both arrays as 1-D views when they are C-contiguous float64/bool of one shape, else None
    (the caller then uses its numpy expression)."""
    if (
        not isinstance(values, np.ndarray)
        or not isinstance(mask, np.ndarray)
        or values.dtype != np.float64
        or mask.dtype != np.bool_
        or values.shape != mask.shape
        or not values.flags.c_contiguous
        or not mask.flags.c_contiguous
    ):
        return None
    return values.reshape(-1), mask.reshape(-1)


def count_nonfinite(values: np.ndarray, mask: np.ndarray) -> int:
    """``int((mask & ~np.isfinite(values)).sum())`` in one pass, no temporaries."""
    if _constant(values) and _bool_like(mask, values.shape):
        return 0 if np.isfinite(values.flat[0]) else int(np.count_nonzero(mask))
    flat = _flat_pair(values, mask)
    if flat is None:
        return int((mask & ~np.isfinite(values)).sum())
    return int(_count_nonfinite(*flat))


def count_outside(values: np.ndarray, mask: np.ndarray, low: float, high: float) -> int:
    """``int((mask & ((values < low) | (values > high))).sum())`` in one pass (NaN counts as
    inside, as with the comparisons)."""
    if _constant(values) and _bool_like(mask, values.shape):
        x = values.flat[0]
        return int(np.count_nonzero(mask)) if (x < low) | (x > high) else 0
    flat = _flat_pair(values, mask)
    # only float bounds compare the same way here and in numpy (float64 against float64)
    if flat is None or not all(isinstance(b, float | np.float64) for b in (low, high)):
        return int((mask & ((values < low) | (values > high))).sum())
    return int(_count_outside(flat[0], flat[1], float(low), float(high)))


def nan_outside(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A float64 copy of ``values`` with NaN where ``mask`` is False (one pass)."""
    flat = _flat_pair(values, mask)
    if flat is None:
        out = np.array(values, dtype=np.float64, copy=True)
        out[~mask] = np.nan
        return out
    return _nan_outside(*flat).reshape(values.shape)


@njit(cache=True, nogil=True)
def _zone_key(rows, region_index, valid, type_of_row, n_types):  # type: ignore[no-untyped-def]
    key = np.empty(rows.size, dtype=np.int64)
    for i in range(rows.size):
        k = -1
        reg = region_index[i]
        r = rows[i]
        if valid[i] and reg >= 0 and r >= 0:
            e = type_of_row[r]
            if e >= 0:
                k = np.int64(reg) * n_types + e
        key[i] = k
    return key


def zone_key(
    rows: np.ndarray,
    region_index: np.ndarray,
    valid: np.ndarray,
    type_of_row: np.ndarray,
    n_types: int,
) -> np.ndarray:
    """Combined ``region × n_types + type`` key per pixel (int64), −1 where not counted: not
    valid, outside the regions (index < 0), no table row (row < 0) or a row of no type (< 0).

    ``rows`` are land-cover table rows per pixel (:func:`class_rows`), ``type_of_row`` the
    ecosystem type index of each row. One pass instead of numpy's masks and ``where``s.
    """
    shape = np.shape(rows)
    if np.shape(region_index) != shape or np.shape(valid) != shape:
        raise ValueError(
            f"rows {shape}, region_index {np.shape(region_index)} and valid "
            f"{np.shape(valid)} must have one shape"
        )
    key = _zone_key(
        np.ascontiguousarray(rows).ravel(),
        np.ascontiguousarray(region_index).ravel(),
        np.ascontiguousarray(valid, dtype=np.bool_).ravel(),
        np.ascontiguousarray(type_of_row, dtype=np.int64),
        int(n_types),
    )
    return key.reshape(shape)
