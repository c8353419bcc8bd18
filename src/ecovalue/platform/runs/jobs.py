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
  dataset's CRS by the rule of :mod:`ecovalue.platform.geojson`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from ecovalue.accounting.pipeline import prepare, run_account
from ecovalue.accounting.plot import check_plot_geometry, plot_gep
from ecovalue.accounting.scenarios import run_scenario, scenario_from_dict
from ecovalue.config import Settings
from ecovalue.db.session import EcoSession, unit_of_work
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.auth.service import get_user, principal_of
from ecovalue.platform.errors import PermissionDenied
from ecovalue.platform.geojson import GeometryAdapter, in_target_crs
from ecovalue.platform.jobs.service import Claimed, Heartbeat, JobKind
from ecovalue.platform.runs import service
from ecovalue.platform.runs.datasets import DatasetRef, resolve_dataset
from ecovalue.reports.scenario import write_scenario_outputs


@dataclass(frozen=True)
class JobContext:
    """What an executor gets: the job, the database, the settings, its folder and heartbeat."""

    job: Claimed
    factory: sessionmaker[EcoSession]
    settings: Settings
    heartbeat: Heartbeat
    folder: Path  # the job's own output folder

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
    """The GEP of the posted plot by indicator, with the engine's notes."""
    _principal(ctx)
    with tempfile.TemporaryDirectory(prefix="ecovalue-job-") as tmp:
        _ref, folder, counts = _prepared(ctx, Path(tmp))
        ds, _prof, _year, run = _in_memory_run(ctx, folder)
    res = plot_gep(run, _plot_geometry(ctx, ds.grid.crs))
    return Outcome({**res.to_json(), **counts})


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
         "files": sorted(p.name for p in paths.values()), **counts}
    )  # fmt: skip


EXECUTORS: Mapping[JobKind, Callable[[JobContext], Outcome]] = {
    JobKind.account: account,
    JobKind.plot: plot,
    JobKind.scenario: scenario,
}
