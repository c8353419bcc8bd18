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
    with pytest.raises(UnitError, match=r"params: 'mm' cannot be converted to 'yuan'"):
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
