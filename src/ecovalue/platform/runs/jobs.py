"""What the worker does for each kind of job: account a dataset, a plot's GEP, a scenario.

Each step that touches the database is its own short transaction (the approved reports are
read, then the engine runs with no transaction open, then the result is stored), so a run
of minutes never holds SQLite's write lock and other requests are not kept waiting.

* account — the streamed engine (:func:`ecovalue.accounting.streaming.run_account_streamed`:
  memory bounded by its blocks) on the dataset, or on its overlay with the departments'
  approved numbers; the run is stored and the job's result names it.
* plot and scenario — the in-memory engine, because a plot's GEP is a sum of per-pixel
  layers held in memory (:class:`ecovalue.accounting.plot.PlotEngine`) and a scenario
  reruns the account on a changed copy of the dataset
  (:func:`ecovalue.accounting.scenarios.run_scenario`). The plot is reprojected to the
  dataset's CRS by the rule of :mod:`ecovalue.platform.geojson`. A plot reuses the engine
  of an account of the same files, approved rows, profile and year when one is kept
  (:mod:`ecovalue.platform.runs.plot_engines`), and reports the plot's land-cover make-up
  (exact partial-pixel areas of each class, :func:`ecovalue.raster.classes.class_areas_m2`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from ecovalue.accounting.pipeline import prepare, run_account
from ecovalue.accounting.plot import PlotEngine, check_plot_geometry, plot_gep
from ecovalue.accounting.scenarios import run_scenario, scenario_from_dict
from ecovalue.config import Settings
from ecovalue.datasets.tables import load_landcover_table
from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.auth.service import get_user, principal_of
from ecovalue.platform.errors import PermissionDenied
from ecovalue.platform.geojson import GeometryAdapter, in_target_crs
from ecovalue.platform.jobs.service import Claimed, Heartbeat, JobKind
from ecovalue.platform.runs import service
from ecovalue.platform.runs.datasets import DatasetRef, resolve_dataset
from ecovalue.platform.runs.plot_engines import PlotEngines, engine_key
from ecovalue.raster.classes import class_areas_m2
from ecovalue.reports.scenario import write_scenario_outputs


@dataclass(frozen=True)
class JobContext:
    """What an executor gets: the job, the database, the settings, its folder and heartbeat."""

    job: Claimed
    factory: sessionmaker[EcoSession]
    settings: Settings
    heartbeat: Heartbeat
    folder: Path  # the job's own output folder
    engines: PlotEngines = field(default_factory=PlotEngines)  # the worker's plot engines

    @property
    def actor(self) -> str:
        return f"job:{self.job.id}:{self.job.created_by}"


@dataclass(frozen=True)
class Outcome:
    """What a finished job reports: its result (JSON-ready) and the run it stored, if any."""

    result: dict[str, Any]
    run_id: int | None = None


def _principal(ctx: JobContext) -> Principal:
    with unit_of_work(ctx.factory, ctx.actor) as session:
        user = get_user(session, ctx.job.created_by)
        if not user.active:
            raise PermissionDenied(f"the job's user '{user.username}' is disabled")
        return principal_of(user)


def _prepared(ctx: JobContext, work: Path) -> tuple[DatasetRef, Path, dict[str, int]]:
    """The dataset, the folder to account (it, or its overlay) and the approved counts."""
    p = ctx.job.params
    ref = resolve_dataset(p["dataset"], ctx.settings.roots)
    with unit_of_work(ctx.factory, ctx.actor) as session:
        approved = service.approved_counts(session, int(p["year"]))
    folder, counts = service.overlay_with_approved(ref, approved, work)
    return ref, folder, counts


def account(ctx: JobContext) -> Outcome:
    """Account the dataset with the approved reports and store the run."""
    principal = _principal(ctx)
    p = ctx.job.params
    with tempfile.TemporaryDirectory(prefix="ecovalue-job-") as tmp:
        ref, folder, counts = _prepared(ctx, Path(tmp))
        result = service.account_folder(
            folder, p["profile"], int(p["year"]), ctx.heartbeat.progress
        )
    ctx.heartbeat.check()
    with unit_of_work(ctx.factory, principal.username) as session:
        run = service.store_run(session, result.table, service.run_provenance(ref, result, counts),
                                principal)  # fmt: skip
        run_id = run.id
    return Outcome(
        {"run_id": run_id, "rows": len(result.table), "synthetic": result.synthetic,
         "notes": result.notes, "not_applicable": result.not_applicable, **counts},
        run_id,
    )  # fmt: skip


def _in_memory_run(ctx: JobContext, folder: Path) -> Any:
    p = ctx.job.params
    ds, prof, year, _warnings = prepare(folder, p["profile"], int(p["year"]))
    return ds, prof, year, run_account(ds, prof, year, progress=ctx.heartbeat.progress)


def _plot_geometry(ctx: JobContext, crs: str) -> Any:
    p = ctx.job.params
    geom = GeometryAdapter.validate_python(p["geometry"])
    return check_plot_geometry(in_target_crs(geom, p.get("crs"), crs, "plot"))


def plot(ctx: JobContext) -> Outcome:
    """The GEP of the posted plot by indicator, with its land-cover make-up and the notes."""
    _principal(ctx)
    p = ctx.job.params
    ref = resolve_dataset(p["dataset"], ctx.settings.roots)
    with unit_of_work(ctx.factory, ctx.actor) as session:
        approved = service.approved_counts(session, int(p["year"]))
    key = engine_key(ref, approved, p["profile"], int(p["year"]))

    def build() -> PlotEngine:
        with tempfile.TemporaryDirectory(prefix="ecovalue-job-") as tmp:
            folder, _counts = service.overlay_with_approved(ref, approved, Path(tmp))
            _ds, _prof, _year, run = _in_memory_run(ctx, folder)
        return PlotEngine.from_run(run)

    engine, origin = ctx.engines.get(key, build)
    ctx.heartbeat.progress("plot · 地块", 0, 1)
    geom = _plot_geometry(ctx, engine.grid.crs)
    res = plot_gep(engine, geom)
    counts = {"approved_statistics": len(approved[0]), "approved_reported": len(approved[1])}
    return Outcome({**res.to_json(), **counts, "engine": origin,
                    "landcover": landcover_makeup(ref, geom)})


def landcover_makeup(ref: DatasetRef, geom: Any) -> list[dict[str, Any]]:
    """Area of each land-cover class under the plot (km², largest first), with its names."""
    problems: list[Any] = []
    table = load_landcover_table(ref.folder, ref.manifest, problems)
    names = {} if table is None else {
        int(r["code"]): (str(r["name_zh"]), str(r.get("name_en") or ""), str(r["ecosystem_type"]))
        for _, r in table.iterrows()}  # fmt: skip
    path = ref.folder / ref.manifest.rasters["landcover"].path
    areas = class_areas_m2(path, geom)
    total = sum(areas.values()) or 1.0
    rows = [{"code": code, "name_zh": names.get(code, ("", "", ""))[0],
             "name_en": names.get(code, ("", "", ""))[1],
             "ecosystem_type": names.get(code, ("", "", ""))[2],
             "area_km2": a / 1e6, "share": a / total}
            for code, a in areas.items() if a > 0]  # fmt: skip
    return sorted(rows, key=lambda r: -float(r["area_km2"]))


def scenario(ctx: JobContext) -> Outcome:
    """Baseline and scenario for the posted plot: deltas by indicator, maps and a summary."""
    _principal(ctx)
    p = ctx.job.params
    scen = scenario_from_dict(p["scenario"], base_dir=None)
    with tempfile.TemporaryDirectory(prefix="ecovalue-job-") as tmp:
        _ref, folder, counts = _prepared(ctx, Path(tmp))
        ds, prof, year, base = _in_memory_run(ctx, folder)
        geom = _plot_geometry(ctx, ds.grid.crs)
        ctx.heartbeat.progress("scenario · 情景", 0, 1)
        res = run_scenario(ds, geom, scen, profile=prof, year=year, baseline=base)
    ctx.heartbeat.progress("maps and summary · 图表", 0, 1)
    paths = write_scenario_outputs(res, ctx.folder)
    summary = json.loads(paths["json"].read_text("utf-8"))
    return Outcome(
        {**summary, "synthetic": res.baseline.synthetic, "notes": res.notes,
         "files": sorted(p.name for p in paths.values()), **counts,
         "indicators": scenario_rows(res),
         "transitions": [{"from": int(t["from_code"]), "to": int(t["to_code"]),
                          "from_name": res.class_names.get(int(t["from_code"]), ""),
                          "to_name": res.class_names.get(int(t["to_code"]), ""),
                          "area_km2": float(t["area_km2"])}
                         for t in res.transitions.to_dict("records")]}
    )  # fmt: skip


def scenario_rows(res: Any) -> list[dict[str, Any]]:
    """Every indicator's before/after, losses first (largest loss first), then gains, then
    the unchanged ones — the order an approver reads them (reports/scenario.py)."""
    changed = {r.indicator for r in (*res.losses, *res.gains)}
    ordered = [*res.losses, *res.gains, *(r for r in res.rows if r.indicator not in changed)]
    return [{"indicator": r.indicator, "name_zh": r.name_zh, "name_en": r.name_en,
             "category": r.category, "physical_unit": r.physical_unit,
             "baseline_physical": r.baseline_physical, "scenario_physical": r.scenario_physical,
             "delta_physical_in_plot": r.delta_physical_in_plot,
             "delta_physical_outside": r.delta_physical_outside,
             "baseline_value": r.baseline_value, "scenario_value": r.scenario_value,
             "delta_value_in_plot": r.delta_value_in_plot,
             "delta_value_outside": r.delta_value_outside,
             "delta_value_total": r.delta_value_total, "reach": r.reach}
            for r in ordered]  # fmt: skip


EXECUTORS: Mapping[JobKind, Callable[[JobContext], Outcome]] = {
    JobKind.account: account,
    JobKind.plot: plot,
    JobKind.scenario: scenario,
}
