"""地块级核算: draw a plot on the map or upload it, get its GEP by indicator with its land-cover
make-up, then a scenario's before/after, gain/loss map and the approver's summary.

The page accounts the dataset of the year's published run (the plot and scenario jobs of
:mod:`ecovalue.platform.runs.jobs`, submitted by ``runs.routes.submit_plot_job`` with the
same checks as ``POST /api/plots`` and ``/api/scenarios``); its script follows the job by
its server-sent events (:mod:`ecovalue.web.jobs`) and shows the fragment this module renders
from the job's result. A bad plot is refused before a job is queued, with the engine's
message (``accounting.plot.check_plot_geometry``), which the script shows beside the map.
Uploads (GeoJSON, a zipped Shapefile, a GeoPackage) are read by the engine's own reader
(``accounting.plot.read_plot_file``) and sent back in longitude/latitude for the map.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import shapely
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import UploadFile  # Request.form() holds these

from ecovalue.accounting.plot import check_plot_geometry, read_plot_file, to_grid_crs
from ecovalue.datasets.tables import load_landcover_table
from ecovalue.errors import DataFileError, EcovalueError, InputError, Problem
from ecovalue.platform.deps import SettingsDep
from ecovalue.platform.errors import NotFound
from ecovalue.platform.jobs import service as jobs
from ecovalue.platform.jobs.service import SUBMITTERS, JobKind
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.datasets import DatasetRef, resolve_dataset
from ecovalue.platform.runs.routes import PlotCreate, ScenarioCreate, submit_plot_job
from ecovalue.web import numbers, results
from ecovalue.web.deps import Csrf, PageDep, SessionDep
from ecovalue.web.geography import LONLAT, geography
from ecovalue.web.jobs import job_json
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)
PLOTS, SCENARIOS = "/web/data/plots", "/web/data/scenarios"
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _dataset(session: SessionDep, settings: SettingsDep, run_id: int) -> tuple[str, DatasetRef | None,
                                                                              list[Problem]]:  # fmt: skip
    """The published run's dataset (as runs name it) and whether this server holds it."""
    name = runs.dataset_name(runs.get_run(session, run_id))
    try:
        return name, resolve_dataset(name, settings.roots), []
    except NotFound as exc:
        return name, None, [Problem("dataset", str(exc), "the published run's dataset folder "
                                    "under the dataset roots", "ask the administrator to put "
                                    "it under ECOVALUE_DATASET_ROOTS")]  # fmt: skip
    except EcovalueError as exc:
        return name, None, list(getattr(exc, "problems", [])) or [
            Problem("dataset", str(exc), "a readable dataset", "ask the administrator")]


def _classes(ref: DatasetRef | None, page: Page) -> list[dict[str, Any]]:
    if ref is None:
        return []
    table = load_landcover_table(ref.folder, ref.manifest, [])
    if table is None:
        return []
    return [{"code": int(r["code"]), "label": f"{int(r['code'])} {page.t.region(str(r['name_zh']), r.get('name_en'))}"}
            for _, r in table.iterrows()]  # fmt: skip


@router.get("/plot", response_class=HTMLResponse)
def plot_page(page: PageDep, session: SessionDep, settings: SettingsDep,
              year: int | None = None) -> HTMLResponse:  # fmt: skip
    """The plot page on the dataset of ``year``'s published run (default: the newest)."""
    page.title_key = "plot.title"
    pubs = results.current_publications(session)
    if not pubs:
        return render(page, "empty.html.j2", message_key="home.nothing_published")
    year = year if year in [p.year for p in pubs] else pubs[0].year
    yr = results.year_result(session, year)
    name, ref, problems = _dataset(session, settings, yr.run.id)
    may = page.user.role in SUBMITTERS[JobKind.plot]
    classes = _classes(ref, page)
    script = {
        "year": year, "dataset": name, "profile": yr.run.profile_id, "crs": LONLAT,
        "bounds": geography(yr.run.dataset_path).bounds(), "can_assess": may and ref is not None,
        "districts_url": f"/web/data/districts.geojson?year={year}&lang={page.lang}",
        "plot_url": PLOTS, "scenario_url": SCENARIOS, "file_url": "/web/data/plot-file",
        "classes": classes,
    }  # fmt: skip
    return render(page, "plot.html.j2", yr=yr, years=[p.year for p in pubs], may=may,
                  dataset_problems=[p.__dict__ for p in problems], classes=classes,
                  script=script)


@router.post(PLOTS, dependencies=[Csrf], status_code=202)
def submit_plot(body: PlotCreate, page: PageDep, session: SessionDep,
                settings: SettingsDep) -> JSONResponse:  # fmt: skip
    """Queue the plot's GEP (refused at once, with the engine's message, when the plot is bad)."""
    job = submit_plot_job(body, JobKind.plot, session, page.user, settings)
    return JSONResponse(job_json(job), status_code=202)


