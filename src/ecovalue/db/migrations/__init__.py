"""Alembic migration environment of ecovalue (a package so wheels include it)."""
