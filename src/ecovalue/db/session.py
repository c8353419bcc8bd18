"""Engine, sessions and the unit of work.

A unit of work is one database transaction: :func:`unit_of_work` commits when the block
ends normally and rolls back on any exception. Services receive the session and never
commit themselves, so one API request or one CLI command is exactly one transaction
(docs/decisions/0102-unit-of-work.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from ecovalue.db.base import Base, Immutable
from ecovalue.db.bounds import row_problems
from ecovalue.errors import InputError, ValidationFailed


class EcoSession(Session):
    """The session class of ecovalue; platform listeners (audit) attach to this class only.

    ``info["actor"]`` names who is writing; the audit log records it.
    """


@event.listens_for(EcoSession, "before_flush")
def _refuse_changes_to_immutable(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Immutable) and (obj in session.deleted or session.is_modified(obj)):
            raise InputError(
                f"{type(obj).__name__} rows are immutable once written; record a new row "
                "that supersedes this one instead of editing or deleting it"
            )


READ_ONLY = "ecovalue_read_only"


@event.listens_for(EcoSession, "before_flush")
def _refuse_writes_when_read_only(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only unit of work tried to write; open it with read_only=False")


@event.listens_for(EcoSession, "before_flush")
def _refuse_values_out_of_bounds(session: Session, flush_context: Any, instances: Any) -> None:
    # SQLite would store what PostgreSQL refuses (long strings, NUL, huge numbers): refuse it
    # on both, so the two backends hold exactly the same data (ecovalue.db.bounds).
    problems = [p for obj in list(session.new) + list(session.dirty) for p in row_problems(obj)]
    if problems:
        raise ValidationFailed(problems)


@event.listens_for(Base, "load", propagate=True)
@event.listens_for(Base, "refresh", propagate=True)
def _aware_timestamps(obj: Any, context: Any, attrs: Any = None) -> None:
    # Timestamp columns hold UTC; SQLite hands them back without their offset, PostgreSQL
    # with it. Every loaded row carries the offset, so every output shows it the same way.
    for attr in inspect(obj).mapper.column_attrs:
        kind = attr.columns[0].type
        value = obj.__dict__.get(attr.key)
        if isinstance(kind, DateTime) and kind.timezone and isinstance(value, dt.datetime):
            if value.tzinfo is None:
                set_committed_value(obj, attr.key, value.replace(tzinfo=dt.UTC))


def _nul_in(params: Any) -> bool:
    # Plain loops two levels deep, no call per row: executemany hands over thousands of rows.
    if isinstance(params, str):
        return "\x00" in params
    if isinstance(params, dict):
        params = params.values()
    elif not isinstance(params, list | tuple):
        return False
    for value in params:
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict | list | tuple):
            for inner in value.values() if isinstance(value, dict) else value:
                if isinstance(inner, str):
                    if "\x00" in inner:
                        return True
                elif isinstance(inner, dict | list | tuple) and _nul_in(inner):
                    return True
    return False


def _refuse_nul(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
                executemany: bool) -> None:  # fmt: skip
    # PostgreSQL cannot hold NUL in text, SQLite can: refuse it in every statement, reads
    # included, so both backends answer the same and no query fails with a driver error.
    if _nul_in(params):
        raise InputError(
            "a value contains a NUL character (\\x00), which the database cannot hold; "
            "remove it from the text"
        )


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINTs and delays BEGIN; SQLAlchemy
    # emits BEGIN itself instead (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Write-ahead log: readers never block the writer; FULL syncs the log at every commit,
    # so a committed transaction survives a crash (decision 0123); :memory: ignores it.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    # Concurrent writers wait instead of failing at once; SQLite serialises writes anyway.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE takes the write lock at the start, so a transaction never reads state that
    # another writer changes before it writes: SQLite's equivalent of SELECT … FOR UPDATE.
    # A read-only unit of work begins DEFERRED instead: it takes no write lock, so readers
    # run side by side instead of one after another.
    read_only = conn.get_execution_options().get(READ_ONLY)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite files get their folder created and sane pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
        event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    raise InputError(
        f"database URL '{parsed.render_as_string()}' uses backend '{parsed.get_backend_name()}'; "
        "expected sqlite:///path/to/file.db or postgresql://user@host/dbname"
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[EcoSession]:
    """A session factory bound to ``engine`` producing :class:`EcoSession` objects."""
    return sessionmaker(bind=engine, class_=EcoSession, expire_on_commit=False)


@contextmanager
def unit_of_work(
    factory: sessionmaker[EcoSession], actor: str = "system", read_only: bool = False
) -> Iterator[EcoSession]:
    """Open one transaction: commit on success, roll back on error, always close.

    ``read_only`` (pages and reports that only read): no write lock on SQLite (``BEGIN``
    deferred instead of ``IMMEDIATE``), ``SET TRANSACTION READ ONLY`` on PostgreSQL, and any
    attempt to flush a change raises.
    """
    session = factory()
    session.info["actor"] = actor
    if read_only:
        session.info[READ_ONLY] = True
        conn = session.connection(execution_options={READ_ONLY: True})
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgresql(session: Session) -> bool:
    """True when ``session`` talks to PostgreSQL (row locks and PostGIS are available)."""
    return session.get_bind().dialect.name == "postgresql"