@router.post(SCENARIOS, dependencies=[Csrf], status_code=202)
def submit_scenario(body: ScenarioCreate, page: PageDep, session: SessionDep,
                    settings: SettingsDep) -> JSONResponse:  # fmt: skip
    """Queue the scenario's before/after of the plot."""
    job = submit_plot_job(body, JobKind.scenario, session, page.user, settings)
    return JSONResponse(job_json(job), status_code=202)


def _result(session: SessionDep, page: Page, job_id: int, kind: JobKind) -> tuple[Any, dict[str, Any]]:
    job = jobs.get_job(session, page.user, job_id)
    if job.kind != kind.value or job.status != "succeeded" or not job.result:
        raise NotFound(f"job {job_id} is not a finished {kind.value} job")
    return job, json.loads(job.result)


@router.get(PLOTS + "/{job_id}", response_class=HTMLResponse)
def plot_result(job_id: int, page: PageDep, session: SessionDep) -> HTMLResponse:
    """The plot's GEP by indicator and category, its land-cover make-up and the notes."""
    _job, res = _result(session, page, job_id, JobKind.plot)
    rows = [{**r, "value": Decimal(r["value_current"])} for r in res["indicators"]]
    total = Decimal(res["gep_current"])
    scale = numbers.money_scale([total, *(r["value"] for r in rows)])
    cats = {k: Decimal(v) for k, v in res["by_category"].items()}
    return render(page, "plot_result.html.j2", res=res, rows=rows, total=total, scale=scale,
                  categories=cats, job_id=job_id)


@router.get(SCENARIOS + "/{job_id}", response_class=HTMLResponse)
def scenario_result(job_id: int, page: PageDep, session: SessionDep) -> HTMLResponse:
    """Before/after of the scenario, losses first, with its gain/loss map and summary."""
    _job, res = _result(session, page, job_id, JobKind.scenario)
    money = ("baseline_value", "scenario_value", "delta_value_in_plot", "delta_value_outside",
             "delta_value_total")  # fmt: skip
    rows = [{**r, **{k: Decimal(str(r[k])) for k in money}} for r in res["indicators"]]
    totals = {k: Decimal(v) for k, v in res["totals"].items()}
    scale = numbers.money_scale([*totals.values(), *(r["baseline_value"] for r in rows)])
    return render(page, "scenario_result.html.j2", res=res, rows=rows, totals=totals,
                  scale=scale, job_id=job_id, files=set(res.get("files", [])))


def _saved_upload(upload: UploadFile, data: bytes, folder: Path) -> Path:
    """The uploaded file in ``folder``; a zipped Shapefile is unpacked (its .shp returned)."""
    name = PurePosixPath(upload.filename or "plot").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InputError(f"'{name}' is not a plot file this page reads; upload GeoJSON "
                         "(.geojson), a zipped Shapefile (.zip with .shp, .shx, .dbf, .prj) "
                         "or a GeoPackage (.gpkg)")  # fmt: skip
    path = folder / f"plot{suffix}"
    path.write_bytes(data)
    if suffix != ".zip":
        return path
    try:
        with zipfile.ZipFile(path) as z:
            parts = [m for m in z.infolist() if not m.is_dir()
                     and PurePosixPath(m.filename).suffix.lower() in SHAPEFILE_PARTS]  # fmt: skip
            shps = [m for m in parts if m.filename.lower().endswith(".shp")]
            if len(shps) != 1:
                raise InputError(f"'{name}' holds {len(shps)} Shapefiles (.shp); zip exactly "
                                 "one with its .shx, .dbf and .prj")  # fmt: skip
            stem = PurePosixPath(shps[0].filename).stem
            for m in parts:
                if PurePosixPath(m.filename).stem == stem:  # no path from the archive is used
                    target = folder / ("shape" + PurePosixPath(m.filename).suffix.lower())
                    target.write_bytes(z.read(m))
    except zipfile.BadZipFile as exc:
        raise DataFileError(f"'{name}' is not a readable zip file ({exc})") from exc
    return folder / "shape.shp"


@router.post("/web/data/plot-file", dependencies=[Csrf])
async def plot_file(request: Request, page: PageDep) -> JSONResponse:
    """An uploaded plot in longitude/latitude for the map, or the reader's message (422)."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InputError("no file in the upload; choose a GeoJSON, zipped Shapefile or "
                         "GeoPackage file")  # fmt: skip
    data = await upload.read()
    with tempfile.TemporaryDirectory(prefix="ecovalue-upload-") as tmp:
        path = _saved_upload(upload, data, Path(tmp))
        geom, crs = read_plot_file(path)
    if not crs:
        raise InputError(f"'{upload.filename}' does not say its coordinate reference system "
                         "(a Shapefile needs its .prj); add it and upload again")  # fmt: skip
    lonlat = to_grid_crs(check_plot_geometry(geom), crs, LONLAT)
    w, s, e, n = lonlat.bounds
    return JSONResponse({"geometry": shapely.geometry.mapping(lonlat), "crs": crs,
                         "bounds": [[w, s], [e, n]]})  # fmt: skip
