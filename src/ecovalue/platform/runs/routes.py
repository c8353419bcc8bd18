"""HTTP routes of datasets, runs, plots, scenarios and published results.

Accounting a dataset, a plot's GEP and a scenario are jobs (``202`` with the job at once;
follow ``/api/jobs/{id}`` or its ``events``). Published results are public. Every answer
about a run says whether it came from a synthetic (demo) dataset.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from ecovalue.accounting.outputs import SYNTHETIC_NOTICE
from ecovalue.accounting.plot import check_plot_geometry
from ecovalue.config import Settings
from ecovalue.db.bounds import (
    INT_MAX,
    AdminCode,
    Code60,
    Id,
    Ident40,
    Ident80,
    Note2000,
    Text40,
    Text120,
    Text200,
    Text2000,
    Title200,
    Version,
    Year,
)
from ecovalue.platform.audit.routes import CheckpointPublic
from ecovalue.platform.audit.service import checkpoint_for
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.deps import CurrentUser, OptionalUser, SessionDep, SettingsDep
from ecovalue.platform.geojson import CrsName, GeometryIn, in_target_crs
from ecovalue.platform.jobs import service as jobs
from ecovalue.platform.jobs.routes import JobPublic, job_public
from ecovalue.platform.jobs.service import JobKind
from ecovalue.platform.jobs.tables import Job
from ecovalue.platform.responses import PUBLIC_READ, READ, WRITE, Timestamp, errors
from ecovalue.platform.runs import service
from ecovalue.platform.runs.datasets import DatasetRef, list_datasets, resolve_dataset
from ecovalue.platform.runs.tables import AccountingRun, Publication

router = APIRouter(prefix="/api", tags=["results"])

DatasetName = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$",
          description="a dataset folder relative to a dataset root (GET /api/datasets)",
          examples=["wuhan"]),
]  # fmt: skip
ProfileId = Annotated[Ident80, Field(description="a parameter profile id", examples=["cn-2022"])]
IndicatorId = Ident40


class ResultRow(BaseModel):
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
    synthetic: bool = Field(description="the run accounted synthetic (demo) data")


class PublicationPublic(BaseModel):
    year: int
    version: int
    run_id: int
    supersedes_id: int | None
    reason: str
    published_by: str
    published_at: Timestamp
    synthetic: bool = Field(description="the published run accounted synthetic (demo) data")
    notice: str = Field(description="the synthetic-data notice, empty for real data")


class PublishedResult(BaseModel):
    publication: PublicationPublic
    synthetic: bool
    notice: str
    rows: list[ResultRow]
    checkpoint: CheckpointPublic | None = Field(
        description="the audit checkpoint written when this version was published: keep it, "
        "and `ecovalue audit verify --anchor` shows whether the record still holds it"
    )


class PublishCreate(BaseModel):
    reason: Text2000 = Field(description="why this version is published")


class Change(BaseModel):
    region_code: str
    indicator: str
    ecosystem_type: str
    old_value: Decimal | None
    new_value: Decimal | None
    change: Decimal
    synthetic: bool = Field(description="either version accounted synthetic (demo) data")


class RunCreate(BaseModel):
    dataset: DatasetName
    year: Year
    profile: ProfileId = "cn-2022"


class RunPublic(BaseModel):
    id: int
    year: int
    profile_id: str
    dataset: str = Field(description="the dataset, relative to its root")
    status: str
    input_hash: str
    profile_hash: str
    code_hash: str
    row_count: int
    created_by: str
    created_at: Timestamp
    synthetic: bool
    notice: str


class DatasetPublic(BaseModel):
    name: str
    title_zh: str
    title_en: str
    year: int
    crs: str
    synthetic: bool


LandCode = Annotated[int, Field(ge=0, le=65535, description="a land-cover code of the dataset")]


class ConversionIn(BaseModel):
    from_: Annotated[list[LandCode], Field(alias="from", min_length=1, max_length=100)]
    to: LandCode
    share: float = Field(1.0, ge=0, le=1, description="share of those pixels converted")


class PolygonChangeIn(BaseModel):
    geometry: GeometryIn
    crs: CrsName | None = None
    to: LandCode


class ReservoirIn(BaseModel):
    name: Text120 = "new reservoir"
    capacity_wan_m3: float = Field(gt=0, le=1e7, description="total storage, 万m³")
    geometry: GeometryIn | None = Field(None, description="default: the plot")
    crs: CrsName | None = None


class ParameterIn(BaseModel):
    value: float = Field(allow_inf_nan=False)
    unit: Text40 | None = None
    price_year: Year | None = None
    source: Text200 | None = None


class ScenarioHead(BaseModel):
    name: Code60 = "scenario"
    title_zh: Title200 = ""
    title_en: Title200 = ""
    description: Note2000 = ""
    seed: int = Field(default=0, ge=0, le=INT_MAX)


class ScenarioIn(BaseModel):
    """A planned change in the plot (the scenario file's TOML/JSON form, geometries inline)."""

    scenario: ScenarioHead = ScenarioHead()
    conversion: Annotated[list[ConversionIn], Field(max_length=100)] = []
    polygon: Annotated[list[PolygonChangeIn], Field(max_length=100)] = []
    reservoir: Annotated[list[ReservoirIn], Field(max_length=20)] = []
    parameters: Annotated[
        dict[Ident80, Annotated[float, Field(allow_inf_nan=False)] | ParameterIn],
        Field(max_length=200),
    ] = {}
    rasters_on_change: Annotated[
        dict[
            Ident40,
            Literal["class_mean", "keep"] | Annotated[float, Field(allow_inf_nan=False)],
        ],
        Field(max_length=20),
    ] = {}


class PlotCreate(BaseModel):
    dataset: DatasetName
    year: Year
    profile: ProfileId = "cn-2022"
    geometry: GeometryIn = Field(description="the plot: GeoJSON Polygon or MultiPolygon")
    crs: CrsName | None = None


class ScenarioCreate(PlotCreate):
    scenario: ScenarioIn


def _notice(synthetic: bool) -> str:
    return SYNTHETIC_NOTICE if synthetic else ""


def _pub(session: SessionDep, p: Publication) -> PublicationPublic:
    synthetic = service.is_synthetic(service.get_run(session, p.run_id))
    return PublicationPublic(
        **{k: getattr(p, k) for k in PublicationPublic.model_fields if k not in ("synthetic", "notice")},
        synthetic=synthetic,
        notice=_notice(synthetic),
    )  # fmt: skip


def _rows(rows: Any, synthetic: bool) -> list[ResultRow]:
    return [
        ResultRow(
            **{k: getattr(r, k) for k in ResultRow.model_fields if k != "synthetic"},
            synthetic=synthetic,
        )  # fmt: skip
        for r in rows
    ]


def _run_public(run: AccountingRun) -> RunPublic:
    synthetic = service.is_synthetic(run)
    own = ("synthetic", "notice", "dataset")
    return RunPublic(
        **{k: getattr(run, k) for k in RunPublic.model_fields if k not in own},
        dataset=service.dataset_name(run), synthetic=synthetic, notice=_notice(synthetic),
    )  # fmt: skip


def _dataset(ref: DatasetRef) -> DatasetPublic:
    info = ref.manifest.dataset
    return DatasetPublic(name=ref.name, title_zh=info.title_zh, title_en=info.title_en,
                         year=info.year, crs=info.crs, synthetic=info.synthetic)  # fmt: skip


@router.get("/datasets", response_model=list[DatasetPublic], responses=errors(401), tags=["jobs"])
def datasets(settings: SettingsDep, user: CurrentUser) -> list[DatasetPublic]:
    """The datasets under the configured roots (``ECOVALUE_DATASET_ROOTS``) that runs may use."""
    return [_dataset(ref) for ref in list_datasets(settings.roots)]


@router.post(
    "/runs", response_model=JobPublic, status_code=202, responses=errors(*WRITE), tags=["jobs"]
)
def start(
    body: RunCreate, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> JobPublic:
    """Queue the account of a dataset with the approved department reports (a job).

    Answers at once with the job; a worker accounts the dataset with the streamed engine
    and stores the run (``result.run_id``). The dataset and its manifest's paths are
    checked now (404, 422).
    """
    return job_public(submit_account_job(body, session, user, settings))


def submit_account_job(body: RunCreate, session: Session, user: Principal,
                       settings: Settings) -> Job:  # fmt: skip
    """Queue the account of ``body.dataset`` (checked now) as the user (the API and the pages)."""
    ref = resolve_dataset(body.dataset, settings.roots)
    return jobs.submit(session, user, JobKind.account,
                       {"dataset": ref.name, "year": body.year, "profile": body.profile})  # fmt: skip


def _check_geometries(body: PlotCreate, ref: DatasetRef) -> None:
    """Refuse now what the job would refuse later: a bad plot, lon/lat without its CRS."""
    crs = ref.manifest.dataset.crs
    check_plot_geometry(in_target_crs(body.geometry, body.crs, crs, "plot"))
    if isinstance(body, ScenarioCreate):
        for i, change in enumerate(body.scenario.polygon, 1):
            in_target_crs(change.geometry, change.crs, crs, f"scenario polygon {i}")
        for i, res in enumerate(body.scenario.reservoir, 1):
            if res.geometry is not None:
                in_target_crs(res.geometry, res.crs, crs, f"scenario reservoir {i}")


def submit_plot_job(body: PlotCreate, kind: JobKind, session: Session, user: Principal,
                    settings: Settings) -> Job:  # fmt: skip
    """Queue a plot or scenario job after the checks the job would fail (the API and the pages)."""
    ref = resolve_dataset(body.dataset, settings.roots)
    _check_geometries(body, ref)
    params = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    params["dataset"] = ref.name
    return jobs.submit(session, user, kind, params)


@router.post(
    "/plots", response_model=JobPublic, status_code=202, responses=errors(*WRITE), tags=["jobs"]
)
def plot(
    body: PlotCreate, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> JobPublic:
    """Queue the GEP of a plot (地块GEP): indicators, areas and the engine's notes (a job).

    Coordinates are in the dataset's CRS unless ``crs`` names theirs (then reprojected);
    lon/lat without ``crs`` is refused as ambiguous (ecovalue.platform.geojson).
    """
    return job_public(submit_plot_job(body, JobKind.plot, session, user, settings))


@router.post(
    "/scenarios", response_model=JobPublic, status_code=202, responses=errors(*WRITE), tags=["jobs"]
)
def scenario(
    body: ScenarioCreate, session: SessionDep, user: CurrentUser, settings: SettingsDep
) -> JobPublic:
    """Queue a before/after scenario of a plot (a job): deltas by indicator in and outside
    the plot, the engine's notes, and files (comparison.csv, change_map.png, indicators.png,
    summary.html) under ``/api/jobs/{id}/files/{name}``."""
    return job_public(submit_plot_job(body, JobKind.scenario, session, user, settings))


@router.get("/runs/{run_id}", response_model=RunPublic, responses=errors(*READ))
def run(run_id: Id, session: SessionDep, user: CurrentUser) -> RunPublic:
    """A stored run with its hashes, for recomputing it (its rows are scoped)."""
    return _run_public(service.get_run(session, run_id))


@router.get(
    "/runs/{run_id}/results", response_model=list[ResultRow], responses=errors(*PUBLIC_READ)
)
def run_results(
    run_id: Id,
    session: SessionDep,
    user: OptionalUser,
    district: AdminCode | None = None,
    indicator: IndicatorId | None = None,
) -> list[ResultRow]:
    """Rows of a run; unpublished runs only within the caller's district scope."""
    synthetic = service.is_synthetic(service.get_run(session, run_id))
    return _rows(service.run_results(session, user, run_id, district, indicator), synthetic)


@router.post(
    "/runs/{run_id}/publish", response_model=PublicationPublic, status_code=201,
    responses=errors(*WRITE),
)  # fmt: skip
def publish(
    run_id: Id, body: PublishCreate, session: SessionDep, user: CurrentUser
) -> PublicationPublic:
    """Publish a run as the official result of its year (administrators; a new version)."""
    return _pub(session, service.publish_run(session, user, run_id, body.reason))


@router.get("/results/{year}", response_model=PublishedResult, responses=errors(*PUBLIC_READ))
def published(
    year: Year,
    session: SessionDep,
    user: OptionalUser,
    district: AdminCode | None = None,
    indicator: IndicatorId | None = None,
    version: Version | None = None,
) -> PublishedResult:
    """The official result of a year (or an older version), by district and indicator."""
    pub, rows = service.published_results(session, year, district, indicator, version)
    head = _pub(session, pub)
    return PublishedResult(
        publication=head,
        synthetic=head.synthetic,
        notice=head.notice,
        rows=_rows(rows, head.synthetic),
        checkpoint=CheckpointPublic.of(checkpoint_for(session, "publications", str(pub.id))),
    )


@router.get(
    "/results/{year}/publications", response_model=list[PublicationPublic],
    responses=errors(*PUBLIC_READ),
)  # fmt: skip
def versions(year: Year, session: SessionDep, user: OptionalUser) -> list[PublicationPublic]:
    """Every published version of a year, oldest first."""
    return [_pub(session, p) for p in service.publications(session, year)]


@router.get("/results/{year}/diff", response_model=list[Change], responses=errors(*PUBLIC_READ))
def diff(
    year: Year,
    old: Annotated[Version, Query()],
    new: Annotated[Version, Query()],
    session: SessionDep,
    user: OptionalUser,
) -> list[Change]:
    """Rows whose value differs between two published versions."""
    synthetic = any(service.is_synthetic(service.get_run(session, p.run_id))
                    for p in service.publications(session, year) if p.version in (old, new))  # fmt: skip
    return [
        Change(**c.__dict__, change=c.change, synthetic=synthetic)
        for c in service.diff_publications(session, year, old, new)
    ]
