"""Platform commands: ``serve``, ``worker``, ``db upgrade|downgrade|current``,
``users add|list|disable|enable|reset-password|revoke-tokens``,
``audit init-key|verify|checkpoint|rotate-key`` and ``registry import``.

The lead mounts them into the main CLI::

    from ecovalue.cli.platform import audit_app, db_app, registry_app, serve, users_app
    app.command("serve")(serve)
    app.add_typer(db_app, name="db"); app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit"); app.add_typer(registry_app, name="registry")

Commands run with direct database access as the local administrator, without district
scoping; the audit record names them ``cli:<login name>``. They read the same
``ECOVALUE_*`` settings as the server (the audit key file and checkpoint log above all).
"""

from __future__ import annotations

import getpass
import os
import secrets
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecovalue.config import Settings, default_database_url
from ecovalue.errors import EcovalueError, Problem, ValidationFailed

if TYPE_CHECKING:
    import uvicorn

    from ecovalue.db.session import EcoSession

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
audit_app = typer.Typer(
    help="The tamper-evident record: keys, checkpoints, verification.", no_args_is_help=True
)
registry_app = typer.Typer(help="Natural-resource rights register.", no_args_is_help=True)


def _url(database_url: str | None) -> str:
    return database_url or os.environ.get("ECOVALUE_DATABASE_URL") or default_database_url()


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


def _fail(exc: EcovalueError) -> NoReturn:
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


def _settings(database_url: str | None) -> Settings:
    # The CLI signs no tokens, so it needs no ECOVALUE_SECRET_KEY; a weak one set is refused.
    kwargs: dict[str, object] = {"database_url": _url(database_url)}
    if not os.environ.get("ECOVALUE_SECRET_KEY"):
        kwargs["secret_key"] = secrets.token_urlsafe(32)
    try:
        return Settings(**kwargs)  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc


