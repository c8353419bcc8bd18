"""A content-addressed cache of the routing's LS factor: a rerun on the same DEM skips routing.

Officials rerun the account for every year, scenario and parameter set of a place whose DEM
does not change; the global routing (depression filling, flats, flow accumulation, LS) is
most of the cost of a large run (docs/benchmarks.md) and depends only on:

* the DEM and its valid mask (their bytes, dtype and shape),
* the cell size, the routing method, the MFD exponent, the L cap and the LS formulation,
* the routing code (:mod:`ecovalue.raster.hydrology`'s source).

The key is the sha256 of all of these, so any change to any of them is a miss, never a wrong
hit. An entry is two files in ``<folder>/routing/``: ``<key>.npy`` (the float64 LS grid) and
``<key>.json`` (what it was computed from, its byte count and the sha256 of the grid). The JSON
is written last, each file through a temporary name and an atomic rename, so readers never see
half an entry and concurrent writers of the same key are harmless. A read checks the grid's
sha256; a damaged entry is reported, removed and recomputed. Least recently used entries are
removed when the folder would exceed ``max_bytes`` (decision 0011).

The folder: ``$ECOVALUE_CACHE_DIR`` (``off`` turns the cache off), else
``$XDG_CACHE_HOME/ecovalue`` or ``~/.cache/ecovalue`` (:mod:`ecovalue.caches`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ecovalue.errors import InputError
from ecovalue.raster.digest import grid_digest

#: Default bound on the cache folder: 4 GiB holds the LS grids of four 8000² (64 M-pixel) DEMs
#: or about thirty 4000² ones. Assumed — user-settable (``--cache-max-gb``).
DEFAULT_MAX_BYTES = 4 * 1024**3
FORMAT = 3  # of the entry files and the key (2: the key takes the DEM's and mask's digests;
#             3: row-wise digests, ``raster.digest``)
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def routing_code_hash() -> str:
    """sha256 of the routing code: a change to any kernel invalidates every entry."""
    from ecovalue.raster import hydrology

    return hashlib.sha256(Path(hydrology.__file__).read_bytes()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One cached LS grid, as listed by :meth:`RoutingCache.entries`."""

    key: str
    nbytes: int
    last_used: float
    """Unix time of the last write or hit."""
    meta: dict[str, Any]


