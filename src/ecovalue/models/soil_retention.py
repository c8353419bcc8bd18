"""Soil retention (土壤保持, spec §6.2 R2): RUSLE erosion per pixel and the value of retained soil.

Physical quantity — soil retained = potential erosion − actual erosion [S1][S2], RUSLE form
[S48b]::

    A_p = R · K · LS                  potential erosion (bare soil, no cover, no practice)
    A_a = R · K · LS · C · P          actual erosion
    A_c = A_p − A_a = R · K · LS · (1 − C · P)

R rainfall erosivity (MJ·mm·ha⁻¹·h⁻¹·a⁻¹), K soil erodibility (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹), LS
slope length-steepness (1; e.g. :func:`ecovalue.raster.hydrology.route`), C cover-management
(1, in [0, 1]), P support practice (1, in [0, 1]); A in t·ha⁻¹·a⁻¹ [S2].

Valuation (replacement cost, 替代成本法) [S1]:

* reduced reservoir silting ``V_s1 = λ · A / ρ · P_s`` (:func:`value_reduced_silting`);
* reduced non-point-source nutrient loss ``V_s2 = A·C_N·P_N + A·C_P·P_P``
  (:func:`value_reduced_nutrient_loss`).

Parameters are passed in by the caller (the parameter register holds the defaults); none is
hard-coded here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ecovalue.errors import InputError
from ecovalue.models.common import check_finite, check_parameter, check_valid_mask, masked

ArrayLike = np.ndarray | float


def _prepare(
    arrays: dict[str, ArrayLike], valid: np.ndarray | None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Broadcast the factor arrays to one shape, check the mask and refuse NaN in valid pixels."""
    try:
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k} {np.shape(a)}" for k, a in arrays.items())
        raise InputError(f"RUSLE factor arrays have different shapes ({shapes})") from exc
    if valid is None:
        mask = np.ones(shape, dtype=bool)
    else:
        mask = check_valid_mask(valid, np.shape(valid))
        if not set(np.shape(a) for a in arrays.values()) <= {(), mask.shape}:
            raise InputError(
                f"valid mask has shape {mask.shape}; expected the shape of the factor arrays "
                f"{shape}"
            )
    out = {name: check_finite(name, a, mask) for name, a in arrays.items()}
    return out, mask


def _check_range(name: str, a: np.ndarray, valid: np.ndarray, low: float, high: float) -> None:
    """Raise :class:`InputError` naming ``name`` and its min/max over valid pixels if out of range."""
    values = a[valid]
    if values.size == 0:
        return
    lo, hi = float(values.min()), float(values.max())
    if lo < low or hi > high:
        n_bad = int(((values < low) | (values > high)).sum())
        raise InputError(
            f"{name} ranges over [{lo:g}, {hi:g}] on valid pixels ({n_bad} outside); expected "
            f"values in [{low:g}, {high:g}]; check the {name} raster/table and its units"
        )


