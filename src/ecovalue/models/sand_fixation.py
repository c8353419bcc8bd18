"""Windbreak and sand fixation (防风固沙, spec §6.2 R3): RWEQ potential minus actual wind erosion.

Sand fixed = potential wind erosion (bare soil) − actual wind erosion (with vegetation) [S1],
both from the Revised Wind Erosion Equation, RWEQ (Fryrear, D.W., Saleh, A., Bilbro, J.D.,
Schomberg, H.M., Stout, J.E., Zobeck, T.M., 1998. Revised Wind Erosion Equation (RWEQ).
USDA-ARS Technical Bulletin 1; Fryrear et al. 2000, "RWEQ: improved wind erosion technology",
J. Soil Water Conserv. 55(2): 183–189), in the form used for China by 巩国丽, 刘纪远, 邵全琴
(2014), 地理科学进展 33(6): 825–834::

    X     = WF · EF · SCF · K' · COG
    Q_max = 109.8 · X                                (kg/m,  maximum transport capacity)
    s     = 150.71 · X^(−0.3711)                     (m,     critical field length)
    SL    = 2·z / s² · Q_max · exp(−(z/s)²)          (kg/m², soil loss at distance z)

WF weather factor (kg/m), EF soil erodible fraction (1), SCF soil crust factor (1), K' surface
roughness factor (1), COG combined vegetation factor (1), z downwind distance (m, assumed —
user-settable, e.g. 50 m). Potential erosion uses COG = 1 (no vegetation); actual erosion uses
COG = exp(−0.0438 · SC) with SC vegetation cover in percent (Gong et al. 2014, canopy
factor). Valuation by replacement cost [S1]: ``V_f = Q_f / (ρ · h) · P_f``.

Evaluation. With ``u = X^0.7422`` (``0.7422 = −2 · (−0.3711)``), ``s² = 150.71² / u``, so::

    SL = (2·z·109.8 / 150.71²) · X · u · exp(−(z² / 150.71²) · u)

— the same function, with one power per X instead of a power and two divisions. Actual
erosion's ``u`` is the bare soil's times ``COG^0.7422`` (a number per vegetation cover), so
a pixel costs one power and two exponentials. The result equals the textbook expression
within a few units in the last place (``tests/test_streaming_blocks.py``); the fused kernel and
the numpy path agree within the bound of ``tests/ulp.py`` on any CPU.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ecovalue.errors import InputError, NotApplicable
from ecovalue.models.common import (
    KG_PER_T,
    check_array_range,
    check_finite,
    check_parameter,
    check_valid_mask,
)

QMAX_COEF = 109.8
S_COEF = 150.71
S_EXPONENT = -0.3711
COG_COVER_COEF = 0.0438
"""RWEQ empirical constants (Fryrear et al. 1998, 2000; Gong et al. 2014)."""
U_EXPONENT = -2.0 * S_EXPONENT
"""``u = X^U_EXPONENT = (150.71 / s)²``: the power of X the evaluation uses (0.7422)."""


class SandFixation(NamedTuple):
    """Result of :func:`sand_fixed_t`."""

    quantity_t: np.ndarray
    """Sand fixed per pixel (t/a) = potential − actual, floored at 0; NaN outside valid."""
    potential_t: np.ndarray
    """Potential wind erosion per pixel (t/a), COG = 1."""
    actual_t: np.ndarray
    """Actual wind erosion per pixel (t/a)."""
    n_clamped: int
    """Valid pixels where actual > potential (possible with the RWEQ curve) set to 0."""


def soil_loss_kg_m2(factor_product: np.ndarray, field_length_m: float) -> np.ndarray:
    """RWEQ soil loss ``SL = 2z/s² · Q_max · exp(−(z/s)²)`` (kg/m²) for ``X = WF·EF·SCF·K'·COG``.

    X <= 0 (no wind, no erodible soil) gives SL = 0; a non-finite X gives NaN.
    """
    x = np.asarray(factor_product, dtype=np.float64)
    z = check_parameter("sand.field_length", field_length_m, 1e-9, np.inf)
    finite = np.isfinite(x)
    pos = finite & (x > 0)
    xp = np.where(pos, x, 1.0)
    sl = _soil_loss_from_u(xp, np.power(xp, U_EXPONENT), z)
    sl[~pos] = 0.0
    sl[~finite] = np.nan
    return sl


def _coefficients(z: float) -> tuple[float, float]:
    """``(2·z·Q / S², z² / S²)`` of ``SL = a · X · u · exp(−b · u)`` (module docstring)."""
    s2 = S_COEF * S_COEF
    return 2.0 * z * QMAX_COEF / s2, z * z / s2


def _soil_loss_from_u(x: np.ndarray, u: np.ndarray, z: float) -> np.ndarray:
    """``a · X · u · exp(−b · u)`` element by element, in :func:`_soil_loss_pixel`'s order."""
    a, b = _coefficients(z)
    decay = np.multiply(u, b)
    np.negative(decay, out=decay)
    np.exp(decay, out=decay)
    sl = np.multiply(x, a)
    sl *= u
    sl *= decay
    return sl


