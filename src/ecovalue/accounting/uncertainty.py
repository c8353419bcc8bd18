"""Monte Carlo uncertainty and sensitivity of a GEP account over parameter distributions.

Parameters of the register may carry a distribution (``uniform``, ``triangular``,
``normal``, ``lognormal``, ``discrete`` — a choice among published values — or ``point``),
read from a TOML file: the shipped ``profiles/<profile>.uncertainty.toml`` (every published
alternative of spec/gep-accounting.md §7, each with its source) or a user's file. Draws use
a :class:`numpy.random.Generator` seeded by the caller, parameters sampled in sorted id
order, so the same seed gives the same draws and percentiles.

Cost: indicators that read no sampled parameter are not recomputed. An indicator whose
value is affine and additive in its sampled parameters (all unit prices are: V = Q × P;
checked numerically at the extremes of the draws, see :func:`_linear_gradient`) is
valued per draw as ``V0 + Σ_k (p_k − p0_k) · ∂V/∂p_k`` from zonal sums computed once.
Only the rest (e.g. a sampled bulk density, V ∝ 1/ρ) is recomputed per draw, with the
shared routing reused. Departments' reported quantities are applied in every draw.

Each draw gives a change ``δ`` against the point run; percentiles are taken of ``δ`` and
added to the point value (percentiles commute with adding a constant), so a degenerate
distribution (all mass on the point value) reproduces the point estimate to the fen.
Sampled prices are restated from their price year to the accounting year exactly as the
pipeline restates the register (decision 0003); a value whose price year the index lacks
stays as published and the notes say so.

Sensitivity: squared Spearman rank correlation ρ² between each parameter's draws and the
GEP change, and its share Σ-normalised (a rank-based first-order importance measure;
Saltelli et al. 2008, *Global Sensitivity Analysis: The Primer*, §1.2.3).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecovalue.accounting import aggregation as agg
from ecovalue.accounting.catalogue import ECOSYSTEM_TYPES, INDICATORS
from ecovalue.accounting.context import Context, Layer
from ecovalue.accounting.indicators import COMPUTE
from ecovalue.accounting.parameters import Parameter, ParameterRegister
from ecovalue.accounting.pipeline import dataset_prices, prepare, run_account
from ecovalue.accounting.profiles import PROFILE_DIR, Profile
from ecovalue.accounting.reported import apply_reported
from ecovalue.accounting.result import RunResult
from ecovalue.datasets.loader import Dataset
from ecovalue.errors import InputError, NotApplicable, ParameterError
from ecovalue.units import conversion_factor, format_unit, parse_unit

KINDS: dict[str, tuple[str, ...]] = {
    "point": ("value",),
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "sigma"),
    "discrete": ("values",),
}
PERCENTILES = (5.0, 50.0, 95.0)
SIX_PLACES = Decimal("0.000001")  # the register's restatement precision (parameters.py)
Progress = Callable[[str, int, int], None]


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Distribution:
    """The distribution of one parameter, in ``unit`` and at prices of ``price_year``.

    ``discrete`` draws one of ``values`` (weights optional, default equal); each value may
    carry its own price year (``price_years``) and source (``sources``).
    """

    parameter: str
    kind: str
    unit: str
    source: str
    args: Mapping[str, float] = field(default_factory=dict)
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    price_years: tuple[int | None, ...] = ()
    sources: tuple[str, ...] = ()
    price_year: int | None = None

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``n`` draws (in ``unit``) and, for discrete values with own price years, their years."""
        a = self.args
        if self.kind == "point":
            return np.full(n, a["value"]), None
        if self.kind == "uniform":
            return rng.uniform(a["low"], a["high"], n), None
        if self.kind == "triangular":
            if a["low"] == a["high"]:  # numpy rejects a zero-width triangle
                return np.full(n, a["low"]), None
            return rng.triangular(a["low"], a["mode"], a["high"], n), None
        if self.kind == "normal":
            return _truncated(
                lambda m: rng.normal(a["mean"], a["sd"], m),
                n,
                a.get("lower"),
                a.get("upper"),
                self.parameter,
            ), None
        if self.kind == "lognormal":
            return a["median"] * np.exp(rng.normal(0.0, a["sigma"], n)), None
        w = np.asarray(self.weights or [1.0] * len(self.values), dtype=float)
        idx = rng.choice(len(self.values), size=n, p=w / w.sum())
        years = None
        if self.price_years:
            years = np.array([self.price_years[i] for i in idx], dtype=object)
        return np.asarray(self.values, dtype=float)[idx], years

    @property
    def degenerate_value(self) -> float | None:
        """The single value when all mass sits on one point, else None."""
        a = self.args
        if self.kind == "point":
            return a["value"]
        if self.kind in ("uniform", "triangular") and a["low"] == a["high"]:
            return a["low"]
        if self.kind == "normal" and a["sd"] == 0:
            return a["mean"]
        if self.kind == "lognormal" and a["sigma"] == 0:
            return a["median"]
        if (
            self.kind == "discrete"
            and len(set(self.values)) == 1
            and len(set(self.price_years)) <= 1
        ):
            return self.values[0]
        return None

    def describe(self) -> str:
        """A short text such as ``uniform(low=2500, high=3000) 元/t`` (the unit as users read it)."""
        if self.kind == "discrete":
            body = ", ".join(f"{v:g}" for v in self.values)
            return f"discrete{{{body}}} {format_unit(self.unit)}"
        return f"{self.kind}({', '.join(f'{k}={v:g}' for k, v in self.args.items())}) {format_unit(self.unit)}"