def _rkls(
    R: ArrayLike, K: ArrayLike, LS: ArrayLike, extra: dict[str, ArrayLike], valid: np.ndarray | None
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    arrs, mask = _prepare({"R": R, "K": K, "LS": LS, **extra}, valid)
    for name in ("R", "K", "LS"):
        _check_range(name, arrs[name], mask, 0.0, np.inf)
    for name in extra:
        _check_range(name, arrs[name], mask, 0.0, 1.0)
    return arrs["R"] * arrs["K"] * arrs["LS"], arrs, mask


def potential_erosion(
    R: ArrayLike, K: ArrayLike, LS: ArrayLike, valid: np.ndarray | None = None
) -> np.ndarray:
    """Potential soil erosion ``A_p = R · K · LS`` (t·ha⁻¹·a⁻¹) [S1][S2].

    Args:
        R: rainfall erosivity (MJ·mm·ha⁻¹·h⁻¹·a⁻¹), >= 0.
        K: soil erodibility (t·ha·h·ha⁻¹·MJ⁻¹·mm⁻¹), >= 0.
        LS: slope length-steepness factor (1), >= 0.
        valid: optional boolean mask; pixels where it is False become NaN.

    Raises:
        InputError: negative factors or NaN/inf on valid pixels (message names the array).
    """
    rkls, _, mask = _rkls(R, K, LS, {}, valid)
    return masked(rkls, mask)


def actual_erosion(
    R: ArrayLike,
    K: ArrayLike,
    LS: ArrayLike,
    C: ArrayLike,
    P: ArrayLike,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Actual soil erosion ``A_a = R · K · LS · C · P`` (t·ha⁻¹·a⁻¹) [S1][S2][S48b].

    Args:
        R, K, LS: as :func:`potential_erosion`.
        C: cover-management factor (1), in [0, 1].
        P: support-practice factor (1), in [0, 1].
        valid: optional boolean mask; pixels where it is False become NaN.

    Raises:
        InputError: C or P outside [0, 1], negative R/K/LS, NaN/inf on valid pixels.
    """
    rkls, arrs, mask = _rkls(R, K, LS, {"C": C, "P": P}, valid)
    return masked(rkls * arrs["C"] * arrs["P"], mask)


def soil_retained(
    R: ArrayLike,
    K: ArrayLike,
    LS: ArrayLike,
    C: ArrayLike,
    P: ArrayLike,
    pixel_area_ha: float,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Soil retained per pixel per year, ``(A_p − A_a) · area = R·K·LS·(1 − C·P) · area`` (t).

    Spec §6.2 R2 [S1][S2]; RUSLE form ``A_c = R × K × LS × (1 − C × P)`` [S48b].

    Args:
        R, K, LS, C, P: as :func:`actual_erosion`.
        pixel_area_ha: area of one pixel (ha), > 0 (e.g. ``grid.pixel_area_m2 / 10_000``).
        valid: optional boolean mask; pixels where it is False become NaN.

    Returns:
        float64 t·pixel⁻¹·a⁻¹, >= 0 on valid pixels, NaN elsewhere.
    """
    area = check_parameter("pixel_area_ha", pixel_area_ha, np.nextafter(0.0, 1.0), np.inf)
    rkls, arrs, mask = _rkls(R, K, LS, {"C": C, "P": P}, valid)
    return masked(rkls * (1.0 - arrs["C"] * arrs["P"]) * area, mask)


def value_reduced_silting(
    soil_t: ArrayLike,
    silting_coef: float,
    bulk_density_t_m3: float,
    dredging_cost_yuan_m3: float,
) -> np.ndarray:
    """Value of reduced reservoir silting, ``V = λ · A / ρ · P_s`` (yuan/a) [S1].

    Published values (Garzê 2010 [S1]): λ = 0.24 (silting coefficient, citing 欧阳志云 et al.
    1999), ρ = 0.93 t/m³ (local grassland soil), P_s = 15.58 yuan/m³ (reservoir dredging cost,
    LY/T 1721-2008 based). Platform defaults differ: ρ 1.125, P_s 19.76 [S41a]. Pass them from
    the parameter register; none is a default here.

    Args:
        soil_t: soil retained A (t/a), any shape; NaN propagates.
        silting_coef: λ, share of eroded soil that silts up reservoirs, in [0, 1].
        bulk_density_t_m3: ρ (t/m³), > 0.
        dredging_cost_yuan_m3: P_s (yuan/m³), >= 0.
    """
    lam = check_parameter("silting_coef", silting_coef, 0.0, 1.0)
    rho = check_parameter("bulk_density_t_m3", bulk_density_t_m3, 1e-9, np.inf)
    cost = check_parameter("dredging_cost_yuan_m3", dredging_cost_yuan_m3, 0.0, np.inf)
    return lam * np.asarray(soil_t, dtype=np.float64) / rho * cost


def value_reduced_nutrient_loss(
    soil_t: ArrayLike,
    n_fraction: float,
    p_fraction: float,
    n_cost_yuan_t: float,
    p_cost_yuan_t: float,
) -> np.ndarray:
    """Value of reduced N and P loss, ``V = A · C_N · P_N + A · C_P · P_P`` (yuan/a) [S1].

    Published values (Garzê 2010 [S1]): C_N = 0.37 % (``n_fraction = 0.0037``), C_P = 0.108 %
    (``p_fraction = 0.00108``), P_N = 875 yuan/t, P_P = 2 800 yuan/t (排污费征收标准管理办法
    2003). The forest-asset variant [S2] adds K; call twice or extend if needed.

    Args:
        soil_t: soil retained A (t/a), any shape; NaN propagates.
        n_fraction: soil N content as a mass fraction (not %), in [0, 1].
        p_fraction: soil P content as a mass fraction (not %), in [0, 1].
        n_cost_yuan_t: P_N, cost of removing 1 t N (yuan/t), >= 0.
        p_cost_yuan_t: P_P, cost of removing 1 t P (yuan/t), >= 0.
    """
    c_n = check_parameter("n_fraction", n_fraction, 0.0, 1.0)
    c_p = check_parameter("p_fraction", p_fraction, 0.0, 1.0)
    p_n = check_parameter("n_cost_yuan_t", n_cost_yuan_t, 0.0, np.inf)
    p_p = check_parameter("p_cost_yuan_t", p_cost_yuan_t, 0.0, np.inf)
    a = np.asarray(soil_t, dtype=np.float64)
    return a * c_n * p_n + a * c_p * p_p


class SoilRetentionLayer(NamedTuple):
    """Result of :func:`soil_retention_layer`."""

    soil_t: np.ndarray
    value_yuan: np.ndarray


@njit(cache=True, nogil=True)
def _soil_kernel(  # type: ignore[no-untyped-def]
    r_in, k_in, ls_in, rows, c_row, p_row, in_scope, valid, area, silt, nutrient, soil, value
):
    """Every pixel of :func:`soil_retention_layer` in one pass; returns the number of valid
    pixels whose inputs the checks would refuse (then the outputs are not used).
    ``silt``: (λ, ρ, P_s); ``nutrient``: (C_N, P_N, C_P, P_P)."""
    n_bad = 0
    n_rows = c_row.size
    lam, rho, cost = silt[0], silt[1], silt[2]
    c_n, p_n, c_p, p_p = nutrient[0], nutrient[1], nutrient[2], nutrient[3]
    for i in range(valid.size):
        if not valid[i]:
            soil[i] = np.nan
            value[i] = np.nan
            continue
        row = rows[i]
        if row < 0 or row >= n_rows:
            n_bad += 1
            continue
        r = np.float64(r_in[i])
        k = np.float64(k_in[i])
        ls = np.float64(ls_in[i])
        c = c_row[row]
        p = p_row[row]
        if not (
            np.isfinite(r) and np.isfinite(k) and np.isfinite(ls) and np.isfinite(c)
            and np.isfinite(p) and r >= 0.0 and k >= 0.0 and ls >= 0.0
            and 0.0 <= c <= 1.0 and 0.0 <= p <= 1.0
        ):
            n_bad += 1
            continue
        a = r * k
        a = a * ls
        a = a * (1.0 - c * p)
        a = a * area
        if not in_scope[row]:
            a = 0.0
        v = lam * a
        v = v / rho
        v = v * cost
        soil[i] = a
        value[i] = v + ((a * c_n) * p_n + (a * c_p) * p_p)
    return n_bad


def soil_retention_layer(
    R: np.ndarray,
    K: np.ndarray,
    LS: np.ndarray,
    rows: np.ndarray,
    c_by_row: np.ndarray,
    p_by_row: np.ndarray,
    in_scope_by_row: np.ndarray,
    pixel_area_ha: float,
    valid: np.ndarray,
    silting: tuple[float, float, float],
    nutrients: tuple[float, float, float, float],
) -> SoilRetentionLayer:
    """:func:`soil_retained` (0 outside the indicator's scope) and its value,
    :func:`value_reduced_silting` + :func:`value_reduced_nutrient_loss`, per pixel in one pass
    from the pixels' land-cover table ``rows`` (−1 outside ``valid``) and the table's C and P
    by row. ``silting``: (λ, ρ t/m³, P_s 元/m³); ``nutrients``: (C_N, C_P, P_N 元/t, P_P 元/t),
    the arguments of the two value functions.

    Bit for bit what the numpy functions give (the same float64 operations in the same order;
    ``tests/test_soil_retention.py``). A pixel the checks would refuse, or inputs of an unusual
    form, take the numpy functions, which name the problem.
    """
    shape = np.shape(valid)
    c_row = np.ascontiguousarray(c_by_row, dtype=np.float64)
    p_row = np.ascontiguousarray(p_by_row, dtype=np.float64)
    scope = np.ascontiguousarray(in_scope_by_row, dtype=np.bool_)
    arrays = [np.asarray(x) for x in (R, K, LS, rows, valid)]
    usable = (
        all(a.shape == shape and a.flags.c_contiguous for a in arrays)
        and all(a.dtype in (np.float32, np.float64) for a in arrays[:3])
        and arrays[3].dtype.kind == "i" and arrays[4].dtype == np.bool_
        and c_row.ndim == 1 and p_row.shape == c_row.shape and scope.shape == c_row.shape
    )
    if usable:
        try:
            area = check_parameter("pixel_area_ha", pixel_area_ha, np.nextafter(0.0, 1.0), np.inf)
            lam = check_parameter("silting_coef", silting[0], 0.0, 1.0)
            rho = check_parameter("bulk_density_t_m3", silting[1], 1e-9, np.inf)
            cost = check_parameter("dredging_cost_yuan_m3", silting[2], 0.0, np.inf)
            c_n = check_parameter("n_fraction", nutrients[0], 0.0, 1.0)
            c_p = check_parameter("p_fraction", nutrients[1], 0.0, 1.0)
            p_n = check_parameter("n_cost_yuan_t", nutrients[2], 0.0, np.inf)
            p_p = check_parameter("p_cost_yuan_t", nutrients[3], 0.0, np.inf)
        except InputError:
            usable = False  # raised by the numpy path after its input checks, as always
    if usable:
        soil, val = np.empty(shape), np.empty(shape)
        n_bad = _soil_kernel(
            *(a.reshape(-1) for a in arrays[:4]), c_row, p_row, scope, arrays[4].reshape(-1),
            area, np.array([lam, rho, cost]), np.array([c_n, p_n, c_p, p_p]),
            soil.reshape(-1), val.reshape(-1),
        )
        if not n_bad:
            return SoilRetentionLayer(soil, val)
    # the numpy functions: they name a bad input
    at = np.where(arrays[4], arrays[3], -1)
    soil_t = soil_retained(
        np.asarray(R, dtype=np.float64), np.asarray(K, dtype=np.float64),
        np.asarray(LS, dtype=np.float64), np.append(c_row, np.nan)[at],
        np.append(p_row, np.nan)[at], pixel_area_ha, valid=valid,
    )
    soil_t = np.where(np.append(scope, False)[at] | ~arrays[4], soil_t, 0.0)
    v = value_reduced_silting(soil_t, *silting)
    v = v + value_reduced_nutrient_loss(soil_t, *nutrients)
    return SoilRetentionLayer(soil_t, v)
