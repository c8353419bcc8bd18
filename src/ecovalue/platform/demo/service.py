"""Load the demo platform through the platform's services, as real users would.

:func:`build_city` writes the demo city's two datasets (2022, and 2023 with a land-cover
change: cropland built over in 洪山区, dry cropland afforested in 黄陂区, applied with the
scenario engine so NPP and AET follow the new classes). :func:`load_people` ... and the
other steps call only service functions with a signed-in principal, so every row is
checked, scoped and audited exactly like a user's; the caller opens the unit of work.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import tomli_w
from pyproj import Transformer
from sqlalchemy.orm import Session

from ecovalue.accounting.catalogue import ECOSYSTEM_TYPES
from ecovalue.accounting.outputs import write_outputs
from ecovalue.accounting.pipeline import prepare, run_account
from ecovalue.accounting.plot import PlotEngine
from ecovalue.accounting.result import RunResult
from ecovalue.accounting.scenarios import ConversionRule, Scenario, apply_scenario
from ecovalue.datasets.demo import build_demo
from ecovalue.datasets.expectations import RASTERS
from ecovalue.datasets.manifest import read_manifest
from ecovalue.errors import InputError
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import SYSTEM, Principal, Role
from ecovalue.platform.catalogue import service as catalogue
from ecovalue.platform.demo import synthetic
from ecovalue.platform.monitoring import service as monitoring
from ecovalue.platform.registry import service as registry
from ecovalue.platform.registry.rules import TxKind
from ecovalue.platform.reporting import service as reporting
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.datasets import resolve_dataset
from ecovalue.platform.runs.plot_engines import PlotEngines, engine_key
from ecovalue.raster import io
from ecovalue.reports.xlsx import write_xlsx

Progress = Callable[[str], None]
REGISTER = "WH-DEMO"
REGISTER_SRID = 4547
YEARS = (2022, 2023)
PROFILE = "cn-2022"
SOURCE_YEAR = 2023  # the demo dataset's statistics cover SOURCE_YEAR - 1 and SOURCE_YEAR
URBAN, FOREST, PADDY, DRY = 51, 21, 11, 12
# (district, plot: its whole area, rules) — the land-cover change between the two years
CHANGES: tuple[tuple[str, tuple[ConversionRule, ...]], ...] = (
    ("420111", (ConversionRule((PADDY, DRY), URBAN, 0.35),)),
    ("420116", (ConversionRule((DRY,), FOREST, 0.25),)),
)


@dataclass(frozen=True)
class DemoUser:
    """A demo account (the password is printed by ``make demo``: demo use only)."""

    username: str
    password: str
    role: Role
    district: str | None = None
    department: str | None = None


USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "admin-demo-2024", Role.administrator),
    DemoUser("analyst", "analyst-demo-2024", Role.analyst),
    DemoUser("reviewer", "reviewer-demo-2024", Role.analyst),
    DemoUser("hongshan", "hongshan-demo-2024", Role.district_official, "420111"),
    DemoUser("huangpi", "huangpi-demo-2024", Role.district_official, "420116"),
    DemoUser("reporter", "reporter-demo-2024", Role.department_reporter, "420116", "市文化和旅游局"),
    DemoUser("citizen", "citizen-demo-2024", Role.public),
)


@dataclass
class City:
    """The demo city's datasets and accounting results."""

    datasets: dict[int, Path]
    outputs: dict[int, Path] = field(default_factory=dict)
    run_ids: dict[int, int] = field(default_factory=dict)
    parcels: list[int] = field(default_factory=list)


def principal(session: Session, username: str) -> Principal:
    """The demo user ``username`` as a signed-in principal."""
    p = auth.principal_of(auth.get_user(session, username))
    session.info["actor"] = p.username
    return p


def _set_year(folder: Path, year: int) -> None:
    path = folder / "dataset.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["dataset"]["year"] = year
    data["dataset"]["title_zh"] = f"武汉市演示数据 {year}（合成栅格）"
    data["dataset"]["title_en"] = f"Wuhan demo {year} (synthetic rasters)"
    data["dataset"]["name"] = f"wuhan-demo-{year}"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")


def dataset_root(out: Path) -> Path:
    """The folder holding the demo's datasets: the installation's dataset root
    (``ECOVALUE_DATASET_ROOTS``), so runs, plots and scenarios of the site can name them."""
    return out / "datasets"


