"""Catalogue services: build yearly versions from a stored run plus census data, read, export.

Administrators and analysts build; every signed-in role reads. A build writes a new version
of the year's catalogue that supersedes the previous one; nothing is edited or deleted.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecovalue.accounting.outputs import SYNTHETIC_NOTICE
from ecovalue.errors import Problem, ValidationFailed
from ecovalue.platform.auth.rules import Principal, Role, in_district, require_role
from ecovalue.platform.catalogue import rules
from ecovalue.platform.catalogue.rules import CLASS_ZH, XLSX_HEADERS, EntryDraft, RunRow
from ecovalue.platform.catalogue.tables import (
    CatalogueEntry,
    CatalogueEntryParcel,
    CatalogueVersion,
)
from ecovalue.platform.errors import NotFound, PermissionDenied
from ecovalue.platform.registry.tables import Parcel
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.service import get_run
from ecovalue.platform.runs.tables import RunResultRow
from ecovalue.units import format_unit

BUILDERS = frozenset({Role.administrator, Role.analyst})


@dataclass(frozen=True)
class EntryView:
    """A stored entry with the codes of its linked parcels."""

    entry: CatalogueEntry
    parcel_codes: tuple[str, ...]


def _require_read(actor: Principal) -> None:
    if actor.role == Role.public:
        raise PermissionDenied(f"user '{actor.username}' must sign in to read the catalogue")


def _run_rows(session: Session, run_id: int) -> list[RunRow]:
    stmt = select(RunResultRow).where(RunResultRow.run_id == run_id).order_by(RunResultRow.id)
    return [
        RunRow(
            r.region_code,
            r.region_name_zh,
            r.indicator,
            r.category,
            r.physical_quantity,
            r.physical_unit,
            r.value_current,
        )
        for r in session.scalars(stmt)
    ]


def _parcel_problems(session: Session, drafts: Sequence[EntryDraft]) -> list[Problem]:
    wanted = {p for d in drafts for p in d.parcel_ids}
    parcels = {
        p.id: p for p in session.scalars(select(Parcel).where(Parcel.id.in_(sorted(wanted))))
    }
    problems = []
    for i, d in enumerate(drafts):
        for pid in d.parcel_ids:
            parcel = parcels.get(pid)
            if parcel is None:
                problems.append(
                    Problem(
                        f"census row {i}",
                        f"parcel {pid} does not exist",
                        "a register parcel id",
                        "check the parcel id",
                    )
                )
            elif not in_district(parcel.admin_code, d.region_code):
                problems.append(
                    Problem(
                        f"census row {i}",
                        f"parcel {parcel.code} lies in {parcel.admin_code}, outside region {d.region_code}",
                        f"a parcel whose admin code starts with {d.region_code}",
                        "link parcels of the entry's region only",
                    )
                )
    return problems


def _drafts(
    session: Session,
    year: int,
    run_id: int | None,
    census: Sequence[Mapping[str, Any]],
    departments: Mapping[str, str] | None,
) -> list[EntryDraft]:
    problems = [p for i, row in enumerate(census) for p in rules.census_problems(i, row)]
    if problems:
        raise ValidationFailed(problems)
    drafts = []
    if run_id is not None:
        run = get_run(session, run_id)
        if run.year != year:
            problems.append(
                Problem(
                    "run",
                    f"run {run_id} accounts {run.year}",
                    f"a run of {year}",
                    "pick a run of the catalogue's year",
                )
            )
        drafts += rules.run_drafts(run_id, _run_rows(session, run_id), departments)
    census_drafts = [rules.census_draft(row) for row in census]
    problems += _parcel_problems(session, census_drafts)
    if not drafts and not census_drafts:
        problems.append(
            Problem("catalogue", "has no entries", "a run id or census rows", "give a source")
        )
    if problems:
        raise ValidationFailed(problems)
    return drafts + census_drafts


def build_version(
    session: Session,
    actor: Principal,
    year: int,
    run_id: int | None = None,
    census: Sequence[Mapping[str, Any]] = (),
    note: str = "",
    departments: Mapping[str, str] | None = None,
) -> CatalogueVersion:
    """Write a new catalogue version of ``year`` from a stored run and/or census rows.

    Run rows give one entry per region × indicator (:func:`rules.run_drafts`); census rows
    are validated all at once (:func:`rules.census_problems`) and may link parcels of their
    region. The new version supersedes the year's previous one, which stays readable.
    """
    require_role(actor, BUILDERS, "build the eco-product catalogue")
    drafts = _drafts(session, year, run_id, census, departments)
    current = current_version(session, year)
    version = CatalogueVersion(
        year=year,
        version=(current.version + 1) if current else 1,
        supersedes_id=current.id if current else None,
        run_id=run_id,
        note=note,
        created_by=actor.username,
    )
    session.add(version)
    session.flush()
    for d in drafts:
        entry = CatalogueEntry(
            version_id=version.id,
            year=year,
            **{k: v for k, v in d.__dict__.items() if k != "parcel_ids"},
        )
        session.add(entry)
        session.flush()
        session.add_all(CatalogueEntryParcel(entry_id=entry.id, parcel_id=p) for p in d.parcel_ids)
    session.flush()
    return version


def current_version(session: Session, year: int) -> CatalogueVersion | None:
    """The newest catalogue version of ``year``, or None."""
    return session.scalar(
        select(CatalogueVersion)
        .where(CatalogueVersion.year == year)
        .order_by(CatalogueVersion.version.desc())
        .limit(1)
    )


def versions(session: Session, actor: Principal, year: int) -> list[CatalogueVersion]:
    """Every version of ``year``, oldest first (the history)."""
    _require_read(actor)
    stmt = select(CatalogueVersion).where(CatalogueVersion.year == year)
    return list(session.scalars(stmt.order_by(CatalogueVersion.version)))


def get_version(
    session: Session, actor: Principal, year: int, version: int | None = None
) -> CatalogueVersion:
    """Version ``version`` of ``year`` (default: the current one); raises NotFound."""
    _require_read(actor)
    if version is None:
        found = current_version(session, year)
    else:
        found = session.scalar(
            select(CatalogueVersion).where(
                CatalogueVersion.year == year, CatalogueVersion.version == version
            )
        )
    if found is None:
        raise NotFound(
            f"no eco-product catalogue for {year}" + (f" version {version}" if version else "")
        )
    return found


def entries(
    session: Session,
    actor: Principal,
    year: int,
    version: int | None = None,
    district: str | None = None,
    product_class: str | None = None,
) -> tuple[CatalogueVersion, list[EntryView]]:
    """Entries of a version, optionally of one district (prefix) and class."""
    ver = get_version(session, actor, year, version)
    stmt = select(CatalogueEntry).where(CatalogueEntry.version_id == ver.id)
    if district:
        stmt = stmt.where(CatalogueEntry.region_code.startswith(district, autoescape=True))
    if product_class:
        stmt = stmt.where(
            CatalogueEntry.product_class == (rules.product_class(product_class) or product_class)
        )
    rows = list(session.scalars(stmt.order_by(CatalogueEntry.id)))
    links: dict[int, list[str]] = defaultdict(list)
    if rows:
        link_stmt = (
            select(CatalogueEntryParcel.entry_id, Parcel.code)
            .join(Parcel, Parcel.id == CatalogueEntryParcel.parcel_id)
            .where(CatalogueEntryParcel.entry_id.in_([r.id for r in rows]))
            .order_by(Parcel.code)
        )
        for entry_id, code in session.execute(link_stmt):
            links[entry_id].append(code)
    return ver, [EntryView(r, tuple(links[r.id])) for r in rows]


def is_synthetic(session: Session, ver: CatalogueVersion) -> bool:
    """True when the version was built from a run on a synthetic (demo) dataset."""
    return ver.run_id is not None and runs.is_synthetic(get_run(session, ver.run_id))


def export_xlsx(session: Session, actor: Principal, year: int, version: int | None = None) -> bytes:
    """The official table as XLSX: one sheet per class, Chinese headers, a title row.

    A catalogue built from a synthetic run says so in every sheet's title, in red, and in
    the printed header of every page.
    """
    ver, views = entries(session, actor, year, version)
    synthetic = is_synthetic(session, ver)
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for cls, name in CLASS_ZH.items():
        ws = wb.create_sheet(name)
        title = f"{year}年生态产品目录清单（{name}，第{ver.version}版）"
        ws.append([f"{title}  {SYNTHETIC_NOTICE}" if synthetic else title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(XLSX_HEADERS))
        ws["A1"].font = Font(bold=True, size=14, color="C00000" if synthetic else None)
        if synthetic:
            ws.oddHeader.center.text = "SYNTHETIC DATA / 合成数据"
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append(list(XLSX_HEADERS))
        for cell in ws[2]:
            cell.font = Font(bold=True)
        rows = [v for v in views if v.entry.product_class == cls]
        for n, v in enumerate(rows, start=1):
            e = v.entry
            ws.append(
                [
                    n,
                    name,
                    e.sub_item_zh,
                    e.sub_item,
                    e.region_code,
                    e.region_name or "",
                    e.quantity,
                    format_unit(e.unit),
                    e.quality_grade or "",
                    e.location or "",
                    "、".join(v.parcel_codes),
                    e.department,
                    e.year,
                    e.source,
                    e.value_current,
                ]
            )
        ws.freeze_panes = "A3"
        for col, width in zip(
            "ABCDEFGHIJKLMNO",
            (6, 10, 18, 22, 14, 12, 18, 10, 10, 18, 20, 18, 8, 20, 18),
            strict=True,
        ):
            ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
