"""Writing and verifying the audit log.

Every flush of an :class:`~ecovalue.db.session.EcoSession` appends one entry per inserted,
updated or deleted row (except the log itself) in the same transaction, so a write without
its audit entry cannot be committed. Appending first updates the single ``audit_head`` row,
which takes the row lock on PostgreSQL and the write lock on SQLite: concurrent writers
append one after another and the chain never forks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from ecovalue.db.bulk import insert_rows
from ecovalue.db.session import EcoSession
from ecovalue.errors import Problem
from ecovalue.platform.audit.rules import (
    GENESIS_HASH,
    canonical_json,
    entry_hash,
    jsonable,
    verify_chain,
)
from ecovalue.platform.audit.tables import AuditEntry, AuditHead

_AUDIT_TABLES = {AuditEntry.__tablename__, AuditHead.__tablename__}


def _row_values(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {attr.key: jsonable(getattr(obj, attr.key)) for attr in mapper.column_attrs}


def _changes(session: Session) -> list[tuple[str, Any]]:
    changes: list[tuple[str, Any]] = [("insert", o) for o in session.new]
    changes += [("update", o) for o in session.dirty if session.is_modified(o)]
    changes += [("delete", o) for o in session.deleted]
    return [(a, o) for a, o in changes if getattr(o, "__tablename__", "") not in _AUDIT_TABLES]


def _lock_head(conn: Connection) -> tuple[int, str]:
    # The no-op UPDATE acquires the write lock before reading, on both backends.
    result = conn.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_seq=AuditHead.last_seq)
    )
    if result.rowcount == 0:
        conn.execute(insert(AuditHead).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
    row = conn.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1)
    ).one()
    return int(row.last_seq), str(row.last_hash)


def lock_head(session: Session) -> tuple[int, str]:
    """Take the audit chain's write lock now and return its (last seq, last hash).

    Writers that also lock other heads call this first, so every writer takes the locks in
    the same order and none waits on another. Every write anywhere moves the head, so a
    caller that kept data in memory knows from it whether anyone else wrote since.
    """
    return _lock_head(session.connection())


def head(session: Session) -> tuple[int, str]:
    """The audit chain's (last seq, last hash) as this transaction sees it."""
    row = session.connection().execute(select(AuditHead.last_seq, AuditHead.last_hash)).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def append_entries(
    session: Session, actor: str, changes: Sequence[tuple[str, str, str, Mapping[str, Any]]]
) -> None:
    """Append one entry per (action, table, entity id, row values) in the session's transaction.

    The ORM listener below calls it for every flushed row; services that write rows with
    Core statements (the journal's hot path) call it with the values they wrote, so their
    rows are in the log exactly as ORM rows are.
    """
    if not changes:
        return
    conn = session.connection()
    seq, prev = _lock_head(conn)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    rows = []
    for action, entity, entity_id, values in changes:
        seq += 1
        payload = canonical_json({k: jsonable(v) for k, v in values.items()})
        h = entry_hash(seq, at, actor, action, entity, entity_id, payload, prev)
        rows.append(
            dict(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                payload=payload,
                prev_hash=prev,
                hash=h,
            )
        )
        prev = h
    insert_rows(conn, cast(Table, AuditEntry.__table__), rows)  # many rows: the driver's executemany
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_seq=seq, last_hash=prev))


@event.listens_for(EcoSession, "after_flush")
def _append_audit_entries(session: Session, flush_context: Any) -> None:
    changes = _changes(session)
    if not changes:
        return
    out = []
    for action, obj in sorted(changes, key=lambda c: (c[1].__tablename__, c[0])):
        identity = inspect(obj).mapper.primary_key_from_instance(obj)
        values = _row_values(obj)
        if action == "update":
            state = inspect(obj)
            values["_changed"] = sorted(
                a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()
            )
        out.append((action, obj.__tablename__, "/".join(str(v) for v in identity), values))
    append_entries(session, str(session.info.get("actor", "system")), out)


def verify_audit_chain(session: Session) -> list[Problem]:
    """Every problem in the audit chain; an empty list means the log is intact."""
    cols = [
        AuditEntry.seq,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.entity,
        AuditEntry.entity_id,
        AuditEntry.payload,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    ]
    entries = (dict(r._mapping) for r in session.execute(select(*cols).order_by(AuditEntry.seq)))
    head = session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).first()
    if head is None:
        return verify_chain(entries, 0, GENESIS_HASH)
    return verify_chain(entries, int(head.last_seq), str(head.last_hash))


def entries_for(session: Session, entity: str, entity_id: str) -> list[AuditEntry]:
    """The audit history of one row, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(stmt))


def payloads_of(session: Session, entity: str) -> dict[str, str]:
    """The newest logged payload of every row of table ``entity``, by entity id."""
    stmt = (
        select(AuditEntry.entity_id, AuditEntry.payload)
        .where(AuditEntry.entity == entity)
        .order_by(AuditEntry.seq)
    )
    return {entity_id: payload for entity_id, payload in session.execute(stmt)}
