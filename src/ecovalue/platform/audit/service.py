"""Writing, anchoring and verifying the audit record.

Every flush of an :class:`~ecovalue.db.session.EcoSession` appends one entry per inserted,
updated or deleted row (except the record itself) in the same transaction, with the row's
full after-image, signed with the installation's HMAC key: a write without its entry
cannot be committed. Appending first updates the single ``audit_head`` row, which takes
the row lock on PostgreSQL and the write lock on SQLite, so the chain never forks. When
the key file's current key differs from the chain's, the first append records the
rotation, endorsed by the old key.

Sessions learn where the keys and the checkpoint log are from their factory
(:func:`audited_sessionmaker`); a session without them refuses to write. Committing a row
of a table marked ``__audit_checkpoint__ = True`` (publications) appends a checkpoint.

:func:`verify_record` checks the chain, the checkpoints and every business row against
the record (docs/audit.md says what each kind of attacker can and cannot hide).

Services that write rows with Core statements for speed (the exchange's journal and trading
record) record them with :func:`record_inserts`, in the same transaction and in the same
form as the listener's entries, so replay explains them too.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, event, func, insert, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from ecovalue.config import Settings
from ecovalue.db.bulk import insert_rows
from ecovalue.db.session import EcoSession, make_sessionmaker
from ecovalue.errors import EcovalueError, Problem
from ecovalue.platform.audit import checkpoints as cps
from ecovalue.platform.audit.checkpoints import Checkpoint
from ecovalue.platform.audit.keys import AuditKeyError, KeyFile, Keyring
from ecovalue.platform.audit.replay import after_image, entity_id, is_audited, replay
from ecovalue.platform.audit.rules import (
    GENESIS_HASH,
    KEYS_ENTITY,
    ROTATE_ACTION,
    ChainSummary,
    canonical_json,
    entry_hash,
    rotation_endorsement,
    stored_form,
    verify_chain,
)
from ecovalue.platform.audit.tables import AuditEntry, AuditHead

log = logging.getLogger(__name__)
SETUP_KEY = "ecovalue.audit"
_PENDING = "ecovalue.audit.checkpoint_reasons"


class AuditNotConfigured(EcovalueError, RuntimeError):
    """A session writes rows but was not created with the installation's audit keys."""


@dataclass(frozen=True)
class AuditSetup:
    """Where one installation keeps its audit keys and its checkpoint log."""

    keys: KeyFile
    checkpoint_file: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditSetup:
        lenient = settings.env in ("development", "test")
        return cls(
            KeyFile(settings.audit_key_file, may_create=lenient, strict=not lenient),
            Path(settings.audit_checkpoint_file).expanduser(),
        )


def audited_sessionmaker(engine: Engine, settings: Settings) -> sessionmaker[EcoSession]:
    """The session factory of an installation: sessions sign the record with its key."""
    factory = make_sessionmaker(engine)
    factory.configure(info={SETUP_KEY: AuditSetup.from_settings(settings)})
    return factory


def setup_of_factory(factory: sessionmaker[EcoSession]) -> AuditSetup:
    """The audit setup of a session factory made by :func:`audited_sessionmaker`."""
    setup = factory.kw.get("info", {}).get(SETUP_KEY)
    if not isinstance(setup, AuditSetup):
        raise AuditNotConfigured("the session factory was not made by audited_sessionmaker")
    return setup


def setup_of(session: Session) -> AuditSetup:
    """The audit setup a session was created with; raises AuditNotConfigured."""
    setup = session.info.get(SETUP_KEY)
    if not isinstance(setup, AuditSetup):
        raise AuditNotConfigured(
            "this database session has no audit key configured, so its writes cannot be "
            "recorded; create sessions with ecovalue.platform.audit.service."
            "audited_sessionmaker(engine, settings)"
        )
    return setup


@dataclass(frozen=True)
class Head:
    """The chain's last sequence number, hash and signing key."""

    seq: int
    hash: str
    key_id: str | None


