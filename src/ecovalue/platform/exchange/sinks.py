"""Forestry carbon-sink issuance from the accounts (林业碳汇 from plot-level accounting).

A project is a parcel of the rights register (:mod:`ecovalue.platform.registry`) with a
project period and a holder. For each monitored year, the plot-level account of the year's
dataset gives the carbon sequestration of the parcel (``carbon_sequestration``, t CO₂; NPP →
dry matter → CO₂ [the indicator's sources]); the **baseline scenario** — the parcel as it
would be without the project, e.g. its land cover before afforestation — run on the same
dataset gives the baseline's. Issuable = Σ (project − baseline), rounded down to whole
tonnes, less the programme's risk-buffer share (rounded up) which goes to the programme's
buffer account (CCER-14-001-V01: additional removals over the baseline; the buffer share is
a rule set value, "assumed — set your own" where unpublished). The issuance records every
year's dataset, profile and code hashes of both runs and the scenario's hash, so anyone can
recompute it; a year is never issued twice.

:func:`sink_evidence` runs the accounts (long, outside any transaction);
:func:`issue_sink` checks and issues (one transaction).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecovalue.errors import InputError, Problem
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.tables import Issuance, SinkProject
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.rules import iso
from ecovalue.platform.registry.service import get_register, list_parcels

INDICATOR = "carbon_sequestration"  # t CO₂ per pixel (accounting catalogue)
METHODOLOGY = "CCER-14-001-V01 造林碳汇 (plot-level accounting minus the baseline scenario)"


@dataclass(frozen=True)
class Project:
    code: str
    programme: str
    participant: str
    register_code: str
    parcel_code: str
    parcel_area_m2: Decimal
    start_year: int
    end_year: int
    issued_years: tuple[int, ...]


def _parcel(session: Session, actor: Principal, register_code: str, parcel_code: str) -> Any:
    for p in list_parcels(session, actor, register_code):
        if p.code == parcel_code:
            return p
    raise NotFound(f"no parcel '{parcel_code}' in register '{register_code}' (or not yours to read)")


def register_project(session: Session, actor: Principal, code: str, participant: str,
                     register_code: str, parcel_code: str, start_year: int, end_year: int,
                     programme: str = "FCER") -> Project:  # fmt: skip
    """Register a sink project on a registered parcel for ``start_year``–``end_year``."""
    registry.require_admin(actor, "register carbon-sink projects")
    prog = registry.get_programme(session, programme)
    parcel = _parcel(session, actor, register_code, parcel_code)
    registry.get_participant(session, participant)
    problems = R.check_sink_project([start_year], start_year, end_year, parcel.area_m2,
                                    prog.extra.get("min_parcel_m2"))  # type: ignore[arg-type]
    if prog.kind != R.ProgrammeKind.forestry_sink:
        problems.append(Problem("programme", f"{programme} is a {prog.kind.value} programme",
                                "a forestry_sink programme", "use FCER"))  # fmt: skip
    if end_year < start_year:
        problems.append(Problem("period", f"{start_year}–{end_year} ends before it starts",
                                "start ≤ end", "swap the years"))  # fmt: skip
    if session.scalar(select(SinkProject.id).where(SinkProject.code == code)) is not None:
        problems.append(Problem("code", f"project '{code}' exists", "a new code", "use it"))
    if problems:
        raise RuleViolation(problems)
    session.add(SinkProject(code=code, programme=programme,
                            participant_id=registry.participant_id(session, participant),
                            register_code=register_code, parcel_code=parcel_code,
                            parcel_area_m2=parcel.area_m2, start_year=start_year,
                            end_year=end_year, methodology=METHODOLOGY, created_by=actor.username,
                            created_at=iso(ledger.now())))  # fmt: skip
    session.flush()
    return get_project(session, code)


def get_project(session: Session, code: str) -> Project:
    row = session.scalar(select(SinkProject).where(SinkProject.code == code))
    if row is None:
        raise NotFound(f"no carbon-sink project '{code}'")
    years: list[int] = []
    for prov in session.scalars(select(Issuance.provenance).where(Issuance.kind == "sink")):
        p = json.loads(prov)
        if p.get("project") == code:
            years += [int(y["year"]) for y in p.get("years", [])]
    who = registry.participant_code(session, row.participant_id)
    return Project(row.code, row.programme, who, row.register_code, row.parcel_code,
                   row.parcel_area_m2, row.start_year, row.end_year, tuple(sorted(years)))  # fmt: skip


def parcel_geometry(session: Session, actor: Principal, project: str) -> tuple[BaseGeometry, str]:
    """The project's parcel geometry and its CRS (``EPSG:<register srid>``)."""
    p = get_project(session, project)
    parcel = _parcel(session, actor, p.register_code, p.parcel_code)
    srid = get_register(session, p.register_code).srid
    return parcel.geometry, f"EPSG:{srid}"


