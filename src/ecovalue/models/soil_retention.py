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

import numpy as np

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
