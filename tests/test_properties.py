"""Hypothesis properties of a whole run on random small rasters (in-memory datasets).

Invariants: district rows add up to the city total exactly; GEP is the sum of its categories
and indicators; per-pixel layers sum to the table; results do not depend on the aggregation
block size; an all-water or all-built-up landscape yields zero exactly where it should.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.tiny import LANDCOVER_ROWS, LC_COLUMNS

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.profiles import load_profile
from ecovalue.accounting.result import Region
from ecovalue.datasets.loader import Dataset
from ecovalue.datasets.manifest import DatasetInfo
from ecovalue.raster.grid import Grid

RASTER_INDICATORS = ["water_conservation", "soil_retention", "flood_regulation", "air_purification",
                     "water_purification", "carbon_sequestration", "oxygen_release", "landscape_premium"]
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def profile(tmp_path_factory):
    f = tmp_path_factory.mktemp("prof") / "raster-only.toml"
    f.write_text('[profile]\nid = "raster-only"\nextends = "cn-2022"\nbase_year = 2020\n'
                 f'[indicators]\ninclude = {RASTER_INDICATORS!r}\n'
                 '[switches]\ncap_air_by_emissions = false\ncap_water_by_loads = false\n', encoding="utf-8")
    return load_profile(f)


def dataset(lc: np.ndarray, seed: int) -> Dataset:
    h, w = lc.shape
    cell = 30.0
    grid = Grid.from_bounds("EPSG:4547", 500_000, 3_300_000, 500_000 + w * cell, 3_300_000 + h * cell, cell)
    rng = np.random.default_rng(seed)
    split = 500_000 + (w // 2) * cell
    regions = [Region("A", "甲", "A", shapely.box(500_000, 3_300_000, split, 3_300_000 + h * cell), 0.0),
               Region("B", "乙", "B", shapely.box(split, 3_300_000, 500_000 + w * cell, 3_300_000 + h * cell), 0.0)]
    rasters = {
        "landcover": lc.astype(np.int32),
        "dem": (rng.random((h, w)) * 30 + np.arange(w)[None, :]).astype(np.float32),
        "precipitation": rng.uniform(900, 1500, (h, w)).astype(np.float32),
        "aet": rng.uniform(400, 900, (h, w)).astype(np.float32),
        "npp": rng.uniform(0, 800, (h, w)).astype(np.float32),
        "erosivity": rng.uniform(3000, 9000, (h, w)).astype(np.float32),
        "erodibility": rng.uniform(0.01, 0.05, (h, w)).astype(np.float32),
        "water_evaporation": rng.uniform(800, 1100, (h, w)).astype(np.float32),
        "property_value": rng.uniform(0, 30000, (h, w)).astype(np.float32),
    }
    table = pd.DataFrame(LANDCOVER_ROWS, columns=LC_COLUMNS)
    info = DatasetInfo(name="prop", year=2023, crs="EPSG:4547", synthetic=True)
    return Dataset.from_arrays(info, grid, rasters, regions, table)


landcovers = st.tuples(st.integers(6, 24), st.integers(6, 24), st.integers(0, 2**31 - 1)).map(
    lambda t: np.random.default_rng(t[2]).integers(1, 6, size=(t[0], t[1])))


@SETTINGS
@given(lc=landcovers, seed=st.integers(0, 1000))
def test_sums_and_block_size_invariance(tmp_path_factory, lc, seed):
    prof = profile(tmp_path_factory)
    ds = dataset(lc, seed)
    a = run_account(ds, prof, block_rows=1)
    b = run_account(ds, prof, block_rows=1024)
    totals = a.totals()
    zero = Decimal(0)
    assert sum(totals["by_region"].values(), zero) == totals["gep_current"]
    assert sum(totals["by_category"].values(), zero) == totals["gep_current"]
    assert sum(totals["by_indicator"].values(), zero) == totals["gep_current"]
    assert len(a.table) == len(b.table)
    assert np.allclose(a.table["physical_quantity"], b.table["physical_quantity"], rtol=1e-9, atol=0)
    diffs = [abs(x - y) for x, y in zip(a.table["value_current"], b.table["value_current"], strict=True)]
    assert max(diffs, default=zero) <= Decimal("0.01")
    for ind, layer in a.layers.items():
        t = a.table[a.table["indicator"] == ind]
        assert np.isclose(np.nansum(layer.physical, dtype=np.float64), t["physical_quantity"].sum(), rtol=1e-9)


@SETTINGS
@given(shape=st.tuples(st.integers(4, 16), st.integers(4, 16)), seed=st.integers(0, 1000),
       code=st.sampled_from([3, 4]))
def test_uniform_water_or_built_up(tmp_path_factory, shape, seed, code):
    prof = profile(tmp_path_factory)
    ds = dataset(np.full(shape, code), seed)
    r = run_account(ds, prof)
    per = {ind: float(r.table.loc[r.table["indicator"] == ind, "physical_quantity"].sum())
           for ind in RASTER_INDICATORS}
    # no soil, no absorption, no premium without both built-up land and green/blue space
    for ind in ("soil_retention", "air_purification", "landscape_premium"):
        assert per[ind] == 0.0, ind
    if code == 4:  # sealed built-up land: no water retained or purified, no storage
        for ind in ("water_purification", "flood_regulation", "water_conservation"):
            assert per[ind] == 0.0, ind
    else:  # open water purifies
        assert per["water_purification"] > 0
