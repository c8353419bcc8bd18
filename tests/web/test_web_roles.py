"""A click path per role through every page, in Chromium: what each role sees is what the
services allow, forms show the rules' messages, no script logs an error, and screenshots of
every page at 1366 × 768 and at a phone's width are kept (test-artifacts/web)."""

from __future__ import annotations

import datetime as dt

import httpx
from tests.web.support import PHONE, WIDE, api, tab

MAP_PAGES = ("/", "/map", "/district/")


def _has_map(path: str) -> bool:
    return path == "/" or path.startswith(("/map", "/district/", "/register", "/monitoring"))


def _walk(t, paths, artifacts, role, size):
    for path in paths:
        response = t.go(path, wait_map=_has_map(path) and "/station/" not in path)
        assert response.status == 200, (path, response.status)
        name = path.strip("/").replace("/", "-").replace("?", "-").replace("=", "") or "home"
        t.shot(artifacts, f"{role}-{name}-{size}")


def _parcels(site, prefix):
    found = api(site.base, "/api/registry/registers/WH-DEMO/parcels", "admin")
    return [p for p in found if p["admin_code"].startswith(prefix)]


def _pledged(site, parcels):
    """A parcel whose right is mortgaged and never released."""
    for p in parcels:
        kinds = [tx["kind"] for tx in api(site.base, f"/api/registry/parcels/{p['id']}/history", "admin")]
        if "mortgage" in kinds and "mortgage_release" not in kinds:
            return p
    raise AssertionError("the demo has no parcel with an active mortgage")


def test_district_official_sees_only_their_district(site, browser, artifacts):
    own, other = _parcels(site, "420111"), _parcels(site, "420116")
    assert own and other
    paths = ["/", "/district/420111", "/map", "/register", f"/register/parcel/{own[0]['id']}",
             "/monitoring", "/monitoring/station/WQ-CJ-02", "/reporting?year=2023", "/catalogue"]
    for viewport, size in ((WIDE, "1366"), (PHONE, "390")):
        with tab(browser, site.base, "hongshan", viewport) as t:
            _walk(t, paths, artifacts, "district-official", size)
            assert t.errors == []
    with tab(browser, site.base, "hongshan") as t:
        t.go("/register")
        codes = t.page.locator("[data-testid=parcel-table] tr[data-parcel]").evaluate_all(
            "rows => rows.map(r => r.dataset.parcel)")
        assert sorted(codes) == sorted(p["code"] for p in own)
        assert t.page.request.get(site.url(f"/register/parcel/{other[0]['id']}")).status == 404
        assert t.page.request.get(site.url("/web/data/parcels.geojson?district=420116")).json()["features"] == []
        t.go(f"/register?q={other[0]['code']}")
        assert t.page.locator("[data-testid=parcel-table] tr[data-parcel]").count() == 0
        assert other[0]["code"] not in t.text("[data-testid=holdings]")
        t.go("/district/420116")  # another district's published numbers are public …
        assert "没有你可查看的登记地块" in t.page.content()  # … its parcels are not
        assert t.errors == []


def test_register_forms_show_the_rules(site, browser, artifacts):
    pledged = _pledged(site, _parcels(site, "420111"))
    with tab(browser, site.base, "hongshan") as t:
        t.go(f"/register/parcel/{pledged['id']}", wait_map=True)
        form = t.page.locator("#form-transfer form")
        form.locator("[name=to_holder]").fill("某生态公司（测试）")
        form.locator("[name=effective_date]").fill("2024-03-01")
        form.locator("button[type=submit]").click()
        t.page.wait_for_load_state("networkidle")
        problems = t.text("#form-transfer [data-testid=problems]")
        assert "has not consented" in problems and "武汉农村商业银行" in problems
        lease = t.page.locator("#form-lease form")
        lease.locator("[name=lessee]").fill("合作社（测试）")
        lease.locator("[name=start_date]").fill("2025-01-01")
        lease.locator("[name=end_date]").fill("2024-01-01")
        lease.locator("button[type=submit]").click()
        t.page.wait_for_load_state("networkidle")
        assert "before it starts" in t.text("#form-lease [data-testid=problems]")
        t.shot(artifacts, "district-official-register-refused-1366")
        history = api(site.base, f"/api/registry/parcels/{pledged['id']}/history", "admin")
        assert {tx["kind"] for tx in history} == {"grant", "mortgage"}  # nothing was stored
        assert t.errors == []