def build_city(out: Path, resolution: float, seed: int = 0) -> City:
    """The demo datasets of both years (the second year's land cover is changed later)."""
    root = dataset_root(out)
    first, second = (root / f"wuhan-{y}" for y in YEARS)
    for folder in (first, second):
        if folder.exists():
            shutil.rmtree(folder)
    build_demo(first, resolution=resolution, seed=seed, year=SOURCE_YEAR)
    shutil.copytree(first, second)
    _set_year(first, YEARS[0])
    _set_year(second, YEARS[1])
    return City({YEARS[0]: first, YEARS[1]: second})


def change_landcover(city: City, run: RunResult) -> list[str]:
    """Write the second year's changed rasters (scenario engine, ADR 0004), return notes."""
    folder = city.datasets[YEARS[1]]
    ds, prof, _, _ = prepare(folder, PROFILE, YEARS[1])
    engine = PlotEngine.from_run(run)
    regions = {r.code: r.geometry for r in ds.regions}
    notes = []
    for code, rules in CHANGES:
        applied = apply_scenario(ds, prof, engine, regions[code],
                                 Scenario(name=f"demo change {code}", conversions=rules, seed=7))
        ds = applied.dataset
        for _, t in applied.transitions.iterrows():
            notes.append(f"{code}: {int(t['pixels'])} pixels {int(t['from_code'])} → "
                         f"{int(t['to_code'])} ({t['area_km2']:.2f} km²)")
    manifest, _ = read_manifest(folder)
    assert manifest is not None
    for key, entry in manifest.rasters.items():
        original, _ = io.read(folder / entry.path)
        new = ds.rasters[key]
        if np.array_equal(original, new, equal_nan=True):
            continue
        if entry.unit != RASTERS[key][0]:
            raise InputError(f"demo raster {key} is in {entry.unit}, not {RASTERS[key][0]}; "
                             "cannot write the changed values back")
        nodata = io.info(folder / entry.path).nodata
        io.write(folder / entry.path, new.astype(original.dtype), ds.grid, nodata=nodata,
                 tags={"synthetic": "yes", "note": "demo land-cover change"})
    return notes


def load_people(session: Session) -> list[DemoUser]:
    """The demo accounts (created by the system administrator, as ``ecovalue users add``)."""
    for u in USERS:
        auth.create_user(session, SYSTEM, u.username, u.password, u.role, u.district, u.department)
    return list(USERS)


def _ecosystem_sampler(run: RunResult, lc_table: Any) -> Callable[[float, float], str | None]:
    types = {int(c): str(e) for c, e in zip(lc_table["code"], lc_table["ecosystem_type"],
                                            strict=True)}
    inv = ~run.grid.transform

    def at(x: float, y: float) -> str | None:
        col, row = (int(v) for v in inv @ (x, y))
        if not (0 <= row < run.grid.height and 0 <= col < run.grid.width):
            return None
        eco = types.get(int(run.landcover[row, col]))
        return eco if eco in ECOSYSTEM_TYPES else None

    return at


def load_register(session: Session, run: RunResult, lc_table: Any, seed: int = 0) -> list[int]:
    """The demo register: owners, parcels in every district, and a history of rights."""
    admin = principal(session, "admin")
    registry.create_register(session, admin, REGISTER, "武汉市自然资源统一确权登记簿" + synthetic.DEMO,
                             REGISTER_SRID)
    state = registry.add_owner(session, admin, "state", "全民所有（国家）",
                               "武汉市自然资源和规划局（代理行使）" + synthetic.DEMO)
    plans = synthetic.parcel_plans([(r.code, r.geometry) for r in run.regions],
                                   _ecosystem_sampler(run, lc_table), seed=seed)
    ids = []
    for i, plan in enumerate(plans):
        owner = state
        if plan.collective:
            owner = registry.add_owner(
                session, admin, "collective", f"{plan.district}-{i:02d}村集体" + synthetic.DEMO,
                f"{plan.district}-{i:02d}村股份经济合作社" + synthetic.DEMO)
        parcel = registry.register_parcel(session, admin, REGISTER, plan.code, plan.resource_type,
                                          plan.district, plan.geometry, owner.id, plan.red_line)
        _rights(session, admin, parcel.id, plan, i)
        ids.append(parcel.id)
    return ids


