"""Plot-level GEP on the tiny dataset: hand-computed sums, partial pixels, partitions, CRS, errors, CLI."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest
import shapely
import shapely.ops
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box
from tests.tiny import CELL, CRS, X0, Y0, write_tiny_dataset
from typer.testing import CliRunner

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.plot import PlotEngine, plot_gep, write_plot
from ecovalue.cli.plot import register
from ecovalue.errors import DataFileError, InputError

# forest pixel (1 ha): water conservation (1200 − 0.1·1200 − 700) mm × 10 000 m² = 3 800 m³
WC_FOREST = 3800.0
# forest air purification (100 + 10 + 1000) kg/ha/a × 1 ha = 1.11 t
AIR_FOREST = 1.11
# carbon: 500 g C/m² ÷ 0.45 × 1.63 × 10 000 m² ÷ 10⁶ = 18.111 t CO₂ per pixel
CO2_PIXEL = 500 / 0.45 * 1.63 * 10_000 / 1e6


def cells(c0: float, r0: float, c1: float, r1: float) -> Polygon:
    """A box from column c0 to c1 and row r0 to r1 (fractions allowed) in grid coordinates."""
    return box(X0 + c0 * CELL, Y0 - r1 * CELL, X0 + c1 * CELL, Y0 - r0 * CELL)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_account(write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "d"), "cn-2022")


@pytest.fixture(scope="module")
def engine(run):
    return PlotEngine.from_run(run)


def test_whole_pixels_by_hand(run, engine):
    res = engine.plot(cells(0, 0, 2, 4))  # 8 forest pixels of region A
    assert res.covered_area_km2 == pytest.approx(0.08)
    assert res.regions == {"A": pytest.approx(0.08)}
    assert res.row("water_conservation").physical == pytest.approx(8 * WC_FOREST)
    assert res.row("air_purification").physical == pytest.approx(8 * AIR_FOREST)
    assert res.row("carbon_sequestration").physical == pytest.approx(8 * CO2_PIXEL)
    # value = the layer's value summed over the 8 pixels, rounded once
    wc = run.layers["water_conservation"].value[0:4, 0:2].sum()
    assert res.row("water_conservation").value == Decimal(repr(float(wc))).quantize(Decimal("0.01"))
    # forestry: region A's 10 m³ timber × 1 000 元/m³ spread over its 30 forest pixels: 8/30 × 10 000
    assert res.row("forestry").value == Decimal("2666.67")
    assert res.row("agriculture").value == Decimal("0.00")  # no farmland in the plot
    assert (
        res.row("forestry").statistics_based and not res.row("water_conservation").statistics_based
    )
    assert any("ADR 0001" in n for n in res.notes)
    assert res.total == sum((r.value for r in res.rows), Decimal(0))


def test_partial_pixels_count_by_coverage(engine):
    # half of pixel (0,0) and all of pixel (0,1): 1.5 forest pixels
    res = engine.plot(cells(0.5, 0, 2, 1))
    assert res.covered_area_km2 == pytest.approx(0.015)
    assert res.row("water_conservation").physical == pytest.approx(1.5 * WC_FOREST)
    # a triangle over pixel (0,0): half of it
    tri = Polygon([(X0, Y0), (X0 + CELL, Y0), (X0, Y0 - CELL)])
    assert engine.plot(tri).row("air_purification").physical == pytest.approx(0.5 * AIR_FOREST)


def test_plot_partly_outside_the_data_notes_it(engine):
    res = engine.plot(cells(-2, 0, 1, 1))  # 2 pixels west of the grid, 1 inside
    assert res.covered_area_km2 == pytest.approx(0.01)
    assert res.plot_area_km2 == pytest.approx(0.03)
    assert any("outside the accounting regions" in n for n in res.notes)


def district_total(run, code: str) -> Decimal:
    t = run.table
    return sum(t.loc[t["region_code"] == code, "value_current"], Decimal(0))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(x=st.floats(0.3, 4.7), y=st.floats(0.3, 9.7), slope=st.floats(-2, 2))
def test_partition_of_a_district_adds_up(run, engine, x, y, slope):
    # district A (columns 0–5) cut into 4 pieces by a tilted line and a vertical line at arbitrary places
    a = cells(0, 0, 5, 10)
    x0, y0 = X0 + x * CELL, Y0 - y * CELL
    cut = shapely.union(
        LineString([(X0 - 10, y0 - slope * 510), (X0 + 510, y0 + slope * 510)]),
        LineString([(x0, Y0 + 10), (x0, Y0 - 1010)]),
    )
    pieces = list(shapely.ops.split(a, cut).geoms)
    results = [engine.plot(p) for p in pieces]
    total = sum((r.total for r in results), Decimal(0))
    n_rows = int((run.table["region_code"] == "A").sum())
    # each rounded cell is within 0.005 元 of its float: pieces × indicators + table rows
    tol = Decimal("0.005") * (len(pieces) * len(engine.indicators) + n_rows)
    assert abs(total - district_total(run, "A")) <= tol
    for ind in engine.indicators:
        phys = sum(r.row(ind).physical for r in results)
        assert phys == pytest.approx(
            float(np.nansum(run.layers[ind].physical[:, :5])), rel=1e-7, abs=1e-9
        )
    assert sum(r.covered_area_km2 for r in results) == pytest.approx(0.5)


def test_whole_district_equals_its_table_total(run, engine):
    res = engine.plot(run.regions[1].geometry)
    assert abs(res.total - district_total(run, "B")) <= Decimal("0.005") * (
        len(res.rows) + len(run.table)
    )


def test_reprojected_plot_gives_the_same(engine, tmp_path):
    native = cells(0.5, 0.25, 3.5, 4.75)
    tr = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lonlat = shapely.transform(native, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    a, b = engine.plot(native), engine.plot(lonlat, "EPSG:4326")
    for ra, rb in zip(a.rows, b.rows, strict=True):
        assert rb.physical == pytest.approx(ra.physical, rel=1e-6, abs=1e-9)
        assert abs(rb.value - ra.value) <= Decimal("0.02")
    # from a GeoJSON file without a crs member (RFC 7946: WGS 84)
    path = tmp_path / "site.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": shapely.geometry.mapping(lonlat),
                    }
                ],
            }
        )
    )
    c = plot_gep(engine, path)
    assert c.row("water_conservation").physical == pytest.approx(
        a.row("water_conservation").physical, rel=1e-6
    )


def test_bad_plots_get_clear_errors(engine):
    with pytest.raises(InputError, match="empty"):
        engine.plot(Polygon())
    bowtie = Polygon([(X0, Y0), (X0 + 300, Y0 - 300), (X0 + 300, Y0), (X0, Y0 - 300)])
    with pytest.raises(InputError, match="invalid: Self-intersection"):
        engine.plot(bowtie)
    with pytest.raises(InputError, match="covers no pixel"):
        engine.plot(box(X0 + 5000, Y0, X0 + 6000, Y0 + 1000))
    with pytest.raises(InputError, match="Point; a plot must be a Polygon"):
        engine.plot(Point(X0 + 50, Y0 - 50))
    with pytest.raises(InputError, match="longitude/latitude"):
        engine.plot(box(114.0, 30.0, 114.01, 30.01))
    with pytest.raises(DataFileError, match="not found"):
        plot_gep(engine, "no/such/site.geojson")


def test_float32_engine_agrees(run, engine):
    e32 = PlotEngine.from_run(run, dtype=np.float32)
    assert e32.nbytes < engine.nbytes
    g = cells(0.3, 0.3, 9.6, 9.1)
    for a, b in zip(engine.plot(g).rows, e32.plot(g).rows, strict=True):
        assert b.physical == pytest.approx(a.physical, rel=1e-6)
        assert abs(b.value - a.value) <= max(Decimal("0.02"), abs(a.value) * Decimal("1e-6"))


def test_plot_outputs_and_cli(run, engine, tmp_path):
    paths = write_plot(engine.plot(cells(0, 0, 2, 4)), tmp_path / "o")
    data = json.loads(paths["json"].read_text())
    assert data["covered_area_km2"] == pytest.approx(0.08)
    assert "water_conservation" in paths["csv"].read_text()
    root = write_tiny_dataset(tmp_path / "d")
    site = tmp_path / "site.geojson"
    site.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": shapely.geometry.mapping(cells(0, 0, 2, 4)),
                    }
                ],
            }
        )
    )
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    res = runner.invoke(
        app, ["plot", str(root), "--plot", str(site), "--out", str(tmp_path / "cli")]
    )
    assert res.exit_code == 0, res.output
    assert "水源涵养" in res.output and (tmp_path / "cli/plot.csv").exists()
    far = tmp_path / "far.geojson"
    far.write_text(
        site.read_text().replace(
            json.dumps(shapely.geometry.mapping(cells(0, 0, 2, 4))["coordinates"]),
            json.dumps(shapely.geometry.mapping(cells(90, 0, 92, 4))["coordinates"]),
        )
    )
    res = runner.invoke(app, ["plot", str(root), "--plot", str(far)])
    assert res.exit_code == 1 and "covers no pixel" in res.output
