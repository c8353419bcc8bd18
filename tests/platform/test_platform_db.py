"""Persistence: migrations up from empty and back, geometry and decimal round trips."""

from __future__ import annotations

from decimal import Decimal

import pytest
import shapely
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select

from ecovalue.config import Settings
from ecovalue.db import migrate
from ecovalue.db.session import make_engine
from ecovalue.db.types import ExactDecimal, Geometry
from ecovalue.platform.schema import metadata


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        names = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    # PostGIS keeps its own spatial_ref_sys table in the public schema.
    return names - {"spatial_ref_sys"}


def test_upgrade_from_empty_and_downgrade_to_empty(empty_url: str) -> None:
    assert _tables(empty_url) == set()
    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    assert set(metadata.tables) <= _tables(empty_url)
    migrate.downgrade(empty_url)
    assert migrate.current_revision(empty_url) is None
    assert _tables(empty_url) <= {"alembic_version"}
    migrate.upgrade(empty_url)  # and up again after a full downgrade
    assert set(metadata.tables) <= _tables(empty_url)


@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"include_object": migrate.include_object})
            diff = compare_metadata(ctx, metadata)
    finally:
        engine.dispose()
    # Geometry columns reflect as a different type name; everything else must match exactly.
    diff = [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_type")]
    assert diff == []


def test_geometry_and_decimal_round_trip(database_url: str) -> None:
    md = MetaData()
    t = Table(
        "rt",
        md,
        Column("id", Integer, primary_key=True),
        Column("g", Geometry()),
        Column("m", ExactDecimal(24, 2)),
    )
    engine = make_engine(database_url)
    # A polygon with a hole and coordinates that WKT with default precision would round.
    poly = shapely.Polygon(
        [
            (500000.123456789, 3400000.987654321),
            (500100.1, 3400000.2),
            (500100.3, 3400100.4),
            (500000, 3400100),
        ],
        [[(500010, 3400010), (500020, 3400010), (500020, 3400020)]],
    )
    poly = shapely.set_srid(poly, 4547)
    big = Decimal("12345678901234567890.12")  # 22 digits: a float would lose the cents
    try:
        md.create_all(engine)
        with engine.begin() as conn:
            conn.execute(t.insert().values(id=1, g=poly, m=big))
            g, m = conn.execute(select(t.c.g, t.c.m)).one()
            if engine.dialect.name == "postgresql":  # a real PostGIS geometry
                area = conn.exec_driver_sql("SELECT ST_Area(g), ST_SRID(g) FROM rt").one()
                assert area[0] == pytest.approx(poly.area)
                assert area[1] == 4547
    finally:
        md.drop_all(engine)
        engine.dispose()
    assert shapely.equals_exact(g, poly, tolerance=0)
    assert shapely.get_srid(g) == 4547
    assert m == big


def test_float_money_is_refused(database_url: str) -> None:
    md = MetaData()
    t = Table("fm", md, Column("id", Integer, primary_key=True), Column("m", ExactDecimal()))
    engine = make_engine(database_url)
    try:
        md.create_all(engine)
        with pytest.raises(Exception, match="float"), engine.begin() as conn:
            conn.execute(t.insert().values(id=1, m=0.1))
    finally:
        md.drop_all(engine)
        engine.dispose()


def test_settings_refuse_default_secret_outside_development(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("ECOVALUE_SECRET_KEY", raising=False)
    monkeypatch.setenv("ECOVALUE_ENV", "production")
    with pytest.raises(ValueError, match="ECOVALUE_SECRET_KEY"):
        Settings()
    for weak in ("changethis", "x" * 32, "aaaaaaaaaaaaaaaa", "change-me-in-production"):
        with pytest.raises(ValueError, match="ECOVALUE_SECRET_KEY"):
            Settings(secret_key=weak)
    strong = "Vq3rT9zK1mXb7LpW2nYc8HdF4sJg6Qa0"
    assert Settings(secret_key=strong).secret_key.get_secret_value() == strong
    dev = Settings(env="development")  # a random secret, never empty
    assert len(dev.secret_key.get_secret_value()) >= 32


def test_default_database_is_a_sqlite_file_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("ECOVALUE_DATABASE_URL", raising=False)
    s = Settings(env="development")
    assert s.database_url == f"sqlite:///{tmp_path / 'ecovalue' / 'ecovalue.db'}"