BANK = "武汉农村商业银行" + synthetic.DEMO
TWO_MOUNTAINS = "武汉两山生态资源运营有限公司" + synthetic.DEMO


def _rights(session: Session, actor: Principal, parcel_id: int,
            plan: synthetic.ParcelPlan, i: int) -> None:
    """A plausible history: 出让 (grant), then per parcel 转让, 出租, 抵押 (and 解押) or 入股."""
    d = dt.date
    use = "ecological_protection" if plan.red_line else {
        "cropland": "agriculture", "forest": "forestry", "water": "fishery",
        "wetland": "ecological_protection"}.get(plan.resource_type, "agriculture")
    kind = "contracting" if plan.collective else "use_operation"
    operator = {"forest": "国有林场", "water": "水产公司", "wetland": "湿地保护中心"}.get(
        plan.resource_type, "生态公司")
    holder = (f"农户{i:03d}" if plan.collective else f"{operator}{i:03d}") + synthetic.DEMO
    right = registry.grant_right(session, actor, parcel_id, kind, holder, Decimal(1),
                                 d(2008, 1, 1), d(2037, 12, 31), use, f"鄂(2008)武汉{i:05d}",
                                 Decimal(120_000 + 1_000 * i))
    step = i % 4
    if step == 0:  # transferred, then leased to a cooperative (土地流转)
        right = registry.transfer_right(session, actor, right.id, f"农户{i:03d}乙" + synthetic.DEMO,
                                        d(2016, 3, 1), amount=Decimal(80_000))
        registry.lease_right(session, actor, right.id, f"{plan.district}生态农业合作社" + synthetic.DEMO,
                             d(2019, 1, 1), d(2030, 12, 31), use=use, amount=Decimal(36_000))
    elif step == 1:  # mortgaged for a loan, later repaid and released
        m = registry.mortgage_right(session, actor, right.id, BANK, d(2020, 6, 1), d(2026, 5, 31),
                                    Decimal(500_000))
        registry.release_mortgage(session, actor, m.id, d(2023, 6, 30))
    elif step == 2:  # contributed as equity to the "two mountains" operator (入股)
        registry.transfer_right(session, actor, right.id, TWO_MOUNTAINS, d(2022, 1, 1),
                                amount=Decimal(260_000), kind=TxKind.equity_contribution)
    else:  # mortgaged and still pledged
        registry.mortgage_right(session, actor, right.id, BANK, d(2022, 9, 1), d(2027, 8, 31),
                                Decimal(300_000))


def _district_of(lon: float, lat: float, regions: Sequence[Any], crs: str) -> str | None:
    x, y = Transformer.from_crs("EPSG:4490", crs, always_xy=True).transform(lon, lat)
    pt = shapely.Point(x, y)
    return next((r.code for r in regions if r.geometry.contains(pt)), None)


def load_monitoring(session: Session, regions: Sequence[Any], crs: str, year: int,
                    seed: int = 0) -> dict[str, int]:
    """Stations (sections on the Yangtze and the Han, lakes, air) and a year of samples each,
    uploaded as CSV by the administrator (the monitoring centre)."""
    admin = principal(session, "admin")
    counts = {"stations": 0, "observations": 0, "alerts": 0, "flags": 0}
    for plan in synthetic.STATIONS:
        district = _district_of(plan.lon, plan.lat, regions, crs)
        if district is None:
            raise InputError(f"demo station {plan.code} at ({plan.lon}, {plan.lat}) lies in no district")
        monitoring.create_station(
            session, admin, plan.code, plan.name, plan.kind, district, plan.lon, plan.lat,
            river=plan.river, water_body=plan.water_body, upstream_district=plan.upstream,
            downstream_district=plan.downstream, target_class=plan.target_class,
            expected_interval_s=(86_400 if plan.kind == "air" else 7 * 86_400))
        report = monitoring.import_csv(session, admin, synthetic.observations_csv(
            synthetic.observations(plan, year, seed)), source="synthetic demo upload")
        counts["stations"] += 1
        counts["observations"] += len(report.observations)
        counts["alerts"] += len(report.alerts)
        counts["flags"] += len(report.flags)
    return counts


