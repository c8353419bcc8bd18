"""Page sessions: the platform's token in an httpOnly, SameSite cookie; CSRF on every form;
the API keeps bearer tokens; sign-in returns only to this site."""

from __future__ import annotations

from contextlib import contextmanager

import httpx
from tests.web.support import PASSWORDS


@contextmanager
def _client(site):
    with httpx.Client(base_url=site.base) as c:
        c.get("/login")
        yield c


def test_sign_in_sets_an_http_only_same_site_cookie(site):
    with _client(site) as c:
        r = c.post("/login", data={"username": "analyst", "password": PASSWORDS["analyst"],
                                   "csrf": c.cookies["ev_csrf"], "next": "/runs"})
        assert r.status_code == 303 and r.headers["location"] == "/runs"
        cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("ev_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert c.get("/runs").status_code == 200
        # the API does not take the page cookie: it keeps bearer tokens
        assert c.get("/api/auth/me").status_code == 401
        assert c.post("/logout", data={}).status_code == 403  # no CSRF value
        out = c.post("/logout", data={"csrf": c.cookies["ev_csrf"]})
        assert out.status_code == 303
        assert c.get("/runs", follow_redirects=False).status_code == 303  # signed out


def test_forms_without_the_csrf_value_are_refused(site):
    with _client(site) as c:
        r = c.post("/login", data={"username": "admin", "password": PASSWORDS["admin"]})
        assert r.status_code == 403 and "CSRF" in r.text
        r = c.post("/login", data={"username": "admin", "password": PASSWORDS["admin"], "csrf": "x" * 43})
        assert r.status_code == 403
        r = c.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                   "csrf": c.cookies["ev_csrf"]}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "another site" in r.text
        assert c.post("/web/data/report-check", json={"row": {}}).status_code == 403


def test_wrong_password_is_said_once_and_next_stays_on_this_site(site):
    with _client(site) as c:
        r = c.post("/login", data={"username": "admin", "password": "wrong-password",
                                   "csrf": c.cookies["ev_csrf"]})
        assert r.status_code == 401 and "用户名或密码错误" in r.text
        r = c.post("/login", data={"username": "admin", "password": PASSWORDS["admin"],
                                   "csrf": c.cookies["ev_csrf"], "next": "//evil.example/x"})
        assert r.headers["location"] == "/"


def test_a_bad_query_is_an_html_page_not_a_server_error(site):
    with _client(site) as c:
        r = c.get("/?year=abc")
        assert r.status_code == 422 and "text/html" in r.headers["content-type"] and "year" in r.text
        r = c.get("/district/999999")
        assert r.status_code == 404 and "999999" in r.text
        r = c.get("/no-such-page")
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
        r = c.get("/web/data/districts.geojson?bbox=1,2,3")
        assert r.status_code == 422 and "bbox" in r.json()["detail"]
