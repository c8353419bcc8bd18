"""Comparing two numeric paths that call different implementations of exp, log or pow.

numpy chooses its SIMD implementations of the transcendental functions by the CPU it runs on
(AVX2, AVX-512: ``numpy._core._multiarray_umath.__cpu_dispatch__``); a numba kernel calls
LLVM's. Their results can differ in the last bits on one CPU and agree on another, so a claim
"the kernel equals the numpy path" is tested within a stated number of units in the last
place (ulp), and NaN exactly where the other has NaN. Claims where both sides run the same
code (threads, block sizes, the routing) stay bit for bit. ``docs/scaling.md`` ("What holds
on every machine") lists which is which.
"""

from __future__ import annotations

import numpy as np

from ecovalue.models import sand_fixation


def ulps_apart(actual: np.ndarray, desired: np.ndarray, of: np.ndarray | None = None) -> np.ndarray:
    """``|actual − desired|`` in ulp of ``of`` (default: the larger magnitude of the two), per
    element; 0 where both are NaN or equal, inf where exactly one is NaN."""
    a = np.asarray(actual, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    ref = np.maximum(np.abs(a), np.abs(d)) if of is None else np.abs(np.asarray(of, np.float64))
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - d)
        out = diff / np.spacing(np.where(np.isfinite(ref), ref, 0.0))
    both_nan = np.isnan(a) & np.isnan(d)
    out[both_nan | (a == d)] = 0.0
    out[np.isnan(a) != np.isnan(d)] = np.inf
    return out


def assert_within_ulps(
    actual: np.ndarray,
    desired: np.ndarray,
    max_ulps: float | np.ndarray,
    of: np.ndarray | None = None,
) -> None:
    """Fail unless every element of ``actual`` is within ``max_ulps`` (a number or one per
    element) ulp of ``desired``, measured at the magnitude ``of`` (see :func:`ulps_apart`)."""
    got = ulps_apart(actual, desired, of)
    bound = np.broadcast_to(np.asarray(max_ulps, dtype=np.float64), got.shape)
    bad = got > bound
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(bad, got / bound, 0.0))), got.shape)
        raise AssertionError(
            f"{int(bad.sum())} element(s) further apart than the bound; worst at {i}: "
            f"{np.asarray(actual)[i]!r} vs {np.asarray(desired)[i]!r}, "
            f"{got[i]:.3g} ulp against a bound of {bound[i]:.3g}"
        )


def sand_fixed_ulp_bound(wf, ef, scf, k, valid, z):  # type: ignore[no-untyped-def]
    """Ulp (of max(potential, actual)) by which the fused kernel and the numpy path of
    :func:`sand_fixation.sand_fixed_t` may differ per pixel on any CPU: ``16 · (1 + b·u)``.

    ``SL = a·X·u·exp(−b·u)`` with ``u = X^0.7422``: a 1-ulp difference in ``pow`` becomes a
    relative error ``b·u`` ulp after ``exp``, plus a few ulp of each function and product
    (seen at most 7.7 · (1 + b·u) on AVX-512 over 300 random grids; 0 where numpy's SIMD
    paths are off)."""
    x = np.where(valid, np.asarray(wf, np.float64) * ef * scf * k, 0.0)
    _, b = sand_fixation._coefficients(z)
    return 16.0 * (1.0 + b * np.power(np.maximum(x, 0.0), sand_fixation.U_EXPONENT))
