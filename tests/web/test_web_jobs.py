"""The pages that run background jobs, in Chromium: a run started on the runs page with a live
progress bar from the job's server-sent events, compared and published; a plot drawn on the
map whose GEP is the one `ecovalue plot` computes on the same polygon, with its land-cover
make-up; a scenario's before/after losses first with its gain/loss map and the approver's
summary; uploads (zipped Shapefile, GeoPackage) and a bad geometry's message beside the map.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyogrio.raw
import pytest
import shapely
from tests.web.conftest import Site, served
from tests.web.support import PHONE, Tab, api, tab
from typer.testing import CliRunner

from ecovalue.cli.main import app
from ecovalue.db.session import make_engine, unit_of_work
from ecovalue.platform.audit.service import audited_sessionmaker
from ecovalue.platform.runs import service as runs
from ecovalue.platform.runs.datasets import resolve_dataset

# a 3 km × 2 km rectangle in 江夏区 (420115) over paddy, dry cropland, forest and shrub, lon/lat
SW, NE = (114.467, 30.053), (114.497, 30.070)
VIEW = [[114.43, 30.03], [114.53, 30.09]]


@pytest.fixture(scope="module")
def own_site(demo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A site of its own: publishing a new run here changes nothing the other tests read."""
    with served(demo_folder, tmp_path_factory.mktemp("own-site")) as s:
        yield s


def _map_point(t: Tab, lonlat: tuple[float, float]) -> tuple[float, float]:
    box = t.page.locator("#map").bounding_box()
    x, y = t.page.evaluate("(p) => { const q = window.evMap.project(p); return [q.x, q.y]; }",
                           list(lonlat))
    return box["x"] + x, box["y"] + y


def _draw_rectangle(t: Tab, sw: tuple[float, float], ne: tuple[float, float]) -> dict[str, Any]:
    t.page.click("[data-testid=draw-rectangle]")
    a, b = _map_point(t, sw), _map_point(t, ne)
    t.page.mouse.move(*a)
    t.page.mouse.click(*a)
    t.page.mouse.move(b[0], b[1], steps=8)
    t.page.mouse.click(*b)
    t.page.wait_for_function("() => document.getElementById('plot-geojson').value !== ''")
    return json.loads(t.page.input_value("#plot-geojson"))  # type: ignore[no-any-return]


def _plot_page(t: Tab) -> None:
    t.go("/plot")
    t.page.wait_for_function("() => window.evMap && window.evMap.loaded()", timeout=30_000)
    t.page.evaluate("(b) => window.evMap.fitBounds(b, {animate: false})", VIEW)  # as a user zooms


def _assess(t: Tab) -> Decimal:
    t.page.click("[data-testid=assess]")
    t.page.wait_for_selector("[data-testid=plot-gep]", timeout=60_000)
    return Decimal(t.page.get_attribute("[data-testid=plot-gep]", "data-value") or "")


def _cli_plot(site: Site, geometry: dict[str, Any], year: int) -> dict[str, Any]:
    """`ecovalue plot` on the dataset the page accounts (with the year's approved reports)."""
    factory = audited_sessionmaker(make_engine(site.database_url), site.settings)
    with unit_of_work(factory, "test", read_only=True) as s:
        run = runs.get_run(s, api(site.base, f"/api/results/{year}")["publication"]["run_id"])
        ref = resolve_dataset(runs.dataset_name(run), site.settings.roots)
        approved = runs.approved_counts(s, year)
    with tempfile.TemporaryDirectory() as tmp:
        folder, _counts = runs.overlay_with_approved(ref, approved, Path(tmp))
        plot = Path(tmp) / "plot.geojson"
        plot.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": geometry}]}))
        res = CliRunner().invoke(app, ["plot", str(folder), "--plot", str(plot), "--year",
                                       str(year), "--out", str(Path(tmp) / "out")])
        assert res.exit_code == 0, res.output
        return json.loads((Path(tmp) / "out" / "plot.json").read_text())  # type: ignore[no-any-return]