# statistics rows a reporter of the culture and tourism bureau files for Huangpi
def _tourism_rows(year: int, visits: int) -> list[dict[str, Any]]:
    return [{"table": "statistics", "region_code": "420116", "item": "tourism:visits",
             "quantity": Decimal(visits), "unit": "visit",
             "source": f"黄陂区文旅统计（演示）{year}"}]


def load_reports(session: Session) -> dict[str, int]:
    """Department reports: approved versions for both years, one returned, one waiting."""
    reporter, reviewer = principal(session, "reporter"), None
    dept = "市文化和旅游局"
    subs = []
    for year, visits in ((2022, 21_500_000), (2023, 24_800_000)):
        subs.append(reporting.submit_report(session, reporter, dept, "420116", year,
                                            _tourism_rows(year, visits), note="年报（演示）"))
    reviewer = principal(session, "reviewer")
    for sub in subs:
        reporting.review_report(session, reviewer, sub.id, "approved")
    reporter = principal(session, "reporter")
    wrong = reporting.submit_report(session, reporter, dept, "420116", 2024,
                                    _tourism_rows(2024, 2_480_000), note="季报（演示）")
    reviewer = principal(session, "reviewer")
    reporting.review_report(session, reviewer, wrong.id, "returned",
                            "游客人次比上年少一个数量级，请核对单位（人次，不是万人次）")
    reporter = principal(session, "reporter")
    reporting.submit_report(session, reporter, dept, "420116", 2024,
                            _tourism_rows(2024, 25_100_000), note="季报更正（演示）")
    return {"submissions": 4}


def account_year(session: Session, city: City, year: int, out: Path,
                 reports: bool = True) -> RunResult:
    """Account a year with the approved department reports, keep its outputs, store the run.

    As a run job does (:mod:`ecovalue.platform.runs.jobs`): the dataset is found under the
    demo's dataset root and accounted as its overlay with the approved reports; the engine
    is the in-memory one, whose layers the outputs (COGs, report) are written from, and
    whose plot engine is kept for the plot page (:mod:`ecovalue.platform.runs.plot_engines`).
    """
    analyst = principal(session, "analyst")
    folder = city.datasets[year]
    ref = resolve_dataset(folder.name, (folder.parent.resolve(),))
    approved = runs.approved_counts(session, year)
    with tempfile.TemporaryDirectory(prefix="ecovalue-demo-") as work:
        target, counts = runs.overlay_with_approved(ref, approved, Path(work))
        ds, prof, year, warnings = prepare(target, PROFILE, year)
        result = run_account(ds, prof, year)
    # the plot page's first plot of this year reuses this account (no second account)
    PlotEngines().store(engine_key(ref, approved, PROFILE, year), PlotEngine.from_run(result))
    outputs = out / f"run-{year}"
    if outputs.exists():
        shutil.rmtree(outputs)
    write_outputs(result, outputs, reports=reports)  # report.html and results.xlsx (核算表)
    if not reports:
        write_xlsx(result, outputs / "results.xlsx")
    provenance = {"profile_id": prof.id, "dataset_path": str(ref.folder), "dataset": ref.name,
                  "dataset_name": ds.info.name, "year": year, "hashes": result.hashes,
                  "synthetic": ds.synthetic, **counts, "notes": result.notes,
                  "not_applicable": result.not_applicable, "warnings": warnings,
                  "outputs_dir": str(outputs)}
    run = runs.store_run(session, result.table, provenance, analyst)
    city.outputs[year], city.run_ids[year] = outputs, run.id
    return result


def publish(session: Session, city: City) -> None:
    """Both years published by the administrator; catalogues built by the analyst."""
    admin = principal(session, "admin")
    for year in YEARS:
        runs.publish_run(session, admin, city.run_ids[year], f"{year}年度核算结果首次发布（演示）")
    analyst = principal(session, "analyst")
    for year in YEARS:
        catalogue.build_version(session, analyst, year, city.run_ids[year], _census(city),
                                note=f"{year}年生态产品目录（演示）")


def _census(city: City) -> list[dict[str, Any]]:
    """Census rows of the catalogue linking a few register parcels (wetland and forest)."""
    return [{"product_class": "regulating", "sub_item": "census:wetland_area",
             "sub_item_zh": "湿地面积（普查）", "region_code": "420116", "quantity": "1520.5",
             "unit": "ha", "quality_grade": "良", "location": "黄陂区（演示）",
             "department": "市园林和林业局", "parcel_ids": []}]
