"""Indicator trades tied to the accounts: forest coverage, green space, section water quality.

A district's indicator of a year is **measured** from the published record, never typed in:
forest and green-space area from the land cover of the year's published accounting run (the
dataset is reloaded the way the run loaded it and must give the run's input hash, so the
area is the published one), section water quality from monitoring (a section counts when the
mean of the year meets its GB 3838 target class). A district below its **target** may buy
indicator units from a district above its own target, up to the seller's surplus (and its
own shortfall); the bought units count in the buyer's assessed indicator and are deducted
from the seller's (:func:`assessed`, which the assessment reads), and the seller's
**obligations** — the forest patch, its upkeep, the monitoring — are recorded with the
trade. Chongqing's 森林面积指标 deals all settled at 2,500 元/亩 (渝府办发〔2018〕, every deal
found; mechanisms-2 §1): the forest-area programme ships it as its price floor.

The units of a trade are issued from the seller's surplus when it proposes the trade and go
through a negotiated transfer (:mod:`.transfers`, kind ``indicator``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.errors import InputError, Problem
from ecovalue.platform.auth.rules import Principal
from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.exchange import keys, transfers
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.tables import (
    IndicatorMeasure,
    IndicatorTarget,
    Obligation,
    Transfer,
)
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.rules import Entry, Posting, TxKind, canonical_json, iso
from ecovalue.platform.monitoring.service import assess_station, list_stations
from ecovalue.platform.runs.service import current_publication, dataset_of_run, get_run

MU_PER_M2 = Decimal(15) / Decimal(10000)  # 1 亩 = 10000/15 m² (市制: 15 亩 = 1 公顷)
INDICATORS = ("forest_coverage", "green_space", "water_quality")
OBLIGATION_KINDS = ("patch", "upkeep", "monitoring")


@dataclass(frozen=True)
class ObligationIn:
    """A seller's duty recorded with an indicator trade (what, where, until when)."""

    kind: str
    description: str
    parcel_code: str | None = None
    due: dt.date | None = None


def programme_of(session: Session, indicator: str) -> R.Programme:
    """The adopted programme trading ``indicator`` (IFOREST, IGREEN, IWATER by default)."""
    for code in registry.programme_codes(session):
        p = registry.get_programme(session, code)
        if p.kind == R.ProgrammeKind.indicator and p.extra.get("indicator") == indicator:
            return p
    raise NotFound(f"no programme trades indicator '{indicator}'; adopt a rule set with one "
                   f"(indicators: {', '.join(INDICATORS)})")  # fmt: skip


def _instrument(session: Session, indicator: str, year: int) -> R.Instrument:
    return registry.get_instrument(session, f"{programme_of(session, indicator).code}-{year}")


def set_target(session: Session, actor: Principal, indicator: str, district: str, year: int,
               target: Decimal, source: str) -> None:  # fmt: skip
    """A district's target of a year: a rate for forest coverage (0.55), else a quantity."""
    registry.require_admin(actor, "set indicator targets")
    if indicator not in INDICATORS:
        raise InputError(f"indicator '{indicator}' is unknown; expected one of {INDICATORS}")
    if indicator == "forest_coverage" and not Decimal(0) < target < 1:
        raise InputError(f"forest-coverage target {target} must be a rate in (0, 1), e.g. 0.55")
    if target < 0 or not source.strip():
        raise InputError("a target needs a value ≥ 0 and its source (the 尽责目标 document)")
    version = (session.scalar(select(func.max(IndicatorTarget.version)).where(
        IndicatorTarget.indicator == indicator, IndicatorTarget.district == district,
        IndicatorTarget.year == year)) or 0) + 1  # fmt: skip
    session.add(IndicatorTarget(indicator=indicator, district=district, year=year,
                                version=version, target=target, source=source,
                                created_by=actor.username))  # fmt: skip
    session.flush()


# ------------------------------------------------------------------ measuring


def _published_dataset(session: Session, year: int) -> tuple[Any, dict[str, Any]]:
    """The dataset of the year's published run, loaded as the run loaded it (hash checked)."""
    pub = current_publication(session, year)
    if pub is None:
        raise RuleViolation([Problem("publication", f"no published result for {year}",
                                     "a published accounting run of the year",
                                     "publish the year's run first (ecovalue publish)")])  # fmt: skip
    run = get_run(session, pub.run_id)
    ds = dataset_of_run(session, run)
    prov = {"year": year, "publication_version": pub.version, "run_id": run.id,
            "dataset_path": run.dataset_path, "input_hash": run.input_hash,
            "profile_hash": run.profile_hash, "code_hash": run.code_hash}  # fmt: skip
    return ds, prov


def _areas_m2(ds: Any, district: str, types: Sequence[str]) -> tuple[Decimal, Decimal]:
    """(area of the ecosystem types, area of the district) in m² from the land cover."""
    from ecovalue.accounting.seea import ECOSYSTEM_TYPES, ecosystem_types, region_mask  # heavy

    mask = region_mask(ds, district)
    eco = ecosystem_types(ds)
    wanted = np.isin(eco, [ECOSYSTEM_TYPES.index(t) for t in types])
    px = Decimal(repr(ds.grid.pixel_area_m2))
    return Decimal(int((mask & wanted).sum())) * px, Decimal(int(mask.sum())) * px


