"""Content digests of grids that any split into blocks of rows reproduces.

A grid's digest is the sha256 of the concatenated sha256 digests of its rows (each row's
bytes in C order, in the array's own dtype): ``sha256(sha256(row 0) ‖ sha256(row 1) ‖ …)``.
A reader that sees the grid block by block — the streamed engine's scan, on threads or on
dask workers — hashes its rows where it reads them, in parallel, returns 32 bytes per row, and
the caller joins them in row order: the digest is the loader's for the whole array, whatever
the block size or worker count (``tests/test_digest.py``). A single sha256 over the whole
array's bytes would have to be fed in order by one thread.

Used for the dataset hash (``Dataset.compute_hash``, ``streaming_meta.dataset_hash``) and the
routing cache's key (``RoutingCache.key``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

ROW_DIGEST_BYTES = 32  # sha256


def row_digests(arr: np.ndarray, dtype: np.dtype | type | None = None) -> bytes:
    """The sha256 digest of each row of a 2-D array, concatenated (32 bytes per row).

    ``dtype``: hash each row converted to this dtype (one row at a time, no copy of the whole
    array), e.g. the float64 values of a float32 DEM.

    Raises:
        ValueError: ``arr`` is not 2-D.
    """
    a = np.asarray(arr)
    if a.ndim != 2:
        raise ValueError(f"row digests need a 2-D array; got {a.ndim} dimension(s) {a.shape}")
    sha = hashlib.sha256
    if dtype is not None and np.dtype(dtype) != a.dtype:
        return b"".join(sha(np.ascontiguousarray(r, dtype=dtype).data).digest() for r in a)
    a = np.ascontiguousarray(a)
    # a C-contiguous row exposes its bytes without a copy; sha256 releases the GIL
    return b"".join(sha(r.data).digest() for r in a)


def join_row_digests(parts: Iterable[bytes]) -> bytes:
    """The grid's digest from its blocks' :func:`row_digests`, given in row order."""
    h = hashlib.sha256()
    for p in parts:
        if len(p) % ROW_DIGEST_BYTES:
            raise ValueError(
                f"{len(p)} bytes of row digests: not a whole number of {ROW_DIGEST_BYTES}-byte "
                "digests"
            )
        h.update(p)
    return h.digest()


def grid_digest(arr: np.ndarray, dtype: np.dtype | type | None = None) -> bytes:
    """The digest of a whole 2-D array (see the module doc)."""
    return join_row_digests([row_digests(arr, dtype)])
