"""Plot engines kept between plot jobs (platform/runs/plot_engines.py): the same numbers as a
fresh account, a new key whenever a file or an approved row changes, saved and memory-mapped,
and the plot job's land-cover make-up."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
import shapely

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.plot import PlotEngine, plot_gep
from ecovalue.datasets.demo import build_demo
from ecovalue.platform.runs.datasets import resolve_dataset
from ecovalue.platform.runs.jobs import landcover_makeup
from ecovalue.platform.runs.plot_engines import KEEP_ON_DISK, PlotEngines, engine_key
from ecovalue.raster.classes import class_areas_m2

NONE = (pd.DataFrame(), pd.DataFrame())


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("roots")
    build_demo(root / "wuhan", resolution=3000, seed=0, year=2023)
    return root


@pytest.fixture(scope="module")
def run(root: Path):  # type: ignore[no-untyped-def]
    return run_account(root / "wuhan", "cn-2022", 2023)


def _plot(run) -> shapely.Polygon:  # type: ignore[no-untyped-def]
    c = run.regions[0].geometry.representative_point()
    return shapely.box(c.x - 4000, c.y - 3000, c.x + 5000, c.y + 4000)


def test_a_saved_engine_answers_exactly_as_the_fresh_one(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fresh = PlotEngine.from_run(run)
    loaded = PlotEngine.load(fresh.save(tmp_path / "e"))
    geom = _plot(run)
    a, b = plot_gep(fresh, geom), plot_gep(loaded, geom)
    assert a.total == b.total and a.total > 0
    assert a.to_json() == b.to_json()  # every indicator, area, region and note
    assert plot_gep(run, geom).total == b.total  # as `ecovalue plot` computes it


def test_the_key_follows_the_files_the_approved_rows_the_profile_and_the_year(root: Path) -> None:
    ref = resolve_dataset("wuhan", (root,))
    key = engine_key(ref, NONE, "cn-2022", 2023)
    assert engine_key(ref, NONE, "cn-2022", 2023) == key
    assert engine_key(ref, NONE, "cn-2022", 2022) != key
    assert engine_key(ref, NONE, "hubei-2023", 2023) != key
    approved = (pd.DataFrame({"region_code": ["420102"], "year": [2023], "item": ["x"],
                              "value": ["1"]}), pd.DataFrame())  # fmt: skip
    assert engine_key(ref, approved, "cn-2022", 2023) != key
    shuffled = (pd.concat([approved[0], approved[0].assign(item="y")]).iloc[::-1], pd.DataFrame())
    in_order = (pd.concat([approved[0], approved[0].assign(item="y")]), pd.DataFrame())
    assert engine_key(ref, shuffled, "cn-2022", 2023) == engine_key(ref, in_order, "cn-2022", 2023)
    npp = root / "wuhan" / ref.manifest.rasters["npp"].path
    st = npp.stat()
    os.utime(npp, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # the file was rewritten
    assert engine_key(ref, NONE, "cn-2022", 2023) != key


def test_engines_come_from_memory_then_disk_else_are_built_once(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    built: list[int] = []

    def build() -> PlotEngine:
        built.append(1)
        return PlotEngine.from_run(run)

    engines = PlotEngines(tmp_path)
    first, origin = engines.get("k1", build)
    assert origin == "built" and built == [1]
    assert engines.get("k1", build) == (first, "memory")
    other = PlotEngines(tmp_path)  # another worker process: the saved one, not a rebuild
    again, origin = other.get("k1", build)
    assert origin == "disk" and built == [1]
    assert plot_gep(again, _plot(run)).total == plot_gep(first, _plot(run)).total
    for i in range(KEEP_ON_DISK + 2):
        engines.store(f"old{i}", first)
        time.sleep(0.01)
    kept = [p.name for p in (tmp_path / "plot-engines").iterdir()]
    assert len(kept) == KEEP_ON_DISK and f"old{KEEP_ON_DISK + 1}" in kept and "k1" not in kept


def test_landcover_makeup_adds_up_to_the_plot_with_class_names(root: Path, run) -> None:  # type: ignore[no-untyped-def]
    ref = resolve_dataset("wuhan", (root,))
    geom = _plot(run)
    rows = landcover_makeup(ref, geom)
    assert rows and all(r["name_zh"] and r["ecosystem_type"] for r in rows)
    assert [r["area_km2"] for r in rows] == sorted((r["area_km2"] for r in rows), reverse=True)
    # exactextract's fractions are single precision: the classes add up to ~1e-7
    assert sum(r["area_km2"] for r in rows) == pytest.approx(geom.area / 1e6, rel=1e-6)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    areas = class_areas_m2(root / "wuhan" / ref.manifest.rasters["landcover"].path, geom)
    assert {r["code"] for r in rows} == {c for c, a in areas.items() if a > 0}
