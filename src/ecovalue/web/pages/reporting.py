"""统计报表: reporters file statistics and reported quantities (units checked as they type),
reviewers approve or return them with a reason, and every version stays readable.

All of it goes through the reporting service (which scopes who may submit, read and
review); the live check of a row calls the same pure rule the service applies on submit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ecovalue.accounting.catalogue import ECOSYSTEM_TYPES, INDICATORS
from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.auth.rules import REVIEWER_ROLES, Role
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.reporting import service as reporting
from ecovalue.platform.reporting.rules import REPORT_MODES, STATISTICS_ITEMS, row_problems
from ecovalue.web.deps import Csrf, PageDep, PageUser, SessionDep
from ecovalue.web.forms import FormReader, problem_dicts
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)
ROW_FIELDS = ("table", "region_code", "item", "indicator", "ecosystem_type", "quantity", "unit",
              "mode", "source")
FORM_ROWS = 4  # empty rows the form starts with (a script adds more)
SUBMITTERS = frozenset({Role.administrator, Role.department_reporter})


def _rows_of(form: dict[str, Any]) -> list[dict[str, Any]]:
    """The filled rows of a submitted form (fields ``row-<n>-<field>``)."""
    numbers = sorted({int(k.split("-")[1]) for k in form if k.startswith("row-")
                      and k.split("-")[1].isdigit()})
    rows = []
    for i in numbers:
        row = {f: str(form.get(f"row-{i}-{f}") or "").strip() for f in ROW_FIELDS}
        if row["item"] or row["quantity"]:
            rows.append({k: (v or None) for k, v in row.items()})
    return rows


def _context(page: Page, session: SessionDep, year: int) -> dict[str, Any]:
    views = reporting.list_submissions(session, page.user, year)
    newest: dict[tuple[str, str], int] = {}
    for v in views:
        key = (v.submission.department, v.submission.district_code)
        newest[key] = max(newest.get(key, 0), v.submission.version)
    queue = [v for v in views if v.status == "submitted" and
             newest[(v.submission.department, v.submission.district_code)] == v.submission.version]
    return {"year": year, "views": views, "queue": queue,
            "can_submit": page.user.role in SUBMITTERS,
            "can_review": page.user.role in REVIEWER_ROLES,
            "items": sorted(STATISTICS_ITEMS), "indicators": list(INDICATORS),
            "ecosystems": [*ECOSYSTEM_TYPES, "all"], "modes": REPORT_MODES,
            "script": {"check_url": "/web/data/report-check"}}


@router.get("/reporting", response_class=HTMLResponse)
def reporting_page(page: PageDep, session: SessionDep, year: int | None = None) -> HTMLResponse:
    page.title_key = "reporting.title"
    if page.user.role == Role.public:
        raise PermissionDenied("sign in as a department reporter, district official or reviewer")
    year = year or dt.date.today().year - 1
    values = {"department": page.user.department or "", "district_code": page.user.district_code
              or "", "year": str(year)}
    return render(page, "reporting.html.j2", errors=[], values=values, rows=[],
                  form_rows=FORM_ROWS, notice=None, **_context(page, session, year))


@router.post("/reporting/submit", dependencies=[Csrf], response_model=None)
async def submit(request: Request, page: PageDep, session: SessionDep) -> Response:
    """A new version of a report; every bad row is shown at once, nothing stored then."""
    form = dict(await request.form())
    f = FormReader(form)
    department, district = f.text("department"), f.text("district_code")
    year, note = f.integer("year"), f.text("note", required=False, max_length=500)
    rows = _rows_of(form)
    problems: list[Problem] = list(f.problems)
    if not problems:
        assert department and district and year is not None
        try:
            with session.begin_nested():
                sub = reporting.submit_report(session, page.user, department, district, year,
                                              rows, note)
            return RedirectResponse(f"/reporting/{sub.id}?done=submitted", status_code=303)
        except (ValidationFailed, RuleViolation) as exc:
            problems = exc.problems
    page.title_key = "reporting.title"
    shown_year = year or dt.date.today().year - 1
    return render(page, "reporting.html.j2", 422, errors=problem_dicts(problems),
                  values={k: str(v) for k, v in form.items() if not k.startswith("row-")},
                  rows=rows, form_rows=max(FORM_ROWS, len(rows)), notice=None,
                  **_context(page, session, shown_year))


@router.get("/reporting/{submission_id}", response_class=HTMLResponse)
def submission_page(submission_id: int, page: PageDep, session: SessionDep,
                    done: str | None = None) -> HTMLResponse:
    page.title_key = "reporting.submission_title"
    view = reporting.get_submission(session, page.user, submission_id)
    s = view.submission
    versions = [v for v in reporting.list_submissions(session, page.user, s.year)
                if (v.submission.department, v.submission.district_code)
                == (s.department, s.district_code)]
    newest = max(v.submission.version for v in versions)
    notice = page.t(f"reporting.done_{done}") if done in ("submitted", "approved", "returned") \
        else None
    return render(page, "submission.html.j2", view=view, versions=versions, errors=[],
                  can_review=page.user.role in REVIEWER_ROLES and view.status == "submitted"
                  and s.version == newest, notice=notice)


@router.post("/reporting/{submission_id}/review", dependencies=[Csrf], response_model=None)
async def review(submission_id: int, request: Request, page: PageDep,
                 session: SessionDep) -> Response:
    """Approve, or return with a reason; the four-eyes and newest-version rules apply."""
    form = dict(await request.form())
    decision = str(form.get("decision") or "")
    reason = str(form.get("reason") or "").strip() or None
    try:
        with session.begin_nested():
            reporting.review_report(session, page.user, submission_id, decision, reason)
        return RedirectResponse(f"/reporting/{submission_id}?done={decision}", status_code=303)
    except RuleViolation as exc:
        problems = exc.problems
    page.title_key = "reporting.submission_title"
    view = reporting.get_submission(session, page.user, submission_id)
    versions = [v for v in reporting.list_submissions(session, page.user, view.submission.year)
                if v.submission.department == view.submission.department
                and v.submission.district_code == view.submission.district_code]
    return render(page, "submission.html.j2", 409, view=view, versions=versions,
                  errors=problem_dicts(problems), can_review=True, notice=None)


@router.post("/web/data/report-check", dependencies=[Csrf])
async def check_row(request: Request, user: PageUser) -> JSONResponse:
    """The problems of one row as the reporting rules see them (the live check as one types)."""
    body = await request.json()
    row = body.get("row") if isinstance(body, dict) else None
    district = str(body.get("district_code") or user.district_code or "") \
        if isinstance(body, dict) else ""
    if not isinstance(row, dict):
        return JSONResponse({"problems": [Problem("row", "is missing", "a JSON object",
                                                  "send {row: {...}}").__dict__]}, 422)
    index = int(body.get("index") or 0)
    clean = {k: (str(v).strip() or None) if v is not None else None for k, v in row.items()
             if k in ROW_FIELDS}
    return JSONResponse({"problems": problem_dicts(row_problems(index, clean, district))})
