"""Targets of the web platform (issue 24), measured on loopback. Not a timed test: run it by
hand (``make bench-web``); it prints the figures and writes them to ``<work>/web-bench.json``.

* tiles of a published run at ``--tile-resolution`` (default 30 m): p95 cold (the first
  request of each tile in a fresh server process) and warm (the same tiles again), target
  ≤ 300 ms cold, ≤ 50 ms warm;
* home page and district page: navigation start → the map idle in Chromium, target ≤ 1 s;
* ``--readers`` (50) concurrent public readers of pages, GeoJSON and tiles: p95 ≤ 300 ms and
  no error.

The demo platform (pages at ``--page-resolution``) is built once into ``--work`` and reused;
the 30 m run is accounted by the streamed engine (bounded memory) and published as version 2
of 2023, so the pages and tiles read it like any published run.

    .venv/bin/python bench/web.py --work bench/results/web [--tile-resolution 30] [--readers 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import morecantile

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAYER = "water_conservation_value"
TMS = morecantile.tms.get("WebMercatorQuad")
WUHAN = (113.7, 29.97, 115.08, 31.36)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(1000 * statistics.median(values), 1),
            "p95_ms": round(1000 * p95(values), 1), "max_ms": round(1000 * max(values), 1)}


def prepare(work: Path, page_res: float, tile_res: float) -> dict[str, Any]:
    """The demo platform, and a published run at the tile resolution (both cached)."""
    from ecovalue.cli.demo_platform import demo_settings, load

    if not (work / "done").exists():
        load(work, page_res, 0, None)
        (work / "done").write_text("ok")
    url = f"sqlite:///{work / 'platform.db'}"
    settings = demo_settings(work, url)
    marker = work / f"tiles-{tile_res:g}m.json"
    if not marker.exists():
        marker.write_text(json.dumps(_tile_run(work, tile_res, settings)))
    ready = {"url": url, "settings": settings, **json.loads(marker.read_text())}
    ready["web_layers_s"] = web_layers(settings, ready["tile_run"])
    return ready


def _tile_run(work: Path, res: float, settings: Any) -> dict[str, Any]:
    from ecovalue.accounting.streaming import run_account_streamed
    from ecovalue.cli.streaming import write_streamed_outputs
    from ecovalue.datasets.demo import build_demo
    from ecovalue.db.session import make_engine, unit_of_work
    from ecovalue.platform.audit.service import audited_sessionmaker
    from ecovalue.platform.demo.service import principal
    from ecovalue.platform.runs import service as runs

    folder = work / f"tiles-{res:g}m"
    dataset, out = folder / "dataset", folder / "run"
    t0 = time.perf_counter()
    if not (dataset / "dataset.toml").exists():
        build_demo(dataset, resolution=res, seed=0, year=2023)
    t_build = time.perf_counter() - t0
    result = run_account_streamed(dataset, profile="cn-2022", year=2023, out_dir=out)
    write_streamed_outputs(result, out)
    t_account = time.perf_counter() - t0 - t_build
    factory = audited_sessionmaker(make_engine(settings.database_url), settings)
    with unit_of_work(factory, "bench") as s:
        prov = {"profile_id": result.profile_id, "dataset_path": str(dataset),
                "dataset_name": result.dataset_name, "year": 2023, "hashes": result.hashes,
                "synthetic": result.synthetic, "outputs_dir": str(out)}
        run = runs.store_run(s, result.table, prov, principal(s, "analyst"))
        runs.publish_run(s, principal(s, "admin"), run.id, f"{res:g} m run for the web bench")
        run_id = run.id
    return {"tile_run": run_id, "tile_resolution_m": res, "build_s": round(t_build, 1),
            "account_s": round(t_account, 1)}


def web_layers(settings: Any, run_id: int) -> float:
    """Seconds to build the run's web-optimized layer copies (0 when they exist already)."""
    from ecovalue.db.session import make_engine, unit_of_work
    from ecovalue.platform.audit.service import audited_sessionmaker
    from ecovalue.platform.runs import service as runs
    from ecovalue.web import layers, results

    factory = audited_sessionmaker(make_engine(settings.database_url), settings)
    with unit_of_work(factory, "bench", read_only=True) as s:
        info = results.run_info(runs.get_run(s, run_id))
    t0 = time.perf_counter()
    layers.prepare(info)
    return round(time.perf_counter() - t0, 1)


