"""The streamed account (``accounting/streaming.py``) gives the in-memory table, whatever the
block size or worker count; its GeoTIFFs match the in-memory layers; bad input fails the same way."""

from __future__ import annotations

import contextlib
import socket
import sys
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tiny import N, default_statistics, write_tiny_dataset

from ecovalue.accounting import streaming as S
from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.result import SUB_ITEM_COLUMNS, TABLE_COLUMNS, RunResult
from ecovalue.accounting.streaming import StreamedResult, run_account_streamed
from ecovalue.errors import ValidationFailed
from ecovalue.raster import io
from ecovalue.raster.routing_cache import RoutingCache

KEY = ["region_code", "indicator", "ecosystem_type"]


def assert_same_table(
    a: pd.DataFrame, b: pd.DataFrame, columns: tuple[str, ...] = TABLE_COLUMNS
) -> None:
    """Same rows and labels; physical quantities ≤ 1e-9 relative; money ≤ 0.01 元 per cell."""
    assert list(b.columns) == list(columns)
    key = KEY if "sub_item" not in columns else [*KEY, "sub_item"]
    assert a[key].values.tolist() == b[key].values.tolist()
    for col in columns:
        if col not in ("physical_quantity", "value_current", "value_constant"):
            assert a[col].tolist() == b[col].tolist(), col
    np.testing.assert_allclose(b["physical_quantity"], a["physical_quantity"], rtol=1e-9, atol=0)
    for col in ("value_current", "value_constant"):
        diff = max((abs(x - y) for x, y in zip(a[col], b[col], strict=True)), default=Decimal(0))
        assert diff <= Decimal("0.01"), col


def assert_same_run(a: RunResult, b: StreamedResult) -> None:
    assert_same_table(a.table, b.table)
    assert_same_table(a.sub_items, b.sub_items, SUB_ITEM_COLUMNS)
    assert a.hashes == b.hashes
    assert a.not_applicable == b.not_applicable
    assert set(a.notes) == set(b.notes)
    assert a.totals()["by_region"].keys() == b.totals()["by_region"].keys()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    root = write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "d")
    return root, run_account(root)


@pytest.fixture(scope="module")
def tiny_reported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    """Binding caps, reported replace/complement rows, a statistics fallback and a price index."""
    stats = [dict(r) for r in default_statistics()]
    for r in stats:
        if r["region_code"] == "A" and r["item"] == "emission:so2":
            r["quantity"] = (
                0.05  # forest+paddy take up ~0.9 t SO₂ in A: the cap binds (scale ≈ 0.05)
            )
        if r["region_code"] == "B" and r["item"] == "load:cod":
            r["quantity"] = 0.3  # lake+marsh remove ~0.38 t COD in B: binds
        if r["region_code"] == "B" and r["item"] == "product:rice":
            r["quantity"] = 7.0  # B has no farmland: spread over all its pixels (with a note)

    def rep(code: str, ind: str, et: str, q: float, mode: str, dept: str, sub: str = "") -> dict[str, object]:
        unit = {"water_conservation": "m**3", "flood_regulation": "m**3", "landscape_premium": "CNY",
                "climate_regulation": "kW*h"}
        return {
            "region_code": code,
            "year": 2023,
            "indicator": ind,
            "ecosystem_type": et,
            "quantity": q,
            "unit": unit.get(ind, "t"),
            "department": dept,
            "mode": mode,
            "source": "统计报表",
            "sub_item": sub,
        }

    # two water rows for different pixels; sand fixation: the model has none, the complement
    # fills it; carbon: the model has some, the complement is not used; landscape premium
    # comes from a global step; sub-items: one pollutant replaced (after its cap), a flood
    # total (one price: scaled over its parts), water-surface cooling where the model has none
    # (spread), soil retention's nitrogen on its own
    rows = [
        rep("A", "water_conservation", "farmland", 9_000.0, "replace", "市水务局"),
        rep("A", "water_conservation", "forest", 50_000.0, "replace", "区水务局"),
        rep("B", "sand_fixation", "forest", 50.0, "complement", "市林业局"),
        rep("B", "carbon_sequestration", "", 1.0, "complement", "市林业局"),
        rep("A", "soil_retention", "farmland", 123.0, "replace", "市农业局"),
        rep("A", "soil_retention", "forest", 0.5, "replace", "市农业局", "nitrogen"),
        rep("B", "landscape_premium", "", 1e6, "replace", "市住建局"),
        rep("A", "air_purification", "", 0.3, "replace", "市生态环境局", "so2"),
        rep("B", "flood_regulation", "", 5_000.0, "replace", "市水务局"),
        rep("A", "climate_regulation", "forest", 1e5, "complement", "市气象局", "water_surface"),
    ]
    root = write_tiny_dataset(
        tmp_path_factory.mktemp("rep") / "d",
        statistics=stats,
        reported=rows,
        price_index={2020: 100.0, 2023: 105.0},
    )
    return root, run_account(root)


