"""Map tiles cut from a published run's COG: known pixels have their class's colour, tiles
outside the layer are empty (204), unpublished runs are not shown to the public, and a
district official's map data equal what their register shows."""

from __future__ import annotations

import io
import json
from contextlib import contextmanager

import httpx
import morecantile
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pyproj import Transformer
from tests.web.support import PASSWORDS, api

from ecovalue.accounting.result import TABLE_COLUMNS
from ecovalue.db.session import make_engine, unit_of_work
from ecovalue.platform.audit.service import audited_sessionmaker
from ecovalue.platform.demo.service import principal
from ecovalue.platform.runs import service as runs
from ecovalue.raster import io as rio

TMS = morecantile.tms.get("WebMercatorQuad")


def _layer(site, name="water_conservation_value"):
    run = api(site.base, "/api/results/2023")["publication"]["run_id"]
    legend = httpx.get(site.url(f"/web/data/legend/{run}/{name}.json")).json()
    return run, legend


def _class_colour(legend, value):
    for c in legend["classes"]:
        if c["from"] <= value < c["to"]:
            return c["color"]
    return legend["classes"][-1]["color"] if value >= legend["classes"][-1]["to"] else legend["classes"][0]["color"]


def test_tiles_paint_known_pixels_with_their_class_colour(site):
    run, legend = _layer(site)
    path = site.folder / "run-2023" / "layers" / "water_conservation_value.tif"
    values, valid = rio.read(path)
    grid = rio.info(path).grid
    per_ha = 10_000 / grid.pixel_area_m2
    to_lonlat = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    rng = np.random.default_rng(3)
    rows, cols = np.nonzero(valid)
    checked = 0
    for i in rng.permutation(len(rows))[:40]:
        r, c = int(rows[i]), int(cols[i])
        if not valid[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].all():
            continue  # stay off the layer's edge, where reprojection meets nodata
        x, y = grid.transform @ (c + 0.5, r + 0.5)
        lon, lat = to_lonlat.transform(x, y)
        tile = TMS.tile(lon, lat, 12)
        png = httpx.get(site.url(f"/tiles/{run}/water_conservation_value/{tile.z}/{tile.x}/{tile.y}.png"))
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        img = np.asarray(Image.open(io.BytesIO(png.content)).convert("RGBA"))
        b = TMS.xy_bounds(tile)
        mx, my = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
        px = int((mx - b.left) / (b.right - b.left) * 256)
        py = int((b.top - my) / (b.top - b.bottom) * 256)
        expected = _class_colour(legend, float(values[r, c]) * per_ha)
        got = "#{:02x}{:02x}{:02x}".format(*img[py, px, :3])
        assert img[py, px, 3] == 255 and got == expected, (r, c, float(values[r, c]) * per_ha)
        checked += 1
        if checked >= 12:
            break
    assert checked >= 8


def test_a_tile_outside_the_layer_is_empty_and_bad_requests_are_clear(site):
    run, _ = _layer(site)
    outside = TMS.tile(2.35, 48.85, 10)  # Paris
    assert httpx.get(site.url(f"/tiles/{run}/water_conservation_value/10/{outside.x}/{outside.y}.png")).status_code == 204
    bad = httpx.get(site.url(f"/tiles/{run}/no_such_layer/10/1/1.png"))
    assert bad.status_code == 422 and "water_conservation_value" in bad.json()["detail"]
    assert httpx.get(site.url(f"/tiles/{run}/water_conservation_value/3/99/1.png")).status_code == 422


@contextmanager
def _signed_in(site, user):
    with httpx.Client(base_url=site.base) as c:
        yield _login(c, user)


def _login(c, user):
    c.get("/login")
    r = c.post("/login", data={"username": user, "password": PASSWORDS[user],
                               "csrf": c.cookies["ev_csrf"]})
    assert r.status_code == 303
    return c


def _unpublished_copy(site) -> int:
    """Store the published 2023 run's rows again as a new, unpublished run (same outputs)."""
    factory = audited_sessionmaker(make_engine(site.database_url), site.settings)
    with unit_of_work(factory, "test") as s:
        run = runs.get_run(s, api(site.base, "/api/results/2023")["publication"]["run_id"])
        rows = runs.run_results(s, principal(s, "admin"), run.id)
        table = pd.DataFrame([{c: getattr(r, c) for c in TABLE_COLUMNS if hasattr(r, c)}
                              | {"region_name_en": "", "year": run.year, "indicator_zh": "",
                                 "indicator_en": "", "category_zh": "", "ecosystem_type_zh": ""}
                              for r in rows])
        return runs.store_run(s, table, json.loads(run.provenance), principal(s, "analyst")).id


def test_unpublished_runs_show_their_layers_to_analysts_only(site):
    run = _unpublished_copy(site)
    tile = TMS.tile(114.3, 30.6, 10)
    path = f"/tiles/{run}/water_conservation_value/10/{tile.x}/{tile.y}.png"
    assert httpx.get(site.url(path)).status_code == 403
    with _signed_in(site, "hongshan") as official:
        assert official.get(path).status_code == 403  # it covers other districts too
    with _signed_in(site, "analyst") as analyst:
        assert analyst.get(path).status_code == 200


@pytest.mark.parametrize("user,prefix", [("hongshan", "420111"), ("huangpi", "420116")])
def test_map_parcels_are_the_register_services_parcels(site, user, prefix):
    with _signed_in(site, user) as c:
        features = c.get("/web/data/parcels.geojson").json()["features"]
    assert features and all(f["properties"]["admin_code"].startswith(prefix) for f in features)