@dataclass
class RoutingCache:
    """LS grids keyed by everything they depend on (module doc).

    Args:
        folder: the cache folder (``routing/`` is made inside it).
        max_bytes: bound on the bytes of all entries; the least recently used go first.
    """

    folder: Path
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if self.max_bytes < 0:
            raise InputError(f"cache size bound = {self.max_bytes} bytes; expected >= 0")

    @property
    def path(self) -> Path:
        return self.folder / "routing"

    @staticmethod
    def key(
        dem: np.ndarray,
        valid: np.ndarray,
        params: dict[str, Any],
    ) -> str:
        """sha256 (hex) of the DEM, its mask, the routing parameters and the routing code.

        A numeric 2-D DEM is keyed by its float64 values (converted row by row, no copy of the
        grid: exact from float32 or integers), so a float32 DEM as read and its float64 copy
        have one key, and the streamed engine's key (``accounting.streaming``) is the same."""
        d, v = np.asarray(dem), np.asarray(valid)
        as_float64 = d.ndim == 2 and np.issubdtype(d.dtype, np.number)
        return RoutingCache.key_of(
            (np.dtype(np.float64).str if as_float64 else d.dtype.str, d.shape),
            grid_digest(d, np.float64) if as_float64 else grid_digest(d),
            (v.dtype.str, v.shape),
            grid_digest(v),
            params,
        )

    @staticmethod
    def key_of(
        dem_form: tuple[str, tuple[int, ...]],
        dem_digest: bytes,
        valid_form: tuple[str, tuple[int, ...]],
        valid_digest: bytes,
        params: dict[str, Any],
    ) -> str:
        """:meth:`key` from the DEM's and the mask's digests (:func:`ecovalue.raster.digest.
        grid_digest`) and their (dtype, shape): a reader that hashed their rows block by block
        (the streamed engine's scan) needs no second read of the DEM."""
        h = hashlib.sha256()
        head = {
            "format": FORMAT,
            "code": routing_code_hash(),
            "dem": [dem_form[0], list(dem_form[1])],
            "valid": [valid_form[0], list(valid_form[1])],
            "params": params,
        }
        h.update(json.dumps(head, sort_keys=True).encode())
        h.update(dem_digest)
        h.update(valid_digest)
        return h.hexdigest()

    def has(self, key: str) -> bool:
        """Whether an entry of ``key`` is stored (:meth:`get` still checks its content)."""
        return (self.path / f"{key}.json").exists()

    def get(self, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The cached grid of ``key`` (read-only, mapped from the entry's file), or None
        (absent, or damaged: then removed, with a warning on the
        ``ecovalue.raster.routing_cache`` logger)."""
        meta_path = self.path / f"{key}.json"
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            # mapped, not copied: the pages are the page cache's (no fresh memory to fault in,
            # 8 bytes per pixel); an entry is replaced or evicted by a new inode or an unlink,
            # never rewritten in place, so the mapping keeps the checked content
            ls = np.asarray(np.load(self.path / f"{key}.npy", mmap_mode="r", allow_pickle=False))
            problem = None
            if ls.dtype != np.float64 or ls.shape != tuple(shape) or not ls.flags.c_contiguous:
                problem = f"holds {ls.dtype} {ls.shape}, expected float64 {tuple(shape)}"
            elif hashlib.sha256(ls.data).hexdigest() != meta.get("sha256"):
                problem = "its content does not match its recorded sha256"
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            problem = f"cannot be read ({exc})"
        if problem:
            self._remove(key)
            log.warning(
                "routing cache entry %s… in %s %s; removed it, the routing is computed again",
                key[:12], self.path, problem,
            )
            return None
        now = time.time()
        with contextlib.suppress(OSError):  # the last use orders eviction
            os.utime(meta_path, (now, now))
        return ls

    def put(self, key: str, ls: np.ndarray, meta: dict[str, Any]) -> bool:
        """Store ``ls`` under ``key`` (False when it is larger than the whole bound)."""
        ls = np.ascontiguousarray(ls, dtype=np.float64)
        if ls.nbytes > self.max_bytes:
            return False
        self.path.mkdir(parents=True, exist_ok=True)
        tag = f".tmp-{os.getpid()}-{time.monotonic_ns()}"
        npy, js = self.path / f"{key}.npy", self.path / f"{key}.json"
        tmp_npy, tmp_js = npy.with_name(npy.name + tag), js.with_name(js.name + tag)
        try:
            with open(tmp_npy, "wb") as f:
                np.save(f, ls, allow_pickle=False)
            record = {
                **meta,
                "key": key,
                "format": FORMAT,
                "shape": list(ls.shape),
                "nbytes": int(tmp_npy.stat().st_size),
                "sha256": hashlib.sha256(ls.data).hexdigest(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            tmp_js.write_text(json.dumps(record, sort_keys=True, indent=1))
            os.replace(tmp_npy, npy)
            os.replace(tmp_js, js)  # last: an entry is complete once its JSON is there
        finally:
            for p in (tmp_npy, tmp_js):
                p.unlink(missing_ok=True)
        self.evict(keep=key)
        return True

    def entries(self) -> list[Entry]:
        """Complete entries, least recently used first."""
        out = []
        for js in self.path.glob("*.json"):
            try:
                meta = json.loads(js.read_text())
                out.append(Entry(js.stem, int(meta["nbytes"]), js.stat().st_mtime, meta))
            except (OSError, ValueError, KeyError, json.JSONDecodeError):
                continue  # being written or removed by another process
        return sorted(out, key=lambda e: e.last_used)

    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.entries())

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove least recently used entries until the bound holds; the keys removed."""
        entries = self.entries()
        total = sum(e.nbytes for e in entries)
        removed = []
        for e in entries:
            if total <= self.max_bytes:
                break
            if e.key == keep:
                continue
            self._remove(e.key)
            total -= e.nbytes
            removed.append(e.key)
        return removed

    def clear(self) -> int:
        """Remove every entry (and stray temporary files); the number of entries removed."""
        n = 0
        for e in self.entries():
            self._remove(e.key)
            n += 1
        for stray in self.path.glob("*.tmp-*"):
            stray.unlink(missing_ok=True)
        return n

    def _remove(self, key: str) -> None:
        for suffix in (".json", ".npy"):  # JSON first: the entry stops existing at once
            (self.path / f"{key}{suffix}").unlink(missing_ok=True)


def cached(
    cache: RoutingCache | None,
    dem: np.ndarray,
    valid: np.ndarray,
    params: dict[str, Any],
    compute: Callable[[], np.ndarray],
) -> tuple[np.ndarray, bool]:
    """``(LS, from_cache)``: the cached grid for these inputs, else ``compute()`` stored.

    ``params`` must name every routing parameter ``compute`` uses (their checked values).
    """
    if cache is None:
        return compute(), False
    key = cache.key(dem, valid, params)
    ls = cache.get(key, np.shape(dem))
    if ls is not None:
        return ls, True
    ls = compute()
    store(cache, key, ls, params, np.shape(dem))
    return ls, False


def store(
    cache: RoutingCache, key: str, ls: np.ndarray, params: dict[str, Any], shape: tuple[int, ...]
) -> None:
    """``cache.put`` that only warns when the disk refuses (a run never fails on its cache)."""
    try:
        cache.put(key, ls, {"params": params, "dem_shape": list(shape)})
    except OSError as exc:
        log.warning("routing cache %s could not store the LS grid (%s)", cache.path, exc)


def ls_params(
    cell_size: float,
    method: str,
    exponent: float = 1.1,
    l_max: float | None = None,
    formulation: str = "desmet_govers",
) -> dict[str, Any]:
    """The routing parameters of an entry's key, checked (InputError) before any work."""
    from ecovalue.raster import hydrology as H

    H._check_method(method)
    H._check_formulation(formulation)
    return {
        "cell_size": H._check_cell_size(cell_size),
        "method": method,
        "exponent": H._check_exponent(exponent),
        "l_max": H._l_max(l_max),
        "formulation": formulation,
    }


def route_ls_cached(
    dem: np.ndarray,
    valid: np.ndarray,
    cell_size: float,
    method: str = "d8",
    *,
    exponent: float = 1.1,
    l_max: float | None = None,
    formulation: str = "desmet_govers",
    threads: int = 1,
    cache: RoutingCache | None = None,
    stop: threading.Event | None = None,
) -> tuple[np.ndarray, bool]:
    """:func:`ecovalue.raster.hydrology.route_ls` through ``cache``: ``(LS, from_cache)``.

    The same numbers as ``route_ls`` (an entry is the grid ``route_ls`` returned, stored
    losslessly); the thread count is not part of the key because the results do not depend on
    it (decision 0010). The DEM is keyed by its float64 values (:meth:`RoutingCache.key`,
    exact from float32 or integers), so both engines find each other's entries; it is routed
    as given (a float32 DEM in float32, :func:`ecovalue.raster.hydrology.route_ls`).
    """
    from ecovalue.raster import hydrology as H

    params = ls_params(cell_size, method, exponent, l_max, formulation)
    return cached(
        cache,
        dem,
        valid,
        params,
        lambda: H.route_ls(
            dem, valid, cell_size, method, exponent=exponent, l_max=l_max,
            formulation=formulation, threads=threads, stop=stop,
        ),
    )
