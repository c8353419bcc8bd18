"""Flow routing on a DEM, computed once and shared by every indicator that needs it.

Kernels take numpy arrays and return numpy arrays; all per-pixel loops are numba-compiled
(``@njit(cache=True)``), iterative and O(n) (the depression filling is O(n log n) in the
size of its priority queue). ``valid`` is always a boolean mask, False = nodata/outside.

Pipeline (:func:`route`):

1. :func:`fill_depressions` — Priority-Flood (Barnes, Lehman & Mulla 2014, "Priority-flood:
   An optimal depression-filling and watershed-labeling algorithm", Computers & Geosciences
   62:117-127, Algorithm 2) with slope tracing (Zhou, Sun & Fu 2016). Raster border cells and
   cells next to nodata are the outlets. Depressions are filled level to their spill height;
   the result does not depend on the order cells are visited (so a DEM of float32 values,
   the usual case, takes a heap of one packed integer per cell, 17 % faster). Given threads,
   the fill runs on bands of rows (Barnes 2016, "Parallel Priority-Flood depression filling
   for trillion cell digital elevation models", Computers & Geosciences 96:56-68) with the
   same result, bit for bit (ADR 0010).
   :func:`resolve_flats` — Barnes, Lehman & Mulla (2014b) gradients across every flat
   (towards its drains, away from higher terrain), which D8 and MFD follow where the DEM is
   level (ADR 0009).
2. :func:`slope_fraction` — Horn (1981) 3×3 gradient, slope as rise/run, plus the
   Desmet & Govers aspect factor ``x = |sin α| + |cos α|``.
3. :func:`flow_direction_d8` / :func:`flow_accumulation_d8`, or
   :func:`flow_accumulation_mfd` (Freeman 1991 / Quinn et al. 1991, slope^p partition),
   accumulated in rounds over bands of rows that threads share, with the same numbers on
   any number of threads (:func:`_mfd_accumulate`, ADR 0010).
4. :func:`ls_factor` — Desmet & Govers (1996) LS as implemented by InVEST SDR.

Neighbour codes (same order as InVEST/pygeoprocessing)::

    3 2 1
    4 x 0
    5 6 7

0 = east, 1 = north-east, 2 = north (row − 1), 3 = north-west, 4 = west, 5 = south-west,
6 = south (row + 1), 7 = south-east. ``-1`` = no downslope neighbour (the cell drains off the
grid or into nodata — an outlet), also used where ``valid`` is False.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

import numpy as np
from numba import njit

from ecovalue.errors import InputError

METHODS = ("d8", "mfd")

_DR = np.array([0, -1, -1, -1, 0, 1, 1, 1], dtype=np.int64)
_DC = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)
_SQRT2 = math.sqrt(2.0)
# Flow length in cell units; InVEST uses the same table as its |sin α| + |cos α| equivalent.
_DIST = np.array([1.0, _SQRT2, 1.0, _SQRT2, 1.0, _SQRT2, 1.0, _SQRT2])
# Horn (1981) weights: dz/dx = Σ HX·z / 8D (east − west), dz/dy = Σ HY·z / 8D (south − north)
_HX = np.array([2.0, 1.0, 0.0, -1.0, -2.0, -1.0, 0.0, 1.0])
_HY = np.array([0.0, -1.0, -2.0, -1.0, 0.0, 1.0, 2.0, 1.0])
_DONE = np.uint8(255)  # in-degree sentinel: cell already routed (real in-degrees are 0..8)


# --------------------------------------------------------------------------- kernels
# Hot loops are written inline: numba helpers that take arrays cost a call and reference
# counting per pixel (measured ~1.7x slower for the fill).


@njit(inline="always")
def _nbr(i, k, r, c, rows, cols, off, interior):  # type: ignore[no-untyped-def]
    """Flat index of neighbour k of cell i (row r, col c), −1 off the grid."""
    if interior:
        return i + off[k]
    rn = r + _DR[k]
    cn = c + _DC[k]
    if rn < 0 or rn >= rows or cn < 0 or cn >= cols:
        return -1
    return rn * cols + cn

@njit(inline="always")
def _pushed(stack, n, value):  # type: ignore[no-untyped-def]
    """``stack`` with ``value`` at index ``n`` (the caller then counts ``n + 1``), after
    doubling it into a new array if it is full."""
    if n == stack.size:
        grown = np.empty(2 * n, dtype=stack.dtype)
        grown[:n] = stack
        stack = grown
    stack[n] = value
    return stack


_OUTLET = 1  # label of the cells a band floods from true outlets (their fill is final)


@njit(cache=True, nogil=True)
def _band_seeds(dem, valid, out, closed, label, r0, r1, track):  # type: ignore[no-untyped-def]
    """Copy the band's valid elevations into ``out``; return its seeds: true outlets (grid
    border or next to nodata, labelled ``_OUTLET``) and, when ``track``, the cells of the
    band's first and last rows that border another band (label 0 until flooded)."""
    rows, cols = dem.shape
    n = 0
    seeds = np.empty(2 * cols + 2 * (r1 - r0) + 1024, dtype=np.int64)
    for r in range(r0, r1):
        for c in range(cols):
            if not valid[r, c]:
                continue
            out[r, c] = dem[r, c]
            edge = r == 0 or c == 0 or r == rows - 1 or c == cols - 1
            k = 0
            while not edge and k < 8:
                edge = not valid[r + _DR[k], c + _DC[k]]
                k += 1
            inner_edge = track and ((r == r0 and r0 > 0) or (r == r1 - 1 and r1 < rows))
            if edge or inner_edge:
                closed[(r - r0) * cols + c] = True
                if track:
                    label[r, c] = _OUTLET if edge else 0
                seeds = _pushed(seeds, n, r * cols + c)
                n += 1
    return seeds[:n]


# the packed heap of the fill: (order-preserving bits of the float32 elevation) << 32 | cell
_LOW32 = np.uint64(0xFFFFFFFF)
_SIGN32 = np.uint64(0x80000000)
_SHIFT32 = np.uint64(32)


@njit(inline="always")
def _packed_key(fbuf, ubuf, z, cell):  # type: ignore[no-untyped-def]
    """A heap entry ordered as (z, cell): z's float32 bits made monotone (sign bit flipped
    for z ≥ 0, all bits for z < 0; −0.0 sorts just below +0.0), then the band-local cell."""
    fbuf[0] = z
    u = np.uint64(ubuf[0])
    u = u | _SIGN32 if u < _SIGN32 else ~u & _LOW32
    return (u << _SHIFT32) | np.uint64(cell)


@njit(cache=True, nogil=True)
def _packable(dem, valid, r0, r1):  # type: ignore[no-untyped-def]
    """Whether rows ``r0:r1`` fit the packed heap: every valid elevation a float32 (as from
    a float32 or 16-bit raster, the usual DEMs) and fewer than 2³² cells."""
    if (r1 - r0) * dem.shape[1] >= 2**32:
        return False
    for r in range(r0, r1):
        for c in range(dem.shape[1]):
            if valid[r, c] and np.float64(np.float32(dem[r, c])) != dem[r, c]:
                return False
    return True


