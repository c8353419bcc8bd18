"""Replay the record into rows and compare them with the business tables.

Every entry carries the full after-image of its row (insert and update) or the row it
removed (delete). Folding the entries of one table by primary key gives the rows the
record explains; any table row that differs, is missing or is unexplained is named. The
mechanism is generic: every ORM table is replayed unless it opts out with
``__audit_exempt__ = True`` (then it is not recorded either), so a feature's new tables
(the exchange's journal, say) are covered by being mapped.

Both sides are streamed in primary-key order (single integer keys; other keys fall back to
a dictionary), so memory stays flat on large tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, Table, cast, select
from sqlalchemy.orm import Mapper, Session

from ecovalue.db.base import Base
from ecovalue.errors import Problem
from ecovalue.platform.audit.rules import KEYS_ENTITY, same_value, stored_form
from ecovalue.platform.audit.tables import AuditEntry, AuditHead

AUDIT_TABLES = frozenset({AuditEntry.__tablename__, AuditHead.__tablename__})
MAX_NAMED_PER_TABLE = 25  # rows named per table; the rest are counted
FIX_ROW = (
    "find who changed the table outside the platform (database logs); restore the row from "
    "the record's after-image or a backup, never edit the record to match"
)


def is_audited(mapper: Mapper[Any]) -> bool:
    """True for every mapped table except the record itself and tables that opt out."""
    table = mapper.local_table
    return (
        isinstance(table, Table)
        and table.name not in AUDIT_TABLES
        and not getattr(mapper.class_, "__audit_exempt__", False)
    )


def audited_tables() -> list[Table]:
    """The tables the record explains, by name."""
    tables = {
        t.name: t
        for m in Base.registry.mappers
        if is_audited(m) and isinstance(t := m.local_table, Table)
    }
    return [t for _, t in sorted(tables.items())]


def entity_id(values: Mapping[str, Any], table: Table) -> str:
    """The text form of a row's primary key as entries name it (``/`` between parts)."""
    return "/".join(str(values[c.name]) for c in table.primary_key.columns)


def after_image(table: Table, get: Any) -> dict[str, Any]:
    """The row as the database keeps it: column name -> JSON value (``get(column)`` reads one)."""
    return {c.name: stored_form(c.type, get(c)) for c in table.columns}


@dataclass(frozen=True)
class _Recorded:
    seq: int
    action: str
    actor: str
    at: str
    values: dict[str, Any]


def _recorded_rows(
    session: Session, table: Table, integer_key: bool
) -> Iterator[tuple[str, _Recorded]]:
    """(entity_id, last entry) per primary key, in key order."""
    key = cast(AuditEntry.entity_id, Integer) if integer_key else AuditEntry.entity_id
    stmt = (
        select(
            AuditEntry.entity_id,
            AuditEntry.seq,
            AuditEntry.action,
            AuditEntry.actor,
            AuditEntry.at,
            AuditEntry.payload,
        )
        .where(AuditEntry.entity == table.name)
        .order_by(key, AuditEntry.seq)
        .execution_options(yield_per=2000)
    )
    last: tuple[str, _Recorded] | None = None
    for eid, seq, action, actor, at, payload in session.execute(stmt):
        try:
            values = json.loads(payload)
        except ValueError:
            values = {}
        rec = (
            str(eid),
            _Recorded(seq, action, actor, at, values if isinstance(values, dict) else {}),
        )
        if last is not None and last[0] != rec[0]:
            yield last
        last = rec
    if last is not None:
        yield last


def _stored_rows(session: Session, table: Table) -> Iterator[tuple[str, dict[str, Any]]]:
    pk = list(table.primary_key.columns)
    stmt = select(table).order_by(*pk).execution_options(yield_per=2000)
    for row in session.execute(stmt):
        m = row._mapping
        image = after_image(table, lambda c, m=m: m[c])
        yield entity_id(image, table), image