@pytest.mark.parametrize("block_rows", [1, 3, 1024])
def test_tiny_table_equals_in_memory_for_any_block_size(
    tiny: tuple[Path, RunResult], block_rows: int
) -> None:
    root, mem = tiny
    streamed = run_account_streamed(root, block_rows=block_rows)
    assert_same_run(mem, streamed)
    assert streamed.n_blocks == -(-N // block_rows)


@pytest.mark.parametrize("block_rows", [2, 1024])
def test_reported_and_caps_equal_in_memory(
    tiny_reported: tuple[Path, RunResult], block_rows: int
) -> None:
    root, mem = tiny_reported
    # the fixture really exercises the region-level paths
    assert any("capped by reported emissions in A:so2" in n for n in mem.notes)
    assert any("capped by reported loads in B:cod" in n for n in mem.notes)
    assert any("agriculture: region B has no farmland pixels" in n for n in mem.notes)
    assert {
        "reported:区水务局",
        "reported:市林业局",
        "reported:市农业局",
        "reported:市住建局",
        "reported:市生态环境局",
        "reported:市气象局",
    } <= set(mem.table["source"])
    assert {"so2", "nitrogen", "water_surface", "lake", "marsh"} <= set(mem.sub_items["sub_item"])
    assert_same_run(mem, run_account_streamed(root, block_rows=block_rows))


def test_geotiffs_match_in_memory_layers(
    tiny_reported: tuple[Path, RunResult], tmp_path: Path
) -> None:
    root, mem = tiny_reported
    streamed = run_account_streamed(root, out_dir=tmp_path / "run", block_rows=3)
    assert set(streamed.layer_paths) == {
        f"{i}_{q}" for i in mem.layers for q in ("physical", "value")
    }
    for ind, layer in mem.layers.items():
        for q, expected in (("physical", layer.physical), ("value", layer.value)):
            got, valid = io.read(streamed.layer_paths[f"{ind}_{q}"])
            np.testing.assert_array_equal(valid, np.isfinite(expected))
            np.testing.assert_allclose(
                got[valid], expected[valid].astype(np.float32), rtol=1e-6, atol=1e-30
            )
    assert not (tmp_path / "run" / "_work").exists()


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(block_rows=st.integers(min_value=1, max_value=12), threads=st.integers(1, 3))
def test_results_do_not_depend_on_block_size_or_threads(
    tiny: tuple[Path, RunResult], block_rows: int, threads: int
) -> None:
    root, mem = tiny
    table = run_account_streamed(root, block_rows=block_rows, threads=threads).table
    assert_same_table(mem.table, table)
    # one chunk, summed in the in-memory order: money identical, not just within 0.01 元
    assert table["value_current"].tolist() == mem.table["value_current"].tolist()
    assert table["physical_quantity"].tolist() == mem.table["physical_quantity"].tolist() or (
        # air/water purification are summed per pollutant in the streamed path (≤ 1e-12)
        np.allclose(table["physical_quantity"], mem.table["physical_quantity"], rtol=1e-9, atol=0)
    )


def test_many_chunks_on_threads_equal_one_thread(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks finishing out of order on threads are still added in grid order, and the routing's
    MFD accumulation in bands runs on 1 or 3 threads: bit-identical."""
    from ecovalue.accounting import streaming_blocks
    from ecovalue.datasets.demo import build_demo
    from ecovalue.raster import hydrology

    root = build_demo(tmp_path_factory.mktemp("demo") / "demo", resolution=3000)  # 53 rows
    monkeypatch.setattr(streaming_blocks, "AGG_ROWS", 5)  # 11 chunks
    monkeypatch.setattr(hydrology, "MFD_BAND_ROWS", 4)  # 14 bands of the MFD accumulation
    one = run_account_streamed(root, block_rows=2, threads=1)
    three = run_account_streamed(root, block_rows=3, threads=3)
    assert three.table["physical_quantity"].tolist() == one.table["physical_quantity"].tolist()
    assert three.table["value_current"].tolist() == one.table["value_current"].tolist()


@pytest.mark.parametrize("mfd_band_rows", [256, 5])
def test_demo_3000m_equals_in_memory(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, mfd_band_rows: int
) -> None:
    from ecovalue.datasets.demo import build_demo
    from ecovalue.raster import hydrology

    root = build_demo(tmp_path_factory.mktemp("demo") / "demo", resolution=3000)
    # 53 rows: one band of the MFD accumulation, or 11 (the in-memory engine routes on one
    # thread, the streamed one on two)
    monkeypatch.setattr(hydrology, "MFD_BAND_ROWS", mfd_band_rows)
    mem = run_account(root)
    assert_same_run(
        mem, run_account_streamed(root, block_rows=7, threads=2)
    )  # 53 rows: 8 blocks, the last partial


def test_local_cluster_of_two_workers_gives_the_same_numbers(
    tiny_reported: tuple[Path, RunResult], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    root, mem = tiny_reported
    local = run_account_streamed(root, block_rows=3)
    # a LocalCluster reached by its address: the same code path as a multi-machine scheduler
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=":0"
    ) as cluster:
        remote = run_account_streamed(
            root, block_rows=3, scheduler=cluster.scheduler_address, out_dir=tmp_path / "run"
        )
    assert_same_run(mem, remote)
    # blocks are reduced in block order: bit-identical to the local loop
    assert remote.table["physical_quantity"].tolist() == local.table["physical_quantity"].tolist()
    got, valid = io.read(remote.layer_paths["water_purification_value"])
    expected = mem.layers["water_purification"].value
    np.testing.assert_allclose(got[valid], expected[valid].astype(np.float32), rtol=1e-6)


def test_scheduler_without_shared_output_folder_is_refused(tiny: tuple[Path, RunResult]) -> None:
    with pytest.raises(ValueError, match="--out"):
        run_account_streamed(tiny[0], scheduler="tcp://127.0.0.1:1")


def _bad_npp() -> np.ndarray:
    """An NPP grid with a value below its physical range and a hole inside region A."""
    npp = np.full((N, N), 500.0)
    npp[2, 3] = -5.0  # below the physical range 0
    npp[7, 1] = np.nan  # a hole inside region A
    return npp


def test_bad_input_fails_before_computing(tmp_path: Path) -> None:
    root = write_tiny_dataset(tmp_path / "d", rasters={"npp": _bad_npp()})
    with pytest.raises(ValidationFailed) as mem_exc:
        run_account(root)
    with pytest.raises(ValidationFailed) as exc:
        run_account_streamed(root, block_rows=4)
    assert {str(p) for p in exc.value.problems} == {str(p) for p in mem_exc.value.problems}
    with pytest.raises(ValueError, match="block_rows"):
        run_account_streamed(write_tiny_dataset(tmp_path / "ok"), block_rows=0)


def test_a_first_run_routes_beside_the_scan_and_a_failed_validation_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one machine the routing starts before the scan has validated the inputs (it needs
    only the DEM and the regions' pixels); when validation then fails, the run raises the
    validation error and the routing ends at its next kernel instead of running on."""
    import threading

    from ecovalue.raster import hydrology as H

    root = write_tiny_dataset(tmp_path / "d", rasters={"npp": _bad_npp()})
    validated, fill_started = threading.Event(), threading.Event()
    events: list[str] = []
    real_validate, real_fill, real_flats = S.validate_scan, H._fill_kernel, H._flats

    def validate(*args: object) -> object:
        fill_started.wait(10)  # (only a routing started beside the scan sets it)
        events.append("validate")
        try:
            return real_validate(*args)
        finally:
            validated.set()

    def fill(*args: object) -> object:  # the routing's first kernel waits for validation
        events.append("fill started")
        fill_started.set()
        assert validated.wait(30)
        return real_fill(*args)

    def flats(*args: object, **kw: object) -> object:
        events.append("flats")
        return real_flats(*args, **kw)

    monkeypatch.setattr(S, "validate_scan", validate)
    monkeypatch.setattr(H, "_fill_kernel", fill)
    monkeypatch.setattr(H, "_fill_parallel",
                        lambda dem, valid, threads, stop=None: fill(dem, valid))
    monkeypatch.setattr(H, "_flats", flats)
    with pytest.raises(ValidationFailed, match="below"):
        run_account_streamed(root, block_rows=4, threads=2)
    assert events == ["fill started", "validate"]  # routed before validation; stopped after


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities: Linux")
def test_a_first_runs_blocks_yield_to_the_routing_and_a_reruns_do_not(
    tiny: tuple[Path, RunResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a first run routes, its block threads run BLOCKS_NICENESS lower than the routing
    (which keeps the run's priority) once the scan has validated the inputs (the scan does not
    yield: a bad input is named as soon as it would be without the routing); a rerun (LS from
    the cache) changes no priority. The results stay those of the in-memory engine."""
    import os
    import threading

    from ecovalue.accounting import streaming_blocks as B
    from ecovalue.raster import hydrology as H
    from ecovalue.raster.routing_cache import RoutingCache

    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    base = niceness()
    seen: dict[str, set[int]] = {"scan": set(), "blocks": set(), "routing": set()}
    real_scan, real_pass1 = B.scan_block, B.pass1_chunk
    real_chunk, real_fill = B.scan_pass1_chunk, H._fill_parallel

    def spy(kind: str, fn: Any) -> Any:
        def wrapped(*args: Any, **kw: Any) -> Any:
            seen[kind].add(niceness())
            return fn(*args, **kw)
        return wrapped

    monkeypatch.setattr(B, "AGG_ROWS", 4)  # pass 1 in several chunks, on the pool's threads
    monkeypatch.setattr(B, "scan_block", spy("scan", real_scan))
    monkeypatch.setattr(B, "pass1_chunk", spy("blocks", real_pass1))
    monkeypatch.setattr(B, "scan_pass1_chunk", spy("blocks", real_chunk))
    monkeypatch.setattr(H, "_fill_parallel", spy("routing", real_fill))
    cache = RoutingCache(tmp_path / "cache")
    first = run_account_streamed(tiny[0], block_rows=4, threads=2, cache=cache)
    assert not first.routing_from_cache
    assert seen == {"scan": {base}, "blocks": {min(19, base + S.BLOCKS_NICENESS)},
                    "routing": {base}}
    assert_same_run(tiny[1], first)
    seen = {"scan": set(), "blocks": set(), "routing": set()}
    again = run_account_streamed(tiny[0], block_rows=4, threads=2, cache=cache)
    assert again.routing_from_cache
    assert seen == {"scan": set(), "blocks": {base}, "routing": set()}
    assert_same_run(tiny[1], again)


def test_a_first_run_stores_its_routing_beside_the_blocks_and_returns_once_stored(
    tiny: tuple[Path, RunResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the LS reaches the soil-retention pass before the cache's entry is written (on a thread
    # of its own), and the run returns only once the entry is complete
    import threading
    import time

    from ecovalue.accounting import streaming_blocks as B

    events: list[str] = []
    real_store, real_pass1 = S.store, B.pass1_chunk

    def slow_store(*args: Any) -> None:
        events.append(f"store on {threading.current_thread().name}")
        time.sleep(0.5)
        real_store(*args)
        events.append("stored")

    def pass1(plan: Any, start: int, stop: int, rows: int, indicators: tuple[str, ...]) -> Any:
        if "soil_retention" in indicators and "soil" not in events:
            events.append("soil")
        return real_pass1(plan, start, stop, rows, indicators)

    monkeypatch.setattr(S, "store", slow_store)
    monkeypatch.setattr(B, "pass1_chunk", pass1)
    cache = RoutingCache(tmp_path / "cache")
    first = run_account_streamed(tiny[0], block_rows=4, threads=2, cache=cache)
    assert not first.routing_from_cache
    assert events == ["store on ecovalue-cache-store", "soil", "stored"]
    assert len(cache.entries()) == 1
    assert_same_run(tiny[1], first)
    again = run_account_streamed(tiny[0], block_rows=4, threads=2, cache=cache)
    assert again.routing_from_cache
    assert_same_run(tiny[1], again)


def test_a_first_run_starts_its_routing_while_the_kernels_load(
    tiny: tuple[Path, RunResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the routing needs only the DEM and its mask: it starts from the preparation
    # thread as soon as they are known, not after the main thread has loaded the kernels
    import time

    events: list[str] = []
    real_load, real_routing = S.load_kernels, S._routing_step

    def slow_load() -> None:
        time.sleep(0.5)
        real_load()
        events.append("kernels loaded")

    def routing(*args: Any) -> Any:
        events.append("routing started")
        return real_routing(*args)

    monkeypatch.setattr(S, "load_kernels", slow_load)
    monkeypatch.setattr(S, "_routing_step", routing)
    run = run_account_streamed(tiny[0], block_rows=4, threads=2)
    assert events == ["routing started", "kernels loaded"]
    # (the tiny routing ends before the kernels are loaded: still a routed run, its LS used)
    assert not run.routing_from_cache and "scan_and_validate" in run.timings
    assert_same_run(tiny[1], run)


def test_a_first_run_with_a_cache_reads_the_whole_dem_once(
    tiny: tuple[Path, RunResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the DEM read for the routing cache's key is the one the routing takes (no second read);
    # a rerun reads it whole not at all (its digest remembered, its LS in the cache)
    from ecovalue.accounting import streaming_blocks as B

    whole: list[str] = []

    def counting(real: Any) -> Any:
        def counted(plan: Any, key: str, start: int, stop: int) -> Any:
            if start == 0 and stop == plan.grid.height:
                whole.append(key)
            return real(plan, key, start, stop)

        return counted

    # the routing reads the DEM with its mask (read_block), the digests without (…_values)
    monkeypatch.setattr(B, "read_block_values", counting(B.read_block_values))
    monkeypatch.setattr(B, "read_block", counting(B.read_block))
    cache = RoutingCache(tmp_path / "cache")
    first = run_account_streamed(tiny[0], block_rows=4, threads=2, cache=cache)
    assert not first.routing_from_cache and whole.count("dem") == 1
    assert_same_run(tiny[1], first)
    whole.clear()
    again = run_account_streamed(tiny[0], block_rows=4, threads=2, cache=cache)
    assert again.routing_from_cache and whole.count("dem") == 0
    assert_same_run(tiny[1], again)


def test_route_ls_with_its_stop_set_raises_before_any_kernel() -> None:
    import threading

    from ecovalue.raster import hydrology as H

    stop = threading.Event()
    stop.set()
    with pytest.raises(H.RoutingStopped):
        H.route_ls(np.zeros((3, 3)), np.ones((3, 3), dtype=bool), 30.0, stop=stop)


def test_a_float_land_cover_with_fractional_codes_is_refused(tmp_path: Path) -> None:
    """The scan reads a float land cover's raw values for the check (an integer one has
    nothing to check and is not read again); both engines name the same problem."""
    from tests.tiny import GRID, default_landcover

    from ecovalue.accounting.profiles import load_profile
    from ecovalue.accounting.streaming_meta import open_meta

    root = write_tiny_dataset(tmp_path / "d")
    prof = load_profile("cn-2022")
    meta = open_meta(root, prof, None)
    assert S._make_plan(meta, prof, meta.year)[0].landcover_dtype == "int32"
    lc = default_landcover().astype(np.float32)
    lc[4, 4] += 0.5
    io.write(root / "rasters/landcover.tif", lc, GRID, nodata=0, cog=False)
    with pytest.raises(ValidationFailed) as mem_exc:
        run_account(root)
    with pytest.raises(ValidationFailed) as exc:
        run_account_streamed(root, block_rows=3)
    assert any("non-integer class codes (1 pixels)" in str(p) for p in exc.value.problems)
    assert any("non-integer" in str(p) for p in mem_exc.value.problems)


def test_cli_account_streamed_writes_results(tiny: tuple[Path, RunResult], tmp_path: Path) -> None:
    import json

    import typer
    from typer.testing import CliRunner

    from ecovalue.cli.streaming import register

    app = typer.Typer()
    app.callback()(lambda: None)  # keep "account-streamed" as a subcommand
    register(app)
    root, mem = tiny
    res = CliRunner().invoke(
        app, ["account-streamed", str(root), "--out", str(tmp_path / "run"), "--block-rows", "4"]
    )
    assert res.exit_code == 0, res.output
    csv = pd.read_csv(tmp_path / "run" / "results.csv")
    assert csv[KEY].values.tolist() == mem.table[KEY].values.tolist()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert Decimal(summary["totals"]["gep_current"]) == mem.totals()["gep_current"]
    assert (tmp_path / "run" / "layers" / "carbon_sequestration_value.tif").exists()
    assert (tmp_path / "run" / "report.html").exists() and (tmp_path / "run" / "results.xlsx").exists()


def test_account_engine_streamed_writes_what_the_memory_engine_writes(
    tiny_reported: tuple[Path, RunResult], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from ecovalue.cli.main import app

    root, _mem = tiny_reported
    runs = {}
    for engine in ("memory", "streamed"):
        out = tmp_path / engine
        res = CliRunner().invoke(app, ["account", str(root), "--out", str(out), "--engine", engine])
        assert res.exit_code == 0, res.output
        assert f"engine: {engine}" in res.output
        runs[engine] = out
    names = {
        p.relative_to(runs["memory"]).as_posix() for p in runs["memory"].rglob("*") if p.is_file()
    }
    got = {
        p.relative_to(runs["streamed"]).as_posix() for p in runs["streamed"].rglob("*") if p.is_file()
    }
    assert names == got  # results, summary, layers, workbook, report and every figure
    a = pd.read_csv(runs["memory"] / "results.csv", dtype=str)
    b = pd.read_csv(runs["streamed"] / "results.csv", dtype=str)
    assert a[KEY].values.tolist() == b[KEY].values.tolist()
    for col in ("value_current", "value_constant"):
        assert max(abs(Decimal(x) - Decimal(y)) for x, y in zip(a[col], b[col], strict=True)) <= Decimal("0.01")
    html = (runs["streamed"] / "report.html").read_text(encoding="utf-8")
    assert "水源涵养" in html


def test_account_auto_engine(tiny: tuple[Path, RunResult], monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from ecovalue.cli import streaming as cli_streaming

    root = tiny[0]
    assert cli_streaming.choose_engine("auto", root, 1, None)[0] == "memory"
    assert cli_streaming.choose_engine("auto", root, 2, None) == ("streamed", "--workers/--scheduler given")
    assert cli_streaming.choose_engine("auto", root, 1, "tcp://h:8786")[0] == "streamed"
    # a grid above the size where streaming is faster
    monkeypatch.setattr(cli_streaming, "STREAM_ABOVE_PIXELS", 99)
    engine, why = cli_streaming.choose_engine("auto", root, 1, None)
    assert engine == "streamed" and "faster block by block" in why
    # a machine too small for the grid in memory: 100 pixels × 430 B > half of 40 kB
    monkeypatch.setattr(cli_streaming, "_machine_memory", lambda: 40_000)
    engine, why = cli_streaming.choose_engine("auto", root, 1, None)
    assert engine == "streamed" and "would need" in why
    with pytest.raises(typer.BadParameter, match="streamed engine"):
        cli_streaming.choose_engine("memory", root, 2, None)
    with pytest.raises(typer.BadParameter, match="auto, memory or streamed"):
        cli_streaming.choose_engine("fast", root, 1, None)


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=9),
    cut=st.data(),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_continued_sums_equal_in_memory_sums_bit_for_bit(
    rows: int, cut: st.DataObject, seed: int
) -> None:
    from ecovalue.accounting import aggregation as agg
    from ecovalue.accounting.streaming_blocks import continue_sums

    rng = np.random.default_rng(seed)
    key = rng.integers(-1, 4, size=(rows, 5))
    layer = rng.lognormal(10, 3, size=(rows, 5))
    layer[rng.random((rows, 5)) < 0.1] = np.nan
    expected = agg.zonal_sums([layer], key, 4, block_rows=rows)  # one chunk, pixel order
    acc = np.zeros((1, 4))
    bounds = sorted(set(cut.draw(st.lists(st.integers(0, rows), max_size=4)) + [0, rows]))
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # the chunk in blocks of any size
        acc = continue_sums(acc, [layer[lo:hi]], key[lo:hi])
    assert acc.tolist() == expected.tolist()


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=12),
    block_rows=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_sums_with_keys_made_per_chunk_equal_a_whole_key_grid(
    rows: int, block_rows: int, seed: int
) -> None:
    from ecovalue.accounting import aggregation as agg

    rng = np.random.default_rng(seed)
    key = rng.integers(-1, 4, size=(rows, 5))
    layers = [rng.lognormal(10, 3, size=(rows, 5)) for _ in range(2)]
    layers[0][rng.random((rows, 5)) < 0.1] = np.nan
    asked: list[tuple[int, int]] = []

    def chunk_keys(start: int, stop: int) -> np.ndarray:
        asked.append((start, stop))
        return key[start:stop].copy()

    expected = agg.zonal_sums(layers, key, 4, block_rows=block_rows)
    got = agg.zonal_sums(layers, chunk_keys, 4, block_rows=block_rows)
    assert got.tobytes() == expected.tobytes()
    assert asked == [(a, min(a + block_rows, rows)) for a in range(0, rows, block_rows)]
    assert agg.zonal_sums([], chunk_keys, 4).shape == (0, 4)


def test_raster_off_the_landcover_grid_is_refused(tmp_path: Path) -> None:
    from tests.tiny import CELL, CRS, X0, Y0

    from ecovalue.raster.grid import Grid

    other = Grid.from_bounds(CRS, X0, Y0 - N * CELL, X0 + N * CELL, Y0, CELL / 2)
    root = write_tiny_dataset(
        tmp_path / "d", rasters={"npp": np.full((2 * N, 2 * N), 500.0)}, grids={"npp": other}
    )
    with pytest.raises(ValidationFailed, match="resample it onto the land-cover grid"):
        run_account_streamed(root)


def test_account_with_workers_runs_on_a_local_cluster(
    tiny_reported: tuple[Path, RunResult], tmp_path: Path
) -> None:
    pytest.importorskip("distributed")
    from typer.testing import CliRunner

    from ecovalue.cli.main import app

    root, mem = tiny_reported
    out = tmp_path / "run"
    # another cluster's HTTP server on dask's default port (held here if it is free): the
    # run's scheduler takes a free port without a "port 8787 is already in use" warning
    with socket.socket() as held, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            held.bind(("", 8787))
            held.listen()
        res = CliRunner().invoke(
            app, ["account", str(root), "--out", str(out), "--workers", "2", "--no-reports"]
        )
    assert not [w for w in caught if "8787" in str(w.message)], [str(w.message) for w in caught]
    assert res.exit_code == 0, res.output
    assert "engine: streamed (--workers/--scheduler given)" in res.output
    csv = pd.read_csv(out / "results.csv", dtype=str)
    assert [Decimal(v) for v in csv["value_current"]] == mem.table["value_current"].tolist()
    assert (out / "layers" / "soil_retention_value.tif").exists()
    assert not (out / "report.html").exists()


def test_report_view_thumbnails_average_the_written_layers(
    tiny_reported: tuple[Path, RunResult], tmp_path: Path
) -> None:
    """The reports of a streamed run draw its layers as averaged thumbnails of the GeoTIFFs."""
    root, mem = tiny_reported
    streamed = run_account_streamed(root, out_dir=tmp_path / "run", block_rows=4)
    full = streamed.report_view()  # 10 × 10 ≤ 1200: the layers themselves
    small = streamed.report_view(max_px=5)  # 2 × 2 blocks averaged over their valid pixels
    assert set(full.layers) == set(mem.layers)
    for ind, layer in mem.layers.items():
        np.testing.assert_allclose(
            full.layers[ind].value, layer.value.astype(np.float32), rtol=1e-6, equal_nan=True
        )
        blocks = layer.value.astype(np.float32).astype(np.float64).reshape(5, 2, 5, 2)
        with np.errstate(invalid="ignore"):
            expected = np.nanmean(blocks, axis=(1, 3))
        np.testing.assert_allclose(small.layers[ind].value, expected, rtol=1e-5, equal_nan=True)
        assert small.layers[ind].physical_unit == layer.physical_unit
    assert small.table is streamed.table and small.grid == streamed.grid


def test_landscape_waits_for_the_routing_when_memory_is_short(
    tiny: tuple[Path, RunResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 45 bytes × 1000 pixels = 45 kB: beside the routing with 90 kB available, not with 89 kB
    assert S.landscape_beside_routing(1000, available=90_000)
    assert not S.landscape_beside_routing(1000, available=89_999)
    root, mem = tiny
    calls: list[bool] = []

    def after_routing(pixels: int, available: int | None = None) -> bool:
        calls.append(False)
        return False

    monkeypatch.setattr(S, "landscape_beside_routing", after_routing)
    assert_same_run(mem, run_account_streamed(root, block_rows=3))
    assert calls == [False]  # the decision was taken, and the run still equals the in-memory one


# ------------------------------------------------------- one reading for the scan and pass 1


@pytest.fixture(scope="module")
def warm_cache(
    tiny: tuple[Path, RunResult], tmp_path_factory: pytest.TempPathFactory
) -> RoutingCache:
    """A routing cache holding the tiny dataset's LS: reruns take the one-reading flow."""
    cache = RoutingCache(tmp_path_factory.mktemp("cache"))
    assert not run_account_streamed(tiny[0], cache=cache).routing_from_cache
    return cache


@pytest.mark.parametrize(("block_rows", "threads"), [(1, 1), (3, 2), (5, 3), (64, 2)])
def test_one_reading_rerun_equals_the_two_pass_run(
    tiny: tuple[Path, RunResult], warm_cache: RoutingCache, block_rows: int, threads: int
) -> None:
    root, mem = tiny
    two_pass = run_account_streamed(root, block_rows=block_rows, threads=threads)
    one = run_account_streamed(root, block_rows=block_rows, threads=threads, cache=warm_cache)
    assert "scan_pass1_and_validate" in one.timings and one.routing_from_cache
    assert "scan_and_validate" in two_pass.timings
    pd.testing.assert_frame_equal(one.table, two_pass.table, check_exact=True)
    assert one.notes == two_pass.notes and one.hashes == two_pass.hashes
    assert one.not_applicable == two_pass.not_applicable
    assert_same_run(mem, one)


def test_a_rerun_with_a_damaged_ls_entry_routes_again(
    tiny: tuple[Path, RunResult], tmp_path: Path
) -> None:
    """The LS is read (and its content checked) before the one-reading pass; a damaged entry
    is removed, and the run takes the first run's order: routed, stored, the same table."""
    root, mem = tiny
    cache = RoutingCache(tmp_path / "cache")
    first = run_account_streamed(root, block_rows=3, cache=cache)
    (entry,) = cache.path.glob("*.npy")
    entry.write_bytes(entry.read_bytes()[:-8] + b"damaged!")
    again = run_account_streamed(root, block_rows=3, cache=cache)
    assert not again.routing_from_cache and "scan_and_validate" in again.timings
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)
    healed = run_account_streamed(root, block_rows=3, cache=cache)
    assert healed.routing_from_cache and "scan_pass1_and_validate" in healed.timings
    pd.testing.assert_frame_equal(healed.table, first.table, check_exact=True)
    assert_same_run(mem, healed)


def test_one_reading_chunks_on_threads_equal_one_thread(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many chunks, each scanned and summed on its own thread, added in grid order."""
    from ecovalue.accounting import streaming_blocks
    from ecovalue.datasets.demo import build_demo

    root = build_demo(tmp_path_factory.mktemp("demo") / "demo", resolution=3000)  # 53 rows
    cache = RoutingCache(tmp_path_factory.mktemp("cache"))
    monkeypatch.setattr(streaming_blocks, "AGG_ROWS", 5)  # 11 chunks
    two_pass = run_account_streamed(root, block_rows=2, threads=1, cache=cache)
    one = run_account_streamed(root, block_rows=2, threads=1, cache=cache)
    three = run_account_streamed(root, block_rows=3, threads=3, cache=cache)
    assert "scan_pass1_and_validate" not in two_pass.timings
    for r in (one, three):
        assert "scan_pass1_and_validate" in r.timings
        pd.testing.assert_frame_equal(r.table, two_pass.table, check_exact=True)
        assert r.notes == two_pass.notes


def test_bad_input_of_a_rerun_fails_with_the_same_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-reading flow computes before the last block is checked; a dataset with errors
    still fails with the loader's problems, and nothing is returned."""
    from ecovalue.accounting import streaming_blocks

    chunks: list[int] = []
    real = streaming_blocks.scan_pass1_chunk

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        chunks.append(1)
        return real(*a, **k)

    monkeypatch.setattr(streaming_blocks, "scan_pass1_chunk", counted)
    root = write_tiny_dataset(tmp_path / "d")
    cache = RoutingCache(tmp_path / "cache")
    run_account_streamed(root, cache=cache)  # stores the LS: the DEM and regions stay as they are
    assert not chunks  # a first run: the scan, then pass 1 beside the routing
    bad = write_tiny_dataset(tmp_path / "bad", rasters={"npp": _bad_npp()})
    with pytest.raises(ValidationFailed) as mem_exc:
        run_account(bad)
    for rows in (2, 4, 64):
        with pytest.raises(ValidationFailed) as exc:
            run_account_streamed(bad, block_rows=rows, cache=cache)
        assert {str(p) for p in exc.value.problems} == {str(p) for p in mem_exc.value.problems}
    assert chunks  # the one-reading flow ran (the LS of the unchanged DEM was found)


def test_an_indicator_error_of_the_one_reading_pass_is_raised_after_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecovalue.accounting import indicators
    from ecovalue.errors import InputError

    root = write_tiny_dataset(tmp_path / "d")
    cache = RoutingCache(tmp_path / "cache")
    run_account_streamed(root, cache=cache)

    def broken(ctx):  # type: ignore[no-untyped-def]
        raise InputError("water conservation cannot be computed here")

    compute = dict(indicators.COMPUTE, water_conservation=broken)
    monkeypatch.setattr(indicators, "COMPUTE", compute)
    with pytest.raises(InputError, match="cannot be computed here"):
        run_account_streamed(root, block_rows=3, cache=cache)
    # with a validation error as well, the validation's problems come first
    npp = np.full((N, N), 500.0)
    npp[7, 1] = np.nan
    bad = write_tiny_dataset(tmp_path / "bad", rasters={"npp": npp})
    with pytest.raises(ValidationFailed, match="no data"):
        run_account_streamed(bad, block_rows=3, cache=cache)



@pytest.mark.parametrize("small", [False, True])
def test_the_local_executor_keeps_a_thread_busy_behind_a_slow_block(small: bool) -> None:
    # block 0 is slow. Small results: the other thread runs blocks 1–5 meanwhile, their
    # results kept until block 0's turn; block-sized results: block 2 starts only once block
    # 0's result is taken. Either way never more than ``threads`` at once, results in order.
    import threading
    import time

    ex = S._Executor(1, None, threads=2)
    lock = threading.Lock()
    running, most = [0], [0]
    events: list[tuple[str, int]] = []

    def work(plan: Any, start: int, stop: int, tag: str) -> tuple[int, str]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            events.append(("start", start))
        time.sleep(0.3 if start == 0 else 0.01)
        with lock:
            running[0] -= 1
            events.append(("end", start))
        return start, tag

    try:
        out = list(ex.map(work, None, [(i, i + 1) for i in range(6)], "x",  # type: ignore[arg-type]
                          small=small))
    finally:
        ex.close()
    assert out == [(i, "x") for i in range(6)]
    assert most[0] <= 2
    before_0_ends = {b for kind, b in events[:events.index(("end", 0))] if kind == "start"}
    assert before_0_ends == ({0, 1, 2, 3, 4, 5} if small else {0, 1})


def test_progress_reports_every_stage_and_its_blocks(
    tiny_reported: tuple[Path, RunResult], tmp_path: Path
) -> None:
    """The progress callback hears each stage from 0 to its total, in order: a first run's
    scan (its blocks), pass 1 beside the routing, what is left of the routing, the soil
    retention, the landscape premium, the tables, the layers (blocks) and their COG copies;
    a rerun reads the scan and pass 1 in one and has no routing stage."""
    root, _mem = tiny_reported
    events: list[tuple[str, int, int]] = []

    def stages_of(run: list[tuple[str, int, int]]) -> list[str]:
        stages = list(dict.fromkeys(stage for stage, _, _ in run))
        for stage in stages:  # 0, 1, …, total in order, one total per stage
            done = [d for s, d, _ in run if s == stage]
            (total,) = {t for s, _, t in run if s == stage}
            assert done == list(range(total + 1)), (stage, done, total)
        return stages

    cache = RoutingCache(tmp_path / "cache")
    first = run_account_streamed(root, out_dir=tmp_path / "run", block_rows=3, cache=cache,
                                 progress=lambda *e: events.append(e))
    assert not first.routing_from_cache
    assert stages_of(events) == [S.STAGES[s] for s in (
        "scan", "pass 1 beside the routing", "routing", "soil retention", "landscape premium",
        "tables", "layers", "cog",
    )]
    assert (S.STAGES["scan"], 4, 4) in events and (S.STAGES["layers"], 4, 4) in events  # 10 rows
    n_layers = len(list((tmp_path / "run" / "layers").glob("*.tif")))
    assert (S.STAGES["cog"], n_layers, n_layers) in events
    events.clear()
    again = run_account_streamed(root, block_rows=3, cache=cache,
                                 progress=lambda *e: events.append(e))
    assert again.routing_from_cache
    stages = stages_of(events)
    assert stages[0] == S.STAGES["scan and pass 1"] and S.STAGES["routing"] not in stages
    assert stages[-2:] == [S.STAGES["landscape premium"], S.STAGES["tables"]]


# ------------------------------------------------------------------ every indicator accounted


def test_the_streamed_ways_cover_every_catalogue_indicator_once() -> None:
    from ecovalue.accounting import streaming_blocks as B
    from ecovalue.accounting.catalogue import INDICATORS

    ways = B.streamed_ways()
    assert set(ways) == set(INDICATORS)
    assert ways["recreation"] == "statistics" and ways["air_purification"] == "pollutants"
    assert ways["soil_retention"] == "local" and ways["landscape_premium"] == "global"


def test_an_indicator_dropped_from_the_streamed_lists_is_an_error_not_a_smaller_gep(
    tiny: tuple[Path, RunResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecovalue.accounting import streaming_blocks as B
    from ecovalue.errors import EngineError

    root, _mem = tiny
    monkeypatch.setattr(B, "LOCAL", tuple(i for i in B.LOCAL if i != "climate_regulation"))
    # the check the module runs when it loads
    with pytest.raises(EngineError, match=r"no way to compute \['climate_regulation'\]"):
        B.check_streamed_ways()
    # and the check at the end of a run (before: GEP without climate regulation, exit 0)
    with pytest.raises(EngineError, match=r"streamed engine computed no result for \['climate_regulation'\]"):
        run_account_streamed(root)


def test_the_in_memory_engine_checks_the_same_at_the_end_of_a_run(
    tiny: tuple[Path, RunResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecovalue.accounting import pipeline
    from ecovalue.errors import EngineError

    root, _mem = tiny
    monkeypatch.setattr(
        pipeline, "COMPUTE", {k: v for k, v in pipeline.COMPUTE.items() if k != "water_conservation"}
    )
    with pytest.raises(EngineError, match=r"in-memory engine computed no result for \['water_conservation'\]"):
        run_account(root)
    # a reason is enough: named not applicable, the run goes on
    pipeline.check_every_indicator(["sand_fixation"], [], {"sand_fixation": "no wind data"}, "x")
    with pytest.raises(EngineError):
        pipeline.check_every_indicator(["sand_fixation"], [], {"sand_fixation": " "}, "x")
