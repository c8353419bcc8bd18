"""Platform commands: ``serve``, ``worker``, ``db upgrade|downgrade|current``, ``users add``,
``audit verify`` and ``registry import``.

The lead mounts them into the main CLI::

    from ecovalue.cli.platform import audit_app, db_app, registry_app, serve, users_app
    app.command("serve")(serve)
    app.add_typer(db_app, name="db"); app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit"); app.add_typer(registry_app, name="registry")

Commands run with direct database access as the local administrator; the audit log
records them as ``cli:<login name>``.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecovalue.config import default_database_url
from ecovalue.errors import EcovalueError, Problem, ValidationFailed

console = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL; default $ECOVALUE_DATABASE_URL or the "
        "SQLite file under ~/.local/share/ecovalue",
    ),
]

db_app = typer.Typer(help="Create and migrate the platform database.", no_args_is_help=True)
users_app = typer.Typer(help="Manage platform accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the hash-chained audit log.", no_args_is_help=True)
registry_app = typer.Typer(help="Natural-resource rights register.", no_args_is_help=True)


def _url(database_url: str | None) -> str:
    return database_url or os.environ.get("ECOVALUE_DATABASE_URL") or default_database_url()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


def _fail(exc: EcovalueError) -> None:
    problems: list[Problem] = getattr(exc, "problems", [])
    if problems:
        table = Table(title="Problems", show_lines=True, expand=True)
        for col in ("where", "what is wrong", "expected", "how to fix"):
            table.add_column(col, overflow="fold")
        for p in problems:
            table.add_row(p.where, p.what, p.expected, p.fix)
        err.print(table)
    else:
        err.print(f"[red]error:[/] {exc}")
    raise typer.Exit(1)


def _session(database_url: str | None):  # type: ignore[no-untyped-def]
    from ecovalue.db.session import make_engine, make_sessionmaker, unit_of_work
    from ecovalue.platform import schema  # noqa: F401  (audit listener)

    return unit_of_work(make_sessionmaker(make_engine(_url(database_url))), _actor())


@db_app.command("upgrade")
def db_upgrade(database_url: DbOption = None, revision: str = "head") -> None:
    """Create or migrate the database up to REVISION (default: newest)."""
    from ecovalue.db import migrate

    url = _url(database_url)
    migrate.upgrade(url, revision)
    console.print(f"database at revision {migrate.current_revision(url)}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="target revision; 'base' removes every table")],
    database_url: DbOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Migrate the database down to REVISION (data in dropped tables is lost)."""
    from ecovalue.db import migrate

    url = _url(database_url)
    if not yes and not typer.confirm(f"Downgrade {url} to {revision}? Dropped tables lose data."):
        raise typer.Exit(1)
    migrate.downgrade(url, revision)
    console.print(f"database at revision {migrate.current_revision(url) or 'base (empty)'}")


