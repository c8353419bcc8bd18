"""Alembic environment: migrates the database named in the Alembic config's sqlalchemy.url."""

from __future__ import annotations

from alembic import context

from ecovalue.db.migrate import include_object
from ecovalue.db.session import make_engine
from ecovalue.platform.schema import metadata

config = context.config


def run_migrations_online() -> None:
    """Run migrations in a transaction on a live connection."""
    url = config.get_main_option("sqlalchemy.url") or ""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                include_object=include_object,
                render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies
                user_module_prefix="ecovalue.db.types.",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run_migrations_online()
