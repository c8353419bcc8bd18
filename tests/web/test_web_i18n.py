"""Both message catalogues hold the same keys, every label the templates and scripts ask for
exists, and every page renders in both languages (a missing key would raise)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from ecovalue.accounting.catalogue import ECOSYSTEM_TYPES
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.monitoring.rules import StationKind
from ecovalue.platform.registry.rules import ResourceType, RightKind, TxKind
from ecovalue.web import numbers
from ecovalue.web.i18n import LANGS, Translator, catalogue
from ecovalue.web.render import NAV, TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "web" / "frontend" / "src"
FIXED = re.compile(r"""\bt\(\s*'([a-z_][\w.]*)'\s*[,)]""")  # not the prefixes of t('x.' ~ code)
SCRIPT_KEYS = re.compile(r"""\bt\(\s*["']([a-z_][\w.]*)["']""")


def test_both_catalogues_have_the_same_keys_and_no_empty_text():
    zh, en = catalogue("zh"), catalogue("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    assert all(v.strip() for v in (*zh.values(), *en.values()))
    for key in zh:  # the same {placeholders} in both languages
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_fixed_label_of_the_templates_and_scripts_exists():
    keys = set(catalogue("zh"))
    used = {k for f in TEMPLATES.glob("*.j2") for k in FIXED.findall(f.read_text(encoding="utf-8"))}
    assert used and used <= keys, used - keys
    scripts = {k for f in SCRIPTS.glob("*.js") for k in SCRIPT_KEYS.findall(f.read_text(encoding="utf-8"))}
    assert {f"js.{k}" for k in scripts} <= keys, {f"js.{k}" for k in scripts} - keys
    assert {n.key for n in NAV} <= keys


@pytest.mark.parametrize("lang", LANGS)
def test_every_label_built_from_a_code_exists(lang):
    t = Translator(lang)
    for key in (*(f"role.{r.value}" for r in Role), *(f"station.{k.value}" for k in StationKind),
                *(f"resource.{r.value}" for r in ResourceType), *(f"right.{r.value}" for r in RightKind),
                *(f"tx.{x.value}" for x in TxKind), *(f"aqi.band{i}" for i in range(1, 7)),
                *(f"reporting.status_{s}" for s in ("submitted", "approved", "returned")),
                *(f"map.kind_{k}" for k in ("value", "physical")),
                numbers.YI_SCALE.key, numbers.WAN_SCALE.key, numbers.YUAN_SCALE.key):
        assert t.has(key), key
    assert all(t.ecosystem(e) for e in ECOSYSTEM_TYPES)


def test_chinese_number_convention():
    from decimal import Decimal

    scale = numbers.money_scale([Decimal("506786000000.00"), Decimal("1069000000.00")])
    assert scale is numbers.YI_SCALE
    assert numbers.money(Decimal("506786123456.78"), scale) == "5,067.86"
    assert numbers.money_scale([Decimal("52300.00")]) is numbers.WAN_SCALE
    assert numbers.signed_money(Decimal("-560200000"), scale) == "−5.60"
    assert numbers.unit("m**3") == "m³" and numbers.unit("kW*h") == "kW·h"


@pytest.mark.parametrize("lang", LANGS)
def test_the_public_pages_render_in_both_languages(site, lang):
    with httpx.Client(base_url=site.base, cookies={"ev_lang": lang}) as c:
        for path in ("/", "/district/420116", "/map", "/login", "/?year=2022"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text[:600])
            assert ('lang="zh-CN"' if lang == "zh" else 'lang="en"') in r.text