def test_a_drawn_plot_has_the_gep_of_ecovalue_plot_and_its_landcover(site, browser, artifacts):
    with tab(browser, site.base, "analyst") as t:
        _plot_page(t)
        geometry = _draw_rectangle(t, SW, NE)
        gep = _assess(t)
        shown_ms = int(t.page.get_attribute("#plot-result", "data-ms") or 0)
        cli = _cli_plot(site, geometry, 2023)
        assert gep == Decimal(cli["gep_current"]) and gep > 0  # to the fen
        rows = t.page.locator("[data-testid=plot-indicators] tr[data-indicator]")
        assert rows.count() == len(cli["indicators"])
        shown = {r.get_attribute("data-indicator"): Decimal(r.get_attribute("data-value") or "")
                 for r in rows.all()}  # fmt: skip
        assert shown == {i["indicator"]: Decimal(i["value_current"]) for i in cli["indicators"]}
        classes = t.page.locator("[data-testid=plot-landcover] tr[data-code]")
        assert {c.get_attribute("data-code") for c in classes.all()} >= {"11", "12", "21"}
        assert t.page.locator("[data-testid=scenario-form]").is_visible()
        t.shot(artifacts, "analyst-plot-1366")
        assert t.errors == []
    print(f"plot drawn -> GEP shown: {shown_ms} ms")


def test_a_scenario_shows_losses_first_its_map_and_the_summary(site, browser, artifacts):
    with tab(browser, site.base, "analyst") as t:
        _plot_page(t)
        _draw_rectangle(t, SW, NE)
        _assess(t)
        rule = t.page.locator("#scenario-form .rule").first
        rule.locator("[name=from]").select_option("11")  # paddy field
        rule.locator("[name=to]").select_option("51")  # built over
        t.page.click("[data-testid=run-scenario]")
        t.page.wait_for_selector("[data-testid=scenario-indicators]", timeout=120_000)
        deltas = [Decimal(r.get_attribute("data-delta") or "") for r in
                  t.page.locator("[data-testid=scenario-indicators] tr[data-indicator]").all()]
        losses = [d for d in deltas if d < 0]
        assert losses and deltas[: len(losses)] == sorted(losses)  # losses first, largest first
        total = Decimal(t.page.get_attribute("[data-testid=scenario-delta]", "data-value") or "")
        assert total == sum(deltas) and total < 0
        t.page.wait_for_function(
            "() => document.querySelector('[data-testid=gain-loss-map]').naturalWidth > 100")
        href = t.page.get_attribute("[data-testid=summary-link]", "href")
        summary = t.page.request.get(site.url(str(href)))
        assert summary.status == 200 and "text/html" in summary.headers["content-type"]
        assert "损失" in summary.text() or "loss" in summary.text().lower()
        t.shot(artifacts, "analyst-scenario-1366")
        assert t.errors == []
    with tab(browser, site.base, "analyst", PHONE) as t:
        _plot_page(t)
        t.shot(artifacts, "analyst-plot-390")
        assert t.errors == []


def _write_vector(path: Path, geom: Any, crs: str, driver: str) -> None:
    pyogrio.raw.write(path, np.array([shapely.to_wkb(geom)], dtype=object),
                      [np.array(["p"], dtype=object)], ["name"], driver=driver,
                      geometry_type="Polygon", crs=crs)  # fmt: skip


def _zipped_shapefile(folder: Path, geom: Any) -> Path:
    """The plot as a Shapefile in CGCS2000 / 3° GK (metres), zipped in a subfolder."""
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    metres = shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    _write_vector(folder / "plot.shp", metres, "EPSG:4547", "ESRI Shapefile")
    out = folder / "plot.zip"
    with zipfile.ZipFile(out, "w") as z:
        for part in folder.glob("plot.*"):
            if part.suffix != ".zip":
                z.write(part, f"plot/{part.name}")
    return out