def _session(database_url: str | None) -> AbstractContextManager[EcoSession]:
    from ecovalue.db.session import make_engine, unit_of_work
    from ecovalue.platform import schema  # noqa: F401  (audit listener)
    from ecovalue.platform.audit.service import audited_sessionmaker

    settings = _settings(database_url)
    return unit_of_work(
        audited_sessionmaker(make_engine(settings.database_url), settings), _actor()
    )


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
    organization: Annotated[
        str | None, typer.Option(help="company or bank the account acts for")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Add an account; the password is read from $ECOVALUE_NEW_PASSWORD or asked for."""
    from ecovalue.platform.auth.rules import SYSTEM
    from ecovalue.platform.auth.service import create_user

    password = _new_password()
    try:
        with _session(database_url) as s:
            create_user(s, SYSTEM, username, password, role, district, department, organization)
    except EcovalueError as exc:
        _fail(exc)
    console.print(f"user [bold]{username}[/] ({role}) added")


def _new_password() -> str:
    return os.environ.get("ECOVALUE_NEW_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True
    )


@users_app.command("list")
def users_list(database_url: DbOption = None) -> None:
    """Every account with its role, scope, organization and state."""
    from ecovalue.platform.auth.rules import SYSTEM
    from ecovalue.platform.auth.service import list_users

    with _session(database_url) as s:
        users = list_users(s, SYSTEM)
        table = Table(title=f"{len(users)} account(s)")
        for col in (
            "username",
            "role",
            "district",
            "department",
            "organization",
            "state",
            "created",
        ):
            table.add_column(col)
        for u in users:
            table.add_row(
                u.username,
                u.role,
                u.district_code or "",
                u.department or "",
                u.organization or "",
                "active" if u.active else "[red]disabled[/]",
                u.created_at.date().isoformat() if u.created_at else "",
            )
    console.print(table)


def _account_change(database_url: str | None, username: str, what: str, change: str) -> None:
    from ecovalue.platform.auth import service
    from ecovalue.platform.auth.rules import SYSTEM

    try:
        with _session(database_url) as s:
            if change == "revoke":
                service.revoke_tokens(s, SYSTEM, username)
            else:
                service.set_active(s, SYSTEM, username, change == "enable")
    except EcovalueError as exc:
        _fail(exc)
    console.print(f"user [bold]{username}[/] {what}; tokens issued before no longer work")


@users_app.command("disable")
def users_disable(username: str, database_url: DbOption = None) -> None:
    """Disable an account: it cannot sign in and its tokens stop working at once."""
    _account_change(database_url, username, "disabled", "disable")


@users_app.command("enable")
def users_enable(username: str, database_url: DbOption = None) -> None:
    """Enable a disabled account."""
    _account_change(database_url, username, "enabled", "enable")


@users_app.command("revoke-tokens")
def users_revoke_tokens(username: str, database_url: DbOption = None) -> None:
    """Make every token issued to an account invalid (it signs in again)."""
    _account_change(database_url, username, "signed out everywhere", "revoke")


@users_app.command("reset-password")
def users_reset_password(
    username: str,
    generate: Annotated[
        bool, typer.Option("--generate", help="make a random password and print it once")
    ] = False,
    database_url: DbOption = None,
) -> None:
    """Set a new password ($ECOVALUE_NEW_PASSWORD, a prompt, or --generate); tokens are revoked."""
    from ecovalue.platform.auth.rules import SYSTEM
    from ecovalue.platform.auth.service import reset_password

    password = None if generate else _new_password()
    try:
        with _session(database_url) as s:
            _, password = reset_password(s, SYSTEM, username, password)
    except EcovalueError as exc:
        _fail(exc)
    console.print(f"password of [bold]{username}[/] reset; tokens issued before no longer work")
    if generate:
        console.print(f"new password (shown once): [bold]{password}[/]", highlight=False)


def _print_problems(problems: list[Problem], title: str) -> None:
    table = Table(title=title, show_lines=True, expand=True)
    for col in ("where", "what is wrong", "expected", "how to fix"):
        table.add_column(col, overflow="fold")
    for p in problems:
        table.add_row(p.where, p.what, p.expected, p.fix)
    err.print(table)


AnchorOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--anchor",
        help="a checkpoint kept elsewhere (its JSON line, or a saved published-result "
        "answer) to compare the record with; repeatable",
    ),
]


@audit_app.command("verify")
def audit_verify(anchor: AnchorOption = None, database_url: DbOption = None) -> None:
    """Check the chain, the checkpoints and every business row against the record.

    Exit status 1 when anything was edited, deleted, inserted or rolled back outside the
    platform; on success a checkpoint of the verified head is appended and printed.
    """
    from ecovalue.platform.audit.service import checkpoint_now, parse_anchor, verify_record

    try:
        anchors = [parse_anchor(p.read_text(encoding="utf-8"), str(p)) for p in anchor or []]
        with _session(database_url) as s:
            report = verify_record(s, anchors)
            checkpoint = checkpoint_now(s, "verify") if report.intact else None
    except (EcovalueError, OSError) as exc:
        _fail(exc if isinstance(exc, EcovalueError) else EcovalueError(str(exc)))
        return
    c = report.chain
    console.print(
        f"{c.entries} entries (key {c.key_id or 'none'}), {report.rows} table rows replayed, "
        f"{report.checkpoints} checkpoint(s) compared"
    )
    warnings = [p for p in report.problems if p.severity != "error"]
    if warnings:
        _print_problems(warnings, "Warnings")
    if not report.intact:
        _print_problems([p for p in report.problems if p.severity == "error"], "Problems")
        err.print("[red]the record does not match the database[/]")
        raise typer.Exit(1)
    console.print("[green]audit record intact[/]: every row is explained by the record")
    if checkpoint is not None:
        console.print(checkpoint)
        console.print(checkpoint.line(), highlight=False, soft_wrap=True)


@audit_app.command("checkpoint")
def audit_checkpoint(
    reason: Annotated[str, typer.Option(help="why (shown in the log)")] = "daily",
    database_url: DbOption = None,
) -> None:
    """Append a signed checkpoint of the chain's head to the log (run daily from cron).

    The line is also printed: mail it or log it off the machine, and keep the copies.
    """
    from ecovalue.platform.audit.service import checkpoint_now

    try:
        with _session(database_url) as s:
            checkpoint = checkpoint_now(s, reason)
    except EcovalueError as exc:
        _fail(exc)
        return
    if checkpoint is None:
        console.print("the record is empty; nothing to checkpoint")
        return
    console.print(checkpoint.line(), highlight=False, soft_wrap=True)


@audit_app.command("init-key")
def audit_init_key(database_url: DbOption = None) -> None:
    """Create the audit key file ($ECOVALUE_AUDIT_KEY_FILE); never overwrites one."""
    from ecovalue.platform.audit.service import AuditSetup

    setup = AuditSetup.from_settings(_settings(database_url))
    try:
        ring = setup.keys.create()
    except EcovalueError as exc:
        _fail(exc)
        return
    console.print(
        f"audit key [bold]{ring.current_id}[/] written to {setup.keys.path} (mode 600). "
        "Back it up apart from the database: without it the record cannot be verified."
    )


@audit_app.command("rotate-key")
def audit_rotate_key(database_url: DbOption = None) -> None:
    """Start signing with a new key; the chain records the switch, endorsed by the old key."""
    from ecovalue.platform.audit.service import AuditSetup, record_key_rotation

    settings = _settings(database_url)
    setup = AuditSetup.from_settings(settings)
    try:
        ring = setup.keys.rotate()
        with _session(database_url) as s:
            head = record_key_rotation(s)
    except EcovalueError as exc:
        _fail(exc)
        return
    console.print(
        f"signing with key [bold]{ring.current_id}[/] from entry {head.seq}; older keys stay "
        f"in {setup.keys.path} (they verify older entries). Back the file up again."
    )


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


def server_config(settings: Settings, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration ``serve`` runs.

    uvicorn's own proxy handling is off: by default it believes X-Forwarded-For from any
    local process, which let anyone choose the address the login limits count. The app
    believes it only from ECOVALUE_TRUSTED_PROXIES (ecovalue.platform.deps).
    """
    import uvicorn

    from ecovalue.api.app import create_app

    return uvicorn.Config(
        create_app(settings), host=host, port=port, proxy_headers=False, server_header=False
    )


def start_workers(settings: Settings, count: int) -> list[subprocess.Popen[bytes]]:
    """Start ``count`` job workers (``ecovalue worker``) with exactly ``settings``."""
    env = {**os.environ, **settings.as_environment()}
    return [subprocess.Popen([sys.executable, "-m", "ecovalue.cli.main", "worker"], env=env)
            for _ in range(count)]  # fmt: skip


def stop_workers(children: list[subprocess.Popen[bytes]]) -> None:
    """Stop the workers :func:`start_workers` started (each finishes its current step)."""
    for child in children:
        child.terminate()
    for child in children:
        child.wait(timeout=30)


def _server_settings(dev: bool):  # type: ignore[no-untyped-def]
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
    import uvicorn

    from ecovalue.db import migrate

    settings = _server_settings(dev)
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
    try:
        config = server_config(settings, host, port)
    except EcovalueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    children = start_workers(settings, workers)
    console.print(
        f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs), "
        f"{workers} job worker(s); datasets under {', '.join(map(str, settings.roots))}"
    )
    try:
        uvicorn.Server(config).run()
    finally:
        stop_workers(children)


def worker(
    dev: DevOption = False,
    once: Annotated[bool, typer.Option("--once", help="run the queued jobs, then stop")] = False,
) -> None:
    """Run queued jobs (accounts, plots, scenarios) until stopped (Ctrl+C or SIGTERM)."""
    import logging
    import signal
    import threading

    from ecovalue.platform.jobs.worker import run_worker

    settings = _server_settings(dev)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        done = run_worker(settings, stop, until_idle=once)
    except KeyboardInterrupt:
        return
    if once:
        console.print(f"{done} job(s) run")