def _truncated(
    draw: Callable[[int], np.ndarray], n: int, lo: float | None, hi: float | None, pid: str
) -> np.ndarray:
    """Rejection sampling inside [lo, hi]; deterministic for a seeded generator."""
    out = draw(n)
    for _ in range(200):
        bad = ((out < lo) if lo is not None else False) | ((out > hi) if hi is not None else False)
        if not np.any(bad):
            return out
        out[bad] = draw(int(np.sum(bad)))
    raise ParameterError(
        f"distribution of '{pid}': the normal distribution has almost no mass inside "
        f"[{lo}, {hi}]; widen the bounds or change mean/sd"
    )


def _number(raw: Any, where: str, key: str) -> float:
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{where}: '{key}' = {raw!r} is not a number; write a number"
        ) from None
    if not np.isfinite(v):
        raise ParameterError(f"{where}: '{key}' = {raw!r} is not finite; write a finite number")
    return v


def _check_args(kind: str, a: dict[str, float], where: str) -> None:
    if kind in ("uniform", "triangular") and a["low"] > a["high"]:
        raise ParameterError(f"{where}: low {a['low']:g} > high {a['high']:g}; swap them")
    if kind == "triangular" and not a["low"] <= a["mode"] <= a["high"]:
        raise ParameterError(
            f"{where}: mode {a['mode']:g} is outside [low, high] = "
            f"[{a['low']:g}, {a['high']:g}]; put the mode inside the range"
        )
    if kind == "normal" and a["sd"] < 0:
        raise ParameterError(f"{where}: sd {a['sd']:g} is negative; give a standard deviation ≥ 0")
    if kind == "lognormal" and (a["sigma"] < 0 or a["median"] <= 0):
        raise ParameterError(
            f"{where}: lognormal needs median > 0 and sigma ≥ 0 (got median {a['median']:g}, "
            f"sigma {a['sigma']:g})"
        )


