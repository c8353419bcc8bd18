"""Fixtures for platform tests: the same tests run against SQLite and a real PostgreSQL+PostGIS.

The PostgreSQL server is a throwaway one started here (initdb into a temporary folder, own
port, unix socket in the temporary folder, fsync off) and stopped at the end of the
session; nobody starts a server by hand. As root, postgres runs as the ``postgres`` system
user. Without PostgreSQL 15 + PostGIS installed, only the PostgreSQL parameters are skipped.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from ecovalue.cli import common as cli_common
from ecovalue.cli import platform as cli_platform
from ecovalue.config import Settings
from ecovalue.db import migrate
from ecovalue.db.session import EcoSession, make_engine, unit_of_work
from ecovalue.platform import schema  # noqa: F401  (installs the audit listener)
from ecovalue.platform.audit.service import audited_sessionmaker

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
SKIP_REASON = "PostgreSQL 15 + PostGIS not installed: apt-get install postgresql-15-postgis-3"


def _pg_tool(name: str) -> str | None:
    if (PG_BIN / name).exists():
        return str(PG_BIN / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running throwaway PostgreSQL server reachable through its unix socket."""

    socket_dir: str
    port: int
    _counter: itertools.count = itertools.count(1)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.socket_dir}&port={self.port}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.socket_dir,
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(sql)

    def new_database(self, template: str | None = None) -> str:
        name = f"t{os.getpid()}_{next(self._counter)}"
        self.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return name


def _run_as_postgres(args: list[str]) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    """A PostgreSQL+PostGIS server for the whole session, or None when not installed."""
    initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
    if not (initdb and pg_ctl and POSTGIS_CONTROL.exists()):
        yield None
        return
    tmp = tempfile.mkdtemp(prefix="ecovalue-pg-")
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    data, port = os.path.join(tmp, "data"), _free_port()
    _run_as_postgres(
        [
            initdb,
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        ]
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
    _run_as_postgres(
        [pg_ctl, "-D", data, "-o", opts, "-l", os.path.join(tmp, "log"), "-w", "start"]
    )
    server = PgServer(tmp, port)
    try:
        yield server
    finally:
        _run_as_postgres([pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"])
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer | None) -> str | None:
    """Name of a migrated template database that test databases are copied from."""
    if pg_server is None:
        return None
    name = pg_server.new_database()
    migrate.upgrade(pg_server.url(name))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that test databases are copied from."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, pg_server: PgServer | None) -> str:
    """The database backend a test runs against."""
    if request.param == "postgresql" and pg_server is None:
        pytest.skip(SKIP_REASON)
    return str(request.param)


@pytest.fixture
def empty_url(backend: str, pg_server: PgServer | None, tmp_path: Path) -> str:
    """URL of a new, empty database (no tables)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    assert pg_server is not None
    return pg_server.url(pg_server.new_database())


@pytest.fixture
def database_url(
    backend: str,
    pg_server: PgServer | None,
    pg_template: str | None,
    sqlite_template: Path,
    tmp_path: Path,
) -> str:
    """URL of a new database migrated to head (a copy of the session's template)."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    assert pg_server is not None and pg_template is not None
    return pg_server.url(pg_server.new_database(template=pg_template))


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own data folder: the audit key file and checkpoint log default to it.

    Every ``Settings()`` a test makes then shares the factory's keys and never touches the
    real ``~/.local/share/ecovalue``.
    """
    path = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(path))
    for name in ("ECOVALUE_AUDIT_KEY_FILE", "ECOVALUE_AUDIT_CHECKPOINT_FILE"):
        monkeypatch.delenv(name, raising=False)
    return path / "ecovalue"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Test settings on the test database (audit keys in the test's data folder)."""
    return Settings(env="test", secret_key="s" * 40, database_url=database_url)


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[EcoSession]]:
    """A session factory on the migrated test database, signing the record with the test key."""
    engine = make_engine(settings.database_url)
    yield audited_sessionmaker(engine, settings)
    engine.dispose()


@pytest.fixture
def session(factory: sessionmaker[EcoSession]) -> Iterator[EcoSession]:
    """One session; tests commit through ``session.commit()`` when they need to."""
    s = factory()
    s.info["actor"] = "test"
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def uow(factory: sessionmaker[EcoSession]):  # type: ignore[no-untyped-def]
    """``uow()`` opens one unit of work on the test database."""
    return lambda actor="test": unit_of_work(factory, actor)


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's consoles print 250 columns wide, so a message stays on one line to assert on.

    Rich fixes a console's width when it is made if COLUMNS is set then (pytest-xdist's workers
    have COLUMNS=80), and reads COLUMNS at every print otherwise. The private ``_width`` is set,
    not the ``width`` property: the property's undo would write the width read before (80) for
    good, and the CLI tests outside this folder, which widen through COLUMNS, would wrap at 80.
    """
    for console in (cli_common.console, cli_common.err, cli_platform.console, cli_platform.err):
        monkeypatch.setattr(console, "_width", 250)