def _measure_water(session: Session, actor: Principal, district: str, year: int
                   ) -> tuple[Decimal, Decimal, dict[str, Any]]:  # fmt: skip
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    sections = [s for s in list_stations(session, actor, district, "water_section")
                if s.target_class]  # fmt: skip
    met, detail = 0, []
    for s in sections:
        a = assess_station(session, actor, s.code, start, end)
        ok = a.water is not None and a.water.water_class <= (s.target_class or 0)
        met += ok
        detail.append({"section": s.code, "class": a.water.label if a.water else None,
                       "target_class": s.target_class, "meets": ok})  # fmt: skip
    if not sections:
        raise RuleViolation([Problem(f"district {district}", "has no assessment section with a "
                                     "target class", "monitoring sections of the district",
                                     "register its sections (ecovalue monitoring)")])  # fmt: skip
    return Decimal(met), Decimal(len(sections)), {"year": year, "sections": detail,
                                                  "rule": "annual mean meets the target class"}


def measure(session: Session, actor: Principal, indicator: str, district: str, year: int
            ) -> IndicatorMeasure:  # fmt: skip
    """Measure a district's indicator of a year from the published record and store it."""
    registry.require_admin(actor, "measure indicators")
    prog = programme_of(session, indicator)
    if indicator == "water_quality":
        measured, basis, prov = _measure_water(session, actor, district, year)
    else:
        ds, prov = _published_dataset(session, year)
        types = ["forest"] if indicator == "forest_coverage" else [str(t) for t in prog.extra["green_types"]]  # type: ignore[attr-defined]
        area, total = _areas_m2(ds, district, types)
        prov |= {"types": types, "area_m2": format(area, "f"), "district_m2": format(total, "f")}
        if indicator == "forest_coverage":  # traded in 亩, whole ones, rounded down
            measured = (area * MU_PER_M2).quantize(Decimal(1), rounding=ROUND_FLOOR)
            basis = (total * MU_PER_M2).quantize(Decimal("0.01"))
        else:
            measured, basis = area.quantize(Decimal(1), rounding=ROUND_FLOOR), total
    version = (session.scalar(select(func.max(IndicatorMeasure.version)).where(
        IndicatorMeasure.indicator == indicator, IndicatorMeasure.district == district,
        IndicatorMeasure.year == year)) or 0) + 1  # fmt: skip
    row = IndicatorMeasure(indicator=indicator, district=district, year=year, version=version,
                           measured=measured, basis=basis, provenance=canonical_json(prov),
                           created_by=actor.username, created_at=iso(ledger.now()))  # fmt: skip
    session.add(row)
    session.flush()
    return row


# ------------------------------------------------------------------ positions and trades


def _newest(session: Session, table: Any, indicator: str, district: str, year: int) -> Any:
    return session.scalar(select(table).where(table.indicator == indicator,
                                              table.district == district, table.year == year)
                          .order_by(table.version.desc()).limit(1))  # fmt: skip


def _traded(session: Session, code: str, district_participant: str, side: str,
            pending: bool) -> Decimal:  # fmt: skip
    col = Transfer.seller if side == "sell" else Transfer.buyer
    states = ("proposed", "accepted", "settled") if pending else ("settled",)
    stmt = select(Transfer.quantity).where(Transfer.instrument == code, col == district_participant,
                                           Transfer.kind == "indicator",
                                           Transfer.status.in_(states))  # fmt: skip
    return sum(session.scalars(stmt), Decimal(0))


def position(session: Session, indicator: str, district: str, year: int,
             pending: bool = False) -> R.IndicatorPosition:  # fmt: skip
    """Measured, target (in trade units), bought and sold of a district's indicator.

    ``pending``: count proposed and accepted trades as if settled (what is still free to sell
    or buy).
    """
    m = _newest(session, IndicatorMeasure, indicator, district, year)
    t = _newest(session, IndicatorTarget, indicator, district, year)
    if m is None or t is None:
        missing = "measurement" if m is None else "target"
        raise RuleViolation([Problem(f"district {district}", f"has no {indicator} {missing} for "
                                     f"{year}", "a measurement and a target",
                                     f"record the {missing} first")])  # fmt: skip
    target = t.target
    if indicator == "forest_coverage":  # a rate of the district's area, in whole 亩 rounded up
        target = (t.target * m.basis).quantize(Decimal(1), rounding=ROUND_CEILING)
    code = _instrument(session, indicator, year).code
    who = district_participant(session, district)
    return R.IndicatorPosition(m.measured, target, _traded(session, code, who, "buy", pending),
                               _traded(session, code, who, "sell", pending))  # fmt: skip


def district_participant(session: Session, district: str) -> str:
    """The participant that is the district government of ``district``."""
    for code in registry.participant_codes(session):
        p = registry.get_participant(session, code)
        if p.kind == R.ParticipantKind.district and p.region_code == district:
            return p.code
    raise NotFound(f"no district participant for {district}; register the district government")