def _discrete(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    values = entry.get("values")
    if not isinstance(values, list) or not values:
        raise ParameterError(
            f"{where}: 'values' must be a non-empty list of numbers, e.g. values = [7.06, 6.11]"
        )
    out: dict[str, Any] = {"values": tuple(_number(v, where, "values") for v in values)}
    for key in ("weights", "price_years", "sources"):
        seq = entry.get(key)
        if seq is None:
            continue
        if not isinstance(seq, list) or len(seq) != len(values):
            raise ParameterError(
                f"{where}: '{key}' must be a list of the same length as 'values' ({len(values)})"
            )
        out[key] = tuple(seq)
    w = out.get("weights", ())
    if w and (min(float(x) for x in w) < 0 or sum(float(x) for x in w) <= 0):
        raise ParameterError(f"{where}: weights {list(w)} must be ≥ 0 with a positive sum")
    out["weights"] = tuple(float(x) for x in w)
    out["price_years"] = tuple(
        int(y) if y not in (None, "", 0) else None for y in out.get("price_years", ())
    )
    out["sources"] = tuple(str(s) for s in out.get("sources", ()))
    return out


def make_distribution(pid: str, entry: Mapping[str, Any], where: str) -> Distribution:
    """Build and check one distribution from a TOML table; raise ParameterError naming the problem."""
    where = f"{where}: distribution of '{pid}'"
    kind = str(entry.get("kind", ""))
    if kind not in KINDS:
        raise ParameterError(f"{where}: kind '{kind}' is not known; use one of {sorted(KINDS)}")
    if not entry.get("unit"):
        raise ParameterError(
            f"{where}: no 'unit'; give the unit of the values (write '1' for a pure number)"
        )
    if not entry.get("source") and not entry.get("sources"):
        raise ParameterError(f"{where}: no 'source'; cite one, or write 'assumed — set your own'")
    unit = str(entry["unit"])
    parse_unit(unit, where)
    missing = [k for k in KINDS[kind] if k not in entry]
    if missing:
        raise ParameterError(f"{where}: kind '{kind}' needs {list(KINDS[kind])}; missing {missing}")
    py = entry.get("price_year")
    common = dict(
        parameter=pid,
        kind=kind,
        unit=unit,
        source=str(entry.get("source", "")),
        price_year=int(py) if py not in (None, "") else None,
    )
    if kind == "discrete":
        return Distribution(**common, **_discrete(entry, where))  # type: ignore[arg-type]
    args = {k: _number(entry[k], where, k) for k in KINDS[kind]}
    for k in ("lower", "upper"):
        if kind == "normal" and k in entry:
            args[k] = _number(entry[k], where, k)
    _check_args(kind, args, where)
    return Distribution(**common, args=args)  # type: ignore[arg-type]


def distributions_path(profile: Profile) -> Path | None:
    """The shipped distributions file of ``profile`` (or of the profile it extends), if any."""
    for pid in (profile.id, str(profile.raw.get("profile", {}).get("extends", ""))):
        p = PROFILE_DIR / f"{pid}.uncertainty.toml"
        if pid and p.exists():
            return p
    return None


def load_distributions(
    source: str | Path | Mapping[str, Mapping[str, Any]],
) -> dict[str, Distribution]:
    """Distributions from a TOML file (path or shipped profile id) or an in-memory mapping.

    The file holds one table per parameter: ``[distributions."reservoir_cost"]`` with
    ``kind``, ``unit``, ``source`` and the kind's arguments (see KINDS).
    """
    if isinstance(source, Mapping):
        tables, where = source, "distributions"
    else:
        path = Path(source)
        if not path.suffix:
            path = PROFILE_DIR / f"{source}.uncertainty.toml"
        if not path.exists():
            raise InputError(
                f"distributions file '{source}' not found; give the path of a .toml file with "
                f'[distributions."<parameter id>"] tables'
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})") from exc
        tables, where = raw.get("distributions", {}), str(path)
        if not tables:
            raise InputError(f'{path}: no [distributions."<parameter id>"] tables found')
    return {pid: make_distribution(pid, entry, where) for pid, entry in tables.items()}


# --------------------------------------------------------------------------- sampling


def _restate(
    v: float,
    from_year: int | None,
    year: int,
    index: Mapping[int, float] | None,
    notes: set[str],
    pid: str,
) -> Decimal:
    """A sampled price restated to ``year`` exactly as ParameterRegister.adjusted_to_year does."""
    d = Decimal(repr(float(v)))
    if index is None or from_year is None or from_year == year:
        return d
    if from_year not in index or year not in index:
        notes.add(
            f"uncertainty: sampled '{pid}' values of price year {from_year} were not restated to {year}: "
            f"the price index lacks {from_year if from_year not in index else year}"
        )
        return d
    factor = Decimal(repr(index[year])) / Decimal(repr(index[from_year]))
    return (d * factor).quantize(SIX_PLACES)


