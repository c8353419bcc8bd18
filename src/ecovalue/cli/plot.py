"""The ``ecovalue plot`` and ``ecovalue scenario`` commands: GEP of a plot, and a before/after scenario.

Both are plain functions; :func:`register` adds them to the main typer app. Bad input (an
invalid plot, a plot outside the data, a bad scenario file, dataset errors) prints a clear
message and exits with status 1, writing nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ecovalue.cli.common import check_out_folder, console, err, input_errors
from ecovalue.units import format_amount, format_money, format_quantity, format_unit, money_unit

DatasetArg = Annotated[Path, typer.Argument(help="dataset folder containing dataset.toml")]
PlotOpt = Annotated[
    Path, typer.Option("--plot", help="plot polygon(s): .geojson or .gpkg (features are merged)")
]
YearOpt = Annotated[int | None, typer.Option(help="accounting year (default: the dataset's year)")]
ProfileOpt = Annotated[
    str, typer.Option(help="profile id (e.g. cn-2022) or path of a profile .toml")
]
CrsOpt = Annotated[
    str | None, typer.Option("--plot-crs", help="CRS of the plot when the file does not say")
]


def _print_plot(res: Any) -> None:
    t = Table(
        title=f"地块GEP Plot GEP — {res.plot_area_km2:.4g} km² (covered {res.covered_area_km2:.4g} km²)"
    )
    money = money_unit([res.total, *(r.value for r in res.rows)])
    for col, just in (
        ("指标 Indicator", "left"),
        ("类别 Category", "left"),
        ("实物量 Physical", "right"),
        ("单位 Unit", "left"),
        (f"价值 Value ({money.label})", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in res.rows:
        star = " *" if r.statistics_based else ""
        t.add_row(
            f"{r.name_zh} {r.name_en}{star}",
            r.category,
            format_quantity(r.physical),
            format_unit(r.physical_unit),
            format_amount(money.of(r.value)),
        )
    t.add_row("[bold]GEP 合计 Total[/]", "", "", "", f"[bold]{format_amount(money.of(res.total))}[/]")
    console.print(t)
    if res.synthetic:
        console.print(
            "[bold red]SYNTHETIC rasters — demo figures, not an official account / 合成演示数据[/]"
        )
    for n in res.notes:
        console.print(f"[dim]* {escape(n)}[/]", soft_wrap=True)


def plot(
    dataset: DatasetArg,
    plot_file: PlotOpt,
    year: YearOpt = None,
    profile: ProfileOpt = "cn-2022",
    out: Annotated[
        Path | None, typer.Option("--out", help="folder for plot.csv and plot.json")
    ] = None,
    plot_crs: CrsOpt = None,
) -> None:
    """GEP of a plot by indicator (physical quantity and value, exact partial-pixel coverage)."""
    from ecovalue.accounting.pipeline import run_account
    from ecovalue.accounting.plot import check_plot_geometry, plot_gep, read_plot_file, write_plot

    if out is not None:
        check_out_folder(out)
    with input_errors():
        geom, crs = read_plot_file(plot_file)
        check_plot_geometry(geom)  # fail fast, before the account runs
        with err.status("running the account…"):
            run = run_account(dataset, profile=profile, year=year)
        res = plot_gep(run, geom, plot_crs or crs or None)
    _print_plot(res)
    if out is not None:
        paths = write_plot(res, out)
        console.print(f"Written: {paths['csv']} and {paths['json']}")


def scenario(
    dataset: DatasetArg,
    plot_file: PlotOpt,
    scenario_file: Annotated[Path, typer.Option("--scenario", help="scenario .toml or .json")],
    out: Annotated[Path, typer.Option("--out", help="output folder")],
    year: YearOpt = None,
    profile: ProfileOpt = "cn-2022",
    plot_crs: CrsOpt = None,
    no_font: Annotated[
        bool, typer.Option("--no-font", help="do not embed the CJK font subset")
    ] = False,
) -> None:
    """Before/after comparison of a planned change in a plot: comparison.csv, maps and summary.html."""
    from ecovalue.accounting.plot import _load_geometry
    from ecovalue.accounting.scenarios import load_scenario, run_scenario
    from ecovalue.reports.scenario import write_scenario_outputs

    check_out_folder(out)
    t0 = time.perf_counter()
    with input_errors():
        scen = load_scenario(scenario_file)
        geom, crs = _load_geometry(plot_file, plot_crs)
        with err.status("running baseline and scenario accounts…"):
            res = run_scenario(dataset, geom, scen, profile=profile, year=year, plot_crs=crs)
        with err.status("writing maps and summary…"):
            paths = write_scenario_outputs(res, out, embed_font=not no_font)
    tot = res.totals()
    money = money_unit(tot.values())
    t = Table(title=f"情景 Scenario '{scen.name}' ({money.label})")
    for col in (
        "现状 Baseline",
        "情景 Scenario",
        "Δ 地块内 in plot",
        "Δ 地块外 outside",
        "Δ 合计 total",
    ):
        t.add_column(col, justify="right")
    t.add_row(
        *(
            format_amount(money.of(tot[k]))
            for k in ("baseline", "scenario", "delta_in_plot", "delta_outside", "delta_total")
        )
    )
    console.print(t)
    for r in res.reaches_outside:
        console.print(
            f"[yellow]outside the plot[/] {r.name_zh} {r.name_en}: {r.affected_km2_outside:.3g} km², "
            f"Δ {format_money(r.delta_value_outside)} — {escape(r.reach)}",
            soft_wrap=True,
        )
    console.print(
        f"Done in {time.perf_counter() - t0:.1f} s. Outputs in [bold]{out}[/]: "
        + ", ".join(p.name for p in paths.values())
    )


COMMANDS: dict[str, Callable[..., None]] = {"plot": plot, "scenario": scenario}


def register(app: typer.Typer) -> None:
    """Add the ``plot`` and ``scenario`` commands to ``app``."""
    for name, fn in COMMANDS.items():
        app.command(name)(fn)