class _TableReport:
    def __init__(self, table: Table) -> None:
        self.table = table
        self.problems: list[Problem] = []
        self.unnamed = 0
        self.rows = 0

    def add(self, eid: str, what: str, expected: str) -> None:
        if len(self.problems) >= MAX_NAMED_PER_TABLE:
            self.unnamed += 1
            return
        self.problems.append(Problem(f"{self.table.name} row {eid}", what, expected, FIX_ROW))

    def compare(self, eid: str, rec: _Recorded | None, stored: dict[str, Any] | None) -> None:
        if stored is not None:
            self.rows += 1
        live = rec is not None and rec.action != "delete"
        if stored is None and live:
            assert rec is not None
            self.add(
                eid,
                f"is missing: the record's entry {rec.seq} ({rec.action} by {rec.actor} "
                f"at {rec.at}) says it exists; it was deleted outside the platform",
                f"the row as recorded: {_short(rec.values)}",
            )
        elif stored is not None and not live:
            how = "never inserted it" if rec is None else f"deleted it in entry {rec.seq}"
            self.add(
                eid,
                f"is not explained by the record, which {how}: inserted outside the "
                f"platform ({_short(stored)})",
                "no such row",
            )
        elif stored is not None and rec is not None:
            diffs = [
                f"{c.name}: table {_short(stored[c.name])}, record {_short(rec.values.get(c.name))}"
                for c in self.table.columns
                if not same_value(c, rec.values.get(c.name), stored[c.name])
            ]
            if diffs:
                self.add(
                    eid,
                    "differs from the record's entry "
                    f"{rec.seq} ({rec.action} by {rec.actor} at {rec.at}): " + "; ".join(diffs),
                    "the values of the record's last entry for the row",
                )

    def result(self) -> list[Problem]:
        if self.unnamed:
            return [
                *self.problems,
                Problem(
                    self.table.name,
                    f"{self.unnamed} more rows differ from the record",
                    "none",
                    FIX_ROW,
                ),
            ]
        return self.problems


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


def _merge(
    report: _TableReport,
    recorded: Iterator[tuple[str, _Recorded]],
    stored: Iterator[tuple[str, dict[str, Any]]],
) -> None:
    rec, row = next(recorded, None), next(stored, None)
    while rec is not None or row is not None:
        rk = int(rec[0]) if rec is not None else None
        sk = int(row[0]) if row is not None else None
        if sk is None or (rk is not None and rk < sk):
            assert rec is not None
            report.compare(rec[0], rec[1], None)
            rec = next(recorded, None)
        elif rk is None or sk < rk:
            assert row is not None
            report.compare(row[0], None, row[1])
            row = next(stored, None)
        else:
            assert rec is not None and row is not None
            report.compare(row[0], rec[1], row[1])
            rec, row = next(recorded, None), next(stored, None)


def replay_table(session: Session, table: Table) -> tuple[list[Problem], int]:
    """Problems of one table and the number of its rows checked."""
    report = _TableReport(table)
    pk: list[Column[Any]] = list(table.primary_key.columns)
    if len(pk) == 1 and isinstance(pk[0].type, Integer):
        _merge(report, _recorded_rows(session, table, True), _stored_rows(session, table))
    else:
        recorded = dict(_recorded_rows(session, table, False))
        stored = dict(_stored_rows(session, table))
        for eid in sorted(recorded.keys() | stored.keys()):
            report.compare(eid, recorded.get(eid), stored.get(eid))
    return report.result(), report.rows


def unknown_entities(session: Session, tables: list[Table]) -> list[Problem]:
    """Entries naming something that is neither an audited table nor a key rotation."""
    known = {t.name for t in tables} | {KEYS_ENTITY}
    names = session.scalars(select(AuditEntry.entity).distinct())
    return [
        Problem(
            f"audit_log entity '{n}'",
            "names no table of this schema; its entries are not replayed",
            "an audited table",
            "if the table was dropped by a migration this is "
            "expected; otherwise find who wrote these entries",
            severity="warning",
        )
        for n in names
        if n not in known
    ]


def replay(session: Session) -> tuple[list[Problem], int]:
    """Every row of every audited table that the record does not explain; rows checked."""
    tables = audited_tables()
    problems = unknown_entities(session, tables)
    checked = 0
    for table in tables:
        found, rows = replay_table(session, table)
        problems += found
        checked += rows
    return problems, checked