def sample_parameters(
    dists: Mapping[str, Distribution],
    raw: ParameterRegister,
    year: int,
    index: Mapping[int, float] | None,
    draws: int,
    seed: int,
    notes: set[str],
) -> dict[str, list[Decimal]]:
    """Per parameter, ``draws`` values in the register's unit at prices of ``year`` (Decimal).

    ``raw`` is the register before restatement; ``index`` is None when prices are not restated.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[Decimal]] = {}
    for pid in sorted(dists):
        d, p = dists[pid], raw[pid]
        values, years = d.sample(rng, draws)
        if d.unit != p.unit:
            values = values * conversion_factor(d.unit, p.unit, f"distribution of '{pid}'")
        restate = index if p.is_price else None
        default_year = d.price_year if d.price_year is not None else p.price_year
        out[pid] = [
            _restate(
                v,
                (years[i] if years is not None and years[i] is not None else default_year),
                year,
                restate,
                notes,
                pid,
            )
            for i, v in enumerate(values)
        ]
    return out


def check_distributions(dists: Mapping[str, Distribution], raw: ParameterRegister) -> None:
    """Every distribution names a register parameter and has a unit convertible to its unit."""
    unknown = sorted(pid for pid in dists if pid not in raw)
    if unknown:
        raise ParameterError(
            f"distributions for parameters not in the register: {unknown}; use ids of the "
            f"profile (see `ecovalue profiles cn-2022`) or price.<item> of the dataset"
        )
    for pid, d in dists.items():
        conversion_factor(
            d.unit,
            raw[pid].unit,
            f"distribution of '{pid}' (unit {d.unit}, parameter unit {raw[pid].unit})",
        )


# --------------------------------------------------------------------------- evaluation


class _Recorder(ParameterRegister):
    """A register that remembers which parameters were read (to find what each indicator uses)."""

    def __init__(self, inner: ParameterRegister):
        super().__init__(dict(inner.items()), "profile")
        self.seen: set[str] = set()

    def __getitem__(self, pid: str) -> Parameter:
        self.seen.add(pid)
        return super().__getitem__(pid)


class _Evaluator:
    """Recomputes chosen indicators with overridden parameters and sums them by region × type."""

    def __init__(self, ds: Dataset, profile: Profile, year: int, params: ParameterRegister):
        self.ds, self.profile, self.year, self.params = ds, profile, year, params
        t = ds.landcover_table
        eco = agg.ecosystem_index(
            ds.rasters["landcover"], t["code"].to_numpy(), list(t["ecosystem_type"])
        )
        key, _, _ = agg.zone_keys(np.where(ds.valid, ds.region_index, -1), eco)
        flat = key.ravel()
        self.sel = flat >= 0
        self.kk = flat[self.sel]
        self.n_keys = len(ds.regions) * len(ECOSYSTEM_TYPES)
        self.shared: dict[str, Any] = {}
        self.used: dict[str, set[str]] = {}

    def zonal(self, arr: np.ndarray) -> np.ndarray:
        v = arr.ravel()[self.sel].astype(np.float64, copy=False)
        return np.bincount(self.kk, weights=np.where(np.isfinite(v), v, 0.0), minlength=self.n_keys)

    def discover(self, indicators: list[str]) -> list[str]:
        """Compute each indicator once with a recording register; return those that computed."""
        ok = []
        for ind in indicators:
            rec = _Recorder(self.params)
            ctx = Context(self.ds, self.year, self.profile, rec)
            ctx.__dict__.update(self.shared)
            try:
                COMPUTE[ind](ctx)
            except NotApplicable:
                continue
            self.shared.update(
                {k: ctx.__dict__[k] for k in ("routing", "stats_year") if k in ctx.__dict__}
            )
            self.used[ind] = set(rec.seen)
            ok.append(ind)
        return ok

    def values(
        self, indicators: list[str], overrides: Mapping[str, Decimal]
    ) -> dict[str, np.ndarray]:
        """Zonal value sums (region × type keys) of ``indicators`` with parameters overridden."""
        params = self.params
        if overrides:
            params = params.with_overrides(
                {pid: replace(params[pid], value=v) for pid, v in overrides.items()}
            )
        rep = self.ds.reported
        ds = self.ds
        if not rep.empty:
            # only the reported rows of these indicators: others would create empty layers
            ds = replace(self.ds, reported=rep[rep["indicator"].isin(indicators)])
        ctx = Context(ds, self.year, self.profile, params)
        ctx.__dict__.update(self.shared)
        layers: dict[str, Layer] = {ind: COMPUTE[ind](ctx) for ind in indicators}
        layers, _ = apply_reported(ctx, layers, {})
        return {ind: self.zonal(layers[ind].value) for ind in indicators}


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal up to float noise of the model arithmetic (1e-8 relative, 1e-6 元 absolute)."""
    return bool(np.all(np.abs(a - b) <= 1e-8 * (np.abs(a) + np.abs(b)) + 1e-6))


