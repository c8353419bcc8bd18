"""Profiles and the parameter register: shipped profile, user overrides, clear errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.accounting.parameters import ParameterRegister, make_parameter
from ecovalue.accounting.profiles import load_profile
from ecovalue.errors import ParameterError, ProfileError, UnitError


def test_cn_2022_has_every_parameter_with_source_and_unit():
    p = load_profile("cn-2022")
    assert p.base_year == 2020
    assert "carbon_sequestration" in p.indicators and "oxygen_release" in p.indicators
    assert "pest_control" not in p.indicators  # switched off by default
    for pid, par in p.parameters.items():
        assert par.source and par.unit, pid
        assert par.status in ("published", "assumed")
        if par.status == "assumed":
            assert "assumed" in par.source
    for ind in p.indicators:
        for pid in INDICATORS[ind].parameters:
            assert pid in p.parameters


def test_user_profile_extends_and_overrides(tmp_path):
    f = tmp_path / "wuhan.toml"
    f.write_text('''
[profile]
id = "wuhan-2023"
extends = "cn-2022"
base_year = 2023
[switches]
pest_control = true
[parameters."reservoir_cost"]
value = "8.5"
unit = "CNY/m**3"
price_year = 2023
region = "Wuhan"
source = "武汉市水务局 2023 (example)"
''', encoding="utf-8")
    p = load_profile(f)
    assert p.id == "wuhan-2023" and p.base_year == 2023
    assert "pest_control" in p.indicators
    assert p.parameters["reservoir_cost"].value == Decimal("8.5")
    assert p.parameters["soil.silting_coef"].value == Decimal("0.24")  # inherited
    assert p.hash != load_profile("cn-2022").hash


def test_profile_errors_are_clear(tmp_path):
    with pytest.raises(ProfileError, match=r"profile 'nope' not found .*expected one of \['cn-2022'\]"):
        load_profile("nope")
    f = tmp_path / "bad.toml"
    f.write_text('[profile]\nid="x"\nbase_year=2020\n[indicators]\ninclude=["water_conservation","magic"]\n')
    with pytest.raises(ProfileError, match=r"unknown indicators \['magic'\]"):
        load_profile(f)
    f.write_text('[profile]\nid="x"\nbase_year=2020\n[indicators]\ninclude=["water_conservation"]\n')
    with pytest.raises(ProfileError, match="needs parameter 'reservoir_cost'"):
        load_profile(f)
    f.write_text('[profile]\nid="x"\nextends="cn-2022"\nbase_year=2020\n[methods]\nrouting="teleport"\n')
    with pytest.raises(ProfileError, match="method routing = 'teleport' is not known"):
        load_profile(f)


def test_parameter_needs_value_unit_and_source():
    with pytest.raises(ParameterError, match="no 'unit'.*no 'source'"):
        make_parameter("x", {"value": 1}, "test")
    with pytest.raises(UnitError, match="not a unit"):
        make_parameter("x", {"value": 1, "unit": "wombats per fortnight squared ^^", "source": "s"}, "test")


def test_register_conversion_and_missing_parameter():
    reg = ParameterRegister({"c": make_parameter("c", {"value": "7.06", "unit": "CNY/m**3", "source": "s"}, "t")})
    assert reg.get_float("c", "CNY/(wan_m3)") == pytest.approx(70600.0)
    with pytest.raises(ParameterError, match="parameter 'missing' is not in the register"):
        reg["missing"]
    with pytest.raises(UnitError, match="cannot be converted"):
        reg.get_float("c", "CNY/t")


def test_price_restatement_uses_index_and_notes_gaps():
    reg = ParameterRegister({
        "a": make_parameter("a", {"value": "10", "unit": "CNY/t", "price_year": 2010, "source": "s"}, "t"),
        "b": make_parameter("b", {"value": "10", "unit": "CNY/t", "price_year": 2003, "source": "s"}, "t"),
        "k": make_parameter("k", {"value": "0.24", "unit": "1", "source": "s"}, "t"),
    })
    out, notes = reg.adjusted_to_year(2020, {2010: 80.0, 2020: 100.0})
    assert out["a"].value == Decimal("12.500000") and out["a"].price_year == 2020
    assert out["b"].value == Decimal("10") and "has no value for 2003" in notes[0]
    assert out["k"].value == Decimal("0.24")


def test_every_parameter_has_the_unit_the_engine_reads_it_in():
    from ecovalue.datasets.plausibility import PARAMETERS
    from ecovalue.units import conversion_factor

    prof = load_profile("cn-2022")
    for ind in INDICATORS.values():
        for pid in ind.parameters:
            assert pid in PARAMETERS, pid
            conversion_factor(prof.parameters[pid].unit, PARAMETERS[pid].unit)  # the shipped unit converts
    assert prof.warnings == ()  # the shipped values are inside their plausible ranges


def test_a_wrong_unit_is_an_error_when_the_profile_loads(tmp_path):
    from ecovalue.errors import ValidationFailed

    f = tmp_path / "p.toml"
    f.write_text('[profile]\nid="x"\nextends="cn-2022"\nbase_year=2020\n[parameters."reservoir_cost"]\n'
                 'value="7.06"\nunit="CNY/t"\nprice_year=2010\nsource="s"\n[parameters."air.so2_cost"]\n'
                 'value="1200"\nunit="CNY"\nprice_year=2010\nsource="s"\n')
    with pytest.raises(ValidationFailed) as exc:
        load_profile(f)
    text = str(exc.value)
    # both at once, each naming the unit the engine reads it in
    assert "unit 'CNY/t' cannot be converted to 元/m³" in text and "unit 'CNY' cannot be converted to 元/t" in text


def test_a_coefficient_in_percent_is_read_as_a_fraction(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[profile]\nid="x"\nextends="cn-2022"\nbase_year=2020\n[parameters."soil.silting_coef"]\n'
                 'value="24"\nunit="percent"\nsource="s"\n')
    p = load_profile(f)
    assert p.parameters.get_float("soil.silting_coef") == pytest.approx(0.24)
