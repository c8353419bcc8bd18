"""Store accounting runs, publish them as official results, read and compare publications.

``store_run`` is what the accounting pipeline calls with ``RunResult.table`` and its
provenance. Publications are immutable versions per year: a correction publishes a new
version that supersedes the previous one. Published results are public; unpublished run
rows are readable only within the reader's scope.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.accounting.result import TABLE_COLUMNS
from ecovalue.accounting.streaming import Progress, StreamedResult, run_account_streamed
from ecovalue.errors import InputError, Problem, ValidationFailed
from ecovalue.platform.audit.rules import canonical_json, jsonable
from ecovalue.platform.auth.rules import SYSTEM, Principal, Role, can_read_unpublished, require_role
from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.reporting.service import approved_reports
from ecovalue.platform.runs.datasets import DatasetRef, resolve_dataset, write_overlay
from ecovalue.platform.runs.tables import AccountingRun, Publication, RunResultRow

MONEY_COLUMNS = ("value_current", "value_constant")
ROW_KEY = ("region_code", "indicator", "ecosystem_type")


def _hash(provenance: Mapping[str, Any], name: str) -> str:
    hashes = provenance.get("hashes") or {}
    value = (
        provenance.get(f"{name}_hash")
        or hashes.get(name)
        or (hashes.get("dataset") if name == "input" else None)
    )
    if not value:
        raise InputError(
            f"provenance has no {name} hash; pass provenance['hashes']['{name}'"
            f"{'' if name != 'input' else ' or dataset'}] so the run can be recomputed"
        )
    return str(value)


def _table_problems(table: pd.DataFrame) -> list[Problem]:
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        return [
            Problem(
                "result table",
                f"columns {missing} are missing",
                "the columns of ecovalue.accounting.result.TABLE_COLUMNS",
                "pass RunResult.table unchanged",
            )
        ]
    problems = []
    for col in MONEY_COLUMNS:
        bad = [
            i for i, v in enumerate(table[col]) if not isinstance(v, Decimal) or not v.is_finite()
        ]
        if bad:
            problems.append(
                Problem(
                    f"column {col}",
                    f"rows {bad[:5]} are not finite Decimals",
                    "Decimal 元 (money is never float)",
                    "convert once with Decimal(str(x)).quantize(Decimal('0.01'))",
                )
            )
    if table["year"].nunique() > 1:
        problems.append(
            Problem(
                "column year",
                f"holds several years {sorted(table['year'].unique())}",
                "one accounting year per run",
                "store one run per year",
            )
        )
    return problems


def _physical(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    # repr gives the shortest text that round-trips the float: converted exactly once.
    return Decimal(repr(float(value))) if not isinstance(value, Decimal) else value


def store_run(
    session: Session,
    result_table: pd.DataFrame,
    provenance: Mapping[str, Any],
    actor: Principal = SYSTEM,
) -> AccountingRun:
    """Store a run's result table (columns TABLE_COLUMNS, money as Decimal) and provenance.

    ``provenance`` needs ``profile_id``, ``dataset_path`` (or ``dataset``) and the hashes,
    either as ``hashes={'dataset','profile','code'}`` (``RunResult.hashes``) or as
    ``input_hash``/``profile_hash``/``code_hash``; ``year`` defaults to the table's year.
    """
    require_role(actor, {Role.administrator, Role.analyst}, "store accounting runs")
    problems = _table_problems(result_table)
    if problems:
        raise ValidationFailed(problems)
    year = int(provenance.get("year") or result_table["year"].iloc[0])
    run = AccountingRun(
        dataset_path=str(provenance.get("dataset_path") or provenance.get("dataset") or ""),
        dataset_name=provenance.get("dataset_name"),
        year=year,
        profile_id=str(provenance.get("profile_id") or ""),
        status="completed",
        input_hash=_hash(provenance, "input"),
        profile_hash=_hash(provenance, "profile"),
        code_hash=_hash(provenance, "code"),
        provenance=canonical_json(jsonable(dict(provenance))),
        row_count=len(result_table),
        created_by=actor.username,
    )
    if not run.profile_id:
        raise InputError("provenance has no profile_id; pass the parameter profile's id")
    session.add(run)
    session.flush()
    session.add_all(
        RunResultRow(
            run_id=run.id,
            region_code=str(r["region_code"]),
            region_name_zh=str(r["region_name_zh"]),
            indicator=str(r["indicator"]),
            category=str(r["category"]),
            ecosystem_type=str(r["ecosystem_type"]),
            physical_quantity=_physical(r["physical_quantity"]),
            physical_unit=str(r["physical_unit"]),
            value_current=r["value_current"],
            value_constant=r["value_constant"],
            method=str(r["method"]),
            source=str(r["source"]),
        )
        for r in result_table.to_dict("records")
    )
    session.flush()
    return run


def approved_counts(session: Session, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The departments' approved statistics and reported quantities of ``year``."""
    return approved_reports(session, year, "statistics"), approved_reports(
        session, year, "reported"
    )