@db_app.command("current")
def db_current(database_url: DbOption = None) -> None:
    """Show the database's revision and the newest one."""
    from ecovalue.db import migrate

    url = _url(database_url)
    console.print(
        f"current: {migrate.current_revision(url) or 'empty'}  newest: {migrate.head_revision()}"
    )


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[
        str,
        typer.Option(
            help="administrator, department_reporter, district_official, analyst or public"
        ),
    ],
    district: Annotated[str | None, typer.Option(help="district code (scope)")] = None,
    department: Annotated[str | None, typer.Option(help="department (reporters)")] = None,
    database_url: DbOption = None,
) -> None:
    """Add an account; the password is read from $ECOVALUE_NEW_PASSWORD or asked for."""
    from ecovalue.platform.auth.rules import SYSTEM
    from ecovalue.platform.auth.service import create_user

    password = os.environ.get("ECOVALUE_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )
    try:
        with _session(database_url) as s:
            create_user(s, SYSTEM, username, password, role, district, department)
    except EcovalueError as exc:
        _fail(exc)
    console.print(f"user [bold]{username}[/] ({role}) added")


@audit_app.command("verify")
def audit_verify(database_url: DbOption = None) -> None:
    """Recompute the audit chain; exit status 1 when any entry was edited or deleted."""
    from ecovalue.platform.audit.service import verify_audit_chain

    with _session(database_url) as s:
        problems = verify_audit_chain(s)
    if problems:
        _fail(ValidationFailed(problems))
    console.print("[green]audit log intact[/]")


@registry_app.command("import")
def registry_import(
    path: Path,
    register: Annotated[str, typer.Option(help="register code")],
    layer: Annotated[str | None, typer.Option(help="layer of a GeoPackage")] = None,
    skip_bad: Annotated[bool, typer.Option(help="import good features, report bad ones")] = False,
    database_url: DbOption = None,
) -> None:
    """Import parcels from GeoJSON/GeoPackage/Shapefile; every bad feature is reported."""
    from ecovalue.platform.auth.rules import SYSTEM
    from ecovalue.platform.registry.importer import import_parcels

    try:
        with _session(database_url) as s:
            report = import_parcels(s, SYSTEM, register, path, layer, skip_bad)
    except EcovalueError as exc:
        _fail(exc)
    console.print(f"imported {len(report.imported)} parcel(s)")
    if report.problems:
        _fail(ValidationFailed(report.problems))


def _settings(dev: bool):  # type: ignore[no-untyped-def]
    from ecovalue.config import SettingsError, load_settings

    try:
        return load_settings(**({"env": "development"} if dev else {}))
    except SettingsError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None


def _no_accounts(url: str) -> bool:
    from sqlalchemy import func, select

    from ecovalue.platform.auth.tables import User

    with _session(url) as s:
        return not s.scalar(select(func.count()).select_from(User))


DevOption = Annotated[
    bool,
    typer.Option(
        "--dev",
        help="development mode: a secret key generated once for this installation and kept "
        "in the data folder (not for production)",
    ),
]


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    migrate_db: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="migrate the database first")
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=32, help="job workers to start beside the API")
    ] = 1,
    dev: DevOption = False,
) -> None:
    """Start the API server and a job worker (creates and migrates the database on first start)."""
    import subprocess
    import sys

    import uvicorn

    from ecovalue.api.app import create_app
    from ecovalue.db import migrate

    settings = _settings(dev)
    if settings.env == "development" and settings.secret_origin != "environment":
        console.print(
            f"[yellow]development mode[/]: tokens are signed with this installation's own "
            f"secret key, kept in {settings.secret_origin}; for production set "
            "ECOVALUE_ENV=production and ECOVALUE_SECRET_KEY"
        )
    if migrate_db:
        migrate.upgrade(settings.database_url)
    if _no_accounts(settings.database_url):
        console.print(
            "no accounts yet: create the first administrator with "
            "[bold]ecovalue users add NAME --role administrator[/]"
        )
    env = {**os.environ, "ECOVALUE_ENV": settings.env,
           "ECOVALUE_DATABASE_URL": settings.database_url}  # fmt: skip
    children = [
        subprocess.Popen([sys.executable, "-m", "ecovalue.cli.main", "worker"], env=env)
        for _ in range(workers)
    ]
    console.print(
        f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs), "
        f"{workers} job worker(s); datasets under {', '.join(map(str, settings.roots))}"
    )
    try:
        uvicorn.run(create_app(settings), host=host, port=port)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)


def worker(
    dev: DevOption = False,
    once: Annotated[bool, typer.Option("--once", help="run the queued jobs, then stop")] = False,
) -> None:
    """Run queued jobs (accounts, plots, scenarios) until stopped (Ctrl+C or SIGTERM)."""
    import logging
    import signal
    import threading

    from ecovalue.platform.jobs.worker import run_worker

    settings = _settings(dev)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        done = run_worker(settings, stop, until_idle=once)
    except KeyboardInterrupt:
        return
    if once:
        console.print(f"{done} job(s) run")