@njit(cache=True, nogil=True, inline="always")
def _soil_loss_pixel(x, u, a, b):  # type: ignore[no-untyped-def]
    """:func:`_soil_loss_from_u` of one pixel, the same operations in the same order."""
    decay = np.exp(-(u * b))
    sl = x * a
    sl = sl * u
    return sl * decay


@njit(cache=True, nogil=True)
def _sand_kernel(wf, ef, scf, k, sc, rows, valid, ca, cb, area, rh, price, fixed, potential, actual, value):  # type: ignore[no-untyped-def]
    """Every valid pixel of :func:`sand_fixed_t` in one pass (a 1-element input stands for all
    pixels); returns (pixels clamped, valid pixels whose inputs are not finite or out of
    range). With a bad pixel the outputs are not used: the caller's checks name the problem.
    ``ca, cb``: :func:`_coefficients` of the field length (the numpy path's numbers).

    ``rows`` empty: ``sc`` is the vegetation cover per pixel; else ``sc`` is by land-cover
    table row and ``rows`` the pixels' rows. ``potential``, ``actual`` and ``value`` are
    written when not empty (``value`` = :func:`value` with ``rh = ρ·h`` and ``price``)."""
    n = valid.size
    by_row = rows.size > 0
    keep_parts = potential.size > 0
    valued = value.size > 0
    n_clamped = 0
    n_bad = 0
    # COG and COG^0.7422 depend on the land cover's class only: they are kept for the run of
    # pixels with the same cover (the same input gives the same bits)
    last_v = np.nan
    last_cog = np.nan
    last_g = np.nan
    for i in range(n):
        if not valid[i]:
            fixed[i] = np.nan
            if keep_parts:
                potential[i] = np.nan
                actual[i] = np.nan
            if valued:
                value[i] = np.nan
            continue
        if by_row:
            r = rows[i]
            if r < 0 or r >= sc.size:  # a caller's rows that are not the table's
                n_bad += 1
                continue
            v = np.float64(sc[r])
        else:
            v = np.float64(sc[i])
        a = np.float64(wf[i])
        b = np.float64(ef[i])
        c = np.float64(scf[i])
        d = np.float64(k[i if k.size == n else 0])
        if not (
            np.isfinite(a) and np.isfinite(b) and np.isfinite(c) and np.isfinite(d)
            and np.isfinite(v) and a >= 0.0 and 0.0 <= b <= 1.0 and 0.0 <= c <= 1.0
            and 0.0 <= d <= 1.0 and 0.0 <= v <= 1.0
        ):
            n_bad += 1
            continue
        bare = a * b
        bare = bare * c
        bare = bare * d
        if v != last_v:
            last_v = v
            last_cog = np.exp(-COG_COVER_COEF * 100.0 * v)
            last_g = last_cog**U_EXPONENT
        if bare > 0:
            u = bare**U_EXPONENT
            pot = _soil_loss_pixel(bare, u, ca, cb)
            act = _soil_loss_pixel(last_cog * bare, u * last_g, ca, cb)
        else:
            pot = 0.0
            act = 0.0
        pot = pot * area
        pot = pot / KG_PER_T
        act = act * area
        act = act / KG_PER_T
        diff = pot - act
        if diff < 0:
            n_clamped += 1
            diff = 0.0
        fixed[i] = diff
        if keep_parts:
            potential[i] = pot
            actual[i] = act
        if valued:
            value[i] = (diff / rh) * price
    return n_clamped, n_bad