def overlay_with_approved(
    ref: DatasetRef, approved: tuple[pd.DataFrame, pd.DataFrame], work: Path
) -> tuple[Path, dict[str, int]]:
    """The folder to account: ``ref`` itself, or its overlay with the approved rows in ``work``."""
    stats, rep = approved
    counts = {"approved_statistics": len(stats), "approved_reported": len(rep)}
    if not len(stats) and not len(rep):
        return ref.folder, counts
    return write_overlay(ref, stats, rep, work / "dataset"), counts


def account_folder(
    folder: Path, profile: str, year: int, progress: Progress | None = None
) -> StreamedResult:
    """Account a dataset folder with the streamed engine (memory bounded by its blocks)."""
    return run_account_streamed(folder, profile, year, progress=progress)


def run_provenance(
    ref: DatasetRef, result: StreamedResult, counts: dict[str, int]
) -> dict[str, Any]:
    """What a stored run records about how it was made (its dataset, hashes, notes)."""
    return {
        "profile_id": result.profile_id, "dataset_path": str(ref.folder), "dataset": ref.name,
        "dataset_name": result.dataset_name, "year": result.year, "hashes": result.hashes,
        "synthetic": result.synthetic, **counts, "engine": "streamed", "notes": result.notes,
        "not_applicable": result.not_applicable,
    }  # fmt: skip


def start_run(
    session: Session, actor: Principal, dataset_path: str, year: int, profile: str = "cn-2022"
) -> AccountingRun:
    """Account a dataset folder plus the approved department reports, and store the run.

    Runs in the caller's transaction (the CLI and tests); the API queues a job instead
    (:mod:`ecovalue.platform.jobs`). Raises ValidationFailed (nothing stored) when the
    dataset or the merged reports are invalid.
    """
    require_role(actor, {Role.administrator, Role.analyst}, "start accounting runs")
    folder = Path(dataset_path).resolve()
    ref = resolve_dataset(folder.name, (folder.parent,))
    with tempfile.TemporaryDirectory(prefix="ecovalue-run-") as work:
        target, counts = overlay_with_approved(ref, approved_counts(session, year), Path(work))
        result = account_folder(target, profile, year)
    return store_run(session, result.table, run_provenance(ref, result, counts), actor)


def dataset_of_run(session: Session, run: AccountingRun) -> Any:
    """The :class:`~ecovalue.datasets.loader.Dataset` ``run`` accounted, loaded in memory.

    Its folder overlaid with the departments' approved reports of the run's year, exactly as
    :func:`start_run` accounted it; raises RuleViolation when it no longer hashes to the
    run's input hash (the folder or the approved reports changed since).
    """
    from ecovalue.accounting.pipeline import prepare  # the in-memory loader, for this only

    folder = Path(run.dataset_path)
    ref = resolve_dataset(folder.name, (folder.parent,))
    with tempfile.TemporaryDirectory(prefix="ecovalue-run-") as work:
        target, _ = overlay_with_approved(ref, approved_counts(session, run.year), Path(work))
        ds, _, _, _ = prepare(target, run.profile_id, run.year)
    if ds.content_hash != run.input_hash:
        raise RuleViolation([Problem(
            f"run {run.id}", f"the dataset at {run.dataset_path} with the approved reports "
            f"now hashes to {ds.content_hash[:12]}…, not the run's {run.input_hash[:12]}…",
            "the inputs the run accounted",
            "restore the run's dataset, or account and publish a new run")])  # fmt: skip
    return ds


def dataset_name(run: AccountingRun) -> str:
    """The run's dataset as a client names it: relative to its root, never a server path."""
    return str(json.loads(run.provenance).get("dataset") or Path(run.dataset_path).name)


def is_synthetic(run: AccountingRun) -> bool:
    """True when the run accounted a dataset labelled synthetic (a demo, not observations)."""
    return bool(json.loads(run.provenance).get("synthetic"))


def get_run(session: Session, run_id: int) -> AccountingRun:
    """The run ``run_id``; raises NotFound."""
    run = session.get(AccountingRun, run_id)
    if run is None:
        raise NotFound(f"no accounting run {run_id}")
    return run


