"""Alembic revisions of ecovalue, oldest first."""
