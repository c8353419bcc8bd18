"""The ``ecovalue`` command: validate datasets, run GEP accounts, build the demo city.

Long steps show a rich progress bar. Errors in the input print every problem (where,
what, expected, fix) and exit with status 1, writing nothing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ecovalue.cli.cache import CacheDir, MaxGb, NoCache, open_cache
from ecovalue.cli.common import (
    ErrorReportingGroup,
    check_out_folder,
    console,
    err,
    grouped,
    input_errors,
    new_progress,
    print_problems,
    print_warnings,
    step_progress,
)
from ecovalue.raster.routing_cache import DEFAULT_MAX_BYTES

app = typer.Typer(
    help="ecovalue — GEP accounting and ecological-product value realization (生态产品价值实现).",
    no_args_is_help=True,
    add_completion=False,
    cls=ErrorReportingGroup,
    pretty_exceptions_enable=False,
)


@app.callback()
def _command() -> None:
    """ecovalue — GEP accounting and ecological-product value realization (生态产品价值实现)."""
    from ecovalue.process import freeze_heap_at_exit, lean_numba

    freeze_heap_at_exit()  # the process ends without a collection over every object
    lean_numba()  # and loads numba without the support its kernels do not use


@app.command()
def validate(
    dataset: Annotated[Path, typer.Argument(help="dataset folder containing dataset.toml")],
    profile: Annotated[
        str, typer.Option(help="profile id or file: decides which inputs are required")
    ] = "cn-2022",
    year: Annotated[
        int | None, typer.Option(help="accounting year (default: the dataset's year)")
    ] = None,
) -> None:
    """Check a dataset and report every problem at once; exit 1 if any is an error.

    It runs every check ``account`` runs before computing (the profile's parameters, the
    dataset against the profile's needs, the plausibility of every input), with the same
    messages.
    """
    from ecovalue.accounting.profiles import load_profile
    from ecovalue.datasets.loader import open_dataset
    from ecovalue.datasets.manifest import read_manifest
    from ecovalue.datasets.validation import needs_for_profile

    prof = load_profile(profile)
    manifest, _ = read_manifest(dataset)
    y = year or (manifest.dataset.year if manifest else 0)
    with err.status("validating…"):
        ds, problems = open_dataset(dataset, needs_for_profile(prof, (y,)))
    n_err = sum(p.severity == "error" for p in problems)
    if n_err or ds is None:
        print_problems(problems)
        err.print(
            f"[red]{len(grouped([p for p in problems if p.severity == 'error']))} error(s)[/]; fix them and "
            "run `ecovalue validate` again."
        )
        raise typer.Exit(1)
    print_warnings(problems, "in the inputs")
    n_warn = len(grouped(problems))
    console.print(
        f"[green]OK[/]: {dataset} — {len(ds.regions)} regions, grid {ds.grid.width}×{ds.grid.height} "
        f"at {ds.grid.cell_width:g} m, {n_warn} warning(s){' (above)' if n_warn else ''}."
    )


@app.command()
def account(
    dataset: Annotated[Path, typer.Argument(help="dataset folder containing dataset.toml")],
    out: Annotated[Path, typer.Option("--out", help="output folder for the run")],
    year: Annotated[
        int | None, typer.Option(help="accounting year (default: the dataset's year)")
    ] = None,
    profile: Annotated[
        str, typer.Option(help="profile id (e.g. cn-2022) or path of a profile .toml")
    ] = "cn-2022",
    no_reports: Annotated[
        bool, typer.Option("--no-reports", help="skip report.html and results.xlsx")
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="memory | streamed | auto: streamed when --workers or --scheduler "
            "is given or the grid would not fit in memory"
        ),
    ] = "auto",
    workers: Annotated[
        int, typer.Option("--workers", help="local dask worker processes (streamed engine)")
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="dask scheduler, e.g. tcp://host:8786 (streamed engine)"),
    ] = None,
    block_rows: Annotated[
        int,
        typer.Option(
            "--block-rows", help="rows per block of the streamed engine (memory ∝ rows × width)"
        ),
    ] = 256,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", help="threads of a local streamed run (default: CPU count, at most 4)"
        ),
    ] = None,
    cache_dir: CacheDir = None,
    no_cache: NoCache = False,
    cache_max_gb: MaxGb = DEFAULT_MAX_BYTES / 1e9,
) -> None:
    """Run the GEP account: results.csv, results.xlsx, summary.json, COGs and report.html.

    The LS factor of the routing is kept in a cache and reused when the DEM, the routing
    parameters and the routing code are the same (another year, scenario or parameter set of
    the same place); `ecovalue cache` shows and clears it.
    """
    from ecovalue.cli.streaming import choose_engine, run_streamed

    check_out_folder(out)
    cache = open_cache(cache_dir, no_cache, cache_max_gb)
    chosen, why = choose_engine(engine, dataset, workers, scheduler)
    if chosen == "streamed":
        err.print(f"[dim]engine: streamed ({why})[/]")
        run_streamed(
            dataset,
            out,
            year=year,
            profile=profile,
            block_rows=block_rows,
            workers=workers,
            scheduler=scheduler,
            threads=threads,
            layers=True,
            reports=not no_reports,
            cache=cache,
        )
        return
    from ecovalue.accounting.outputs import write_outputs
    from ecovalue.accounting.pipeline import run_account

    err.print(f"[dim]engine: memory ({why})[/]")
    t0 = time.perf_counter()
    with input_errors():
        with step_progress("accounting") as progress:
            result = run_account(
                dataset, profile=profile, year=year, progress=progress, cache=cache
            )
        if result.routing_from_cache:
            err.print(
                f"[dim]routing: LS factor reused from the cache in {cache.path if cache else ''}[/]"
            )
        with err.status("writing outputs, maps and report…"):
            paths = write_outputs(result, out, reports=not no_reports)
    _print_totals(result)
    _print_done(t0, out, paths)


def _print_done(t0: float, out: Path, paths: dict[str, Path]) -> None:
    console.print(f"Done in {time.perf_counter() - t0:.1f} s. Outputs in [bold]{out}[/]:")
    shown = sorted({p if p.parent == out else p.parent for p in paths.values()})
    for p in shown:
        console.print(f"  {p.relative_to(out)}{'/' if p.is_dir() else ''}")


def _print_totals(result) -> None:  # type: ignore[no-untyped-def]
    from ecovalue.reports.totals import HEADERS_ZH, totals_rows

    warnings = list(result.warnings)
    print_warnings(warnings, "in this run")
    t = Table(title=f"GEP {result.year} — {result.dataset_title_zh or result.dataset_name} (亿元)")
    t.add_column("region / 区域")
    for c in HEADERS_ZH:
        t.add_column(c, justify="right")
    for row in totals_rows(result):
        if row.total:
            t.add_row("[bold]合计 Total[/]", *row.cells[:-1], f"[bold]{row.cells[-1]}[/]")
        else:
            t.add_row(f"{row.name_zh} {row.name_en}", *row.cells)
    console.print(t)
    if result.synthetic:
        console.print(
            "[bold red]SYNTHETIC rasters — demo figures, not an official account / 合成演示数据[/]"
        )
    for ind, why in result.not_applicable.items():
        console.print(f"[yellow]not applicable[/] {ind}: {why}")
    if warnings:
        err.print(
            f"[bold yellow]⚠ {len(grouped(warnings))} warning(s) above the table[/] (also in summary.json and "
            "report.html)"
        )


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Argument(help="folder to write the demo dataset into")],
    resolution: Annotated[float, typer.Option(help="pixel size in metres")] = 200.0,
    seed: Annotated[int, typer.Option(help="random seed (same seed → same dataset)")] = 0,
    year: Annotated[int, typer.Option(help="accounting year of the demo")] = 2023,
    force: Annotated[bool, typer.Option(help="overwrite an existing folder")] = False,
) -> None:
    """Build the Wuhan demo dataset: real district boundaries, clearly-labelled synthetic rasters."""
    from ecovalue.datasets.demo import build_demo

    if out.exists() and any(out.iterdir()):
        if not force:
            err.print(f"[red]{out} exists and is not empty[/]; pass --force to overwrite it")
            raise typer.Exit(1)
        shutil.rmtree(out)
    with new_progress() as bar:
        task = bar.add_task("demo city", total=100)

        def progress(name: str, fraction: float) -> None:
            bar.update(task, description=name, completed=int(fraction * 100))

        path = build_demo(out, resolution=resolution, seed=seed, year=year, progress=progress)
        bar.update(task, completed=100)
    console.print(
        f"Demo dataset written to [bold]{path}[/] (synthetic rasters, real district boundaries)."
    )


@app.command()
def profiles(
    show: Annotated[str | None, typer.Argument(help="profile id or file to show")] = None,
) -> None:
    """List shipped profiles, or show one profile's indicators and parameters with sources."""
    from ecovalue.accounting.catalogue import INDICATORS
    from ecovalue.accounting.profiles import available_profiles, load_profile
    from ecovalue.units import format_unit

    if show is None:
        for pid in available_profiles():
            p = load_profile(pid)
            console.print(f"[bold]{pid}[/]  {p.name_zh} / {p.name_en}")
        return
    p = load_profile(show)
    console.print(f"[bold]{p.id}[/] {p.name_zh} / {p.name_en} — base year {p.base_year}")
    t = Table(title="indicators")
    for col in ("id", "名称", "name", "category", "unit"):
        t.add_column(col)
    for ind in p.indicators:
        s = INDICATORS[ind]
        t.add_row(ind, s.name_zh, s.name_en, s.category, format_unit(s.physical_unit))
    console.print(t)
    pt = Table(title="parameters")
    pt.add_column("id", no_wrap=True, min_width=30)
    for col in ("value", "unit", "price year", "status", "source"):
        pt.add_column(col, overflow="fold")
    for pid, par in p.parameters.items():
        pt.add_row(
            pid,
            str(par.value),
            format_unit(par.unit),
            str(par.price_year or ""),
            f"[yellow]{par.status}[/]" if par.status == "assumed" else par.status,
            par.source,
        )
    console.print(pt)


def _mount_platform() -> None:
    """Add the platform commands (serve, db, users, audit, registry) when that layer is installed."""
    try:
        from ecovalue.cli.platform import audit_app, db_app, registry_app, serve, users_app
        from ecovalue.cli.platform import worker as platform_worker
    except ImportError:
        return
    app.command("serve")(serve)
    app.command("worker")(platform_worker)
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.add_typer(registry_app, name="registry")


def _mount_analysis() -> None:
    """Plot-level assessment, scenarios, series, uncertainty and SEEA accounts."""
    from ecovalue.cli import analysis, cache, demo_platform, ledger, plot, streaming, warmup

    cache.register(app)
    demo_platform.register(app)
    ledger.register(app)
    plot.register(app)
    analysis.register(app)
    streaming.register(app)
    warmup.register(app)


_mount_platform()
_mount_analysis()

if __name__ == "__main__":
    app()
