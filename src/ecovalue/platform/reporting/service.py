"""Department reporting workflow: submit (new version each time), review, export approved data.

Reporters submit for their own department and district only; administrators and analysts
review (never their own submission). Only approved versions reach accounting runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.auth.rules import REVIEWER_ROLES, Principal, Role, in_district, require_role
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.reporting.rules import REPORTED_COLUMNS, STATISTICS_COLUMNS, validate_rows
from ecovalue.platform.reporting.tables import ReportReview, ReportRow, ReportSubmission

DECISIONS = ("approved", "returned")


@dataclass(frozen=True)
class SubmissionView:
    """A submission with its derived status."""

    submission: ReportSubmission
    status: str  # submitted | approved | returned
    reason: str | None
    rows: list[ReportRow]


def _require_submit(actor: Principal, department: str, district_code: str) -> None:
    if actor.role == Role.administrator:
        return
    if (
        actor.role == Role.department_reporter
        and actor.department == department
        and actor.district_code
        and in_district(district_code, actor.district_code)
    ):
        return
    raise PermissionDenied(
        f"user '{actor.username}' may not submit reports of department "
        f"'{department}' for district {district_code}"
    )


def _may_read(actor: Principal, sub: ReportSubmission) -> bool:
    if actor.role in REVIEWER_ROLES:
        return True
    if actor.role == Role.department_reporter:
        return actor.department == sub.department and actor.district_code == sub.district_code
    if actor.role == Role.district_official and actor.district_code:
        return in_district(sub.district_code, actor.district_code)
    return False


def submit_report(
    session: Session,
    actor: Principal,
    department: str,
    district_code: str,
    year: int,
    rows: Sequence[Mapping[str, Any]],
    note: str | None = None,
) -> ReportSubmission:
    """Store a new version of a report; raises ValidationFailed listing every bad row."""
    _require_submit(actor, department, district_code)
    problems = validate_rows(rows, district_code)
    if problems:
        raise ValidationFailed(problems)
    last = session.scalar(
        select(func.max(ReportSubmission.version)).where(
            ReportSubmission.department == department,
            ReportSubmission.district_code == district_code,
            ReportSubmission.year == year,
        )
    )
    sub = ReportSubmission(
        department=department,
        district_code=district_code,
        year=year,
        version=(last or 0) + 1,
        note=note,
        submitted_by=actor.username,
    )
    session.add(sub)
    session.flush()
    for r in rows:
        session.add(
            ReportRow(
                submission_id=sub.id,
                table=r["table"],
                region_code=str(r["region_code"]),
                item=str(r["item"]),
                indicator=r.get("indicator"),
                ecosystem_type=r.get("ecosystem_type"),
                quantity=Decimal(str(r["quantity"])),
                unit=str(r["unit"]),
                mode=r.get("mode"),
                source=str(r.get("source") or f"reported:{department}"),
            )
        )
    session.flush()
    return sub


def _view(session: Session, sub: ReportSubmission) -> SubmissionView:
    review = session.scalar(select(ReportReview).where(ReportReview.submission_id == sub.id))
    rows = list(
        session.scalars(
            select(ReportRow).where(ReportRow.submission_id == sub.id).order_by(ReportRow.id)
        )
    )
    status = review.decision if review else "submitted"
    return SubmissionView(sub, status, review.reason if review else None, rows)


def get_submission(session: Session, actor: Principal, submission_id: int) -> SubmissionView:
    """One submission with status and rows, if the actor may read it."""
    sub = session.get(ReportSubmission, submission_id)
    if sub is None:
        raise NotFound(f"no report submission {submission_id}")
    if not _may_read(actor, sub):
        raise PermissionDenied(f"user '{actor.username}' may not read report {submission_id}")
    return _view(session, sub)


def list_submissions(session: Session, actor: Principal, year: int) -> list[SubmissionView]:
    """Every version of every report of ``year`` the actor may read."""
    stmt = (
        select(ReportSubmission)
        .where(ReportSubmission.year == year)
        .order_by(
            ReportSubmission.department, ReportSubmission.district_code, ReportSubmission.version
        )
    )
    return [_view(session, s) for s in session.scalars(stmt) if _may_read(actor, s)]


def review_report(
    session: Session, actor: Principal, submission_id: int, decision: str, reason: str | None = None
) -> ReportReview:
    """Approve, or return with a reason, the newest version of a report."""
    require_role(actor, REVIEWER_ROLES, "review reports")
    sub = session.scalar(
        select(ReportSubmission).where(ReportSubmission.id == submission_id).with_for_update()
    )
    if sub is None:
        raise NotFound(f"no report submission {submission_id}")
    problems = []
    if decision not in DECISIONS:
        problems.append(
            Problem("decision", f"'{decision}' is unknown", "approved or returned", "choose one")
        )
    if decision == "returned" and not (reason or "").strip():
        problems.append(
            Problem(
                "reason",
                "is empty",
                "why the report is returned",
                "tell the reporter what to correct",
            )
        )
    if sub.submitted_by == actor.username:
        problems.append(
            Problem(
                "reviewer",
                "reviews their own submission",
                "a second person",
                "ask another reviewer (four-eyes rule)",
            )
        )
    if session.scalar(select(ReportReview.id).where(ReportReview.submission_id == sub.id)):
        problems.append(
            Problem(
                "submission",
                f"version {sub.version} was already reviewed",
                "an unreviewed submission",
                "submit a new version instead",
            )
        )
    newest = session.scalar(
        select(func.max(ReportSubmission.version)).where(
            ReportSubmission.department == sub.department,
            ReportSubmission.district_code == sub.district_code,
            ReportSubmission.year == sub.year,
        )
    )
    if newest != sub.version:
        problems.append(
            Problem(
                "submission",
                f"version {sub.version} is outdated by version {newest}",
                "the newest version",
                "review the newest version",
            )
        )
    if problems:
        raise RuleViolation(problems)
    review = ReportReview(
        submission_id=sub.id, decision=decision, reason=reason, reviewed_by=actor.username
    )
    session.add(review)
    session.flush()
    return review


def _approved_rows(session: Session, year: int) -> list[tuple[ReportSubmission, ReportRow]]:
    approved = (
        select(ReportSubmission)
        .join(ReportReview, ReportReview.submission_id == ReportSubmission.id)
        .where(ReportSubmission.year == year, ReportReview.decision == "approved")
    )
    latest: dict[tuple[str, str], ReportSubmission] = {}
    for sub in session.scalars(approved):
        key = (sub.department, sub.district_code)
        if key not in latest or latest[key].version < sub.version:
            latest[key] = sub
    out = []
    for sub in sorted(latest.values(), key=lambda s: (s.district_code, s.department)):
        rows = session.scalars(
            select(ReportRow).where(ReportRow.submission_id == sub.id).order_by(ReportRow.id)
        )
        out += [(sub, r) for r in rows]
    return out


def approved_reports(session: Session, year: int, table: str = "reported") -> pd.DataFrame:
    """Approved numbers of ``year`` as the ``reported.csv`` or ``statistics.csv`` table.

    For each department and district the newest approved version counts. ``quantity``
    holds :class:`~decimal.Decimal` values exactly as reported.
    """
    pairs = [(s, r) for s, r in _approved_rows(session, year) if r.table == table]
    if table == "reported":
        records = [
            dict(
                region_code=r.region_code,
                year=year,
                indicator=r.item,
                ecosystem_type=r.ecosystem_type,
                quantity=r.quantity,
                unit=r.unit,
                department=s.department,
                mode=r.mode,
                source=r.source,
            )
            for s, r in pairs
        ]
        return pd.DataFrame(records, columns=list(REPORTED_COLUMNS))
    if table == "statistics":
        records = [
            dict(
                region_code=r.region_code,
                year=year,
                item=r.item,
                indicator=r.indicator,
                quantity=r.quantity,
                unit=r.unit,
                source=r.source,
            )
            for s, r in pairs
        ]
        return pd.DataFrame(records, columns=list(STATISTICS_COLUMNS))
    raise ValueError(f"table '{table}' is unknown; expected 'reported' or 'statistics'")