def propose_trade(
    session: Session,
    actor: Principal,
    indicator: str,
    year: int,
    seller_district: str,
    buyer_district: str,
    quantity: Decimal,
    price: Decimal,
    obligations: Sequence[ObligationIn],
) -> transfers.TransferView:
    """The seller proposes an indicator trade: units issued from its surplus, its duties kept."""
    i = _instrument(session, indicator, year)
    seller = district_participant(session, seller_district)
    buyer = district_participant(session, buyer_district)
    registry.require_acting_for(session, actor, seller)
    sp = position(session, indicator, seller_district, year, pending=True)
    bp = position(session, indicator, buyer_district, year, pending=True)
    problems = R.check_indicator_trade(seller_district, buyer_district, sp, bp, quantity)
    kinds = {o.kind for o in obligations}
    if indicator == "forest_coverage" and not {"patch", "upkeep"} <= kinds:
        problems.append(Problem("obligations", f"{sorted(kinds) or 'none'} recorded",
                                "the forest patch and its upkeep (管护) at least",
                                "name the patch (parcel) and who keeps it"))  # fmt: skip
    bad = [o.kind for o in obligations if o.kind not in OBLIGATION_KINDS]
    if bad:
        problems.append(Problem("obligations", f"kinds {bad} are unknown",
                                ", ".join(OBLIGATION_KINDS), "use the listed kinds"))  # fmt: skip
    problems += transfers.check_terms(i, registry.get_participant(session, seller),
                                      registry.get_participant(session, buyer), quantity, price,
                                      ledger.now().date())  # fmt: skip
    if problems:
        raise RuleViolation(problems)
    first, last = registry.next_serials(session, i.programme.code, int(quantity.scaleb(i.places)))
    posted = ledger.post(session, Entry(TxKind.issue, (
        Posting(keys.issuance(i.programme.code), i.code, -quantity, ((first, last),)),
        Posting(keys.hold(seller), i.code, quantity)), ledger.now(), "indicator surplus",
        None, {"ref": f"indicator:{indicator}:{seller_district}:{year}"}))  # fmt: skip
    registry.record_issuance(session, i, seller, quantity, "indicator", (first, last), posted.seq,
                             {"indicator": indicator, "year": year, "surplus": format(sp.surplus, "f")},
                             actor.username)  # fmt: skip
    view = transfers.propose(session, actor, i.code, seller, buyer, quantity, price, seller,
                             note=f"{indicator} {year}", kind="indicator")  # fmt: skip
    session.add_all(Obligation(transfer_id=view.id, district=seller_district, kind=o.kind,
                               description=o.description, parcel_code=o.parcel_code, due=o.due,
                               status="open", updated_by=actor.username) for o in obligations)
    session.flush()
    return view


def assessed(session: Session, indicator: str, district: str, year: int) -> dict[str, Any]:
    """What counts in the district's assessment: measured + bought − sold (settled trades).

    For forest coverage also the assessed rate (forest area ÷ district area). Public.
    """
    pos = position(session, indicator, district, year)
    m = _newest(session, IndicatorMeasure, indicator, district, year)
    out: dict[str, Any] = {"indicator": indicator, "district": district, "year": year,
                           "measured": pos.measured, "target": pos.target, "bought": pos.bought,
                           "sold": pos.sold, "assessed": pos.assessed,
                           "meets_target": pos.assessed >= pos.target,
                           "measurement": json.loads(m.provenance)}  # fmt: skip
    if indicator == "forest_coverage" and m.basis:
        out["assessed_rate"] = (pos.assessed / m.basis).quantize(Decimal("0.0001"))
    return out


def obligations_of(session: Session, transfer_id: int) -> list[Obligation]:
    """The seller's obligations recorded with an indicator trade (public)."""
    return list(session.scalars(select(Obligation).where(Obligation.transfer_id == transfer_id)
                                .order_by(Obligation.id)))  # fmt: skip


def fulfil(session: Session, actor: Principal, obligation_id: int) -> Obligation:
    """Mark an obligation fulfilled (administrators, after checking it)."""
    registry.require_admin(actor, "mark obligations fulfilled")
    row = session.get(Obligation, obligation_id)
    if row is None:
        raise NotFound(f"no obligation {obligation_id}")
    row.status, row.updated_by = "fulfilled", actor.username
    session.flush()
    return row


def targets_and_measures(session: Session, indicator: str, year: int) -> Mapping[str, Any]:
    """Every district's newest target and measurement of a year (public)."""
    out: dict[str, Any] = {}
    for t in session.scalars(select(IndicatorTarget).where(IndicatorTarget.indicator == indicator,
                                                           IndicatorTarget.year == year)):  # fmt: skip
        out.setdefault(t.district, {})["target"] = t.target
    for m in session.scalars(select(IndicatorMeasure).where(IndicatorMeasure.indicator == indicator,
                                                            IndicatorMeasure.year == year)):  # fmt: skip
        out.setdefault(m.district, {})["measured"] = m.measured
    return out
