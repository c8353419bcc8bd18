"""Persistence: engine and session, the unit of work, column types and Alembic migrations.

Lower layers never import this package; ``platform`` features define their tables on
:class:`ecovalue.db.base.Base` and open transactions only through
:func:`ecovalue.db.session.unit_of_work`.
"""