def _scenario_hash(scenario: str | Path | Mapping[str, Any]) -> str:
    if isinstance(scenario, Mapping):
        text = json.dumps(scenario, sort_keys=True, ensure_ascii=False, default=str).encode()
    else:
        text = Path(scenario).read_bytes()
    return hashlib.sha256(text).hexdigest()


def sink_evidence(datasets: Mapping[int, str | Path], geometry: BaseGeometry, crs: str,
                  baseline: str | Path | Mapping[str, Any], profile: str = "cn-2022"
                  ) -> list[R.SinkYear]:  # fmt: skip
    """Project and baseline-scenario sequestration of the parcel per year, with their hashes.

    ``datasets`` maps each monitored year to its dataset folder; ``baseline`` is a scenario
    file (or dict) saying what the parcel would be without the project. Floats become
    Decimal here, once, from their shortest exact text (decision 0002's rule).
    """
    from ecovalue.accounting.pipeline import run_account  # heavy: the whole account
    from ecovalue.accounting.scenarios import load_scenario, run_scenario, scenario_from_dict

    scen = scenario_from_dict(baseline) if isinstance(baseline, Mapping) else load_scenario(baseline)
    out = []
    for year, path in sorted(datasets.items()):
        run = run_account(path, profile, year)
        res = run_scenario(path, geometry, scen, profile, year, crs, baseline=run)
        project = res.plot_baseline.row(INDICATOR)  # the parcel as it is: with the project
        without = res.plot_after.row(INDICATOR)  # the baseline scenario
        if project.physical_unit not in ("t", "t CO2", "tCO2"):
            raise InputError(f"{INDICATOR} is in {project.physical_unit}; expected t CO₂")
        out.append(R.SinkYear(year, Decimal(repr(project.physical)), Decimal(repr(without.physical)),
                              {"dataset": run.hashes["dataset"], "profile": run.hashes["profile"],
                               "code": run.hashes["code"],
                               "baseline_dataset": res.after.hashes["dataset"],
                               "scenario": _scenario_hash(baseline), "dataset_path": str(path)}))  # fmt: skip
    return out


def issue_sink(session: Session, actor: Principal, project: str, instrument: str,
               evidence: Sequence[R.SinkYear]) -> registry.IssuanceView:  # fmt: skip
    """Issue a project's credits for the years of ``evidence`` (net to the holder, the buffer
    share to the programme's buffer account)."""
    registry.require_admin(actor, "issue carbon-sink credits")
    p = get_project(session, project)
    i = registry.get_instrument(session, instrument)
    years = [y.year for y in evidence]
    problems = R.check_sink_project(years, p.start_year, p.end_year, p.parcel_area_m2, None)
    again = sorted(set(years) & set(p.issued_years))
    if again:
        problems.append(Problem("years", f"{again} were issued already for project {project}",
                                "years not issued before", "issue only new monitored years"))  # fmt: skip
    if i.programme.code != p.programme:
        problems.append(Problem("instrument", f"{i.code} is of programme {i.programme.code}",
                                f"an instrument of {p.programme}", "choose the project's programme"))  # fmt: skip
    share = i.programme.buffer_share
    if share is None:
        problems.append(Problem("buffer_share", f"programme {p.programme} sets no buffer share",
                                "a risk-buffer share in the rule set", "set buffer_share"))  # fmt: skip
    result = R.sink_issuance(evidence, share or Decimal(0), i.places)
    if result.net <= 0:
        problems.append(Problem("evidence", f"the project removes {result.gross} t CO₂ over its "
                                "baseline", "removals above the baseline scenario",
                                "nothing to issue"))  # fmt: skip
    if problems:
        raise RuleViolation(problems)
    prov = {"project": project, "methodology": METHODOLOGY, "parcel": p.parcel_code,
            "register": p.register_code, "buffer_share": format(share or 0, "f"),
            "buffer_share_source": i.programme.sources.get("buffer_share", ""),
            "gross": format(result.gross, "f"), "buffer": format(result.buffer, "f"),
            "years": [{"year": y.year, "project_t": format(y.project_t, "f"),
                       "baseline_t": format(y.baseline_t, "f"), **y.hashes} for y in evidence]}  # fmt: skip
    return registry.issue(session, actor, i.code, p.participant, result.net, "sink",
                          buffer_quantity=result.buffer, provenance=prov)  # fmt: skip
