"""The declarative base shared by every table, with stable constraint names for Alembic."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic names so migrations can drop/alter constraints identically on SQLite and
# PostgreSQL (SQLite has no names of its own to fall back on).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all ORM tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Immutable:
    """Mixin for rows that are never updated or deleted once written.

    :func:`ecovalue.db.session.install_guards` refuses a flush that modifies or deletes an
    instance of a class carrying this mixin; corrections are new rows that supersede.
    """


def utcnow() -> dt.datetime:
    """Now in UTC; the Python-side default of ``created_at`` columns (known before flush)."""
    return dt.datetime.now(dt.UTC)
