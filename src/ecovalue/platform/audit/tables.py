"""ORM tables of the audit log: the entries and the single-row chain head."""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ecovalue.db.base import Base


class AuditEntry(Base):
    """One write: who, when, what (table, key, action) and the row's after-image, HMAC-chained.

    ``hash`` is the HMAC-SHA256 under key ``key_id`` (NULL: plain SHA-256 of an entry written
    before the chain was keyed); see :mod:`ecovalue.platform.audit.rules`.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC text: hashes identically everywhere
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(16))  # insert | update | delete
    entity: Mapped[str] = mapped_column(String(80))
    entity_id: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of the row values
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(40))


class AuditHead(Base):
    """The last sequence number and hash; writers lock this row to append in order.

    It also reveals a deleted tail: the head then names an entry that no longer exists.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_key_id: Mapped[str | None] = mapped_column(String(40))
