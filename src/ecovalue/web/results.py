"""What the pages show of published results, read through the runs service and summed here.

Published runs and their rows are immutable (a correction is a new publication), so the
rows of a run are kept in memory by run id once read: a public page costs one query for
the current publication and none for its rows.

The year-to-year decomposition uses only the stored values at current and constant prices
(decision 0005, ``accounting.series``): with ``f_t`` the run's constant-price factor,
``V_const = V·f``, so the quantity effect ``QE = V_b·f_b/f_a − V_a = (C_b − C_a)·V_a/C_a``
and the price effect ``PE = (V_b − V_a) − QE``; both in 元, rounded half-even to the fen,
``QE + PE`` equal to the change exactly.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy.orm import Session

from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.errors import NotFound
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.tables import AccountingRun, Publication

ZERO = Decimal("0.00")
FEN = Decimal("0.01")


@dataclass(frozen=True)
class Row:
    """One result row (region, indicator, ecosystem type) as the pages use it."""

    region_code: str
    region_name_zh: str
    indicator: str
    category: str
    ecosystem_type: str
    physical_quantity: Decimal | None
    physical_unit: str
    value_current: Decimal
    value_constant: Decimal
    method: str
    source: str


@dataclass(frozen=True)
class RunInfo:
    """A stored run's provenance as the pages show it."""

    id: int
    year: int
    profile_id: str
    dataset_path: str
    dataset_name: str
    input_hash: str
    profile_hash: str
    code_hash: str
    synthetic: bool
    outputs_dir: str | None
    created_by: str
    created_at: Any


@dataclass(frozen=True)
class YearResult:
    """A published year: its publication, its run and its rows."""

    publication: Publication
    run: RunInfo
    rows: tuple[Row, ...]


_rows_cache: dict[int, tuple[Row, ...]] = {}
_lock = threading.Lock()