def _fill_band_kernel(track: bool, packed: bool):  # type: ignore[no-untyped-def]
    """The band fill below, compiled with ``track`` and ``packed`` as constants (numba folds
    the branches away: the whole-grid fill pays nothing for the labels).

    ``packed``: the heap holds one uint64 per cell (:func:`_packed_key`) in a 4-ary heap
    instead of a float64 key and an int64 index in a binary one; for DEMs :func:`_packable`
    accepts. The fill is the same (it does not depend on the order of equal heights); at
    4000² 17 % faster (min of 5 runs 2.81 s against 3.42 s on the bench DEM, half the cells
    pass through a heap of ≈ 0.7 million entries on average).
    """

    @njit(cache=True, nogil=True)
    def fill_band(dem2, valid2, out2, label2, r0, r1, halt):  # type: ignore[no-untyped-def]
        """Priority-Flood (Barnes et al. 2014, Alg. 2, with Zhou et al. 2016's slope tracing) of
        rows ``r0:r1`` into ``out2``.

        With ``track`` (a band of a parallel fill, Barnes 2016), the band's border rows are
        seeds too, every cell gets the label of the seed that flooded it (a new label only for a
        seed not yet reached: Barnes' local-minima variant), and every pair of neighbours with
        different labels is a spill edge (:func:`_band_edges`). Returns the largest label
        (labels are 2, 3, … within the band; ``_OUTLET`` = 1).

        ``halt[0]`` non-zero (another thread's :meth:`RoutingStop.set`): the fill ends early,
        ``out2`` half done, within 65 536 cells taken from its queues.
        """
        rows, cols = dem2.shape
        base = r0 * cols
        closed = np.zeros((r1 - r0) * cols, dtype=np.bool_)
        seeds = _band_seeds(dem2, valid2, out2, closed, label2, r0, r1, track)
        out = out2.ravel()
        label = label2.ravel()
        valid = valid2.ravel()
        off = np.empty(8, dtype=np.int64)
        for k in range(8):
            off[k] = _DR[k] * cols + _DC[k]
        # binary min-heap on elevation (keys) carrying flat cell indices (ids)
        size = seeds.size
        seed_z = np.empty(size)
        for i in range(size):
            seed_z[i] = out[seeds[i]]
        fbuf = np.empty(1, dtype=np.float32)
        ubuf = fbuf.view(np.uint32)
        if packed:  # sorted entries are a valid heap
            keys = np.empty(1)
            ids = np.empty(1, dtype=np.int64)
            heap = np.empty(max(2 * size, 1024), dtype=np.uint64)
            for i in range(size):
                heap[i] = _packed_key(fbuf, ubuf, seed_z[i], seeds[i] - base)
            heap[:size].sort()
        else:
            heap = np.empty(1, dtype=np.uint64)
            order = np.argsort(seed_z, kind="mergesort")
            keys = np.empty(max(2 * size, 1024))
            ids = np.empty(keys.size, dtype=np.int64)
            for i in range(size):
                ids[i] = seeds[order[i]]
                keys[i] = seed_z[order[i]]
        pit = np.empty(1024, dtype=np.int64)  # Barnes' PitQueue (FIFO of raised cells)
        trace = np.empty(1024, dtype=np.int64)  # slope-tracing stack
        n_labels = 1
        head = 0
        tail = 0
        taken = 0
        while size > 0 or head < tail:
            taken += 1
            if (taken & 0xFFFF) == 0 and halt[0] != 0:
                break
            if head < tail:
                idx = pit[head]
                head += 1
                if head == tail:
                    head = 0
                    tail = 0
            elif packed:  # 4-ary heap pop
                idx = np.int64(heap[0] & _LOW32) + base
                size -= 1
                moved = heap[size]
                i = 0
                while True:
                    ch = 4 * i + 1
                    if ch >= size:
                        break
                    best = ch
                    kb = heap[ch]
                    for q in range(ch + 1, min(ch + 4, size)):
                        if heap[q] < kb:
                            best = q
                            kb = heap[q]
                    if kb >= moved:
                        break
                    heap[i] = kb
                    i = best
                heap[i] = moved
            else:
                idx = ids[0]
                # heap pop, written out here and in _spill_levels: as shared @njit helpers
                # (even inline="always") the fill was 5-15 % slower at 4000² (measured)
                size -= 1
                key, kid = keys[size], ids[size]
                i = 0
                while True:
                    ch = 2 * i + 1
                    if ch >= size:
                        break
                    if ch + 1 < size and keys[ch + 1] < keys[ch]:
                        ch += 1
                    if keys[ch] >= key:
                        break
                    keys[i] = keys[ch]
                    ids[i] = ids[ch]
                    i = ch
                keys[i] = key
                ids[i] = kid
            lab = 0
            if track:
                lab = label[idx]
                if lab == 0:  # a border seed no flood has reached: a new watershed
                    n_labels += 1
                    lab = n_labels
                    label[idx] = lab
            r = idx // cols
            c = idx - r * cols
            inner = r > r0 and r < r1 - 1 and c > 0 and c < cols - 1
            z = out[idx]
            for k in range(8):
                nid = _nbr(idx, k, r, c, rows, cols, off, inner)
                if nid < 0 or nid < base or nid >= base + closed.size or not valid[nid]:
                    continue
                if closed[nid - base]:
                    # a border seed this flood reaches before its own turn joins this watershed
                    if track and label[nid] == 0 and out[nid] >= z:
                        label[nid] = lab
                    continue
                closed[nid - base] = True
                if track:
                    label[nid] = lab
                if out[nid] <= z:
                    out[nid] = z
                    pit = _pushed(pit, tail, nid)
                    tail += 1
                else:
                    # Not raised: the cell keeps its own elevation whatever the order. Slope tracing
                    # (Zhou, Sun & Fu 2016, "An efficient variant of the Priority-Flood algorithm",
                    # Computers & Geosciences 90:87-96): a closed cell none of whose open
                    # neighbours is at or below it closes them all (each higher, so final as it is)
                    # and the trace goes on from them; only a cell with an open neighbour at or
                    # below it enters the heap. Most hillslope cells never touch the heap.
                    trace[0] = nid
                    tsp = 1
                    while tsp > 0:
                        tsp -= 1
                        t = trace[tsp]
                        tr = t // cols
                        tc = t - tr * cols
                        tin = tr > r0 and tr < r1 - 1 and tc > 0 and tc < cols - 1
                        zt = out[t]
                        low = False
                        for k2 in range(8):
                            j = _nbr(t, k2, tr, tc, rows, cols, off, tin)
                            if j < 0 or j < base or j >= base + closed.size or not valid[j]:
                                continue
                            if closed[j - base]:
                                continue
                            if out[j] <= zt:
                                low = True
                                break
                        if not low:
                            for k2 in range(8):
                                j = _nbr(t, k2, tr, tc, rows, cols, off, tin)
                                if j < 0 or j < base or j >= base + closed.size or not valid[j]:
                                    continue
                                if closed[j - base]:
                                    continue
                                closed[j - base] = True
                                if track:
                                    label[j] = lab
                                trace = _pushed(trace, tsp, j)
                                tsp += 1
                            continue
                        if packed:
                            if size == heap.size:
                                grown_h = np.empty(2 * size, dtype=np.uint64)
                                grown_h[:size] = heap
                                heap = grown_h
                            pk = _packed_key(fbuf, ubuf, zt, t - base)
                            i = size
                            while i > 0:  # sift up
                                p = (i - 1) >> 2
                                if heap[p] <= pk:
                                    break
                                heap[i] = heap[p]
                                i = p
                            heap[i] = pk
                            size += 1
                            continue
                        if size == keys.size:
                            grown_k = np.empty(2 * size)
                            grown_i = np.empty(2 * size, dtype=np.int64)
                            grown_k[:size] = keys
                            grown_i[:size] = ids
                            keys, ids = grown_k, grown_i
                        i = size
                        while i > 0:  # sift up
                            p = (i - 1) >> 1
                            if keys[p] <= zt:
                                break
                            keys[i] = keys[p]
                            ids[i] = ids[p]
                            i = p
                        keys[i] = zt
                        ids[i] = t
                        size += 1
        return n_labels

    return fill_band


_fill_band = _fill_band_kernel(True, False)
_fill_band_packed = _fill_band_kernel(True, True)
_fill_whole = _fill_band_kernel(False, False)
_fill_whole_packed = _fill_band_kernel(False, True)


@njit(cache=True, nogil=True)
def _band_edges(out, valid, label, r0, r1):  # type: ignore[no-untyped-def]
    """Spill edges between the watersheds of one filled band: for each pair of neighbouring
    cells with different labels, ``(a, b, max(out_a, out_b))`` (Barnes 2016's spillover
    graph; duplicates are harmless to :func:`_spill_levels`)."""
    cols = out.shape[1]
    ea = np.empty(4096, dtype=np.int32)
    eb = np.empty(4096, dtype=np.int32)
    ew = np.empty(4096)
    n = 0
    for r in range(r0, r1):
        south = r + 1 < r1
        for c in range(cols):
            if not valid[r, c]:
                continue
            la = label[r, c]
            # most cells: all four neighbours carry the cell's label (the loop below would
            # skip each of them, valid or not)
            if south and c > 0 and c < cols - 1 and label[r, c + 1] == la \
                    and label[r + 1, c - 1] == la and label[r + 1, c] == la \
                    and label[r + 1, c + 1] == la:
                continue
            for k in range(4):  # east, south-west, south, south-east: each pair once
                rn = r + (0, 1, 1, 1)[k]
                cn = c + (1, -1, 0, 1)[k]
                if rn >= r1 or cn < 0 or cn >= cols or not valid[rn, cn]:
                    continue
                lb = label[rn, cn]
                if lb == la:
                    continue
                if n == ea.size:
                    ga = np.empty(2 * n, dtype=np.int32)
                    gb = np.empty(2 * n, dtype=np.int32)
                    gw = np.empty(2 * n)
                    ga[:n] = ea
                    gb[:n] = eb
                    gw[:n] = ew
                    ea, eb, ew = ga, gb, gw
                ea[n] = la
                eb[n] = lb
                ew[n] = max(out[r, c], out[rn, cn])
                n += 1
    return ea[:n], eb[:n], ew[:n]


@njit(cache=True, nogil=True)
def _fill_kernel(dem2, valid2, halt):  # type: ignore[no-untyped-def]
    """The whole grid in one band (no labels): the sequential fill (``halt``: as the band
    fill's)."""
    rows, cols = dem2.shape
    out2 = np.empty_like(dem2)  # the DEM's dtype: a float32 DEM is filled in float32
    out2[:] = np.nan
    if _packable(dem2, valid2, 0, rows):
        _fill_whole_packed(dem2, valid2, out2, np.zeros((1, 1), dtype=np.int32), 0, rows, halt)
    else:
        _fill_whole(dem2, valid2, out2, np.zeros((1, 1), dtype=np.int32), 0, rows, halt)
    return out2


@njit(cache=True, nogil=True)
def _band_boundary_edges(dem, valid, label, r, offset_up, offset_down):  # type: ignore[no-untyped-def]
    """Spill edges between the last row ``r − 1`` of one band and the first row ``r`` of the
    next: both are border seeds (never raised), so the spill height is the higher DEM value.
    Band-local labels are made global with each band's offset (``_OUTLET`` stays)."""
    rows, cols = dem.shape
    ea = np.empty(3 * cols, dtype=np.int32)
    eb = np.empty(3 * cols, dtype=np.int32)
    ew = np.empty(3 * cols)
    n = 0
    for c in range(cols):
        if not valid[r - 1, c]:
            continue
        a = label[r - 1, c]
        a = a if a == _OUTLET else a + offset_up
        for dc in (-1, 0, 1):
            cn = c + dc
            if cn < 0 or cn >= cols or not valid[r, cn]:
                continue
            b = label[r, cn]
            b = b if b == _OUTLET else b + offset_down
            ea[n] = a
            eb[n] = b
            ew[n] = max(dem[r - 1, c], dem[r, cn])
            n += 1
    return ea[:n], eb[:n], ew[:n]


