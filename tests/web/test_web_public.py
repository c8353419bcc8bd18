"""The public's pages in Chromium: numbers equal the API's, the map draws, the language
switch is remembered, private pages ask to sign in, downloads hold the published rows."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import httpx
import pyogrio
import pytest
from tests.web.support import PHONE, api, money_text, non_blank_fraction, region_sums, tab

YI = Decimal(10) ** 8


def test_home_shows_the_published_numbers_of_every_year(site, browser, artifacts):
    pubs = {y: api(site.base, f"/api/results/{y}") for y in (2022, 2023)}
    with tab(browser, site.base) as t:
        for year, data in pubs.items():
            t.go(f"/?year={year}")
            sums = region_sums(data["rows"])
            total = sum(sums.values(), Decimal(0))
            kpi = t.page.locator("[data-testid=kpi-gep]")
            assert Decimal(kpi.get_attribute("data-value")) == total
            assert money_text(total, YI) in kpi.inner_text() and "亿元" in kpi.inner_text()
            for code, value in sums.items():
                cell = t.page.locator(f"tr[data-code='{code}'] td[data-testid=gep]")
                assert Decimal(cell.get_attribute("data-value")) == value, code
                assert cell.inner_text().strip() == money_text(value, YI)
        change = t.page.locator("[data-testid=kpi-change]")  # 2023 page: change since 2022
        t.go("/?year=2023")
        change = t.page.locator("[data-testid=kpi-change]")
        old, new = (sum(region_sums(pubs[y]["rows"]).values(), Decimal(0)) for y in (2022, 2023))
        assert Decimal(change.get_attribute("data-value")) == new - old
        assert t.page.locator("[data-testid=versions] tbody tr").count() == 2
        assert "合成数据" in t.text("[data-testid=synthetic]") or "演示" in t.text("[data-testid=synthetic]")
        t.go("/", wait_map=True)
        assert non_blank_fraction(t.page.locator("#map").screenshot()) > 0.15
        t.shot(artifacts, "public-home-1366")
        assert t.errors == []


def test_home_and_district_at_phone_width(site, browser, artifacts):
    with tab(browser, site.base, viewport=PHONE) as t:
        t.go("/", wait_map=True)
        width = t.page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, "the page scrolls sideways at phone width"
        t.shot(artifacts, "public-home-390")
        t.go("/district/420111", wait_map=True)
        t.shot(artifacts, "public-district-390")
        assert t.errors == []


def test_district_page_equals_the_api(site, browser, artifacts):
    rows = api(site.base, "/api/results/2023?district=420116")["rows"]
    by_indicator: dict[str, Decimal] = {}
    for r in rows:
        by_indicator[r["indicator"]] = by_indicator.get(r["indicator"], Decimal(0)) + Decimal(r["value_current"])
    with tab(browser, site.base) as t:
        t.go("/")
        t.page.click("tr[data-code='420116'] td.name a")  # the click path: table → district
        t.page.wait_for_load_state("networkidle")
        assert t.page.url.endswith("/district/420116")
        assert Decimal(t.page.get_attribute("[data-testid=kpi-gep]", "data-value")) == sum(by_indicator.values())
        for ind, value in by_indicator.items():
            cell = t.page.locator(f"tr[data-indicator='{ind}'] td[data-value]")
            assert Decimal(cell.get_attribute("data-value")) == value, ind
        assert t.page.locator("[data-testid=trend-table] tbody tr").count() == 1
        assert "登录后" in t.page.content()  # stations and parcels need an account
        assert t.page.locator("[data-testid=station-table]").count() == 0
        t.page.wait_for_function("() => window.evMap && window.evMap.loaded()")
        t.shot(artifacts, "public-district-1366")
        assert t.errors == []


def test_map_page_draws_tiles_and_identifies(site, browser, artifacts):
    with tab(browser, site.base) as t:
        t.go("/map", wait_map=True)
        assert t.page.locator("#legend .legend .row").count() >= 3
        shot = t.page.locator("#map").screenshot()
        assert non_blank_fraction(shot) > 0.2
        box = t.page.locator("#map").bounding_box()
        t.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.45)
        t.page.wait_for_selector("#identify table")
        assert t.page.locator("#identify table tr").count() >= 10
        t.shot(artifacts, "public-map-1366")
        t.page.select_option("#layer-select", "carbon_sequestration_physical")
        t.page.wait_for_function("() => location.search.includes('carbon_sequestration_physical')")
        t.page.wait_for_function("() => document.querySelector('#legend').innerText.includes('/ha')")
        assert t.errors == []


def test_language_switch_is_remembered(site, browser, artifacts):
    with tab(browser, site.base) as t:
        t.go("/")
        assert "核算结果" in t.text("nav.main")
        t.page.click("a[lang=en]")
        t.page.wait_for_load_state("networkidle")
        assert "Results" in t.text("nav.main")
        t.go("/district/420102")
        assert "Jiang'an" in t.text("h1") and "100 million CNY" in t.page.content()
        t.go("/map", wait_map=True)
        t.shot(artifacts, "public-map-en-1366")
        t.page.click("a[lang=zh-CN]")
        t.page.wait_for_load_state("networkidle")
        assert "地图" in t.text("nav.main")
        assert t.errors == []


@pytest.mark.parametrize("path", ["/register", "/monitoring", "/reporting", "/catalogue", "/runs"])
def test_private_pages_ask_the_public_to_sign_in(site, path):
    r = httpx.get(site.url(path), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_public_map_data_hide_what_needs_an_account(site):
    assert httpx.get(site.url("/web/data/parcels.geojson")).json()["features"] == []
    assert httpx.get(site.url("/web/data/stations.geojson")).json()["features"] == []


def test_downloads_hold_the_published_rows(site):
    data = api(site.base, "/api/results/2023")
    csv_text = httpx.get(site.url("/download/2023/results.csv")).content.decode("utf-8-sig")
    lines = csv_text.strip().split("\n")
    assert lines[0].startswith("# GEP 2023 v1") and "SYNTHETIC" in lines[0]
    assert len(lines) == 2 + len(data["rows"])
    xlsx = httpx.get(site.url("/download/2023/results.xlsx"))
    assert xlsx.status_code == 200 and zipfile.is_zipfile(io.BytesIO(xlsx.content))
    gpkg = httpx.get(site.url("/download/2023/districts.gpkg"))
    path = site.folder / "check.gpkg"
    path.write_bytes(gpkg.content)
    _, _, geoms, fields = pyogrio.raw.read(path)
    meta = pyogrio.read_info(path)
    values = dict(zip(meta["fields"], fields, strict=True))
    sums = region_sums(data["rows"])
    assert len(geoms) == 13 == len(sums)
    assert {c: Decimal(v) for c, v in zip(values["code"], values["gep_yuan"], strict=True)} == sums
