"""``ecovalue account-streamed``: the GEP account block by block, with bounded memory, locally
or on a dask.distributed cluster (``--workers N`` / ``--scheduler tcp://HOST:8786``).

Writes ``results.csv``, ``summary.json`` and ``layers/<indicator>_{physical,value}.tif`` — the
same files as ``ecovalue account`` minus the human-facing reports (they need the per-pixel
layers in memory). :func:`register` adds the command to the main typer app.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer


def _summary(result: Any) -> dict[str, Any]:
    from ecovalue.accounting.outputs import SYNTHETIC_NOTICE, _jsonable

    return _jsonable(
        {
            "dataset": result.dataset_name,
            "title_zh": result.dataset_title_zh,
            "title_en": result.dataset_title_en,
            "synthetic": result.synthetic,
            "notice": SYNTHETIC_NOTICE if result.synthetic else "",
            "year": result.year,
            "profile": result.profile_id,
            "base_year": result.base_year,
            "currency": "CNY (元)",
            "totals": result.totals(),
            "regions": [
                {"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "area_km2": r.area_km2}
                for r in result.regions
            ],
            "not_applicable": result.not_applicable,
            "notes": result.notes,
            "hashes": result.hashes,
            "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
            "grid": {
                "crs": result.grid.crs,
                "width": result.grid.width,
                "height": result.grid.height,
                "cell_size_m": result.grid.cell_width,
            },
            "streamed": {"blocks": result.n_blocks},
        }
    )


def write_streamed_outputs(result: Any, out: Path) -> dict[str, Path]:
    """results.csv (money as exact decimal strings) and summary.json of a streamed run."""
    out.mkdir(parents=True, exist_ok=True)
    df = result.table.copy()
    df["value_current"] = df["value_current"].map(str)
    df["value_constant"] = df["value_constant"].map(str)
    df.to_csv(out / "results.csv", index=False, encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(_summary(result), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return {"results.csv": out / "results.csv", "summary.json": out / "summary.json"}


def account_streamed(
    dataset: Annotated[Path, typer.Argument(help="dataset folder containing dataset.toml")],
    out: Annotated[
        Path, typer.Option("--out", help="output folder (on a shared filesystem for --scheduler)")
    ],
    year: Annotated[
        int | None, typer.Option(help="accounting year (default: the dataset's year)")
    ] = None,
    profile: Annotated[
        str, typer.Option(help="profile id (e.g. cn-2022) or path of a profile .toml")
    ] = "cn-2022",
    block_rows: Annotated[
        int, typer.Option("--block-rows", help="rows per block (memory ∝ rows × width)")
    ] = 512,
    workers: Annotated[
        int, typer.Option("--workers", help="local dask worker processes (1 = no dask)")
    ] = 1,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="dask scheduler address, e.g. tcp://host:8786")
    ] = None,
    no_layers: Annotated[
        bool, typer.Option("--no-layers", help="skip the per-indicator GeoTIFFs")
    ] = False,
) -> None:
    """Run the GEP account block by block (bounded memory; dask.distributed with --workers/--scheduler)."""
    from ecovalue.accounting.streaming import run_account_streamed
    from ecovalue.cli.main import _print_problems, _print_totals, _progress, console, err
    from ecovalue.errors import EcovalueError, ValidationFailed

    t0 = time.perf_counter()
    try:
        with _progress() as bar:
            task = bar.add_task("streaming", total=1)

            def progress(name: str, i: int, total: int) -> None:
                bar.update(task, description=name, completed=i, total=total)

            result = run_account_streamed(
                dataset,
                profile=profile,
                year=year,
                out_dir=None if no_layers else out,
                block_rows=block_rows,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
            )
        write_streamed_outputs(result, out)
    except ValidationFailed as exc:
        _print_problems(exc.problems)
        err.print("[red]The dataset has errors; nothing was written.[/] Fix them and run again.")
        raise typer.Exit(1) from None
    except EcovalueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    _print_totals(result)
    console.print(
        f"Done in {time.perf_counter() - t0:.1f} s ({result.n_blocks} blocks). Outputs in [bold]{out}[/]"
    )


def register(app: typer.Typer) -> None:
    """Add ``account-streamed`` to the ``ecovalue`` command."""
    app.command("account-streamed")(account_streamed)