def _linear_gradient(
    ev: _Evaluator,
    ind: str,
    pids: list[str],
    s0: dict[str, float],
    lo: dict[str, float],
    hi: dict[str, float],
    v0: np.ndarray,
) -> np.ndarray | None:
    """∂V/∂p for each sampled parameter (rows) when the value is affine and additive in them.

    Checked on the range of the draws: for each parameter at its extremes and midpoint,
    and for each pair at their far ends jointly (catches products such as λ × P_s). None
    when any check fails (the indicator is then recomputed per draw).
    """
    grads = np.zeros((len(pids), ev.n_keys))
    far: dict[str, float] = {}
    for k, pid in enumerate(pids):
        points = sorted({lo[pid], hi[pid], s0[pid], (lo[pid] + hi[pid]) / 2} - {s0[pid]})
        if not points:
            continue
        vals = {p: ev.values([ind], {pid: Decimal(repr(p))})[ind] for p in points}
        a, b = (points[0], points[-1]) if len(points) > 1 else (s0[pid], points[0])
        va, vb = (vals[a] if a in vals else v0), vals[b]
        grads[k] = (vb - va) / (b - a)
        if not all(_close(vals[p], v0 + (p - s0[pid]) * grads[k]) for p in points):
            return None
        far[pid] = max(points, key=lambda p: abs(p - s0[pid]))
    keys = list(far)
    for i, pi in enumerate(keys):
        for pj in keys[i + 1 :]:
            joint = ev.values([ind], {pi: Decimal(repr(far[pi])), pj: Decimal(repr(far[pj]))})[ind]
            pred = (
                v0
                + (far[pi] - s0[pi]) * grads[pids.index(pi)]
                + (far[pj] - s0[pj]) * grads[pids.index(pj)]
            )
            if not _close(joint, pred):
                return None
    return grads


# --------------------------------------------------------------------------- Monte Carlo


@dataclass
class UncertaintyResult:
    """Percentile ranges of a run (money at current prices of the accounting year, Decimal 元).

    ``rows`` matches the rows of the point run's table (region_code, indicator,
    ecosystem_type) and adds p5/p50/p95; ``indicators``, ``regions`` and ``total`` hold
    the ranges of indicator totals, district GEP and GEP; ``sensitivity`` ranks parameters.
    """

    point: RunResult
    draws: int
    seed: int
    distributions: dict[str, Distribution]
    samples: pd.DataFrame  # one column per sampled parameter, values at accounting-year prices
    rows: pd.DataFrame
    indicators: pd.DataFrame
    regions: pd.DataFrame
    total: dict[str, Decimal]
    sensitivity: pd.DataFrame
    rescaled: list[str] = field(default_factory=list)  # indicators valued by the linear shortcut
    recomputed: list[str] = field(default_factory=list)  # indicators recomputed per draw
    notes: list[str] = field(default_factory=list)
    gep_draws: np.ndarray = field(
        default_factory=lambda: np.zeros(0)
    )  # GEP change per draw (元, float)


def _percentiles(base: Decimal, delta: np.ndarray | None) -> tuple[Decimal, Decimal, Decimal]:
    if delta is None:
        return base, base, base
    p = np.percentile(delta, PERCENTILES)
    return tuple(base + agg.to_money(float(x)) for x in p)  # type: ignore[return-value]


def _base_params(
    ds: Dataset, prof: Profile, year: int
) -> tuple[ParameterRegister, ParameterRegister, bool]:
    """The register before and after restatement, as the pipeline builds it."""
    raw = prof.parameters.with_overrides(dataset_prices(ds))
    restate = bool(prof.switches.get("restate_prices", True) and ds.price_index)
    params = raw.adjusted_to_year(year, ds.price_index)[0] if restate else raw
    return raw, params, restate


