"""``ecovalue demo-platform``: the demo city as a working platform (what ``make demo`` runs).

Builds the synthetic Wuhan datasets of two years (the second with a land-cover change),
creates a fresh platform database, loads users of every role, department reports (approved),
accounts both years with them, registers parcels and rights, monitoring stations with a year
of samples, publishes both runs and builds the catalogues, all through the platform's
services (scoped and audited like real use). ``--serve`` then starts the site and prints
its address; Ctrl-C stops it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ecovalue.cli.common import console, err, input_errors

DEFAULT_DB = "platform.db"


@contextmanager
def _step(label: str) -> Iterator[None]:
    t0 = time.perf_counter()
    with err.status(label + "…"):
        yield
    console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - t0:.1f} s)[/]")


def _fresh_sqlite(out: Path) -> str:
    path = out / DEFAULT_DB
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def demo_settings(out: Path, url: str) -> Any:
    """The demo installation's settings: development mode, its audit keys and checkpoint log
    in OUT beside the database, its datasets' folder as the dataset root and its jobs'
    outputs in OUT/jobs (the site and its worker are served with the same)."""
    from pydantic import SecretStr

    from ecovalue.config import Settings
    from ecovalue.platform.demo.service import dataset_root

    return Settings(env="development", database_url=url,
                    secret_key=SecretStr(secrets.token_urlsafe(32)),
                    audit_key_file=out / "audit-keys.json",
                    audit_checkpoint_file=out / "audit-checkpoints.log",
                    dataset_roots=str(dataset_root(out).resolve()),
                    jobs_dir=str((out / "jobs").resolve()))


def load(out: Path, resolution: float, seed: int, database_url: str | None,
         reports: bool = True) -> tuple[str, Any]:
    """Build and load everything; return the database URL and the demo users."""
    from ecovalue.db import migrate
    from ecovalue.db.session import make_engine, unit_of_work
    from ecovalue.platform import schema  # noqa: F401  (all tables and the audit listener)
    from ecovalue.platform.audit.service import audited_sessionmaker
    from ecovalue.platform.demo import service as demo

    out.mkdir(parents=True, exist_ok=True)
    url = database_url or _fresh_sqlite(out)
    for name in ("audit-keys.json", "audit-checkpoints.log"):
        (out / name).unlink(missing_ok=True)
    with _step(f"demo city at {resolution:g} m (two years of synthetic data)"):
        city = demo.build_city(out, resolution, seed)
    with _step("platform database"):
        migrate.upgrade(url)
    factory = audited_sessionmaker(make_engine(url), demo_settings(out, url))

    def uow(work: Callable[[Any], Any]) -> Any:
        with unit_of_work(factory, actor="demo-loader") as session:
            return work(session)

    with _step("users of every role"):
        users = uow(demo.load_people)
    with _step("department reports (approved, returned, waiting)"):
        uow(demo.load_reports)
    with _step(f"accounting {demo.YEARS[0]}"):
        first = uow(lambda s: demo.account_year(s, city, demo.YEARS[0], out, reports))
    with _step(f"land-cover change for {demo.YEARS[1]}"):
        notes = demo.change_landcover(city, first)
    for n in notes:
        console.print(f"  [dim]{n}[/]")
    with _step(f"accounting {demo.YEARS[1]}"):
        uow(lambda s: demo.account_year(s, city, demo.YEARS[1], out, reports))
    with _step("rights register: parcels, grants, transfers, leases, mortgages, equity"):
        city.parcels = uow(lambda s: demo.load_register(s, first, _landcover_table(city), seed))
    with _step("monitoring stations and a year of observations"):
        counts = uow(lambda s: demo.load_monitoring(s, first.regions, first.grid.crs,
                                                    demo.YEARS[1], seed))
    console.print(f"  [dim]{counts['stations']} stations, {counts['observations']} observations, "
                  f"{counts['alerts']} alerts, {counts['flags']} quality flags[/]")
    with _step("publishing both years and building the catalogues"):
        uow(lambda s: demo.publish(s, city))
    with _step("web-optimized map layers of both runs"):
        _prepare_layers(uow, city)
    return url, users


def _prepare_layers(uow: Callable[[Callable[[Any], Any]], Any], city: Any) -> None:
    from ecovalue.platform.runs import service as runs
    from ecovalue.web import layers, results

    infos = uow(lambda s: [results.run_info(runs.get_run(s, i)) for i in city.run_ids.values()])
    for info in infos:
        layers.prepare(info)


def _landcover_table(city: Any) -> Any:
    from ecovalue.datasets.loader import load_dataset

    ds, _ = load_dataset(next(iter(city.datasets.values())))
    return ds.landcover_table


def _print_users(users: Any) -> None:
    t = Table(title="Demo accounts / 演示账号 (synthetic data, demo passwords)")
    for col in ("user", "password", "role", "scope"):
        t.add_column(col)
    for u in users:
        t.add_row(u.username, u.password, u.role.value, u.district or u.department or "all")
    console.print(t)


def demo_platform(
    out: Annotated[Path, typer.Argument(help="folder for the datasets, runs and database")] = Path("demo-out"),
    resolution: Annotated[float, typer.Option(help="pixel size in metres")] = 200.0,
    seed: Annotated[int, typer.Option(help="random seed of the synthetic data")] = 0,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="an empty database to load (default: a new SQLite file in OUT)")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="start the site afterwards")] = False,
    reports: Annotated[bool, typer.Option("--reports/--no-reports",
                                          help="write each year's report.html and figures")] = True,
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
) -> None:
    """Build the demo city and load it into a platform database; optionally serve the site."""
    t0 = time.perf_counter()
    with input_errors():
        url, users = load(out, resolution, seed, database_url, reports)
    console.print(f"Demo platform loaded in {time.perf_counter() - t0:.0f} s: database {url}")
    _print_users(users)
    if serve:
        run_site(demo_settings(out, url), host, port)


def run_site(settings: Any, host: str, port: int) -> None:
    """Serve the site on ``host:port`` with a job worker (as ``ecovalue serve``) until Ctrl-C."""
    import uvicorn

    from ecovalue.cli.platform import server_config, start_workers, stop_workers

    config = server_config(settings, host, port)
    workers = start_workers(settings, 1)
    console.print(f"\n[bold green]Site: http://{host}:{port}/[/]  (API docs: http://{host}:{port}/docs)"
                  "  — Ctrl-C stops it.")
    try:
        uvicorn.Server(config).run()
    finally:
        stop_workers(workers)


def register(app: typer.Typer) -> None:
    """Add ``demo-platform`` to the main command."""
    app.command("demo-platform")(demo_platform)
