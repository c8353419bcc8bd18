"""A dataset written in the units of Chinese statistics (万m³, 万t, 万人次, 元/吨, kg/公顷/年 …)
accounts to exactly what the same dataset in pint's spellings gives."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.tiny import LC_UNITS, PRICES, RASTER_UNITS, default_statistics, write_tiny_dataset

from ecovalue.accounting.pipeline import run_account

# pint spelling → (as Chinese statistics write it, how many of it one pint unit is)
CHINESE = {
    "m**3": ("万m³", 1e-4),
    "t": ("万吨", 1e-4),
    "visit": ("万人次", 1e-4),
    "kW*h": ("亿kW·h", 1e-8),
    "CNY": ("万元", 1e-4),
    "CNY/visit": ("元/人次", 1.0),
    "h/visit": ("小时/人次", 1.0),
    "CNY/d": ("元/天", 1.0),
    "d": ("天", 1.0),
    "CNY/t": ("元/吨", 1.0),
    "CNY/m**3": ("元/立方米", 1.0),
    "kg/ha/a": ("kg/(hm²·a)", 1.0),
    "kJ/m**2/d": ("kJ/(m²·d)", 1.0),
    "mm/a": ("毫米/年", 1.0),
    "g/m**2/a": ("g/(m²·a)", 1.0),
    "MJ*mm/(ha*h*a)": ("MJ·mm/(公顷·小时·年)", 1.0),
    "t*ha*h/(ha*MJ*mm)": ("t·hm²·h/(hm²·MJ·mm)", 1.0),
    "CNY/m**2": ("元/m²", 1.0),
    "m": ("米", 1.0),
}


def _chinese_statistics() -> list[dict]:
    rows = []
    for r in default_statistics():
        unit, factor = CHINESE.get(r["unit"], (r["unit"], 1.0))
        rows.append({**r, "unit": unit, "quantity": r["quantity"] * factor})
    return rows


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    base: Path = tmp_path_factory.mktemp("units")
    pint_ds = write_tiny_dataset(base / "pint")
    zh_ds = write_tiny_dataset(
        base / "zh",
        statistics=_chinese_statistics(),
        prices=[{**p, "unit": CHINESE[p["unit"]][0]} for p in PRICES],
        lc_units={k: CHINESE.get(u, (u, 1))[0] for k, u in LC_UNITS.items()},
        raster_units={k: CHINESE[u][0] for k, u in RASTER_UNITS.items()},
    )
    return run_account(pint_ds, "cn-2022"), run_account(zh_ds, "cn-2022")


def test_the_chinese_spelt_dataset_is_read_with_its_units(both) -> None:
    pint_run, zh_run = both
    assert not zh_run.not_applicable.keys() - pint_run.not_applicable.keys()
    keys = ["region_code", "indicator", "ecosystem_type"]
    a = pint_run.table.set_index(keys).sort_index()
    b = zh_run.table.set_index(keys).sort_index()
    assert list(a.index) == list(b.index)
    for col in ("value_current", "value_constant"):
        diff = [(k, x, y) for k, x, y in zip(a.index, a[col], b[col], strict=True)
                if abs(x - y) > Decimal("0.01")]  # fmt: skip
        assert not diff, diff[:5]
    assert a["physical_quantity"].to_numpy() == pytest.approx(b["physical_quantity"].to_numpy(), rel=1e-9,
                                                              nan_ok=True)  # fmt: skip