def publish_run(session: Session, actor: Principal, run_id: int, reason: str) -> Publication:
    """Make a run the official result of its year (a new version; older ones are superseded)."""
    require_role(actor, {Role.administrator}, "publish results")
    run = get_run(session, run_id)
    if not reason.strip():
        raise RuleViolation(
            [
                Problem(
                    "reason",
                    "is empty",
                    "why this version is published",
                    "e.g. 'first release' or 'corrects forest area'",
                )
            ]
        )
    current = current_publication(session, run.year)
    if current is not None and current.run_id == run.id:
        raise RuleViolation(
            [
                Problem(
                    "run",
                    f"run {run.id} is already the official {run.year} "
                    f"result (version {current.version})",
                    "a different run",
                    "store a corrected run and publish that",
                )
            ]
        )
    pub = Publication(
        year=run.year,
        version=(current.version + 1) if current else 1,
        run_id=run.id,
        supersedes_id=current.id if current else None,
        reason=reason,
        published_by=actor.username,
    )
    session.add(pub)
    session.flush()
    return pub


def current_publication(session: Session, year: int) -> Publication | None:
    """The newest publication of ``year`` (the official result), or None."""
    return session.scalar(
        select(Publication)
        .where(Publication.year == year)
        .order_by(Publication.version.desc())
        .limit(1)
    )


def publications(session: Session, year: int | None = None) -> list[Publication]:
    """All publication versions, oldest first."""
    stmt = select(Publication).order_by(Publication.year, Publication.version)
    if year is not None:
        stmt = stmt.where(Publication.year == year)
    return list(session.scalars(stmt))


def _publication(session: Session, year: int, version: int | None) -> Publication:
    if version is None:
        pub = current_publication(session, year)
    else:
        pub = session.scalar(
            select(Publication).where(Publication.year == year, Publication.version == version)
        )
    if pub is None:
        raise NotFound(
            f"no published result for {year}" + (f" version {version}" if version else "")
        )
    return pub


def _rows(
    session: Session, run_id: int, district: str | None, indicator: str | None
) -> list[RunResultRow]:
    stmt = (
        select(RunResultRow)
        .where(RunResultRow.run_id == run_id)
        .order_by(RunResultRow.region_code, RunResultRow.indicator, RunResultRow.ecosystem_type)
    )
    if district:
        stmt = stmt.where(RunResultRow.region_code.startswith(district, autoescape=True))
    if indicator:
        stmt = stmt.where(RunResultRow.indicator == indicator)
    return list(session.scalars(stmt))


def published_results(
    session: Session,
    year: int,
    district: str | None = None,
    indicator: str | None = None,
    version: int | None = None,
) -> tuple[Publication, list[RunResultRow]]:
    """Rows of the official (or a given version's) result; public, no scope needed."""
    pub = _publication(session, year, version)
    return pub, _rows(session, pub.run_id, district, indicator)


def run_results(
    session: Session,
    actor: Principal,
    run_id: int,
    district: str | None = None,
    indicator: str | None = None,
) -> list[RunResultRow]:
    """Rows of a (possibly unpublished) run that the actor may read."""
    get_run(session, run_id)
    published = session.scalar(
        select(func.count()).select_from(Publication).where(Publication.run_id == run_id)
    )
    rows = _rows(session, run_id, district, indicator)
    if published:
        return rows
    return [r for r in rows if can_read_unpublished(actor, r.region_code)]


@dataclass(frozen=True)
class RowChange:
    """A difference between two published versions for one (region, indicator, type)."""

    region_code: str
    indicator: str
    ecosystem_type: str
    old_value: Decimal | None
    new_value: Decimal | None

    @property
    def change(self) -> Decimal:
        return (self.new_value or Decimal(0)) - (self.old_value or Decimal(0))


def diff_publications(session: Session, year: int, old: int, new: int) -> list[RowChange]:
    """Rows whose current-price value differs between versions ``old`` and ``new`` of ``year``."""

    def values(version: int) -> dict[tuple[str, str, str], Decimal]:
        pub = _publication(session, year, version)
        return {
            (r.region_code, r.indicator, r.ecosystem_type): r.value_current
            for r in _rows(session, pub.run_id, None, None)
        }

    a, b = values(old), values(new)
    return [
        RowChange(*k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)
    ]


def list_runs(session: Session, actor: Principal, year: int | None = None,
              limit: int = 100) -> list[AccountingRun]:
    """The newest stored runs (of ``year`` when given), for those who start and publish them."""
    require_role(actor, {Role.administrator, Role.analyst}, "list accounting runs")
    stmt = select(AccountingRun).order_by(AccountingRun.id.desc()).limit(limit)
    if year is not None:
        stmt = stmt.where(AccountingRun.year == year)
    return list(session.scalars(stmt))