def _deltas(
    ev: _Evaluator,
    samples: dict[str, list[Decimal]],
    affected: dict[str, list[str]],
    params: ParameterRegister,
    draws: int,
    notes: list[str],
    progress: Progress | None,
    shortcut: bool = True,
    executor: Any = None,
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """Per affected indicator, the (draws × keys) change of value against the point run.

    With ``executor`` (a dask.distributed one, ``streaming._Executor``) the draws that must be
    recomputed run as chunks on the cluster; each draw is computed exactly as locally, so the
    result does not depend on the worker count.
    """
    s0 = {pid: float(params[pid].value) for pid in samples}
    arr = {pid: np.array([float(v) for v in vals]) for pid, vals in samples.items()}
    lo = {pid: float(a.min()) for pid, a in arr.items()}
    hi = {pid: float(a.max()) for pid, a in arr.items()}
    out: dict[str, np.ndarray] = {}
    rescaled, recompute = [], []
    for ind, pids in affected.items():
        grads = (
            _linear_gradient(ev, ind, pids, s0, lo, hi, ev.values([ind], {})[ind])
            if shortcut
            else None
        )
        if grads is None:
            recompute.append(ind)
            continue
        ds_ = np.column_stack([arr[p] - s0[p] for p in pids])
        out[ind] = ds_ @ grads
        rescaled.append(ind)
    if recompute:
        pids = sorted({p for ind in recompute for p in affected[ind]})
        base = ev.values(recompute, {})
        for ind in recompute:
            out[ind] = np.zeros((draws, ev.n_keys))
        if executor is not None:
            # chunks of draws as tasks; each worker holds the evaluator (dataset, routing) once
            size = max(1, -(-draws // (4 * max(executor.n_workers, 1))))
            chunks = [(a, min(a + size, draws)) for a in range(0, draws, size)]
            picked = {p: samples[p] for p in pids}
            for (a, b), part in zip(
                chunks,
                executor.map(_recompute_draws, ev, chunks, recompute, picked, base),
                strict=True,
            ):
                for ind in recompute:
                    out[ind][a:b] = part[ind]
                if progress:
                    progress("uncertainty draws", b, draws)
        else:
            step = max(1, draws // 100)
            for d in range(draws):
                vals = ev.values(recompute, {p: samples[p][d] for p in pids})
                for ind in recompute:
                    out[ind][d] = vals[ind] - base[ind]
                done = d + 1  # reported once the draw is done: the bar ends at draws/draws
                if progress and (done % step == 0 or done == draws):
                    progress("uncertainty draws", done, draws)
        notes.append(
            f"uncertainty: recomputed per draw (not linear in their sampled parameters): "
            f"{', '.join(recompute)}"
        )
    return out, rescaled, recompute


def _recompute_draws(
    ev: _Evaluator,
    start: int,
    stop: int,
    indicators: list[str],
    samples: dict[str, list[Decimal]],
    base: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Draws ``[start, stop)`` of the indicators recomputed per draw (a dask task)."""
    out = {ind: np.zeros((stop - start, ev.n_keys)) for ind in indicators}
    for d in range(start, stop):
        vals = ev.values(indicators, {p: v[d] for p, v in samples.items()})
        for ind in indicators:
            out[ind][d - start] = vals[ind] - base[ind]
    return out


def run_uncertainty(
    dataset: Dataset | str | Path,
    profile: Profile | str | Path = "cn-2022",
    distributions: str | Path | Mapping[str, Distribution] | None = None,
    draws: int = 1000,
    seed: int = 0,
    year: int | None = None,
    point: RunResult | None = None,
    progress: Progress | None = None,
    shortcut: bool = True,
    workers: int = 1,
    scheduler: str | None = None,
) -> UncertaintyResult:
    """Monte Carlo over parameter distributions: P5/P50/P95 per row, indicator, district and GEP.

    ``distributions`` is a file path, a shipped profile id, a mapping of Distributions, or
    None for the profile's shipped file. ``point`` reuses an existing point run of the same
    dataset, profile and year. ``shortcut=False`` recomputes every affected indicator per
    draw (slow; to verify the linear shortcut). ``workers`` > 1 (a local dask cluster) or
    ``scheduler`` (``tcp://host:8786``) run the recomputed draws on dask.distributed, in
    chunks of draws; the percentiles are the same as a local run's.
    Raises ParameterError/InputError on bad input.
    """
    if draws < 2:
        raise InputError(f"draws = {draws}: give at least 2 draws (1000 or more for stable P5/P95)")
    ds, prof, year, _ = prepare(dataset, profile, year)
    point = point or run_account(ds, prof, year)
    dists = _resolve(distributions, prof)
    raw, params, restate = _base_params(ds, prof, year)
    check_distributions(dists, raw)
    note_set: set[str] = set()
    samples = sample_parameters(
        dists, raw, year, ds.price_index if restate else None, draws, seed, note_set
    )
    ev = _Evaluator(ds, prof, year, params)
    computed = ev.discover([i for i in prof.indicators if i in point.layers])
    notes = sorted(note_set)
    notes += [
        f"uncertainty: {i} has no model computation (reported only) and is held at its point value"
        for i in point.layers
        if i not in computed
    ]
    affected = {i: sorted(ev.used[i] & set(dists)) for i in computed if ev.used[i] & set(dists)}
    unused = sorted(set(dists) - {p for ps in affected.values() for p in ps})
    if unused:
        notes.append(
            f"uncertainty: distributions of parameters no included indicator reads: {', '.join(unused)}"
        )
    executor = None
    if workers > 1 or scheduler:
        from ecovalue.accounting.streaming import _Executor

        executor = _Executor(workers, scheduler, threads=1)
    try:
        deltas, rescaled, recomputed = _deltas(
            ev, samples, affected, params, draws, notes, progress, shortcut, executor
        )
    finally:
        if executor is not None:
            executor.close()
    sample_df = pd.DataFrame({pid: [float(v) for v in vals] for pid, vals in samples.items()})
    return _summarise(point, ds, deltas, sample_df, dists, draws, seed, rescaled, recomputed, notes)


def _resolve(
    distributions: str | Path | Mapping[str, Distribution] | None, prof: Profile
) -> dict[str, Distribution]:
    if distributions is None:
        path = distributions_path(prof)
        if path is None:
            raise InputError(
                f"profile '{prof.id}' ships no distributions file; pass one "
                f'(--distributions FILE) with [distributions."<parameter id>"] tables'
            )
        return load_distributions(path)
    if isinstance(distributions, Mapping) and all(
        isinstance(v, Distribution) for v in distributions.values()
    ):
        return dict(distributions)  # type: ignore[arg-type]
    return load_distributions(distributions)  # type: ignore[arg-type]


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (average ranks for ties); 0 when either series is constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    sx, sy = rx.std(), ry.std()
    if sx == 0 or sy == 0:
        return 0.0
    return float(np.mean((rx - rx.mean()) * (ry - ry.mean())) / (sx * sy))


def sensitivity_table(
    samples: pd.DataFrame, targets: Mapping[str, np.ndarray], dists: Mapping[str, Distribution]
) -> pd.DataFrame:
    """ρ, ρ² and ρ² share of every sampled parameter for every target (GEP, indicators), ranked."""
    rows = []
    for target, y in targets.items():
        rhos = {pid: rank_correlation(samples[pid].to_numpy(), y) for pid in samples.columns}
        total = sum(r * r for r in rhos.values())
        ranked = sorted(rhos, key=lambda p: -(rhos[p] ** 2))
        for rank, pid in enumerate(ranked, start=1):
            r2 = rhos[pid] ** 2
            rows.append(
                {
                    "target": target,
                    "rank": rank,
                    "parameter": pid,
                    "distribution": dists[pid].describe(),
                    "spearman_rho": round(rhos[pid], 6),
                    "rho2": round(r2, 6),
                    "share": round(r2 / total, 6) if total else 0.0,
                }
            )
    return pd.DataFrame(
        rows,
        columns=["target", "rank", "parameter", "distribution", "spearman_rho", "rho2", "share"],
    )


def _summarise(
    point: RunResult,
    ds: Dataset,
    deltas: dict[str, np.ndarray],
    samples: pd.DataFrame,
    dists: dict[str, Distribution],
    draws: int,
    seed: int,
    rescaled: list[str],
    recomputed: list[str],
    notes: list[str],
) -> UncertaintyResult:
    nt = len(ECOSYSTEM_TYPES)
    codes = {r.code: i for i, r in enumerate(ds.regions)}
    t = point.table
    zero = Decimal(0)
    rows = []
    cols = ("region_code", "indicator", "ecosystem_type", "value_current")
    for code, ind, etype, value in zip(*(t[c] for c in cols), strict=True):
        d = None
        if ind in deltas and etype in ECOSYSTEM_TYPES:
            d = deltas[ind][:, codes[code] * nt + ECOSYSTEM_TYPES.index(etype)]
        rows.append((code, ind, etype, value, *_percentiles(value, d)))
    row_df = pd.DataFrame(
        rows, columns=["region_code", "indicator", "ecosystem_type", "point", "p5", "p50", "p95"]
    )
    totals = point.totals()
    ind_rows = []
    for ind, base in totals["by_indicator"].items():
        d = deltas[ind].sum(axis=1) if ind in deltas else None
        spec = INDICATORS[ind]
        ind_rows.append((ind, spec.name_zh, spec.name_en, base, *_percentiles(base, d)))
    ind_df = pd.DataFrame(
        ind_rows, columns=["indicator", "indicator_zh", "indicator_en", "point", "p5", "p50", "p95"]
    )
    gep_delta = sum((v.sum(axis=1) for v in deltas.values()), np.zeros(draws))
    reg_rows = []
    for r, reg in enumerate(ds.regions):
        d = sum((v[:, r * nt : (r + 1) * nt].sum(axis=1) for v in deltas.values()), np.zeros(draws))
        base = totals["by_region"].get(reg.code, zero)
        reg_rows.append((reg.code, reg.name_zh, reg.name_en, base, *_percentiles(base, d)))
    reg_df = pd.DataFrame(
        reg_rows,
        columns=["region_code", "region_name_zh", "region_name_en", "point", "p5", "p50", "p95"],
    )
    total = dict(
        zip(
            ("point", "p5", "p50", "p95"),
            (totals["gep_current"], *_percentiles(totals["gep_current"], gep_delta)),
            strict=True,
        )
    )
    targets = {"GEP": gep_delta, **{ind: v.sum(axis=1) for ind, v in deltas.items()}}
    return UncertaintyResult(
        point=point,
        draws=draws,
        seed=seed,
        distributions=dict(dists),
        samples=samples,
        rows=row_df,
        indicators=ind_df,
        regions=reg_df,
        total=total,
        sensitivity=sensitivity_table(samples, targets, dists),
        rescaled=rescaled,
        recomputed=recomputed,
        notes=notes,
        gep_draws=gep_delta,
    )


# --------------------------------------------------------------------------- outputs


def _money_str(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in ("point", "p5", "p50", "p95"):
        if c in out.columns:
            out[c] = out[c].map(str)
    return out


def write_uncertainty_tables(u: UncertaintyResult, out_dir: str | Path) -> dict[str, Path]:
    """CSV tables of the ranges, the sensitivity ranking and the parameter draws."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "uncertainty_indicators.csv": out / "uncertainty_indicators.csv",
        "uncertainty_regions.csv": out / "uncertainty_regions.csv",
        "sensitivity.csv": out / "sensitivity.csv",
        "samples.csv": out / "samples.csv",
    }
    _money_str(u.indicators).to_csv(
        paths["uncertainty_indicators.csv"], index=False, encoding="utf-8"
    )
    total_row = pd.DataFrame(
        [{"region_code": "ALL", "region_name_zh": "全市", "region_name_en": "Total", **u.total}]
    )
    _money_str(pd.concat([u.regions, total_row], ignore_index=True)).to_csv(
        paths["uncertainty_regions.csv"], index=False, encoding="utf-8"
    )
    u.sensitivity.to_csv(paths["sensitivity.csv"], index=False, encoding="utf-8")
    u.samples.rename_axis("draw").to_csv(paths["samples.csv"], encoding="utf-8")
    return paths