def provenance(run: AccountingRun) -> dict[str, Any]:
    """The provenance stored with a run (canonical JSON), as a dict."""
    try:
        data = json.loads(run.provenance or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def run_info(run: AccountingRun) -> RunInfo:
    prov = provenance(run)
    return RunInfo(run.id, run.year, run.profile_id, run.dataset_path, run.dataset_name or "",
                   run.input_hash, run.profile_hash, run.code_hash,
                   str(prov.get("synthetic")).lower() in ("true", "1"),
                   prov.get("outputs_dir") or None, run.created_by, run.created_at)


def _row(r: Any) -> Row:
    return Row(**{f.name: getattr(r, f.name) for f in fields(Row)})


def current_publications(session: Session) -> list[Publication]:
    """The official (newest) publication of every year, newest year first."""
    newest: dict[int, Publication] = {}
    for p in runs.publications(session):
        newest[p.year] = p  # oldest first, so the last one of a year is its current version
    return [newest[y] for y in sorted(newest, reverse=True)]


def any_synthetic(session: Session) -> bool:
    """True when any official result was computed from synthetic data."""
    return any(run_info(runs.get_run(session, p.run_id)).synthetic
               for p in current_publications(session))


def _publication(session: Session, year: int, version: int | None) -> Publication:
    if version is None:
        pub = runs.current_publication(session, year)
    else:
        pub = next((p for p in runs.publications(session, year) if p.version == version), None)
    if pub is None:
        raise NotFound(f"no published result for {year}"
                       + (f" version {version}" if version is not None else ""))
    return pub


def year_result(session: Session, year: int, version: int | None = None) -> YearResult:
    """The official result of ``year`` (or one version of it), rows cached by run."""
    pub = _publication(session, year, version)
    with _lock:
        rows = _rows_cache.get(pub.run_id)
    if rows is None:
        _, all_rows = runs.published_results(session, year, None, None, pub.version)
        rows = tuple(_row(r) for r in all_rows)
        with _lock:
            _rows_cache[pub.run_id] = rows
    return YearResult(pub, run_info(runs.get_run(session, pub.run_id)), rows)


def latest_year(session: Session) -> int:
    """The newest published year; NotFound when nothing is published yet."""
    pubs = current_publications(session)
    if not pubs:
        raise NotFound("no result has been published yet; an administrator publishes a run "
                       "on the Runs page (or `make demo` loads the demo city)")
    return pubs[0].year


def run_rows(session: Session, user: Principal, run_id: int) -> tuple[Row, ...]:
    """Rows of any stored run the user may read (unpublished rows are scoped by the service)."""
    return tuple(_row(r) for r in runs.run_results(session, user, run_id))


@dataclass(frozen=True)
class Summary:
    """Sums of a set of rows (元, current prices unless named constant)."""

    total: Decimal
    total_constant: Decimal
    by_category: dict[str, Decimal]
    by_region: dict[str, Decimal]
    region_names: dict[str, str]
    by_indicator: dict[str, Decimal]
    by_ecosystem: dict[str, Decimal]
    physical: dict[str, tuple[Decimal, str]]  # indicator -> (quantity, unit)


_summaries: dict[tuple[int, str | None], Summary] = {}


def summary_of(yr: YearResult, district: str | None = None) -> Summary:
    """:func:`summarize` of a published year's rows, kept by run (its rows never change)."""
    key = (yr.run.id, district)
    with _lock:
        found = _summaries.get(key)
    if found is None:
        found = summarize(yr.rows, district)
        with _lock:
            _summaries[key] = found
    return found


def in_region(code: str, district: str | None) -> bool:
    return district is None or code == district or code.startswith(district)


def summarize(rows: Iterable[Row], district: str | None = None) -> Summary:
    """Totals of the rows of ``district`` (all rows when None)."""
    cat: dict[str, Decimal] = defaultdict(lambda: ZERO)
    reg: dict[str, Decimal] = defaultdict(lambda: ZERO)
    ind: dict[str, Decimal] = defaultdict(lambda: ZERO)
    eco: dict[str, Decimal] = defaultdict(lambda: ZERO)
    phys: dict[str, tuple[Decimal, str]] = {}
    names: dict[str, str] = {}
    total = constant = ZERO
    for r in rows:
        if not in_region(r.region_code, district):
            continue
        total += r.value_current
        constant += r.value_constant
        cat[r.category] += r.value_current
        reg[r.region_code] += r.value_current
        ind[r.indicator] += r.value_current
        eco[r.ecosystem_type] += r.value_current
        names[r.region_code] = r.region_name_zh
        q, u = phys.get(r.indicator, (Decimal(0), r.physical_unit))
        phys[r.indicator] = (q + (r.physical_quantity or Decimal(0)), u)
    return Summary(total, constant, dict(cat), dict(reg), names, dict(ind), dict(eco), phys)


@dataclass(frozen=True)
class Change:
    """The change of a region's GEP between two published years, split (decision 0005)."""

    year_from: int
    year_to: int
    value_from: Decimal
    value_to: Decimal
    change: Decimal
    change_constant: Decimal
    quantity_effect: Decimal
    price_effect: Decimal


def decompose(a: Summary, b: Summary, year_from: int, year_to: int) -> Change:
    """Quantity and price effect of ``b`` against ``a`` from the stored constant-price values."""
    change = b.total - a.total
    change_constant = b.total_constant - a.total_constant
    if a.total_constant:
        qe = (change_constant * a.total / a.total_constant).quantize(FEN, ROUND_HALF_EVEN)
    else:
        qe = change_constant
    return Change(year_from, year_to, a.total, b.total, change, change_constant, qe, change - qe)


def series(session: Session, district: str | None = None) -> list[tuple[YearResult, Summary]]:
    """Every published year (oldest first) with the summary of ``district``."""
    out = []
    for pub in sorted(current_publications(session), key=lambda p: p.year):
        yr = year_result(session, pub.year)
        out.append((yr, summary_of(yr, district)))
    return out


def changes(points: Sequence[tuple[YearResult, Summary]]) -> list[Change]:
    """The decomposed change between each pair of consecutive published years."""
    return [decompose(a[1], b[1], a[0].publication.year, b[0].publication.year)
            for a, b in zip(points, points[1:], strict=False)]