def test_uploads_and_a_bad_geometry_with_the_engines_message(site, browser, tmp_path):
    rect = shapely.box(*SW, *NE)
    gpkg = tmp_path / "plot.gpkg"
    _write_vector(gpkg, rect, "EPSG:4326", "GPKG")
    (tmp_path / "shp").mkdir()
    shp = _zipped_shapefile(tmp_path / "shp", rect)
    bow_tie = tmp_path / "bow-tie.geojson"
    bow_tie.write_text(json.dumps({"type": "Polygon", "coordinates": [[
        [SW[0], SW[1]], [NE[0], NE[1]], [NE[0], SW[1]], [SW[0], NE[1]], [SW[0], SW[1]]]]}))
    with tab(browser, site.base, "analyst") as t:
        _plot_page(t)
        geps = []
        for path in (gpkg, shp):
            t.page.set_input_files("#plot-file", str(path))
            t.page.wait_for_function("() => document.getElementById('plot-geojson').value !== ''")
            geps.append(_assess(t))
            t.page.evaluate("() => { document.getElementById('plot-geojson').value = ''; }")
        assert geps[0] > 0 and abs(geps[0] - geps[1]) <= geps[0] * Decimal("1e-4")
        t.page.set_input_files("#plot-file", str(bow_tie))
        problems = t.page.locator("[data-testid=plot-problems]")
        problems.wait_for(state="visible")
        assert "invalid" in problems.inner_text() and "Self-intersection" in problems.inner_text()
        t.page.set_input_files("#plot-file", str(tmp_path / "shp" / "plot.dbf"))
        t.page.wait_for_function("() => document.querySelector('[data-testid=plot-problems]')"
                                 ".innerText.includes('.dbf')")
        # the console shows the refused uploads' 422s, nothing else
        assert [e for e in t.errors if "422" not in e] == []
    # the same refusal without a page: the plot API's own check
    with tab(browser, site.base) as t:
        t.go("/plot")
        assert t.page.locator("[data-testid=sign-in]").is_visible()
        assert t.page.locator("[data-testid=assess]").count() == 0
    r = httpx.post(site.url("/web/data/plots"), json={})
    assert r.status_code == 403  # no CSRF value: refused before anything runs


def test_a_run_shows_its_live_progress_then_is_compared_and_published(own_site, browser, artifacts):
    site = own_site
    with tab(browser, site.base, "analyst") as t:
        t.go("/runs")
        t.page.select_option("#dataset", "wuhan-2023")
        assert t.page.input_value("#year") == "2023"
        t.page.click("#start-form button[type=submit]")
        t.page.wait_for_url("**/runs/jobs/*")
        job_path = t.page.url[len(site.base):]
        t.page.locator("[data-testid=job-done]").wait_for(state="visible", timeout=180_000)
        job = t.page.locator("[data-testid=job]")
        seen = [float(v) for v in (job.get_attribute("data-seen") or "").split()]
        statuses = (job.get_attribute("data-statuses") or "").split()
        # the bar followed the running job (a 1000 m run takes about a second, so how many
        # of its indicator steps a 0.5 s event poll catches varies), never went back, ended full
        assert "running" in statuses[:-1], statuses
        assert seen == sorted(seen) and seen[-1] == 1.0, seen
        assert statuses[-1] == "succeeded"
        assert t.page.get_attribute("[data-testid=job]", "data-status") == "succeeded"
        t.shot(artifacts, "analyst-run-job-1366")
        t.page.click("[data-testid=job-compare]")
        t.page.wait_for_load_state("networkidle")
        run_id = int(t.page.url.split("/runs/")[1].split("?")[0])
        assert t.page.locator("[data-testid=notice]").is_visible()
        assert t.page.locator("[data-testid=compare] tr[data-code]").count() == 13
        t.go("/runs")
        assert t.page.locator(f"[data-testid=jobs] a[href='/runs/{run_id}']").count() == 1
        assert t.errors == []
    with tab(browser, site.base, "analyst", PHONE) as t:
        t.go(job_path)
        t.page.locator("[data-testid=job-done]").wait_for(state="visible")
        t.shot(artifacts, "analyst-run-job-390")
        assert t.errors == []
    with tab(browser, site.base, "admin") as t:
        t.go(f"/runs/{run_id}")
        t.page.fill("#publish-form textarea[name=reason]", "流式引擎重算（测试）")
        t.page.click("#publish-form button[type=submit]")
        t.page.wait_for_load_state("networkidle")
        assert t.page.locator("[data-testid=notice]").is_visible()
        assert t.errors == []
    pub = api(site.base, "/api/results/2023")["publication"]
    assert pub["run_id"] == run_id and pub["version"] == 2
