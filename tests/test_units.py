"""The unit registry: conversions, errors that name the place, and the parsed-definitions cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecovalue import units
from ecovalue.errors import UnitError


def test_conversions_money_and_chinese_multiples() -> None:
    assert units.conversion_factor("t/ha", "kg/m**2") == pytest.approx(0.1, rel=1e-15)
    assert units.conversion_factor("亿元", "万元") == pytest.approx(1e4, rel=1e-15)
    assert units.conversion_factor("亩", "m**2") == pytest.approx(10000 / 15, rel=1e-15)
    assert units.conversion_factor("万m3", "m**3") == pytest.approx(1e4, rel=1e-15)


def test_unknown_and_incompatible_units_name_where() -> None:
    with pytest.raises(UnitError, match=r"prices\.csv row 3: 'furlongs_per_yuan' is not a unit"):
        units.parse_unit("furlongs_per_yuan", "prices.csv row 3")
    with pytest.raises(UnitError, match=r"params: 'mm' cannot be converted to '元'"):
        units.conversion_factor("mm", "yuan", "params")
    with pytest.raises(UnitError, match="no unit given"):
        units.parse_unit(" ", "x")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_definitions_are_parsed_once_and_read_back(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ECOVALUE_CACHE_DIR", str(tmp_path))
    first = units._registry()
    cached = _files(tmp_path / "units")
    assert cached, "the parsed definitions were not stored"
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    second = units._registry()
    assert {p: p.stat().st_mtime_ns for p in _files(tmp_path / "units")} == stamps  # read only
    for reg in (first, second):
        assert reg.Quantity(1.0, "t/ha").to("kg/m**2").magnitude == pytest.approx(0.1)


def test_a_damaged_cache_or_an_unwritable_folder_only_means_parsing_again(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("ECOVALUE_CACHE_DIR", str(tmp_path))
    units._registry()
    for p in _files(tmp_path / "units"):
        p.write_bytes(b"not a pickle")
    reg = units._registry()
    assert reg.Quantity(2.0, "km").to("m").magnitude == pytest.approx(2000.0)
    assert not (tmp_path / "units").exists()  # removed: the next process stores a good one
    units._registry()
    assert _files(tmp_path / "units")

    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    monkeypatch.setenv("ECOVALUE_CACHE_DIR", str(blocked / "below"))
    reg = units._registry()
    assert reg.Quantity(3.0, "ha").to("m**2").magnitude == pytest.approx(30000.0)
    assert blocked.read_text() == "x"


def test_off_keeps_nothing_on_disk(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ECOVALUE_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    reg = units._registry()
    assert reg.Quantity(1.0, "mm").to("m").magnitude == pytest.approx(1e-3)
    assert not any(os.scandir(tmp_path))


def test_importing_the_units_does_not_import_dask_and_dask_still_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ecovalue.units as u\n"
        "assert 'dask' not in sys.modules, 'pint imported dask'\n"
        "import dask.array\n"
        "print(u.conversion_factor('万元', 'yuan'), dask.array.ones(3).sum().compute())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["10000.0", "3.0"]


# --------------------------------------------------------------- Chinese spellings and display

CHINESE = [
    # written as Chinese statistics write it, the pint unit it means, the factor
    ("亿m³", "m**3", 1e8),
    ("万m³", "m**3", 1e4),
    ("万m3", "m**3", 1e4),
    ("m3", "m**3", 1.0),
    ("立方米", "m**3", 1.0),
    ("万立方米", "m**3", 1e4),
    ("万t", "t", 1e4),
    ("万吨", "t", 1e4),
    ("万hm²", "ha", 1e4),
    ("万hm2", "ha", 1e4),
    ("公顷", "ha", 1.0),
    ("千公顷", "ha", 1e3),
    ("亩", "m**2", 10000 / 15),
    ("万亩", "ha", 1e4 / 15),
    ("亿kW·h", "kW*h", 1e8),
    ("万kW·h", "kW*h", 1e4),
    ("万千瓦时", "kW*h", 1e4),
    ("kWh", "kW*h", 1.0),
    ("人次", "visit", 1.0),
    ("万人次", "visit", 1e4),
    ("t/a", "t/year", 1.0),
    ("吨/年", "t/a", 1.0),
    ("万t/a", "t/a", 1e4),
    ("t/(hm²·a)", "t/ha/a", 1.0),
    ("吨/公顷/年", "t/ha/a", 1.0),
    ("元/万m³", "CNY/m**3", 1e-4),
    ("元/人次", "CNY/visit", 1.0),
    ("万元", "CNY", 1e4),
    ("亿元", "CNY", 1e8),
    ("万元/km²", "CNY/km**2", 1e4),
    ("平方公里", "km**2", 1.0),
    ("（万t）", "t", 1e4),
    ("t／a", "t/a", 1.0),
    ("m⁻¹", "1/m", 1.0),
    ("头", "head", 1.0),
    ("(万t) * (元/t)", "CNY", 1e4),
]


@pytest.mark.parametrize(("written", "means", "factor"), CHINESE)
def test_units_as_chinese_statistics_write_them(written: str, means: str, factor: float) -> None:
    assert units.conversion_factor(written, means, "t") == pytest.approx(factor, rel=1e-14)


def test_a_mu_is_a_fifteenth_of_a_hectare() -> None:
    assert units.conversion_factor("亩", "m**2") == 10000 / 15
    assert 15 * units.conversion_factor("亩", "公顷") == pytest.approx(1.0, rel=2e-16)


def test_a_multiplier_binds_to_the_unit_it_stands_before() -> None:
    # 万m³ is 10⁴ m³, not (10⁴ m)³; in a denominator it stays one unit
    assert units.conversion_factor("万m³", "m**3") == pytest.approx(1e4)
    assert units.conversion_factor("元/万m³", "元/m³") == pytest.approx(1e-4)
    assert units.conversion_factor("万kW·h/a", "kW*h/a") == pytest.approx(1e4)


def test_a_chinese_unit_that_is_not_a_unit_names_where_and_what_to_write() -> None:
    with pytest.raises(UnitError, match=r"statistics\.csv line 4: '万吨标煤' is not a unit") as e:
        units.parse_unit("万吨标煤", "statistics.csv line 4")
    assert "万m³" in str(e.value)  # the examples show the Chinese spellings


DISPLAY = [
    ("m**3", "m³"),
    ("kW*h", "kW·h"),
    ("CNY", "元"),
    ("CNY/m**3", "元/m³"),
    ("CNY/(kW*h)", "元/(kW·h)"),
    ("visit", "人次"),
    ("CNY/visit", "元/人次"),
    ("h/visit", "h/人次"),
    ("t", "t"),
    ("ha", "hm²"),
    ("kg/ha/a", "kg/(hm²·a)"),
    ("g/m**2/a", "g/(m²·a)"),
    ("MJ*mm/(ha*h*a)", "MJ·mm/(hm²·h·a)"),
    ("kJ/m**2/d", "kJ/(m²·d)"),
    ("mm/a", "mm/a"),
    ("1/a", "1/a"),
    ("1", "1"),
    ("万m3", "万m³"),
    ("wan_m3", "万m³"),
    ("wan_yuan", "万元"),
    ("yi_yuan", "亿元"),
    ("亿kW·h", "亿kW·h"),
    ("万元/km**2", "万元/km²"),
    ("mu", "亩"),
    ("", ""),
    ("class", "class"),  # a label, not a unit: shown as written
]


@pytest.mark.parametrize(("unit", "shown"), DISPLAY)
def test_format_unit_is_how_people_write_units(unit: str, shown: str) -> None:
    assert units.format_unit(unit) == shown


RAW = ("**", "*", "CNY", "visit", "yuan", "metric_ton", "hectare", "meter", "_")


def _every_unit_ecovalue_declares() -> list[str]:
    from ecovalue.accounting.catalogue import INDICATORS
    from ecovalue.accounting.profiles import available_profiles, load_profile
    from ecovalue.datasets import expectations

    found = {s.physical_unit for s in INDICATORS.values()}
    found |= {u for u, *_ in expectations.RASTERS.values() if u != "class"}
    found |= {u for u, *_ in expectations.LANDCOVER_COLUMNS.values()}
    found |= {u for u in expectations.STATISTICS_ITEMS.values() if u != "*"}
    for pid in available_profiles():
        found |= {p.unit for p in load_profile(pid).parameters.values()}
    return sorted(found)


@pytest.mark.parametrize("unit", _every_unit_ecovalue_declares())
def test_every_declared_unit_shows_without_pint_spelling_and_reads_back(unit: str) -> None:
    shown = units.format_unit(unit)
    assert not [r for r in RAW if r in shown], shown
    assert units.conversion_factor(shown, unit) == pytest.approx(1.0, rel=1e-14)


def test_money_unit_is_chosen_by_the_largest_amount() -> None:
    from decimal import Decimal as D

    assert units.money_unit([D("123456789"), D("5")]).label == "亿元"
    assert units.money_unit([D("-25000")]).label == "万元"
    assert units.money_unit([D("9999.99"), None]).label == "元"
    assert units.money_unit([]).label == "元"
    assert units.format_money(D("476732000000.00")) == "4,767.32 亿元"
    assert units.format_money(D("12345.6"), units.YUAN) == "12,345.60 元"
    assert units.WAN_YUAN.of(D("0.01")) == D("0.000001")  # exact


def test_numbers_have_thousands_separators_and_a_dash_when_missing() -> None:
    from decimal import Decimal as D

    assert units.format_amount(D("1234567.891")) == "1,234,567.89"
    assert units.format_amount(None) == units.format_quantity(float("nan")) == "—"
    assert units.format_quantity(7014144.099999359) == "7,014,144.10"
    assert units.format_quantity(0.000123) == "0.000123"
    assert units.format_tick(12345.6) == "12,346" and units.format_tick(0.01234) == "0.0123"


def test_round_significant_removes_float_noise_only() -> None:
    assert units.round_significant(7014144.099999359) == 7014144.1
    assert units.round_significant(35404.100000000006) == 35404.1
    assert units.round_significant(129.40282685512366) == 129.402827
    assert units.round_significant(0.0) == 0.0
    assert units.round_significant(-1.23456789123e-7) == -1.23456789e-7
