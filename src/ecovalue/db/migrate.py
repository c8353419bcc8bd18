"""Run the Alembic migrations of ecovalue programmatically (used by the CLI and tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ecovalue.db.session import make_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Tables that belong to extensions (PostGIS), not to ecovalue's schema.
FOREIGN_TABLES = frozenset({"spatial_ref_sys"})


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic autogenerate filter: ignore extension tables and PostgreSQL-only GiST indexes.

    GiST indexes exist only on PostgreSQL, so the migrations create them by hand.
    """
    if type_ == "index" and name and name.endswith("_gist"):
        return False
    return not (type_ == "table" and name in FOREIGN_TABLES)


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and ``database_url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats '%' as interpolation; URLs with escaped passwords contain it.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database at ``database_url`` up to ``revision`` (creating it if empty)."""
    make_engine(database_url).dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrate down to ``revision``; ``base`` removes every ecovalue table."""
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty database."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this version of ecovalue."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