def _lock_head(conn: Connection) -> Head:
    # The no-op UPDATE acquires the write lock before reading, on both backends.
    result = conn.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_seq=AuditHead.last_seq)
    )
    if result.rowcount == 0:
        conn.execute(insert(AuditHead).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
    row = conn.execute(
        select(AuditHead.last_seq, AuditHead.last_hash, AuditHead.last_key_id).where(
            AuditHead.id == 1
        )
    ).one()
    return Head(int(row.last_seq), str(row.last_hash), row.last_key_id)


class _Appender:
    """Builds the signed rows of one append, each chained to the one before."""

    def __init__(self, head: Head, keyring: Keyring, actor: str) -> None:
        self.seq, self.prev = head.seq, head.hash
        self.keyring = keyring
        self.actor = actor
        self.at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        self.rows: list[dict[str, Any]] = []

    def add(self, action: str, entity: str, entity_id: str, payload: str) -> None:
        self.seq += 1
        row: dict[str, Any] = dict(
            seq=self.seq,
            at=self.at,
            actor=self.actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            payload=payload,
            prev_hash=self.prev,
            key_id=self.keyring.current_id,
        )
        mac = entry_hash(row, self.keyring)
        assert mac is not None  # the current key is always in the keyring
        row["hash"] = mac
        self.rows.append(row)
        self.prev = mac

    def rotation(self, old_key_id: str) -> None:
        if self.keyring.get(old_key_id) is None:
            raise AuditKeyError(
                f"the record is signed with key '{old_key_id}', which the audit key file no "
                "longer holds; restore the key file from its backup (keys are never removed)"
            )
        new = self.keyring.current_id
        claim = {
            "from": old_key_id,
            "to": new,
            "endorsement": rotation_endorsement(self.keyring, old_key_id, new, self.prev),
        }
        self.add(ROTATE_ACTION, KEYS_ENTITY, new, canonical_json(claim))

    def write(self, conn: Connection) -> None:
        if self.rows:
            # many rows (a group commit's): the driver's executemany, bound as Core would
            insert_rows(conn, cast(Table, AuditEntry.__table__), self.rows)
            conn.execute(
                update(AuditHead)
                .where(AuditHead.id == 1)
                .values(last_seq=self.seq, last_hash=self.prev, last_key_id=self.keyring.current_id)
            )


def _row_payload(obj: Any, action: str) -> tuple[str, str]:
    state = inspect(obj)
    mapper = state.mapper
    table = mapper.local_table
    values = {
        c.name: stored_form(c.type, getattr(obj, mapper.get_property_by_column(c).key))
        for c in table.columns
    }
    if action == "update":
        values["_changed"] = sorted(
            a.key for a in mapper.column_attrs if state.attrs[a.key].history.has_changes()
        )
    entity_id = "/".join(str(v) for v in mapper.primary_key_from_instance(obj))
    return entity_id, canonical_json(values)


def _changes(session: Session) -> list[tuple[str, Any]]:
    changes: list[tuple[str, Any]] = [("insert", o) for o in session.new]
    changes += [("update", o) for o in session.dirty if session.is_modified(o)]
    changes += [("delete", o) for o in session.deleted]
    return [(a, o) for a, o in changes if is_audited(inspect(o).mapper)]


def _open_append(session: Session, actor: str | None) -> tuple[_Appender, Connection]:
    """Lock the head and start an append (recording a key rotation first when one is due)."""
    keyring = setup_of(session).keys.load()
    conn = session.connection()
    head = _lock_head(conn)
    appender = _Appender(head, keyring, actor or str(session.info.get("actor", "system")))
    if head.key_id is not None and head.key_id != keyring.current_id:
        appender.rotation(head.key_id)
    return appender, conn


def lock_head(session: Session) -> Head:
    """Take the record's write lock now and return its head.

    Writers that also lock heads of their own (the journal's) call this first, so every
    writer takes the locks in the same order and none waits on another in a circle. Every
    write anywhere moves the head, so a caller that kept rows in memory between its
    transactions knows from it whether anyone else has written since.
    """
    return _lock_head(session.connection())


def record_inserts(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], actor: str | None = None
) -> None:
    """Append an ``insert`` entry per row written to ``table`` with a Core statement.

    Each row must hold every column of the table, as it was written; the entry's after-image
    is built exactly as the ORM listener builds it (:func:`~.replay.after_image`), so
    ``audit verify`` replays these rows like any other. Call it in the writing transaction.
    """
    if not rows:
        return
    appender, conn = _open_append(session, actor)
    for values in rows:
        image = after_image(table, lambda c, v=values: v[c.name])
        appender.add("insert", table.name, entity_id(image, table), canonical_json(image))
    appender.write(conn)


