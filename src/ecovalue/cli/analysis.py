"""Analysis commands: ``uncertainty`` (Monte Carlo ranges and sensitivity), ``series``
(multi-year accounts and change decomposition) and ``seea`` (SEEA EA and natural-resource
asset accounts between two years).

The lead mounts them into the main CLI with ``register(app)``. Bad input prints every
problem and exits with status 1 before anything is written.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ecovalue.cli.common import check_out_folder, console, err
from ecovalue.cli.common import input_errors as _errors
from ecovalue.cli.common import step_progress as _bar
from ecovalue.units import YI_YUAN, format_amount

ProfileOpt = Annotated[
    str, typer.Option(help="profile id (e.g. cn-2022) or path of a profile .toml")
]
OutOpt = Annotated[Path, typer.Option("--out", help="output folder")]


def _yi(v: object) -> str:
    return format_amount(YI_YUAN.of(Decimal(str(v))), 4)


def uncertainty(
    dataset: Annotated[Path, typer.Argument(help="dataset folder containing dataset.toml")],
    out: OutOpt,
    draws: Annotated[int, typer.Option(help="number of Monte Carlo draws")] = 1000,
    seed: Annotated[
        int, typer.Option(help="random seed (same seed → same draws and percentiles)")
    ] = 0,
    distributions: Annotated[
        Path | None,
        typer.Option(
            help="TOML file of parameter distributions (default: the profile's shipped file)"
        ),
    ] = None,
    profile: ProfileOpt = "cn-2022",
    year: Annotated[
        int | None, typer.Option(help="accounting year (default: the dataset's year)")
    ] = None,
    no_reports: Annotated[
        bool, typer.Option("--no-reports", help="skip report.html and results.xlsx")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", help="local dask worker processes for the recomputed draws")
    ] = 1,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="dask scheduler, e.g. tcp://host:8786")
    ] = None,
) -> None:
    """Monte Carlo over parameter distributions: P5/P50/P95 of every indicator, district and GEP."""
    from ecovalue.accounting.outputs import write_outputs
    from ecovalue.accounting.uncertainty import run_uncertainty, write_uncertainty_tables

    check_out_folder(out)
    t0 = time.perf_counter()
    with _errors():
        with _bar("uncertainty") as progress:
            u = run_uncertainty(
                dataset,
                profile,
                distributions,
                draws=draws,
                seed=seed,
                year=year,
                progress=progress,
                workers=workers,
                scheduler=scheduler,
            )
        with err.status("writing outputs, maps and report…"):
            paths = write_outputs(u.point, out, reports=not no_reports, ranges=u)
            paths.update(write_uncertainty_tables(u, out))
    t = Table(title=f"GEP {u.point.year} — {draws} draws, seed {seed} (亿元, current prices)")
    for c in ("region / 区域", "point", "P5", "P50", "P95"):
        t.add_column(c, justify="right" if c != "region / 区域" else "left")
    for rec in u.regions.itertuples(index=False):
        t.add_row(
            f"{rec.region_name_zh} {rec.region_name_en}",
            *(_yi(v) for v in (rec.point, rec.p5, rec.p50, rec.p95)),
        )
    t.add_row("[bold]合计 Total[/]", *(_yi(u.total[k]) for k in ("point", "p5", "p50", "p95")))
    console.print(t)
    top = u.sensitivity[u.sensitivity["target"] == "GEP"].head(5)
    for rec in top.itertuples(index=False):
        console.print(
            f"  sensitivity #{rec.rank}: {rec.parameter}  ρ² = {rec.rho2:.3f} (share {rec.share:.1%})"
        )
    for note in u.notes:
        console.print(f"[yellow]note[/] {escape(note)}")
    _done(t0, out, paths)


def series(
    datasets: Annotated[list[Path], typer.Argument(help="dataset folders, one per year")],
    out: OutOpt,
    profile: ProfileOpt = "cn-2022",
) -> None:
    """Account several years of one region and decompose each district's GEP change."""
    from ecovalue.accounting.series import run_series, write_series

    check_out_folder(out)
    t0 = time.perf_counter()
    with _errors():
        with _bar("series") as progress:
            result = run_series(list(datasets), profile, progress=progress)
        with err.status("writing tables and charts…"):
            paths = write_series(result, out)
    d = result.decomposition
    t = Table(title="GEP change decomposition (亿元) / GEP变化分解")
    for c in (
        "years",
        "region",
        "change",
        "quantity",
        "price",
        "conversion",
        "condition",
        "statistics",
    ):
        t.add_column(c, justify="left" if c in ("years", "region") else "right")
    for rec in d[d["indicator"] == "GEP"].itertuples(index=False):
        parts = (
            rec.change_current,
            rec.quantity_effect,
            rec.price_effect,
            rec.conversion_effect,
            rec.condition_effect,
            rec.statistics_effect,
        )
        t.add_row(
            f"{rec.year_from}→{rec.year_to}",
            f"{rec.region_name_zh} {rec.region_code}",
            *("—" if v is None else _yi(v) for v in parts),
        )
    console.print(t)
    for note in result.notes:
        console.print(f"[yellow]note[/] {escape(note)}")
    _done(t0, out, paths)


def seea(
    dataset_y1: Annotated[Path, typer.Argument(help="dataset folder of the opening year")],
    dataset_y2: Annotated[Path, typer.Argument(help="dataset folder of the closing year")],
    out: OutOpt,
    profile: ProfileOpt = "cn-2022",
    discount_rate: Annotated[
        float, typer.Option(help="discount rate of the asset NPV (2.77 % in [S2])")
    ] = 0.0277,
    asset_life: Annotated[
        int, typer.Option(help="asset life in years for the NPV (100 in [S2])")
    ] = 100,
) -> None:
    """SEEA EA extent, condition, supply and asset accounts, and natural-resource asset accounts."""
    from ecovalue.accounting.seea import run_seea, write_seea

    check_out_folder(out)
    t0 = time.perf_counter()
    with _errors():
        with err.status("accounting both years…"):
            result = run_seea(
                dataset_y1, dataset_y2, profile, discount_rate=discount_rate, asset_life=asset_life
            )
        paths = write_seea(result, out)
    ext = result.extent[(result.extent["region_code"] == "ALL")]
    t = Table(title=f"Ecosystem extent {result.series.years[0]}→{result.series.years[1]} (km²)")
    for c in ("type", "opening", "additions", "reductions", "closing"):
        t.add_column(c, justify="left" if c == "type" else "right")
    for rec in ext.itertuples(index=False):
        t.add_row(
            f"{rec.ecosystem_type_zh} {rec.ecosystem_type}",
            *(
                format_amount(Decimal(str(v)), 4)
                for v in (rec.opening_km2, rec.additions_km2, rec.reductions_km2, rec.closing_km2)
            ),
        )
    console.print(t)
    for note in result.notes:
        console.print(f"[yellow]note[/] {escape(note)}")
    _done(t0, out, paths)


def _done(t0: float, out: Path, paths: dict[str, Path]) -> None:
    console.print(f"Done in {time.perf_counter() - t0:.1f} s. Outputs in [bold]{out}[/]:")
    for name, p in paths.items():
        console.print(f"  {name:<28} {p}")


def register(app: typer.Typer) -> None:
    """Mount ``uncertainty``, ``series`` and ``seea`` on the main ``ecovalue`` app."""
    app.command("uncertainty")(uncertainty)
    app.command("series")(series)
    app.command("seea")(seea)