class Server:
    """The site in its own process (as ``ecovalue serve`` runs it)."""

    def __init__(self, settings: Any, port: int):
        env = {**os.environ, "ECOVALUE_ENV": "development",
               "ECOVALUE_DATABASE_URL": settings.database_url,
               "ECOVALUE_SECRET_KEY": secrets.token_urlsafe(32),
               "ECOVALUE_AUDIT_KEY_FILE": str(settings.audit_key_file),
               "ECOVALUE_AUDIT_CHECKPOINT_FILE": str(settings.audit_checkpoint_file)}
        code = ("import uvicorn; from ecovalue.api.app import create_app; "
                f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        for _ in range(200):
            try:
                if httpx.get(self.base + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the bench server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def tile_paths(run: int, n: int, seed: int = 0) -> list[str]:
    """``n`` distinct tiles over the city, zooms 9–14 (what a user panning and zooming asks)."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        z = rng.choice((9, 10, 11, 12, 12, 13, 13, 14))
        lon, lat = rng.uniform(WUHAN[0], WUHAN[2]), rng.uniform(WUHAN[1], WUHAN[3])
        t = TMS.tile(lon, lat, z)
        out.add(f"/tiles/{run}/{LAYER}/{t.z}/{t.x}/{t.y}.png")
    return sorted(out)


def bench_tiles(settings: Any, run: int, port: int, n: int) -> dict[str, Any]:
    paths = tile_paths(run, n)
    server = Server(settings, port)
    try:
        with httpx.Client(base_url=server.base, timeout=60) as c:
            c.get(f"/web/data/legend/{run}/{LAYER}.json")  # the legend (overview read) once
            cold, warm, codes = [], [], []
            for p in paths:
                t0 = time.perf_counter()
                codes.append(c.get(p).status_code)
                cold.append(time.perf_counter() - t0)
            for _ in range(3):
                for p in paths:
                    t0 = time.perf_counter()
                    c.get(p)
                    warm.append(time.perf_counter() - t0)
    finally:
        server.stop()
    return {"cold": summary(cold), "warm": summary(warm),
            "images": codes.count(200), "empty": codes.count(204)}


def bench_pages(base: str, runs: int = 5) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, path in (("home", "/"), ("district", "/district/420116")):
            times = []
            for i in range(runs + 1):
                ctx = b.new_context(viewport={"width": 1366, "height": 768})
                page = ctx.new_page()
                page.goto(base + path)
                page.wait_for_function("() => window.evMap && window.evMap.loaded() && "
                                       "document.querySelector('#map').dataset.mapState === 'idle'",
                                       timeout=60_000)
                ms = page.evaluate("() => performance.now()")
                if i:  # the first load fills the browser's cache of the bundle
                    times.append(ms / 1000)
                ctx.close()
            out[name] = summary(times)
        b.close()
    return out


async def _reader(client: httpx.AsyncClient, paths: list[str], n: int,
                  lat: list[float], errors: list[str]) -> None:
    for i in range(n):
        path = paths[i % len(paths)]
        t0 = time.perf_counter()
        try:
            r = await client.get(path)
            if r.status_code >= 400:
                errors.append(f"{path}: {r.status_code}")
        except httpx.HTTPError as exc:
            errors.append(f"{path}: {exc}")
        lat.append(time.perf_counter() - t0)


async def _readers(base: str, paths: list[str], readers: int, per_reader: int) -> dict[str, Any]:
    lat: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(_reader(client, random.Random(i).sample(paths, len(paths)),
                                       per_reader, lat, errors) for i in range(readers)))
        wall = time.perf_counter() - t0
    return {**summary(lat), "errors": len(errors), "requests": len(lat),
            "per_second": round(len(lat) / wall, 1), "first_errors": errors[:5]}


def bench_readers(base: str, run: int, readers: int, per_reader: int) -> dict[str, Any]:
    paths = ["/", "/district/420116", "/district/420111", "/map", "/?year=2022",
             "/web/data/districts.geojson?year=2023", "/web/data/water.geojson",
             *tile_paths(run, 12, seed=5)]
    return asyncio.run(_readers(base, paths, readers, per_reader))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("bench/results/web"))
    ap.add_argument("--tile-resolution", type=float, default=30.0)
    ap.add_argument("--page-resolution", type=float, default=1000.0)
    ap.add_argument("--tiles", type=int, default=120)
    ap.add_argument("--readers", type=int, default=50)
    ap.add_argument("--per-reader", type=int, default=20)
    ap.add_argument("--port", type=int, default=8791)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    ready = prepare(args.work, args.page_resolution, args.tile_resolution)
    report: dict[str, Any] = {"prepared": {k: v for k, v in ready.items() if k != "settings"}}
    report["tiles"] = bench_tiles(ready["settings"], ready["tile_run"], args.port, args.tiles)
    server = Server(ready["settings"], args.port)
    try:
        report["pages"] = bench_pages(server.base)
        report["readers"] = bench_readers(server.base, ready["tile_run"], args.readers,
                                          args.per_reader)
    finally:
        server.stop()
    report["load_average"] = os.getloadavg()
    (args.work / "web-bench.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
