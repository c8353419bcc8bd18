"""核算任务: analysts and administrators start accounting runs as background jobs and follow
them with a live progress bar, compare a run with the published result of its year, and
publish it with a reason (administrators).

A run is the jobs API's account job (``runs.routes.submit_account_job``, the same checks as
``POST /api/runs``: a dataset under the installation's dataset roots); its page follows the
job's server-sent events (:mod:`ecovalue.web.jobs`). The comparison sums each district of
both runs from the rows the runs service returns; publishing goes through
``runs.service.publish_run`` (its rules — a reason, not the run already official — are
shown next to the form).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.auth.rules import Role, require_role
from ecovalue.platform.deps import SettingsDep
from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.jobs import service as jobs
from ecovalue.platform.jobs.service import SUBMITTERS, JobKind
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.datasets import list_datasets
from ecovalue.platform.runs.routes import RunCreate, submit_account_job
from ecovalue.web import numbers, results
from ecovalue.web.deps import Csrf, PageDep, SessionDep
from ecovalue.web.forms import FormReader, problem_dicts, pydantic_problems
from ecovalue.web.jobs import job_json
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)
RECENT_JOBS = 10


def _overview(page: Page, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    require_role(page.user, set(SUBMITTERS[JobKind.account]), "see and start accounting runs")
    stored = runs.list_runs(session, page.user)
    published = {p.run_id: p for p in runs.publications(session)}
    recent = [(j, json.loads(j.params)) for j in
              jobs.list_jobs(session, page.user, JobKind.account, RECENT_JOBS)]  # fmt: skip
    return {"runs": [(results.run_info(r), published.get(r.id)) for r in stored],
            "datasets": list_datasets(settings.roots), "jobs": recent,
            "can_publish": page.user.role == Role.administrator}


@router.get("/runs", response_class=HTMLResponse)
def runs_page(page: PageDep, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    page.title_key = "runs.title"
    return render(page, "runs.html.j2", errors=[], values={},
                  **_overview(page, session, settings))


@router.post("/runs/start", dependencies=[Csrf], response_model=None)
async def start(request: Request, page: PageDep, session: SessionDep,
                settings: SettingsDep) -> Response:  # fmt: skip
    """Queue the account of a dataset (with the year's approved reports) as a job."""
    form = dict(await request.form())
    f = FormReader(form)
    dataset, year = f.text("dataset", max_length=200), f.integer("year")
    profile = f.text("profile", required=False) or "cn-2022"
    problems: list[Problem] = list(f.problems)
    if not problems and dataset is not None and year is not None:  # both required: a problem
        try:
            body = RunCreate(dataset=dataset, year=year, profile=profile)
            with session.begin_nested():
                job = submit_account_job(body, session, page.user, settings)
            return RedirectResponse(f"/runs/jobs/{job.id}", status_code=303)
        except ValidationError as exc:
            problems = pydantic_problems(exc)
        except NotFound as exc:
            problems = [Problem("dataset", str(exc), page.t("runs.dataset_expected"),
                                page.t("runs.dataset_fix"))]
        except (ValidationFailed, RuleViolation) as exc:
            problems = exc.problems
    page.title_key = "runs.title"
    return render(page, "runs.html.j2", 422, errors=problem_dicts(problems),
                  values={k: str(v) for k, v in form.items()},
                  **_overview(page, session, settings))


@router.get("/runs/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: int, page: PageDep, session: SessionDep) -> HTMLResponse:
    """A run job: its live progress, then the run it stored (compare and publish)."""
    job = jobs.get_job(session, page.user, job_id)
    if job.kind != JobKind.account.value:
        raise NotFound(f"job {job_id} is a {job.kind} job, not an accounting run")
    page.title_key = "runs.job_title"
    data = job_json(job)
    return render(page, "run_job.html.j2", job=data, params=json.loads(job.params),
                  script={"job": data})


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
    notice = {"published": page.t("runs.published"),
              "finished": page.t("runs.finished")}.get(done or "")
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
