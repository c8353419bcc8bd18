"""The platform CLI commands end to end on a SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import shapely
import typer
from platform_support import square
from typer.testing import CliRunner

from ecovalue.cli.platform import audit_app, db_app, registry_app, users_app
from ecovalue.db import migrate
from ecovalue.db.session import make_engine, make_sessionmaker, unit_of_work
from ecovalue.platform.auth.rules import SYSTEM
from ecovalue.platform.registry import service as reg

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.add_typer(registry_app, name="registry")
    return app


def test_cli_db_users_registry_audit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app, opt = _app(), ["--database-url", url]
    r = runner.invoke(app, ["db", "upgrade", *opt])
    assert r.exit_code == 0 and f"revision {migrate.head_revision()}" in r.output
    r = runner.invoke(
        app,
        ["users", "add", "li", "--role", "district_official", *opt],
        env={"ECOVALUE_NEW_PASSWORD": "a long password"},
    )
    assert r.exit_code == 1 and "district code" in r.output
    r = runner.invoke(
        app,
        ["users", "add", "li", "--role", "district_official", "--district", "420102", *opt],
        env={"ECOVALUE_NEW_PASSWORD": "a long password"},
    )
    assert r.exit_code == 0, r.output
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as s:
        reg.create_register(s, SYSTEM, "WH", "r", 4547)
    engine.dispose()
    path = tmp_path / "p.geojson"
    feats = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(square(0, 0)),
            "properties": {
                "code": "P1",
                "resource_type": "forest",
                "admin_code": "420102",
                "owner_kind": "state",
                "owner_name": "全民所有",
            },
        },
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(square(10, 10)),
            "properties": {
                "code": "P2",
                "resource_type": "forest",
                "admin_code": "420102",
                "owner_kind": "state",
                "owner_name": "全民所有",
            },
        },
    ]
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
                "features": feats,
            }
        ),
        encoding="utf-8",
    )
    r = runner.invoke(app, ["registry", "import", str(path), "--register", "WH", *opt])
    assert r.exit_code == 1 and "overlaps" in r.output and "feature 1" in r.output
    r = runner.invoke(
        app, ["registry", "import", str(path), "--register", "WH", "--skip-bad", *opt]
    )
    assert "imported 1 parcel" in r.output
    assert runner.invoke(app, ["audit", "verify", *opt]).exit_code == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    r = runner.invoke(app, ["audit", "verify", *opt])
    assert r.exit_code == 1 and "changed" in r.output
    r = runner.invoke(app, ["db", "downgrade", "base", "--yes", *opt])
    assert r.exit_code == 0 and "base (empty)" in r.output
