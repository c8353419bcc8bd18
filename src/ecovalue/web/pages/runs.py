"""核算任务: analysts and administrators start accounting runs, compare a run with the
published result of its year, and publish it with a reason (administrators).

The comparison sums each district of both runs from the rows the runs service returns;
publishing goes through ``runs.service.publish_run`` (its rules — a reason, not the run
already official — are shown next to the form).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.runs import service as runs
from ecovalue.web import numbers, results
from ecovalue.web.deps import Csrf, PageDep, SessionDep
from ecovalue.web.forms import FormReader, problem_dicts
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)


def _overview(page: Page, session: SessionDep) -> dict[str, Any]:
    stored = runs.list_runs(session, page.user)
    published = {p.run_id: p for p in runs.publications(session)}
    return {"runs": [(results.run_info(r), published.get(r.id)) for r in stored],
            "can_publish": page.user.role == Role.administrator}


@router.get("/runs", response_class=HTMLResponse)
def runs_page(page: PageDep, session: SessionDep) -> HTMLResponse:
    page.title_key = "runs.title"
    return render(page, "runs.html.j2", errors=[], values={}, **_overview(page, session))


@router.post("/runs/start", dependencies=[Csrf], response_model=None)
async def start(request: Request, page: PageDep, session: SessionDep) -> Response:
    """Account a dataset folder with the approved reports and store the run."""
    form = dict(await request.form())
    f = FormReader(form)
    path, year = f.text("dataset_path", max_length=1000), f.integer("year")
    profile = f.text("profile", required=False) or "cn-2022"
    problems: list[Problem] = list(f.problems)
    if not problems:
        assert path and year is not None
        try:
            with session.begin_nested():
                run = runs.start_run(session, page.user, path, year, profile)
            return RedirectResponse(f"/runs/{run.id}", status_code=303)
        except (ValidationFailed, RuleViolation) as exc:
            problems = exc.problems
    page.title_key = "runs.title"
    return render(page, "runs.html.j2", 422, errors=problem_dicts(problems),
                  values={k: str(v) for k, v in form.items()}, **_overview(page, session))


def _comparison(session: SessionDep, page: Page, run_id: int) -> dict[str, Any]:
    info = results.run_info(runs.get_run(session, run_id))
    rows = results.run_rows(session, page.user, run_id)
    current = runs.current_publication(session, info.year)
    official = results.year_result(session, info.year) if current else None
    codes = sorted({r.region_code for r in rows} | {r.region_code for r in (official.rows if official else ())})
    table: list[dict[str, Any]] = []
    for code in codes:
        mine = results.summarize(rows, code)
        theirs = results.summarize(official.rows, code) if official else None
        name = mine.region_names.get(code) or (theirs.region_names.get(code) if theirs else code)
        table.append({"code": code, "name": name, "run": mine.total,
                      "published": theirs.total if theirs else None,
                      "change": mine.total - theirs.total if theirs else None})
    total = results.summarize(rows)
    scale = numbers.money_scale([total.total, *(results.summarize(rows, c).total for c in codes)])
    return {"info": info, "table": table, "total": total, "official": official,
            "official_total": results.summarize(official.rows).total if official else None,
            "is_official": bool(current and current.run_id == run_id), "scale": scale,
            "can_publish": page.user.role == Role.administrator, "rows": len(rows)}


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: int, page: PageDep, session: SessionDep,
             done: str | None = None) -> HTMLResponse:
    page.title_key = "runs.run_title"
    notice = page.t("runs.published") if done == "published" else None
    return render(page, "run.html.j2", errors=[], notice=notice,
                  **_comparison(session, page, run_id))


@router.post("/runs/{run_id}/publish", dependencies=[Csrf], response_model=None)
async def publish(run_id: int, request: Request, page: PageDep, session: SessionDep) -> Response:
    form = dict(await request.form())
    try:
        with session.begin_nested():
            runs.publish_run(session, page.user, run_id, str(form.get("reason") or ""))
        return RedirectResponse(f"/runs/{run_id}?done=published", status_code=303)
    except RuleViolation as exc:
        problems = exc.problems
    page.title_key = "runs.run_title"
    return render(page, "run.html.j2", 409, errors=problem_dicts(problems), notice=None,
                  **_comparison(session, page, run_id))