@event.listens_for(EcoSession, "after_flush")
def _append_audit_entries(session: Session, flush_context: Any) -> None:
    changes = _changes(session)
    if not changes:
        return
    appender, conn = _open_append(session, None)
    for action, obj in sorted(changes, key=lambda c: (c[1].__tablename__, c[0])):
        entity_id, payload = _row_payload(obj, action)
        appender.add(action, obj.__tablename__, entity_id, payload)
        if action == "insert" and getattr(type(obj), "__audit_checkpoint__", False):
            session.info.setdefault(_PENDING, []).append(f"{obj.__tablename__} {entity_id}")
    appender.write(conn)


def record_key_rotation(session: Session) -> Head:
    """Append the switch to the key file's current key now (``ecovalue audit rotate-key``)."""
    keyring = setup_of(session).keys.load()
    conn = session.connection()
    head = _lock_head(conn)
    if head.key_id is None or head.key_id == keyring.current_id:
        return head
    appender = _Appender(head, keyring, str(session.info.get("actor", "system")))
    appender.rotation(head.key_id)
    appender.write(conn)
    session.info.setdefault(_PENDING, []).append(f"key rotation to {keyring.current_id}")
    return Head(appender.seq, appender.prev, keyring.current_id)


def read_head(session: Session) -> Head | None:
    """The committed-or-current head of the chain, or None before the first write."""
    row = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash, AuditHead.last_key_id)
    ).first()
    return None if row is None else Head(int(row.last_seq), str(row.last_hash), row.last_key_id)


def write_checkpoint(setup: AuditSetup, head: Head, reason: str) -> Checkpoint:
    """Sign the head with the current key and append it to the checkpoint log."""
    checkpoint = cps.sign(setup.keys.load(), head.seq, head.hash, reason)
    cps.append(setup.checkpoint_file, checkpoint)
    return checkpoint


def checkpoint_now(session: Session, reason: str) -> Checkpoint | None:
    """Checkpoint the head as this session sees it (None while the record is empty)."""
    head = read_head(session)
    if head is None or head.seq == 0:
        return None
    return write_checkpoint(setup_of(session), head, reason)


@event.listens_for(EcoSession, "after_commit")
def _checkpoint_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A savepoint was released (SQLAlchemy fires after_commit for it too): the outer
        # transaction still holds its locks and may yet roll back; wait for its commit.
        return
    reasons = session.info.pop(_PENDING, None)
    if not reasons:
        return
    setup = setup_of(session)
    # The transaction is over: read the committed head on a connection of our own.
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(AuditHead.last_seq, AuditHead.last_hash, AuditHead.last_key_id)
            ).first()
            conn.rollback()
        if row is not None:
            write_checkpoint(
                setup, Head(row.last_seq, row.last_hash, row.last_key_id), ", ".join(reasons)
            )
    except (OSError, EcovalueError) as exc:
        # The data are committed; the next checkpoint (daily, verify) anchors them.
        log.error("could not write the audit checkpoint for %s: %s", ", ".join(reasons), exc)


@event.listens_for(EcoSession, "after_rollback")
def _forget_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back: what the outer transaction asked for still stands
    session.info.pop(_PENDING, None)


@dataclass
class RecordReport:
    """The outcome of :func:`verify_record`."""

    problems: list[Problem] = field(default_factory=list)
    chain: ChainSummary = field(default_factory=ChainSummary)
    checkpoints: int = 0
    rows: int = 0

    @property
    def intact(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _entries(session: Session) -> Iterable[dict[str, Any]]:
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
        AuditEntry.key_id,
    ]
    stmt = select(*cols).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    return (dict(r._mapping) for r in session.execute(stmt))


def _keyring_or_problem(setup: AuditSetup, problems: list[Problem]) -> Keyring | None:
    try:
        return setup.keys.load(create=False)
    except AuditKeyError as exc:
        problems.append(
            Problem(
                "audit key file",
                str(exc),
                "the installation's key file",
                "restore it from its backup; entries cannot be verified without it",
            )
        )
        return None