@njit(cache=True, nogil=True)
def _spill_levels(n_nodes, ea, eb, ew):  # type: ignore[no-untyped-def]
    """Lowest level from which each watershed reaches ``_OUTLET``: a minimax Dijkstra over
    the spill graph (Barnes 2016, §2.4). Unreached nodes keep −inf (they cannot exist)."""
    deg = np.zeros(n_nodes + 1, dtype=np.int64)
    for e in range(ea.size):
        deg[ea[e] + 1] += 1
        deg[eb[e] + 1] += 1
    for v in range(n_nodes):
        deg[v + 1] += deg[v]
    nbr = np.empty(deg[n_nodes], dtype=np.int32)
    wt = np.empty(deg[n_nodes])
    fill = deg[:-1].copy()
    for e in range(ea.size):
        a, b = ea[e], eb[e]
        nbr[fill[a]] = b
        wt[fill[a]] = ew[e]
        fill[a] += 1
        nbr[fill[b]] = a
        wt[fill[b]] = ew[e]
        fill[b] += 1
    level = np.full(n_nodes, np.inf)
    done = np.zeros(n_nodes, dtype=np.bool_)
    keys = np.empty(max(2 * ea.size + 1, 16))
    ids = np.empty(keys.size, dtype=np.int32)
    level[_OUTLET] = -np.inf
    keys[0] = -np.inf
    ids[0] = _OUTLET
    size = 1
    while size > 0:
        u = ids[0]
        lu = keys[0]
        # heap pop (written out, as in the fill: see there)
        size -= 1
        key, kid = keys[size], ids[size]
        i = 0
        while True:
            ch = 2 * i + 1
            if ch >= size:
                break
            if ch + 1 < size and keys[ch + 1] < keys[ch]:
                ch += 1
            if keys[ch] >= key:
                break
            keys[i] = keys[ch]
            ids[i] = ids[ch]
            i = ch
        keys[i] = key
        ids[i] = kid
        if done[u]:
            continue
        done[u] = True
        for q in range(deg[u], deg[u + 1]):
            v = nbr[q]
            cand = max(lu, wt[q])
            if cand < level[v]:
                level[v] = cand
                i = size
                while i > 0:
                    p = (i - 1) >> 1
                    if keys[p] <= cand:
                        break
                    keys[i] = keys[p]
                    ids[i] = ids[p]
                    i = p
                keys[i] = cand
                ids[i] = v
                size += 1
    return level


@njit(cache=True, nogil=True)
def _raise_to_levels(out, valid, label, r0, r1, offset, level):  # type: ignore[no-untyped-def]
    """Final fill of a band: each cell at least at its watershed's spill level."""
    cols = out.shape[1]
    for r in range(r0, r1):
        for c in range(cols):
            if valid[r, c]:
                lab = label[r, c]
                if lab != _OUTLET:
                    lv = level[lab + offset]
                    if lv > out[r, c]:
                        out[r, c] = lv