def _flat_input(x: object, shape: tuple[int, ...]) -> np.ndarray | None:
    """A float input as a 1-D array for :func:`_sand_kernel` (its own size or 1), else None."""
    a = np.asarray(x)
    if a.dtype not in (np.float32, np.float64):
        return None
    if a.shape == shape and a.flags.c_contiguous:
        return a.reshape(-1)
    if a.size == 1:
        return a.reshape(1)
    return None


def _kernel_inputs(inputs: tuple[object, ...], valid: np.ndarray) -> list[np.ndarray] | None:
    """WF, EF, SCF, K' (and the cover, when given per pixel) as 1-D arrays for
    :func:`_sand_kernel`, every one of the grid's size but K', which may be one number; None
    when one is of another form (the numpy path takes it)."""
    flat = [_flat_input(x, valid.shape) for x in inputs]
    if any(f is None for f in flat) or not valid.flags.c_contiguous:
        return None
    if any(f.size != valid.size for i, f in enumerate(flat) if i != 3):  # type: ignore[union-attr]
        return None  # only K' may be one number here
    return flat  # type: ignore[return-value]


def _sand_fused(
    inputs: tuple[object, ...], field_length_m: float, area: float, valid: np.ndarray
) -> SandFixation | None:
    """:func:`sand_fixed_t` in one pass when every input is a float array of the grid's shape
    (or one number) and every check passes; None otherwise (the caller's numpy path then
    raises the precise error or handles the unusual input). The numpy path's float64
    operations in the same order; its ``pow`` and ``exp`` are LLVM's where numpy's are chosen
    by the CPU (AVX-512 differs in the last bits), so the two agree within
    ``16·(1 + b·u)`` ulp per pixel on any CPU (``tests/ulp.py``), and bit for bit where
    numpy's SIMD paths are off."""
    try:
        z = check_parameter("sand.field_length", field_length_m, 1e-9, np.inf)
        area = check_parameter("pixel_area_m2", area, 0.0, np.inf)
    except InputError:
        return None  # raised by the numpy path after its input checks, as always
    flat = _kernel_inputs(inputs, valid)
    if flat is None:
        return None
    outs = [np.empty(valid.shape) for _ in range(3)]
    none = np.empty(0)
    n_clamped, n_bad = _sand_kernel(
        *flat, np.empty(0, np.int64), valid.reshape(-1), *_coefficients(z), area, 1.0, 1.0,
        *(o.reshape(-1) for o in outs), none,
    )
    if n_bad:
        return None
    return SandFixation(outs[0], outs[1], outs[2], int(n_clamped))


def vegetation_factor(veg_cover_fraction: np.ndarray) -> np.ndarray:
    """RWEQ vegetation factor ``COG = exp(−0.0438 · SC)``, SC = cover in percent (Gong et al. 2014)."""
    cog = -COG_COVER_COEF * 100.0 * np.asarray(veg_cover_fraction, dtype=np.float64)
    return np.exp(cog, out=cog) if isinstance(cog, np.ndarray) else np.exp(cog)


def _require(raster: np.ndarray | None, name: str) -> np.ndarray:
    if raster is None:
        raise NotApplicable(f"not applicable: no wind data ({name} raster missing)")
    return raster