def test_reporter_files_a_report_with_units_checked_as_they_type(site, browser, artifacts):
    before = len(api(site.base, "/api/reports?year=2025", "reporter"))
    with tab(browser, site.base, "reporter") as t:
        t.go("/reporting?year=2025")
        row = t.page.locator("tr.report-row").first
        row.locator("[name=row-0-item]").fill("tourism:visits")
        row.locator("[name=row-0-quantity]").fill("120000")
        row.locator("[name=row-0-unit]").fill("kg")
        t.page.wait_for_function("() => document.querySelector('[data-row-msg]').textContent.includes('kg')")
        assert "visit" in row.locator("[data-row-msg]").inner_text()
        assert row.locator("[name=row-0-unit]").get_attribute("aria-invalid") == "true"
        t.page.click("#report-form button[type=submit]")
        t.page.wait_for_load_state("networkidle")
        assert "row 0" in t.text("#submit [data-testid=problems]")
        assert len(api(site.base, "/api/reports?year=2025", "reporter")) == before
        t.shot(artifacts, "reporter-refused-1366")
        t.page.locator("[name=row-0-unit]").fill("visit")
        t.page.wait_for_function("() => document.querySelector('[data-row-msg]').textContent === ''")
        t.page.click("#report-form button[type=submit]")
        t.page.wait_for_load_state("networkidle")
        assert "/reporting/" in t.page.url and "待审核" in t.text("[data-testid=status]")
        t.shot(artifacts, "reporter-submitted-1366")
        assert t.errors == []
    with tab(browser, site.base, "reporter", PHONE) as t:
        _walk(t, ["/reporting?year=2025", "/monitoring"], artifacts, "reporter", "390")
        assert t.errors == []


def test_reviewer_returns_only_with_a_reason_and_approves(site, browser, artifacts):
    waiting = [r for r in api(site.base, "/api/reports?year=2024", "reviewer") if r["status"] == "submitted"]
    assert waiting
    with tab(browser, site.base, "reviewer") as t:
        t.go("/reporting?year=2024")
        t.page.click(f"[data-testid=queue] a[href='/reporting/{waiting[-1]['id']}']")
        t.page.wait_for_load_state("networkidle")
        t.page.click("#review-form button[value=returned]")
        t.page.wait_for_load_state("networkidle")
        assert "reason" in t.text("[data-testid=problems]")
        t.page.click("#review-form button[value=approved]")
        t.page.wait_for_load_state("networkidle")
        assert "已通过" in t.text("[data-testid=status]")
        t.shot(artifacts, "analyst-review-1366")
        assert t.errors == []
    assert api(site.base, f"/api/reports/{waiting[-1]['id']}", "reviewer")["status"] == "approved"


def test_analyst_pages(site, browser, artifacts):
    run_id = api(site.base, "/api/results/2023")["publication"]["run_id"]
    paths = ["/", "/map", "/runs", f"/runs/{run_id}", "/reporting?year=2023", "/monitoring",
             "/monitoring/station/AQ-02", "/catalogue", "/register"]
    for viewport, size in ((WIDE, "1366"), (PHONE, "390")):
        with tab(browser, site.base, "analyst", viewport) as t:
            _walk(t, paths, artifacts, "analyst", size)
            assert t.errors == []
    with tab(browser, site.base, "analyst") as t:
        t.go(f"/runs/{run_id}")
        assert t.page.locator("#publish-form").count() == 0  # analysts do not publish


def test_administrator_walks_every_page_and_meets_the_rules(site, browser, artifacts):
    parcel = _parcels(site, "420116")[0]
    run_id = api(site.base, "/api/results/2023")["publication"]["run_id"]
    paths = ["/", "/district/420116", "/map", "/register", f"/register/parcel/{parcel['id']}",
             "/reporting?year=2024", "/reporting/1", "/runs", f"/runs/{run_id}", "/monitoring",
             "/monitoring/station/WQ-DH-01", "/catalogue", "/login"]
    for viewport, size in ((WIDE, "1366"), (PHONE, "390")):
        with tab(browser, site.base, "admin", viewport) as t:
            _walk(t, paths, artifacts, "administrator", size)
            assert t.errors == []
    with tab(browser, site.base, "admin") as t:
        t.go(f"/runs/{run_id}")
        t.page.click("#publish-form button[type=submit]")
        t.page.wait_for_load_state("networkidle")
        assert "is empty" in t.text("[data-testid=problems]")
        t.go(f"/register/parcel/{parcel['id']}", wait_map=True)
        grant = t.page.locator("#form-grant form")
        grant.locator("[name=holder]").fill("测试公司")
        grant.locator("[name=share]").fill("1.5")
        grant.locator("[name=start_date]").fill(dt.date(2024, 1, 1).isoformat())
        grant.locator("button[type=submit]").click()
        t.page.wait_for_load_state("networkidle")
        assert "outside (0, 1]" in t.text("#form-grant [data-testid=problems]")
        assert t.errors == []


def test_public_account_reads_what_anyone_reads(site, browser, artifacts):
    with tab(browser, site.base, "citizen") as t:
        _walk(t, ["/", "/map", "/district/420102"], artifacts, "public-account", "1366")
        assert [a.inner_text() for a in t.page.locator("nav.main a").all()] == ["核算结果", "地图", "地块核算"]
        assert t.page.request.get(site.url("/monitoring")).status == 403
        assert t.errors == []
    assert httpx.get(site.url("/api/auth/me")).status_code == 401