def _unkeyed_unvouched(
    s: ChainSummary,
    checkpoints: Sequence[tuple[str, Checkpoint]],
    checkpoint_problems: list[Problem],
) -> list[Problem]:
    if s.last_unkeyed_seq == 0 or s.key_id is not None:
        return []  # none, or a keyed entry's MAC covers their last hash
    bad = {p.where for p in checkpoint_problems}
    if any(c.seq >= s.last_unkeyed_seq and w not in bad for w, c in checkpoints):
        return []
    return [
        Problem(
            f"audit_log entries 1..{s.last_unkeyed_seq}",
            "carry no key (plain SHA-256, written before the chain was keyed) and no signed "
            "checkpoint or keyed entry vouches for them: anyone with database access could have "
            "rewritten them",
            "a keyed entry after them or a checkpoint covering them",
            "check them against a backup, then run `ecovalue audit checkpoint`",
        )
    ]


def verify_record(session: Session, anchors: Sequence[tuple[str, Checkpoint]] = ()) -> RecordReport:
    """Check the chain, every checkpoint (logged and ``anchors``) and every audited row."""
    setup = setup_of(session)
    report = RecordReport()
    keyring = _keyring_or_problem(setup, report.problems)
    logged, unreadable = cps.read(setup.checkpoint_file)
    report.problems += unreadable
    every = [*logged, *anchors]
    head = session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash, AuditHead.last_key_id)
    ).first()
    chain_problems, summary = verify_chain(
        _entries(session),
        None if head is None else dict(head._mapping),
        keyring,
        wanted={c.seq for _, c in every},
    )
    report.problems += chain_problems
    report.chain = summary
    cp_problems = cps.check(every, keyring, summary.last_seq, summary.hashes)
    report.problems += cp_problems
    report.checkpoints = len(every)
    report.problems += _unkeyed_unvouched(summary, every, cp_problems)
    if not logged and summary.entries:
        report.problems.append(
            Problem(
                str(setup.checkpoint_file),
                "no checkpoint has been written yet (or the log was "
                "deleted): a rollback of the record could not be seen",
                "the checkpoint log",
                "run `ecovalue audit checkpoint` daily (cron) and keep copies",
                severity="warning",
            )
        )
    replay_problems, report.rows = replay(session)
    report.problems += replay_problems
    return report


def verify_audit_chain(session: Session) -> list[Problem]:
    """Every error :func:`verify_record` finds; an empty list means the record is intact."""
    return [p for p in verify_record(session).problems if p.severity == "error"]


def entries_for(session: Session, entity: str, entity_id: str) -> list[AuditEntry]:
    """The audit history of one row, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.seq)
    )
    return list(session.scalars(stmt))


def payloads_of(session: Session, entity: str) -> dict[str, str]:
    """The newest recorded after-image of every row of table ``entity``, by entity id."""
    stmt = (
        select(AuditEntry.entity_id, AuditEntry.payload)
        .where(AuditEntry.entity == entity)
        .order_by(AuditEntry.seq)
    )
    return {eid: payload for eid, payload in session.execute(stmt)}


def checkpoint_for(session: Session, entity: str, entity_id: str) -> Checkpoint | None:
    """The first checkpoint that covers the row's first entry (None until one is written)."""
    first = session.scalar(
        select(func.min(AuditEntry.seq)).where(
            AuditEntry.entity == entity, AuditEntry.entity_id == entity_id
        )
    )
    if first is None:
        return None
    return cps.covering(setup_of(session).checkpoint_file, int(first))


def parse_anchor(text: str, where: str) -> tuple[str, Checkpoint]:
    """A checkpoint kept elsewhere (a published result's, a cron mail's) as a verify anchor."""
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "checkpoint" in data:  # a whole published-result answer
            data = data["checkpoint"]
        return where, cps.parse(json.dumps(data), where)
    except ValueError as exc:
        raise EcovalueError(
            f"{where} is not a checkpoint ({exc}); pass the JSON line of a "
            "checkpoint or a published result's answer"
        ) from exc