def _fill_parallel(
    dem: np.ndarray, valid: np.ndarray, threads: int, min_band_rows: int = 64,
    stop: threading.Event | None = None,
) -> np.ndarray:
    """Barnes (2016), "Parallel Priority-Flood depression filling for trillion cell digital
    elevation models on desktops or clusters", Computers & Geosciences 96:56-68, on bands of
    rows: each band is filled on its own thread with its border rows as extra seeds,
    labelling watersheds and their spill heights; a small graph of watersheds gives each its
    level; each band is raised to those levels. The result equals :func:`_fill_kernel`'s
    bit for bit (a fill is unique, and every value is one of the DEM's). ``stop``: as
    :func:`_fill`'s."""
    from concurrent.futures import ThreadPoolExecutor

    rows = dem.shape[0]
    n_bands = max(1, min(threads, rows // min_band_rows))
    if n_bands == 1:
        return _fill(dem, valid, stop)
    halt = _halt_flag(stop)
    cuts = [int(x) for x in np.linspace(0, rows, n_bands + 1)]
    bands = list(zip(cuts[:-1], cuts[1:], strict=True))
    out = np.full(dem.shape, np.nan, dtype=dem.dtype)
    label = np.zeros(dem.shape, dtype=np.int32)
    with ThreadPoolExecutor(max_workers=n_bands) as pool:
        n_labels = list(pool.map(
            lambda b: (_fill_band_packed if _packable(dem, valid, b[0], b[1]) else _fill_band)(
                dem, valid, out, label, b[0], b[1], halt),
            bands))
        _check_stop(stop)  # before a half-done band reaches the spill graph
        parts = list(pool.map(lambda b: _band_edges(out, valid, label, b[0], b[1]), bands))
        # band k's labels 2..n_k become offset_k + 2..; 0 and 1 are the unused and outlet ids
        offsets = np.cumsum([0] + [n - 1 for n in n_labels[:-1]])
        ea = [p[0] + np.where(p[0] == _OUTLET, 0, o).astype(np.int32)
              for p, o in zip(parts, offsets, strict=True)]
        eb = [p[1] + np.where(p[1] == _OUTLET, 0, o).astype(np.int32)
              for p, o in zip(parts, offsets, strict=True)]
        ew = [p[2] for p in parts]
        for k in range(1, n_bands):
            a, b, w = _band_boundary_edges(dem, valid, label, bands[k][0], offsets[k - 1],
                                           offsets[k])
            ea.append(a)
            eb.append(b)
            ew.append(w)
        n_nodes = int(offsets[-1] + n_labels[-1] + 1)
        level = _spill_levels(n_nodes, np.concatenate(ea), np.concatenate(eb),
                              np.concatenate(ew))
        if np.isposinf(level[2:]).any():  # every watershed touches another band or an outlet
            raise RuntimeError("parallel fill: a watershed has no path to an outlet")
        list(pool.map(lambda kb: _raise_to_levels(out, valid, label, kb[1][0], kb[1][1],
                                                  int(offsets[kb[0]]), level),
                      enumerate(bands)))
    return out


@njit(cache=True, nogil=True)
def _flat_mask_kernel(z2, valid2, mask, kind, label, away):  # type: ignore[no-untyped-def]
    """Barnes, Lehman & Mulla (2014b) flat resolution on a filled DEM; see :func:`resolve_flats`.

    ``mask``, ``label``, ``away`` (int32) and ``kind`` (uint8): flat arrays of the grid's
    size, all 0 (:func:`_flat_mask`). Returns ``(mask, n_flat, n_unresolved)``: int32 mask
    (Barnes' FlatMask − 2 on flat cells, 0 elsewhere), the number of flat cells, and of flat
    cells that no drain reaches. Every queue is allocated once at its bound (a cell enters
    each search at most once).
    """
    rows, cols = z2.shape
    n = rows * cols
    z = z2.ravel()
    valid = valid2.ravel()
    # kind: 1 flat, 2 flat with a higher neighbour (high edge), 4 drain with an equal neighbour
    off = np.empty(8, dtype=np.int64)
    for k in range(8):
        off[k] = _DR[k] * cols + _DC[k]
    n_flat = 0
    n_high = 0
    n_drains = 0
    for i in range(n):
        if not valid[i]:
            continue
        r = i // cols
        c = i - r * cols
        interior = r > 0 and r < rows - 1 and c > 0 and c < cols - 1
        outlet = not interior
        lower = False
        higher = False
        equal = False
        zi = z[i]
        for k in range(8):
            nid = _nbr(i, k, r, c, rows, cols, off, interior)
            if nid < 0:
                continue
            if not valid[nid]:
                outlet = True
            elif z[nid] < zi:
                lower = True
            elif z[nid] > zi:
                higher = True
            else:
                equal = True
        if outlet or lower:
            if equal:
                kind[i] = 4
                n_drains += 1
        elif equal:  # no lower neighbour but one of equal height (a pit has none: no flat)
            kind[i] = 2 if higher else 1
            n_flat += 1
            n_high += higher
    if n_flat == 0:
        return mask.reshape(rows, cols), 0, 0
    # low edges: drains next to a flat cell of their height; high edges
    low = np.empty(n_drains, dtype=np.int64)
    high = np.empty(n_high, dtype=np.int64)
    n_low = 0
    n_high = 0
    for i in range(n):
        if kind[i] == 2:
            high[n_high] = i
            n_high += 1
        elif kind[i] == 4:
            r = i // cols
            c = i - r * cols
            interior = r > 0 and r < rows - 1 and c > 0 and c < cols - 1
            for k in range(8):
                nid = _nbr(i, k, r, c, rows, cols, off, interior)
                if nid >= 0 and (kind[nid] == 1 or kind[nid] == 2) and z[nid] == z[i]:
                    low[n_low] = i
                    n_low += 1
                    break
    # label each flat from its low edges: 8-connected cells of equal height (flat cells and
    # drains with an equal neighbour only, so n_flat + n_drains bounds the stack)
    stack = np.empty(n_flat + n_drains, dtype=np.int64)
    n_labels = 0
    for q in range(n_low):
        seed = low[q]
        if label[seed] != 0:
            continue
        n_labels += 1
        label[seed] = n_labels
        stack[0] = seed
        size = 1
        while size > 0:
            size -= 1
            i = stack[size]
            r = i // cols
            c = i - r * cols
            interior = r > 0 and r < rows - 1 and c > 0 and c < cols - 1
            for k in range(8):
                nid = _nbr(i, k, r, c, rows, cols, off, interior)
                if nid >= 0 and valid[nid] and label[nid] == 0 and z[nid] == z[i]:
                    label[nid] = n_labels
                    stack[size] = nid
                    size += 1
    # gradient away from higher terrain: breadth-first from the high edges over flat cells;
    # one FIFO, levels told apart by the step stored with each cell
    height = np.zeros(n_labels + 1, dtype=np.int32)
    fifo = stack  # reused: each flat cell enters at most once
    tail = 0
    for q in range(n_high):
        if label[high[q]] != 0:  # a flat no drain reaches cannot be resolved
            away[high[q]] = 1
            fifo[tail] = high[q]
            tail += 1
    head = 0
    while head < tail:
        i = fifo[head]
        head += 1
        step = away[i]
        lab = label[i]
        if height[lab] < step:
            height[lab] = step
        r = i // cols
        c = i - r * cols
        interior = r > 0 and r < rows - 1 and c > 0 and c < cols - 1
        for k in range(8):
            nid = _nbr(i, k, r, c, rows, cols, off, interior)
            if nid >= 0 and kind[nid] != 0 and kind[nid] != 4 and away[nid] == 0 \
                    and label[nid] == lab:
                away[nid] = step + 1
                fifo[tail] = nid
                tail += 1
    # gradient towards lower terrain, breadth-first from the low edges (step 1), combined
    # with the above as 2·towards + (H − away); ``mask`` holds a queued cell's step until
    # the cell is taken (a final value is ≥ 2, never 0, so 0 still means "not reached")
    tail = 0
    for q in range(n_low):
        fifo[tail] = low[q]
        tail += 1
    head = 0
    n_resolved = 0
    while head < tail:
        i = fifo[head]
        lab = label[i]
        if head < n_low:
            step = 1
        else:  # a flat cell: ``mask`` holds its step; make it final
            step = mask[i]
            a = away[i]
            mask[i] = 2 * step + (height[lab] - a if a > 0 else 0) - 2
            n_resolved += 1
        head += 1
        r = i // cols
        c = i - r * cols
        interior = r > 0 and r < rows - 1 and c > 0 and c < cols - 1
        for k in range(8):
            nid = _nbr(i, k, r, c, rows, cols, off, interior)
            if nid >= 0 and (kind[nid] == 1 or kind[nid] == 2) and mask[nid] == 0 \
                    and label[nid] == lab:
                mask[nid] = step + 1
                fifo[tail] = nid
                tail += 1
    return mask.reshape(rows, cols), n_flat, n_flat - n_resolved


@njit(cache=True, nogil=True)
def _d8_kernel(z, valid, mask):  # type: ignore[no-untyped-def]
    """Steepest descent; on a resolved flat (``mask`` > 0) the steepest fall of the mask."""
    rows, cols = z.shape
    dirs = np.full((rows, cols), -1, dtype=np.int8)
    for r in range(rows):
        for c in range(cols):
            if not valid[r, c]:
                continue
            best = 0.0
            code = -1
            zc = np.float64(z[r, c])  # a float32 DEM's drops in float64, as from a float64 copy
            mc = mask[r, c]
            for k in range(8):
                rn = r + _DR[k]
                cn = c + _DC[k]
                if rn >= 0 and rn < rows and cn >= 0 and cn < cols and valid[rn, cn]:
                    if mc > 0:  # flat cell: no lower neighbour; fall along the flat mask
                        drop = (mc - mask[rn, cn]) / _DIST[k] if z[rn, cn] == zc else 0.0
                    else:
                        drop = (zc - z[rn, cn]) / _DIST[k]
                    if drop > best:  # strict: ties keep the lowest code
                        best = drop
                        code = k
            dirs[r, c] = code
    return dirs


@njit(cache=True, nogil=True)
def _d8_acc_kernel(dirs, valid, weights, use_weights):  # type: ignore[no-untyped-def]
    rows, cols = dirs.shape
    acc = np.full((rows, cols), np.nan)
    indeg = np.zeros((rows, cols), dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            if not valid[r, c]:
                continue
            acc[r, c] = weights[r, c] if use_weights else 1.0
            d = dirs[r, c]
            if d >= 0:
                rn, cn = r + _DR[d], c + _DC[d]
                if rn >= 0 and rn < rows and cn >= 0 and cn < cols and valid[rn, cn]:
                    indeg[rn, cn] += 1
    for r in range(rows):
        for c in range(cols):
            if not valid[r, c] or indeg[r, c] != 0:
                continue
            cr, cc = r, c
            # follow the chain downstream while each next cell has all its donors done
            while True:
                indeg[cr, cc] = _DONE
                d = dirs[cr, cc]
                if d < 0:
                    break
                rn, cn = cr + _DR[d], cc + _DC[d]
                if rn < 0 or rn >= rows or cn < 0 or cn >= cols or not valid[rn, cn]:
                    break
                acc[rn, cn] += acc[cr, cc]
                indeg[rn, cn] -= 1
                if indeg[rn, cn] != 0:
                    break
                cr, cc = rn, cn
    n_stuck = 0
    for r in range(rows):
        for c in range(cols):
            if valid[r, c] and indeg[r, c] != _DONE:
                n_stuck += 1
    return acc, n_stuck


#: Height of the bands of rows the MFD accumulation is computed in (:func:`_mfd_accumulate`).
#: A constant, not a function of the thread count: the order in which a cell's inflows are
#: added depends on the bands, so the numbers (last bits) are a function of the grid only, and
#: any number of threads gives the same bits. Grids of at most this many rows are one band:
#: the plain sequential sweep.
MFD_BAND_ROWS = 256


@njit(cache=True, nogil=True)
def _count_donors(z, valid, mask, indeg, r0, r1):  # type: ignore[no-untyped-def]
    """Into ``indeg`` on rows ``r0:r1``: the number of valid neighbours that pass flow to each
    cell under MFD: those strictly higher, and on a resolved flat those of equal height with a
    higher flat mask."""
    rows, cols = z.shape
    for r in range(r0, r1):
        for c in range(cols):
            if not valid[r, c]:
                continue
            n = 0
            zc = z[r, c]
            for k in range(8):
                rn = r + _DR[k]
                cn = c + _DC[k]
                if rn >= 0 and rn < rows and cn >= 0 and cn < cols and valid[rn, cn]:
                    zn = z[rn, cn]
                    if zn > zc or (zn == zc and mask[rn, cn] > mask[r, c]):
                        n += 1
            indeg[r, c] = n


@njit(cache=True, nogil=True)
def _mfd_bands(z2, valid2, mask2, cell_size, exponent, acc, xflow, indeg2, band_rows,  # type: ignore[no-untyped-def]
               bands, first, seeds, n_seeds, out_j, out_a, n_out, ls_params):
    """One round of the MFD accumulation on each band of ``bands`` (flat indices; interior
    cells skip the bounds checks).

    A band routes every cell of its rows that is ready (all its donors routed), depth first
    from its seeds: in the first round (``first``) its cells without donors, in raster order
    (its donors are counted first), later the cells whose last donor was in another band
    (``seeds[b, :n_seeds[b]]``). Flow to a cell of another band is not added here but written
    to the band's outbox (``out_j``, ``out_a``, ``n_out``): a band writes only its own cells,
    so bands may run on threads at once. :func:`_merge_outboxes` adds the outboxes between
    rounds. A cell of a resolved flat (``mask`` > 0, no lower neighbour) passes its flow to
    the neighbours of equal height with a lower mask, in proportion to (mask fall /
    distance)^p, as if each mask step were a small, uniform rise.

    ``ls_params`` = (l_max, invest) or empty: with them each cell's ``xflow`` holds its LS
    factor instead of its flow length, computed as the cell is routed (its accumulation is
    final then, and its Horn neighbourhood is the one just read for the drops): the numbers
    of :func:`_horn` and :func:`_ls_pixel` on the finished grids, bit for bit, without a
    pass of its own.
    """
    rows, cols = z2.shape
    with_ls = ls_params.size > 0
    l_max = ls_params[0] if with_ls else 0.0
    invest = with_ls and ls_params[1] != 0.0
    area = cell_size * cell_size
    log_d = math.log(cell_size / 22.13)
    z = z2.ravel()
    valid = valid2.ravel()
    mask = mask2.ravel()
    indeg = indeg2.ravel()
    inv_len = 1.0 / (_DIST * cell_size)
    linear = exponent == 1.0
    off = np.empty(8, dtype=np.int64)
    for k in range(8):
        off[k] = _DR[k] * cols + _DC[k]
    w = np.empty(8)
    nb = np.empty(8, dtype=np.int64)
    stack = np.empty(1024, dtype=np.int64)
    for b in bands:
        r0 = b * band_rows
        r1 = min(rows, r0 + band_rows)
        lo = r0 * cols
        hi = r1 * cols
        if first:
            _count_donors(z2, valid2, mask2, indeg2, r0, r1)
        n_starts = hi - lo if first else n_seeds[b]
        n = 0
        for s in range(n_starts):
            if first:
                start = lo + s
                if not valid[start] or indeg[start] != 0:
                    continue
            else:
                start = seeds[b, s]
            stack[0] = start
            sp = 1
            while sp > 0:
                sp -= 1
                i = stack[sp]
                indeg[i] = _DONE
                zc = np.float64(z[i])  # drops in float64 (a float32 DEM: as from a float64 copy)
                r = i // cols
                c = i - r * cols
                interior = r > 0 and r < rows - 1 and c > 0 and c < cols - 1
                total = 0.0
                m = 0
                gx = 0.0  # Horn (1981), as _horn: an edge cell's from one-sided differences
                gy = 0.0
                complete = True
                for k in range(8):
                    j = _nbr(i, k, r, c, rows, cols, off, interior)
                    inside = j >= 0 and valid[j]
                    if not inside:
                        complete = False
                        continue
                    zj = np.float64(z[j])
                    if with_ls:
                        gx += _HX[k] * zj
                        gy += _HY[k] * zj
                    drop = zc - zj
                    if drop == 0.0 and mask[i] > mask[j]:  # on a resolved flat
                        drop = float(mask[i] - mask[j])
                    if drop > 0.0:
                        wk = drop * inv_len[k] if linear else (drop * inv_len[k]) ** exponent
                        w[m] = wk
                        nb[m] = j * 8 + k
                        total += wk
                        m += 1
                if with_ls and not complete:
                    gx, gy = _edge_horn_sums(z2, valid2, r, c, rows, cols)
                if m == 0:
                    if with_ls:  # no outflow: the Horn aspect's x (as _flow_x)
                        xflow[i] = _ls_from_horn(gx, gy, 0.0, acc[i], cell_size, area, log_d,
                                                 l_max, invest)
                    continue
                if total == 0.0:
                    for q in range(m):
                        w[q] = 1.0
                    total = float(m)
                a = acc[i] / total
                xs = 0.0
                for q in range(m):
                    j = nb[q] >> 3
                    k = nb[q] & 7
                    xs += w[q] * _DIST[k]
                    if j < lo or j >= hi:  # another band's cell: to the outbox
                        out_j[b, n] = j
                        out_a[b, n] = a * w[q]
                        n += 1
                        continue
                    acc[j] += a * w[q]
                    indeg[j] -= 1
                    if indeg[j] == 0:
                        stack = _pushed(stack, sp, j)
                        sp += 1
                if with_ls:
                    xflow[i] = _ls_from_horn(gx, gy, xs / total, acc[i], cell_size, area, log_d,
                                             l_max, invest)
                else:
                    xflow[i] = xs / total
        n_out[b] = n


@njit(inline="always")
def _ls_from_horn(gx, gy, x_len, acc, cell_size, area, log_d, l_max, invest):  # type: ignore[no-untyped-def]
    """:func:`_ls_pixel` of a cell from its Horn sums (``Σ HX·z``, ``Σ HY·z``), its flow
    length (0: none, the aspect's x is taken, as :func:`_flow_x`) and accumulation:
    :func:`_horn`'s and :func:`_ls_pixel`'s operations in their order."""
    gx /= 8.0 * cell_size
    gy /= 8.0 * cell_size
    slope = math.sqrt(gx * gx + gy * gy)
    aspect_x = (abs(gx) + abs(gy)) / slope if slope > 0.0 else 1.0
    return _ls_pixel(slope, x_len if x_len > 0.0 else aspect_x, acc, area, log_d, l_max,
                     invest)


@njit(cache=True, nogil=True)
def _merge_outboxes(acc, indeg2, band_rows, out_j, out_a, n_out, seeds, n_seeds):  # type: ignore[no-untyped-def]
    """Between two rounds of :func:`_mfd_bands`: add every band's outbox to its cells, band by
    band in order (so the sums do not depend on which thread ran which band), and make the
    cells whose last donor this was the next round's seeds of their bands; empties the
    outboxes."""
    cols = indeg2.shape[1]
    indeg = indeg2.ravel()
    n_seeds[:] = 0
    for b in range(n_out.size):
        for e in range(n_out[b]):
            j = out_j[b, e]
            acc[j] += out_a[b, e]
            indeg[j] -= 1
            if indeg[j] == 0:
                t = (j // cols) // band_rows
                seeds[t, n_seeds[t]] = j
                n_seeds[t] += 1
        n_out[b] = 0


def _mfd_accumulate(z2, valid2, mask2, cell_size, exponent, threads=1, stop=None, ls_params=None):  # type: ignore[no-untyped-def]
    """MFD accumulation and the flow-weighted mean flow length x (0 at outlets), in bands of
    :data:`MFD_BAND_ROWS` rows on ``threads`` threads.

    Donors always precede receivers (in-degree counting). Each round, every band with work
    routes all of its cells that are ready (:func:`_mfd_bands`; the bands of a round on
    threads at once), then the flow that crossed a band's edge is added in band order
    (:func:`_merge_outboxes`) and the cells it completed start the next round; until no flow
    crosses. Every cell's inflows are added in an order fixed by the grid and the bands, so
    the numbers do not depend on ``threads``, bit for bit; against one sequential sweep they
    differ in the last bits (4000² bench DEM: ≤ 4e-15 relative, flow length identical). With
    ``stop`` set, :class:`RoutingStopped` at the next round. ``ls_params`` = ``(l_max,
    invest)``: the second array holds the LS factor instead of the flow length (NaN outside
    ``valid``; :func:`_mfd_ls_kernel`).
    """
    rows, cols = z2.shape
    n_bands = -(-rows // MFD_BAND_ROWS)
    acc = np.where(valid2, 1.0, np.nan).ravel()
    if ls_params is None:
        ls_args = np.empty(0)
        xflow = np.zeros(rows * cols)
    else:
        ls_args = np.array([float(ls_params[0]), 1.0 if ls_params[1] else 0.0])
        xflow = np.where(valid2, 0.0, np.nan).ravel()
    indeg = np.zeros((rows, cols), dtype=np.uint8)
    # a band's outbox: at most 3 cross-edge receivers per cell of its top and bottom rows;
    # its seeds: cells of its top and bottom rows
    out_j = np.empty((n_bands, 6 * cols), dtype=np.int64)
    out_a = np.empty((n_bands, 6 * cols))
    n_out = np.zeros(n_bands, dtype=np.int64)
    seeds = np.empty((n_bands, 2 * cols), dtype=np.int64)
    n_seeds = np.zeros(n_bands, dtype=np.int64)
    threads = max(1, min(threads, n_bands))

    def round_(bands: np.ndarray, first: bool) -> None:
        _mfd_bands(z2, valid2, mask2, cell_size, exponent, acc, xflow, indeg, MFD_BAND_ROWS,
                   bands, first, seeds, n_seeds, out_j, out_a, n_out, ls_args)

    active = np.arange(n_bands, dtype=np.int64)
    first = True
    pool = None
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mfd")
    try:
        while active.size:
            _check_stop(stop)
            if pool is None or active.size == 1:
                round_(active, first)
            else:  # the active bands dealt out in turn: neighbours on different threads
                parts = [np.ascontiguousarray(active[t::threads]) for t in range(threads)]
                for f in [pool.submit(round_, p, first) for p in parts if p.size]:
                    f.result()
            first = False
            _merge_outboxes(acc, indeg, MFD_BAND_ROWS, out_j, out_a, n_out, seeds, n_seeds)
            active = np.flatnonzero(n_seeds).astype(np.int64)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return acc.reshape(rows, cols), xflow.reshape(rows, cols)


def _mfd_ls_kernel(z2, valid2, mask2, cell_size, exponent, l_max, invest, threads=1, stop=None):  # type: ignore[no-untyped-def]
    """MFD accumulation and the LS factor, each cell's LS computed as the cell is routed, in
    the array of its flow length (:func:`_mfd_bands` with ``ls_params``; slope and aspect
    never held as grids: the same numbers as :func:`_slope_kernel`, :func:`_flow_x` and
    :func:`_ls_into`, bit for bit, in 24 fewer bytes per cell). Once a separate pass row by
    row after the accumulation (1.5 s at 4000² on one thread, 0.74 on two); inside the
    rounds its work shares their threads: the accumulation and LS together 2.68–3.18 s on
    two threads against 3.09–3.30 for the two passes (bench DEM, fastest of three, two
    runs). The same numbers on any number of threads."""
    return _mfd_accumulate(z2, valid2, mask2, cell_size, exponent, threads, stop,
                           (l_max, invest))


def _in_row_bands(n_rows, threads, work):  # type: ignore[no-untyped-def]
    """``work(r0, r1)`` on bands of rows covering ``0:n_rows``, one band per thread (a single
    call with one thread or fewer than two rows per thread); for per-cell passes whose numbers
    do not depend on the split."""
    if threads <= 1 or n_rows < 2 * threads:
        work(0, n_rows)
        return
    from concurrent.futures import ThreadPoolExecutor

    cuts = np.linspace(0, n_rows, threads + 1).astype(int)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(work, int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
        for f in futures:
            f.result()


@njit(inline="always")
def _inside(valid, r, c, rows, cols):  # type: ignore[no-untyped-def]
    return r >= 0 and r < rows and c >= 0 and c < cols and valid[r, c]


@njit(inline="always")
def _edge_difference(z, valid, r, c, rows, cols, dr, dc):  # type: ignore[no-untyped-def]
    """The difference of ``z`` across cell (r, c) along (dr, dc) per cell: central where both
    neighbours are valid, one-sided (from the cell itself) where one is, and ``(False, 0)``
    where neither is or the cell itself is not valid."""
    if not _inside(valid, r, c, rows, cols):
        return False, 0.0
    fwd = _inside(valid, r + dr, c + dc, rows, cols)
    back = _inside(valid, r - dr, c - dc, rows, cols)
    if fwd and back:
        return True, (np.float64(z[r + dr, c + dc]) - np.float64(z[r - dr, c - dc])) / 2.0
    if fwd:
        return True, np.float64(z[r + dr, c + dc]) - np.float64(z[r, c])
    if back:
        return True, np.float64(z[r, c]) - np.float64(z[r - dr, c - dc])
    return False, 0.0


@njit(inline="always")
def _edge_horn_sums(z, valid, r, c, rows, cols):  # type: ignore[no-untyped-def]
    """Horn's sums ``Σ HX·z`` and ``Σ HY·z`` of a cell with a neighbour off the grid or not
    valid, from one-sided differences: each of Horn's three rows (columns) contributes its
    central difference, or a one-sided one from its middle cell where one neighbour is missing,
    or nothing; the weights 1, 2, 1 of the rows present are renormalised. Horn's sums are 8 ×
    the weighted mean difference per cell, so an interior cell would get exactly Horn's
    numbers and a plane its exact gradient at every cell, edges and corners included (the
    centre-value rule gave a 6 % plane 4.5 % on its side columns, 3 % on its top and bottom
    rows and 2.37 % in its corners; decision 0031)."""
    sx = 0.0
    wx = 0.0
    sy = 0.0
    wy = 0.0
    for o in range(-1, 2):
        w = 2.0 if o == 0 else 1.0
        ok, d = _edge_difference(z, valid, r + o, c, rows, cols, 0, 1)  # east − west, row r+o
        if ok:
            sx += w * d
            wx += w
        ok, d = _edge_difference(z, valid, r, c + o, rows, cols, 1, 0)  # south − north, col c+o
        if ok:
            sy += w * d
            wy += w
    return (8.0 * sx / wx if wx > 0.0 else 0.0), (8.0 * sy / wy if wy > 0.0 else 0.0)


@njit(inline="always")
def _horn(z, valid, r, c, rows, cols, cell_size):  # type: ignore[no-untyped-def]
    """Horn (1981) slope (rise/run) of valid cell (r, c) and |sin α| + |cos α| of its aspect
    (1 on a flat cell, which has no aspect); a cell with a neighbour off the grid or not valid
    takes one-sided differences (:func:`_edge_horn_sums`)."""
    gx = 0.0
    gy = 0.0
    complete = True
    for k in range(8):
        rn = r + _DR[k]
        cn = c + _DC[k]
        if rn >= 0 and rn < rows and cn >= 0 and cn < cols and valid[rn, cn]:
            v = np.float64(z[rn, cn])
            gx += _HX[k] * v
            gy += _HY[k] * v
        else:
            complete = False
    if not complete:
        gx, gy = _edge_horn_sums(z, valid, r, c, rows, cols)
    gx /= 8.0 * cell_size
    gy /= 8.0 * cell_size
    s = math.sqrt(gx * gx + gy * gy)
    return s, ((abs(gx) + abs(gy)) / s if s > 0.0 else 1.0)


@njit(cache=True, nogil=True)
def _slope_kernel(z, valid, cell_size):  # type: ignore[no-untyped-def]
    """Horn (1981) slope and |sin α| + |cos α| (:func:`_horn`) of every valid cell."""
    rows, cols = z.shape
    slope = np.full((rows, cols), np.nan)
    xfac = np.full((rows, cols), np.nan)
    for r in range(rows):
        for c in range(cols):
            if valid[r, c]:
                slope[r, c], xfac[r, c] = _horn(z, valid, r, c, rows, cols, cell_size)
    return slope, xfac


@njit(cache=True, nogil=True)
def _ls_kernel(slope, x, acc, valid, cell_size, l_max, invest):  # type: ignore[no-untyped-def]
    ls = np.full(slope.shape, np.nan)
    _ls_into(slope, x, acc, valid, cell_size, l_max, invest, ls)
    return ls


def _ls_threaded(slope, x, acc, valid, cell_size, l_max, invest, threads):  # type: ignore[no-untyped-def]
    """:func:`_ls_kernel` on bands of rows in ``threads`` threads (per-pixel: same numbers)."""
    ls = np.full(slope.shape, np.nan)
    _in_row_bands(slope.shape[0], threads, lambda a, b: _ls_into(
        slope[a:b], x[a:b], acc[a:b], valid[a:b], cell_size, l_max, invest, ls[a:b]))
    return ls


@njit(inline="always")
def _ls_pixel(s, xf, acc, area, log_d, l_max, invest):  # type: ignore[no-untyped-def]
    """The LS factor of :func:`ls_factor` for one cell, in a numerically stable form.

    ``s``: slope (rise/run); ``xf``: flow length factor (≥ 1); ``acc``: contributing cells
    including the cell; ``log_d`` = log(D / 22.13). With ``v = A_in / D²`` (upslope area in
    cells; ``acc − 1`` for Desmet & Govers) the L of :func:`ls_factor` is, exactly,

        L = ((v + 1)^(m+1) − v^(m+1)) · (D / (22.13 · x))^m
          = −expm1((m+1) · log1p(−1/(v+1))) · exp((m+1) · log1p(v) + m · log(D / (22.13 x)))

    The first line's difference of two large powers loses about log10(v) digits (6e-10
    relative at v = 5e6, measured against 60-digit decimal arithmetic); the second keeps
    ≈ 1e-15 and needs three logarithms and two exponentials instead of five powers. sin θ of
    the slope s is s / √(1 + s²), cos θ = 1 / √(1 + s²).
    """
    pct = s * 100.0
    hyp = math.sqrt(1.0 + s * s)
    sin_t = s / hyp
    s_factor = 10.8 * sin_t + 0.03 if pct < 9.0 else 16.8 * sin_t - 0.5
    if pct <= 1.0:
        m = 0.2
    elif pct <= 3.5:
        m = 0.3
    elif pct <= 5.0:
        m = 0.4
    elif pct <= 9.0:
        m = 0.5
    else:  # sin θ > 0 here
        beta = (sin_t / 0.0896) / (3.0 * math.exp(0.8 * math.log(sin_t)) + 0.56)
        m = beta / (1.0 + beta)
    v = acc - 1.0  # upslope cells, the cell itself excluded
    if invest:  # InVEST ≥ 3.14: √(upslope area) and x from the slope angle (see ls_factor)
        v = math.sqrt(v * area) / area
        xf = sin_t + 1.0 / hyp
    e = m * (log_d - math.log(xf))
    if v > 0.0:
        big_l = -math.expm1((m + 1.0) * math.log1p(-1.0 / (v + 1.0))) * math.exp(
            (m + 1.0) * math.log1p(v) + e
        )
    else:  # a ridge cell: ((0 + 1)^(m+1) − 0) · (D / (22.13 x))^m
        big_l = math.exp(e)
    return min(big_l, l_max) * s_factor


@njit(cache=True, nogil=True)
def _ls_into(slope, x, acc, valid, cell_size, l_max, invest, ls):  # type: ignore[no-untyped-def]
    """:func:`_ls_pixel` of every valid cell into ``ls``."""
    rows, cols = slope.shape
    area = cell_size * cell_size
    log_d = math.log(cell_size / 22.13)
    for r in range(rows):
        for c in range(cols):
            if valid[r, c]:
                ls[r, c] = _ls_pixel(slope[r, c], x[r, c], acc[r, c], area, log_d, l_max, invest)


def _flow_x(xflow: np.ndarray, aspect_x: np.ndarray) -> np.ndarray:
    """InVEST's routing-based x where the cell has outflow, else the Horn-aspect x (in place)."""
    np.copyto(aspect_x, xflow, where=xflow > 0.0)
    return aspect_x


def _d8_x(dirs: np.ndarray, aspect_x: np.ndarray) -> np.ndarray:
    """Flow length (1 or √2) of the D8 direction, else the Horn-aspect x (in place)."""
    has_dir = dirs >= 0
    aspect_x[has_dir] = _DIST[dirs[has_dir]]
    return aspect_x


# --------------------------------------------------------------------------- public API


class RoutingStopped(Exception):
    """The caller set the routing's ``stop`` event; raised between two of its kernels or the
    MFD accumulation's rounds, and with a :class:`RoutingStop` from inside the depression
    fill (other kernels, once started, run to their end)."""


def default_threads() -> int:
    """The run's threads by default: the machine's CPUs, at most 4 (the streamed engine's
    blocks, ``ecovalue account --threads``, and the in-memory engine's routing); no number
    depends on it."""
    return min(os.cpu_count() or 1, 4)


def _check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise RoutingStopped("the routing was stopped by its caller before its end")


class RoutingStop(threading.Event):
    """A ``stop`` event for the routing that its longest kernel, the depression fill, also
    looks at while it runs (every 65 536 cells; a plain :class:`threading.Event` is looked at
    between kernels only, and between the MFD accumulation's rounds). :meth:`set` sets the
    event before the flag the kernel reads, so a fill that ends early always finds the event
    set and raises :class:`RoutingStopped` instead of passing a half-done fill on."""

    def __init__(self) -> None:
        super().__init__()
        self.flag = np.zeros(1, dtype=np.uint8)

    def set(self) -> None:
        super().set()
        self.flag[0] = 1


_NEVER = np.zeros(1, dtype=np.uint8)  # the halt flag of a fill nothing stops (never written)


def _halt_flag(stop: threading.Event | None) -> np.ndarray:
    return stop.flag if isinstance(stop, RoutingStop) else _NEVER


def _fill(dem: np.ndarray, valid: np.ndarray, stop: threading.Event | None = None) -> np.ndarray:
    """The sequential fill (:func:`_fill_kernel`); with a :class:`RoutingStop` set while it
    runs, :class:`RoutingStopped` as soon as the kernel sees it."""
    out = _fill_kernel(dem, valid, _halt_flag(stop))
    _check_stop(stop)
    return out


def _check_grid(
    dem: np.ndarray, valid: np.ndarray, name: str = "dem", compact: bool = False
) -> tuple[np.ndarray, ...]:
    """``(elevations, valid)`` as C-contiguous arrays, the elevations float64, or with
    ``compact`` float32 when every valid one is a float32 value (a float32 DEM as read, or a
    16-bit one; :func:`_packable`): the routing's kernels do their arithmetic in float64
    whatever the array's dtype, so the numbers are the same bits and a float32 DEM costs
    neither a float64 copy nor a float64 filled DEM (4 bytes per cell each)."""
    z = np.asarray(dem)
    if z.ndim != 2:
        raise InputError(f"{name} has {z.ndim} dimension(s); expected a 2-D raster array")
    if not np.issubdtype(z.dtype, np.number):
        raise InputError(f"{name} has dtype {z.dtype}; expected numbers")
    v = np.asarray(valid)
    if v.dtype != np.bool_:
        raise InputError(f"valid mask has dtype {v.dtype}; expected a boolean array")
    if v.shape != z.shape:
        raise InputError(f"valid mask has shape {v.shape}; expected {z.shape} (the {name} shape)")
    z = np.ascontiguousarray(z, dtype=np.float32 if compact and z.dtype == np.float32
                             else np.float64)
    bad = v & ~np.isfinite(z)
    if bad.any():
        raise InputError(
            f"{name} is NaN or infinite at {int(bad.sum())} valid pixel(s); expected finite "
            f"numbers; mark those pixels nodata in the valid mask"
        )
    v = np.ascontiguousarray(v)
    if compact and z.dtype == np.float64 and _packable(z, v, 0, z.shape[0]):
        with np.errstate(over="ignore", invalid="ignore"):  # nodata cells: never read
            z = z.astype(np.float32)
    return z, v


def _check_cell_size(cell_size: float) -> float:
    cs = float(cell_size)
    if not math.isfinite(cs) or cs <= 0:
        raise InputError(
            f"cell_size = {cell_size!r}; expected the pixel side length in metres (> 0); "
            f"use a projected grid with square pixels"
        )
    return cs


def _check_method(method: str) -> bool:
    if method not in METHODS:
        raise InputError(
            f"routing method {method!r} is unknown; expected one of {', '.join(METHODS)} "
            f"('d8' single steepest-descent direction, 'mfd' multiple flow direction)"
        )
    return method == "mfd"


LS_FORMULATIONS = ("desmet_govers", "invest")


def _check_formulation(formulation: str) -> bool:
    """True for the InVEST ≥ 3.14 formulation; InputError for an unknown name."""
    if formulation not in LS_FORMULATIONS:
        raise InputError(f"LS formulation {formulation!r} is not known; use one of {LS_FORMULATIONS}")
    return formulation == "invest"


def _check_exponent(exponent: float) -> float:
    e = float(exponent)
    if not math.isfinite(e) or e <= 0:
        raise InputError(f"MFD exponent = {exponent!r}; expected a number > 0 (Freeman: 1.1)")
    return e


def fill_depressions(dem: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill depressions to their spill height with Priority-Flood (Barnes, Lehman & Mulla
    2014, "Priority-flood: An optimal depression-filling and watershed-labeling algorithm",
    Computers & Geosciences 62:117-127, Algorithm 2 with its pit queue).

    Outlets are the valid cells on the raster border or next to a nodata cell. Cells are taken
    from a min-heap from the outlets inwards; a neighbour not higher than the current cell is
    raised to the current cell's height. The result is the unique lowest surface ≥ ``dem``
    from which every cell has a non-rising path to an outlet: it does not depend on the order
    in which cells are visited. Filled depressions (and flats of the DEM) are level; routing
    crosses them along :func:`resolve_flats`.

    Args:
        dem: 2-D elevations (m), any numeric dtype.
        valid: boolean mask of the same shape, False = nodata.

    Returns:
        float64 array, ``>= dem`` on valid cells, NaN where ``valid`` is False. Idempotent.

    Raises:
        InputError: wrong shape/dtype, or NaN/inf elevation in a valid cell.
    """
    z, v = _check_grid(dem, valid)
    return _fill(z, v)


def resolve_flats(filled: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Drainage across the flats of a filled DEM (Barnes, Lehman & Mulla 2014b, "An efficient
    assignment of drainage direction over flat surfaces in raster digital elevation models",
    Computers & Geosciences 62:128-135).

    A flat cell has a neighbour of equal height and none lower, and is not an outlet. Each
    flat (8-connected cells of equal height, labelled from its drains) gets two breadth-first
    gradients: towards its drains ("low edges": cells of the flat's height that have a lower
    neighbour or are outlets) and away from higher terrain ("high edges"). Their combination
    ``2·towards + (H − away)`` (H the flat's largest ``away``) falls towards the drains
    everywhere and keeps flow off the flat's higher rim, so water crosses a filled lake or a
    terrace along its middle instead of along one arbitrary row. The mask depends only on the
    DEM, not on the order cells are visited (so routing is the same on any tiling).

    Returns:
        int32 mask: Barnes' FlatMask − 2 on flat cells (≥ 2; a flat's drains hold 0), 0 on
        every other cell. :func:`flow_direction_d8` and :func:`flow_accumulation_mfd` use it
        (they compute it themselves); a flat with no drain (a pit of an unfilled DEM) keeps 0.
    """
    z, v = _check_grid(filled, valid, "filled")
    return _flat_mask(z, v)[0]


def _flat_mask(z: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, int, int]:
    """:func:`_flat_mask_kernel` with its four grids allocated here: numpy's zeroed memory
    of this size comes in huge pages, numba's in 4 KiB ones (at 4000² the kernel's 208 MB were
    53 k page faults, 0.14–0.19 s of its 0.7 s)."""
    mask, label, away = (np.zeros(z.size, dtype=np.int32) for _ in range(3))
    return _flat_mask_kernel(z, v, mask, np.zeros(z.size, dtype=np.uint8), label, away)


def _flats(z: np.ndarray, v: np.ndarray, filled: bool) -> np.ndarray:
    mask, _n_flat, n_unresolved = _flat_mask(z, v)
    if filled and n_unresolved:  # cannot happen on a filled DEM; never route part of a grid
        raise RuntimeError(f"{n_unresolved} flat cell(s) have no drain after filling")
    return mask


def flow_direction_d8(filled: np.ndarray, valid: np.ndarray, cell_size: float) -> np.ndarray:
    """D8 steepest-descent direction (O'Callaghan & Mark 1984) on a filled DEM.

    The drop to each valid neighbour is divided by the distance (``cell_size`` or
    ``cell_size·√2``); the largest positive one wins, ties go to the lowest code.

    Returns:
        int8 array of codes 0..7 (see the module docstring), -1 for outlets (no lower valid
        neighbour: the cell drains off the grid or into nodata) and where ``valid`` is False.
    """
    z, v = _check_grid(filled, valid, "filled")
    _check_cell_size(cell_size)  # a uniform scale: does not change which neighbour is steepest
    return _d8_kernel(z, v, _flats(z, v, filled=False))


def flow_accumulation_d8(
    dirs: np.ndarray, valid: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Contributing cells (or summed ``weights``) per cell along D8 directions.

    Counts INCLUDE the cell itself (InVEST convention: a ridge cell has 1). Computed in
    topological order by following chains downstream once every donor is done (iterative,
    O(n), no recursion).

    Args:
        dirs: int8 codes from :func:`flow_direction_d8`.
        valid: boolean mask.
        weights: optional per-cell weight (finite on valid cells); default 1 per cell.

    Returns:
        float64 array, NaN where ``valid`` is False.

    Raises:
        InputError: bad shapes, codes outside -1..7, non-finite weights, or a flow cycle.
    """
    d = np.asarray(dirs)
    if d.ndim != 2 or not np.issubdtype(d.dtype, np.integer):
        raise InputError(f"dirs has shape {d.shape} and dtype {d.dtype}; expected 2-D integers")
    _, v = _check_grid(np.zeros(d.shape), valid, "dirs")
    if d.size and (d[v].min(initial=0) < -1 or d[v].max(initial=0) > 7):
        raise InputError("dirs holds codes outside -1..7; expected flow_direction_d8 output")
    d = np.ascontiguousarray(d, dtype=np.int8)
    if weights is None:
        w, use = np.zeros((1, 1)), False
    else:
        w, _ = _check_grid(weights, v, "weights")
        use = True
    acc, n_stuck = _d8_acc_kernel(d, v, w, use)
    if n_stuck:
        raise InputError(
            f"dirs contain a flow cycle through {n_stuck} cell(s); expected directions "
            f"computed on a depression-filled DEM (use fill_depressions first)"
        )
    return acc


def flow_accumulation_mfd(
    filled: np.ndarray, valid: np.ndarray, cell_size: float, exponent: float = 1.1,
    threads: int = 1,
) -> np.ndarray:
    """Multiple-flow-direction accumulation (Freeman 1991; Quinn et al. 1991).

    Each cell passes its accumulated flow to all lower valid neighbours in proportion to
    ``tan(β)^p`` (``β`` the slope to that neighbour, distance-weighted for diagonals;
    ``p = 1.1`` after Freeman 1991, "Calculating catchment area with divergent flow based on a
    regular grid", Computers & Geosciences 17:413-422). Cells are processed so that every
    donor precedes its receivers — the same result as descending-elevation order, reached in
    O(n) by an in-degree count. Outlets keep what they receive (it leaves the grid).
    ``threads`` > 1 routes bands of :data:`MFD_BAND_ROWS` rows on that many threads, with the
    same numbers as one thread, bit for bit (:func:`_mfd_accumulate`).

    Returns:
        float64 contributing cells including the cell itself, NaN where ``valid`` is False.
    """
    z, v = _check_grid(filled, valid, "filled")
    mask = _flats(z, v, filled=False)
    acc, _ = _mfd_accumulate(z, v, mask, _check_cell_size(cell_size),
                             _check_exponent(exponent), threads)
    return acc


def slope_fraction(
    filled: np.ndarray, valid: np.ndarray, cell_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Slope (rise/run) and the Desmet & Govers aspect factor from a Horn (1981) 3×3 window.

    Horn, B.K.P. (1981) "Hill shading and the reflectance map", Proc. IEEE 69(1):14-47.
    A cell with a missing neighbour (raster edge, nodata) takes one-sided differences where a
    central one is missing (:func:`_edge_horn_sums`): a plane's slope is exact at every cell.

    Returns:
        ``(slope, x)``: float64 rise/run, and ``x = |sin α| + |cos α|`` (α the aspect; in
        [1, √2], 1 on flat cells), both NaN where ``valid`` is False.
    """
    z, v = _check_grid(filled, valid, "filled")
    return _slope_kernel(z, v, _check_cell_size(cell_size))


def _l_max(l_max: float | None) -> float:
    if l_max is None:
        return math.inf
    lm = float(l_max)
    if not lm > 0:
        raise InputError(f"l_max = {l_max!r}; expected a number > 0, or None for no cap")
    return lm


def ls_factor(
    filled: np.ndarray,
    valid: np.ndarray,
    cell_size: float,
    accumulation: np.ndarray,
    method: str,
    *,
    exponent: float = 1.1,
    l_max: float | None = None,
    formulation: str = "desmet_govers",
) -> np.ndarray:
    """USLE/RUSLE LS factor after Desmet & Govers (1996), in the form of InVEST SDR.

    Desmet, P.J.J. & Govers, G. (1996) "A GIS procedure for automatically calculating the
    USLE LS factor on topographically complex landscape units", J. Soil Water Conserv.
    51(5):427-433; as coded in natcap/invest ``src/natcap/invest/sdr/sdr.py``
    ``_calculate_ls_factor`` (InVEST 3.9+; Winchell et al. 2008 eq. 3)::

        L = ((A_in + D²)^(m+1) − A_in^(m+1)) / (D^(m+2) · x^m · 22.13^m),  L ≤ l_max
        A_in = (accumulation − 1) · D²        upslope area excluding the cell (m²)
        S = 10.8 sin θ + 0.03   if slope < 9 %,   16.8 sin θ − 0.50 otherwise
                                                  (McCool et al. 1987)
        m = 0.2 (slope ≤ 1 %), 0.3 (≤ 3.5 %), 0.4 (≤ 5 %), 0.5 (≤ 9 %), else β/(1+β),
        β = (sin θ / 0.0896) / (3 sin^0.8 θ + 0.56)      (McCool et al. 1989)

    ``x``: InVEST replaces ``|sin α| + |cos α|`` by the flow-weighted mean flow length of the
    routing (1 for cardinal, √2 for diagonal neighbours, ``sdr_core.calculate_average_aspect``);
    we do the same for ``"mfd"`` (weights slope^exponent) and ``"d8"`` (the steepest
    neighbour). At outlets, where InVEST writes nodata, we use the Horn aspect's
    ``|sin α| + |cos α|`` instead. Differences from InVEST: our MFD partition uses
    slope^1.1 (pygeoprocessing uses slope^1, quantised), slope is Horn's. L is computed in
    an algebraically equal form that does not subtract two large powers (``_ls_pixel``):
    ≈ 1e-15 relative, where the formula as written loses up to 6e-10 at 5 million upslope
    cells.

    Args:
        filled: depression-filled DEM (:func:`fill_depressions`).
        valid: boolean mask.
        cell_size: pixel side (m), square pixels.
        accumulation: contributing cells including the cell itself, from the same ``method``.
        method: ``"d8"`` or ``"mfd"``.
        exponent: MFD slope exponent (only for ``"mfd"``).
        l_max: cap on L; ``None`` = no cap. InVEST requires the user to set it (its sample
            data use 122) — assumed, user-settable.
        formulation: ``"desmet_govers"`` (above, the 1996 paper: upslope *area*) or
            ``"invest"``: InVEST ≥ 3.14 enters ``√A_in`` (its ADR-0001, after SAGA's "square root
            of catchment area") and ``x = |sin θ| + |cos θ|`` of the slope angle θ, so results
            can be compared with InVEST's SDR like for like (bench/).

    Returns:
        float64 LS (dimensionless), NaN where ``valid`` is False.

    Raises:
        InputError: unknown method, bad shapes, accumulation < 1 or NaN on valid cells.
    """
    mfd = _check_method(method)
    z, v = _check_grid(filled, valid, "filled")
    acc, _ = _check_grid(accumulation, v, "accumulation")
    if (acc[v] < 1.0).any():
        raise InputError(
            "accumulation is below 1 on some valid cells; expected counts that include the "
            "cell itself (flow_accumulation_d8/_mfd output)"
        )
    cs = _check_cell_size(cell_size)
    e = _check_exponent(exponent)
    lm = _l_max(l_max)
    slope, aspect_x = _slope_kernel(z, v, cs)
    mask = _flats(z, v, filled=False)
    if mfd:
        x = _flow_x(_mfd_accumulate(z, v, mask, cs, e)[1], aspect_x)
    else:
        x = _d8_x(_d8_kernel(z, v, mask), aspect_x)
    return _ls_kernel(slope, x, acc, v, cs, lm, _check_formulation(formulation))


@dataclass(frozen=True)
class Routing:
    """Routing products of one DEM, computed once by :func:`route` and shared.

    Attributes:
        filled: depression-filled DEM (m), float64, NaN outside ``valid``.
        slope: Horn slope as rise/run.
        accumulation: contributing cells including the cell itself.
        ls: USLE LS factor (dimensionless).
        method: ``"d8"`` or ``"mfd"``.
        cell_size: pixel side (m).
    """

    filled: np.ndarray
    slope: np.ndarray
    accumulation: np.ndarray
    ls: np.ndarray
    method: str
    cell_size: float


def route(
    dem: np.ndarray,
    valid: np.ndarray,
    cell_size: float,
    method: str = "d8",
    *,
    exponent: float = 1.1,
    l_max: float | None = None,
    formulation: str = "desmet_govers",
    threads: int = 1,
) -> Routing:
    """Fill, slope, flow accumulation and LS factor of a DEM in one pass of each kernel.

    Args:
        dem: 2-D elevations (m).
        valid: boolean mask, False = nodata.
        cell_size: pixel side (m), square pixels of a projected grid.
        method: ``"d8"`` or ``"mfd"`` (:data:`METHODS`).
        exponent: MFD slope exponent (Freeman 1991: 1.1).
        l_max: cap on the L factor, see :func:`ls_factor`.
        formulation: LS formulation, see :func:`ls_factor`.
        threads: threads for the fill, the MFD accumulation and the LS pass (bands of rows):
            the same numbers on any number, bit for bit (:func:`default_threads` for the
            machine's cores).

    Raises:
        InputError: unknown method, bad cell size, bad shapes or non-finite elevations.
    """
    filled, slope, acc, ls = _route(dem, valid, cell_size, method, exponent, l_max, formulation,
                                    keep_filled=True, threads=threads)
    # float64 as documented (a float32 DEM was filled in float32: the same values)
    return Routing(filled=filled.astype(np.float64, copy=False), slope=slope, accumulation=acc,
                   ls=ls, method=method, cell_size=_check_cell_size(cell_size))


def _route(
    dem: np.ndarray,
    valid: np.ndarray,
    cell_size: float,
    method: str,
    exponent: float,
    l_max: float | None,
    formulation: str,
    keep_filled: bool,
    threads: int,
    stop: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(filled, slope, accumulation, LS)``; without ``keep_filled`` the filled DEM (and the
    D8 directions) are released as soon as the accumulation is done (``filled`` is then empty;
    with MFD so is ``slope``: the LS is computed inside the MFD kernel, :func:`_mfd_ls_kernel`).
    ``stop`` set: :class:`RoutingStopped` at the next boundary between kernels (or sooner:
    :class:`RoutingStop`)."""
    mfd = _check_method(method)
    cs = _check_cell_size(cell_size)
    e = _check_exponent(exponent)
    lm = _l_max(l_max)
    invest = _check_formulation(formulation)
    z, v = _check_grid(dem, valid, compact=True)
    _check_stop(stop)
    filled = _fill_parallel(z, v, threads, stop=stop)  # one thread: the sequential fill
    del z
    _check_stop(stop)
    mask = _flats(filled, v, filled=True)
    _check_stop(stop)
    if mfd and not keep_filled:
        # only the LS is wanted: computed inside the MFD kernel, in the flow length's array
        acc, ls = _mfd_ls_kernel(filled, v, mask, cs, e, lm, invest, threads, stop)
        return np.empty((0, 0)), np.empty((0, 0)), acc, ls
    if mfd:
        acc, flow = _mfd_accumulate(filled, v, mask, cs, e, threads, stop)
    else:
        flow = _d8_kernel(filled, v, mask)
        acc, n_stuck = _d8_acc_kernel(flow, v, np.zeros((1, 1)), False)
        if n_stuck:  # cannot happen on a filled DEM; guard against silent partial results
            raise RuntimeError(f"D8 routing left {n_stuck} cell(s) unrouted after filling")
    del mask
    _check_stop(stop)
    slope, aspect_x = _slope_kernel(filled, v, cs)
    if not keep_filled:
        filled = np.empty((0, 0))
    # flow: the MFD flow length, or the D8 directions
    x = _flow_x(flow, aspect_x) if mfd else _d8_x(flow, aspect_x)
    del flow
    return filled, slope, acc, _ls_threaded(slope, x, acc, v, cs, lm, invest, threads)


def route_ls(
    dem: np.ndarray,
    valid: np.ndarray,
    cell_size: float,
    method: str = "d8",
    *,
    exponent: float = 1.1,
    l_max: float | None = None,
    formulation: str = "desmet_govers",
    threads: int = 1,
    stop: threading.Event | None = None,
) -> np.ndarray:
    """The LS factor of :func:`route` (the same numbers), freeing each intermediate as soon as
    it is used: for whole-grid runs that need nothing else (the streamed account).

    ``dem`` may be float32, as read: a DEM of float32 values is filled and routed as float32
    (no float64 copy; the same bits, :func:`_check_grid`). Peak with MFD ≈ 26 bytes per pixel
    (filled DEM in float32, accumulation and LS in float64, flat mask, in-degree, valid mask:
    the LS is computed in the flow length's array, :func:`_mfd_ls_kernel`; 4000²: 412–439 MB
    above the DEM, against 473–500 with a float64 filled DEM), with D8 ≈ 38 (slope, aspect
    factor and D8 directions as grids too), plus the DEM itself (4 bytes per pixel as read;
    a float64 DEM of float32 values adds its float32 copy).
    ``threads`` > 1 fills the depressions in bands of rows on that many threads and routes
    the MFD accumulation, with each cell's LS, in bands (:data:`MFD_BAND_ROWS`; D8: the LS
    pass in bands of rows).
    ``stop``: an event another thread may set to end the routing early (a run whose inputs
    failed validation while it was routing): :class:`RoutingStopped` is then raised before
    the next kernel starts or the MFD accumulation's next round; a :class:`RoutingStop` also
    ends the depression fill while it runs.
    """
    return _route(dem, valid, cell_size, method, exponent, l_max, formulation,
                  keep_filled=False, threads=threads, stop=stop)[3]