def _wind_inputs(
    wf: np.ndarray | None, ef: np.ndarray | None, scf: np.ndarray | None, valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The three wind rasters (:class:`NotApplicable` naming the first one missing) and the
    checked valid mask."""
    wf = _require(wf, "weather_factor")
    ef = _require(ef, "soil_erodible_fraction")
    scf = _require(scf, "soil_crust_factor")
    return wf, ef, scf, check_valid_mask(valid, np.shape(wf))


def sand_fixed_t(
    weather_factor_kg_m: np.ndarray | None,
    erodible_fraction: np.ndarray | None,
    crust_factor: np.ndarray | None,
    roughness: np.ndarray | float,
    veg_cover_fraction: np.ndarray,
    field_length_m: float,
    pixel_area_m2: float,
    valid: np.ndarray,
) -> SandFixation:
    """Sand fixed per pixel, ``(SL_potential − SL_actual) · A / 1000`` (t/a) [S1], RWEQ.

    Args:
        weather_factor_kg_m: RWEQ weather factor WF (kg/m), annual; None if the dataset has none.
        erodible_fraction: soil erodible fraction EF (1); None if absent.
        crust_factor: soil crust factor SCF (1); None if absent.
        roughness: surface roughness factor K' (1), a raster or one number (``sand.roughness``,
            assumed — user-settable).
        veg_cover_fraction: vegetation cover (fraction 0–1, land-cover column
            ``rweq_veg_cover``); converted to percent for COG.
        field_length_m: downwind distance z (m), ``sand.field_length`` (assumed, e.g. 50).
        pixel_area_m2: pixel area A (m²).
        valid: True where the inputs hold data.

    Raises:
        NotApplicable: a wind input (WF, EF or SCF) is missing — "not applicable: no wind data
            (weather_factor raster missing)".
        InputError: NaN in valid pixels, factors outside their ranges.
    """
    wf, ef, scf, valid = _wind_inputs(weather_factor_kg_m, erodible_fraction, crust_factor, valid)
    fused = _sand_fused(
        (wf, ef, scf, roughness, veg_cover_fraction), field_length_m, pixel_area_m2, valid
    )
    if fused is not None:
        return fused
    # an input with a problem (the checks below name it) or of an unusual form: numpy
    wf = check_finite("weather_factor", wf, valid)
    ef = check_finite("soil_erodible_fraction", ef, valid)
    scf = check_finite("soil_crust_factor", scf, valid)
    k = check_finite("sand.roughness", roughness, valid)
    sc = check_finite("rweq_veg_cover", veg_cover_fraction, valid)
    check_array_range("weather_factor", wf, valid, 0.0, np.inf, "WF is kg/m >= 0")
    for name, arr in (("soil_erodible_fraction", ef), ("soil_crust_factor", scf), ("K'", k)):
        check_array_range(name, arr, valid, 0.0, 1.0, "RWEQ soil factors are fractions 0–1")
    check_array_range(
        "rweq_veg_cover", sc, valid, 0.0, 1.0, "vegetation cover is a fraction 0–1, not percent"
    )
    area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
    z = check_parameter("sand.field_length", field_length_m, 1e-9, np.inf)
    # the kernel's operations, evaluated in place in the same order (numpy's exp and pow:
    # within a few ulp of the kernel's, see _sand_fused)
    bare = wf * ef
    bare *= scf
    bare *= k
    bare[~valid] = 0.0
    pos = bare > 0
    xp = np.where(pos, bare, 1.0)
    u = np.power(xp, U_EXPONENT)
    potential = _soil_loss_from_u(xp, u, z)
    potential[~pos] = 0.0
    potential *= area
    potential /= KG_PER_T
    cog = vegetation_factor(np.where(valid, sc, 0.0))
    u *= np.power(cog, U_EXPONENT)  # actual erosion's u: the bare soil's times COG^0.7422
    cog *= xp
    actual = _soil_loss_from_u(cog, u, z)
    del cog, u, xp
    actual[~pos] = 0.0
    actual *= area
    actual /= KG_PER_T
    diff = potential - actual
    n_clamped = int((valid & (diff < 0)).sum())
    fixed = np.maximum(diff, 0.0, out=diff)
    for arr in (fixed, potential, actual):  # NaN outside valid (``masked``, without a copy)
        arr[~valid] = np.nan
    return SandFixation(fixed, potential, actual, n_clamped)


class SandFixationLayer(NamedTuple):
    """Result of :func:`sand_fixation_layer`."""

    quantity_t: np.ndarray
    """Sand fixed per pixel (t/a), NaN outside valid (:attr:`SandFixation.quantity_t`)."""
    value_yuan: np.ndarray
    """Its :func:`value` (元/a)."""
    n_clamped: int


def sand_fixation_layer(
    weather_factor_kg_m: np.ndarray | None,
    erodible_fraction: np.ndarray | None,
    crust_factor: np.ndarray | None,
    roughness: np.ndarray | float,
    rows: np.ndarray,
    veg_cover_by_row: np.ndarray,
    field_length_m: float,
    pixel_area_m2: float,
    valid: np.ndarray,
    valuation: tuple[float, float, float],
) -> SandFixationLayer:
    """:func:`sand_fixed_t` and its :func:`value` per pixel in one pass, the vegetation cover
    looked up from the pixels' land-cover table ``rows`` (−1 outside ``valid``) in the table's
    ``rweq_veg_cover`` by row; ``valuation`` = (ρ, h, P_f) of :func:`value`. Neither the
    potential and actual erosion grids nor a per-pixel cover grid is made.

    Bit for bit what the numpy functions give (the same float64 operations in the same order;
    ``tests/test_models.py``). A pixel the checks would refuse, or inputs of an unusual form,
    take the numpy functions, which name the problem.
    """
    wf, ef, scf, valid = _wind_inputs(weather_factor_kg_m, erodible_fraction, crust_factor, valid)
    table = np.ascontiguousarray(veg_cover_by_row, dtype=np.float64)
    r = np.asarray(rows)
    flat = _kernel_inputs((wf, ef, scf, roughness), valid)
    usable = (
        flat is not None and r.shape == valid.shape and r.dtype.kind == "i"
        and r.flags.c_contiguous and table.ndim == 1 and table.size > 0
    )
    if usable:
        try:
            z = check_parameter("sand.field_length", field_length_m, 1e-9, np.inf)
            area = check_parameter("pixel_area_m2", pixel_area_m2, 0.0, np.inf)
            rho = check_parameter("sand.bulk_density", valuation[0], 1e-6, np.inf)
            h = check_parameter("sand.cover_thickness", valuation[1], 1e-6, np.inf)
            price = check_parameter("sand.control_cost", valuation[2], 0.0, np.inf)
        except InputError:
            usable = False  # raised by the numpy path after its input checks, as always
    if usable and flat is not None:
        quantity, val = np.empty(valid.shape), np.empty(valid.shape)
        none = np.empty(0)
        n_clamped, n_bad = _sand_kernel(
            *flat, table, r.reshape(-1), valid.reshape(-1), *_coefficients(z), area, rho * h,
            price, quantity.reshape(-1), none, none, val.reshape(-1),
        )
        if not n_bad:
            return SandFixationLayer(quantity, val, int(n_clamped))
    # the numpy functions: they name a bad input
    cover = np.append(table, np.nan)[np.where(valid, r, -1)]
    res = sand_fixed_t(
        wf, ef, scf, roughness, cover, field_length_m, pixel_area_m2, valid
    )
    return SandFixationLayer(res.quantity_t, value(res.quantity_t, *valuation), res.n_clamped)


def value(
    sand_fixed_t: np.ndarray,
    sand_bulk_density_t_m3: float,
    cover_thickness_m: float,
    control_cost_yuan_per_m2: float,
) -> np.ndarray:
    """Value of sand fixation, ``V_f = Q_f / (ρ · h) · P_f`` (元/a) [S1].

    Q_f/ρ is the sand volume (m³); divided by the standard cover thickness h it is the area
    that would be desertified (m²), priced at the cost of sand-control works.

    Args:
        sand_fixed_t: sand fixed Q_f (t/a).
        sand_bulk_density_t_m3: ρ (t/m³); 1.28 [S1].
        cover_thickness_m: h (m); 0.1 [S1].
        control_cost_yuan_per_m2: P_f (元/m²); 3.75 [S1].
    """
    rho = check_parameter("sand.bulk_density", sand_bulk_density_t_m3, 1e-6, np.inf)
    h = check_parameter("sand.cover_thickness", cover_thickness_m, 1e-6, np.inf)
    p = check_parameter("sand.control_cost", control_cost_yuan_per_m2, 0.0, np.inf)
    return np.asarray(sand_fixed_t, dtype=np.float64) / (rho * h) * p
