"""Helpers of the web tests: signing in, watching the console, screenshots, API numbers."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from ecovalue.platform.demo.service import USERS

WIDE = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
PASSWORDS = {u.username: u.password for u in USERS}


REFUSED_FORM = re.compile(r"^Failed to load resource: the server responded with a status of (409|422)")


@dataclass
class Tab:
    """A browser page with the console errors it logged, and every request it sent outside
    the site (users may be on an intranet: nothing may come from a CDN or a tile server).

    A refused form is answered with the page again and HTTP 409/422, which Chromium logs as
    "Failed to load resource"; those (for page addresses only, never a script's request) are
    not script errors and are left out of ``errors``.
    """

    page: Any
    errors: list[str] = field(default_factory=list)
    base: str = ""

    def console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = str((message.location or {}).get("url") or "")
        path = url[len(self.base):] if url.startswith(self.base) else url
        page_address = not path.startswith(("/web/data", "/tiles", "/static", "/api"))
        if REFUSED_FORM.match(message.text) and page_address:
            return
        self.errors.append(f"{message.text} ({url})")

    def request(self, request: Any) -> None:
        if not request.url.startswith((self.base, "data:", "blob:")):
            self.errors.append(f"request outside the site: {request.url}")

    def go(self, path: str, wait_map: bool = False) -> Any:
        response = self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        if wait_map:
            self.page.wait_for_function(
                "() => window.evMap && window.evMap.loaded() && "
                "document.querySelector('#map').dataset.mapState === 'idle'", timeout=30_000)
        return response

    def text(self, selector: str) -> str:
        return str(self.page.locator(selector).first.inner_text()).strip()

    def shot(self, folder: Path, name: str) -> Path:
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def tab(browser: Any, base: str, user: str | None = None, viewport: dict[str, int] = WIDE,
        lang: str | None = None) -> Iterator[Tab]:
    """A fresh browser context (own cookies), signed in as ``user`` when given."""
    ctx = browser.new_context(viewport=viewport, locale="zh-CN")
    page = ctx.new_page()
    t = Tab(page, base=base)
    page.on("console", t.console)
    page.on("request", t.request)
    page.on("pageerror", lambda e: t.errors.append(f"page error: {e}"))
    try:
        if lang:
            t.go(f"/lang/{lang}")
        if user:
            sign_in(t, user)
        yield t
    finally:
        ctx.close()


def sign_in(t: Tab, user: str) -> None:
    t.go("/login")
    t.page.fill("input[name=username]", user)
    t.page.fill("input[name=password]", PASSWORDS[user])
    t.page.click("form.stack button[type=submit]")
    t.page.wait_for_load_state("networkidle")
    assert user in t.text("[data-testid=who]")


def token(base: str, user: str) -> str:
    r = httpx.post(base + "/api/auth/token", data={"username": user, "password": PASSWORDS[user]})
    r.raise_for_status()
    return str(r.json()["access_token"])


def api(base: str, path: str, user: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token(base, user)}"} if user else {}
    r = httpx.get(base + path, headers=headers, timeout=60)
    r.raise_for_status()
    return r.json()


def money_text(value: Decimal, factor: Decimal) -> str:
    """How a page shows an amount in its unit (two decimals, thousands separators)."""
    return f"{(value / factor).quantize(Decimal('0.01')):,.2f}"


def region_sums(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for r in rows:
        sums[r["region_code"]] = sums.get(r["region_code"], Decimal(0)) + Decimal(r["value_current"])
    return sums


def non_blank_fraction(png: bytes, background: tuple[int, int, int] = (244, 241, 234)) -> float:
    """Share of pixels of a screenshot that differ from the map's empty background."""
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    diff = np.abs(arr - np.array(background)).sum(axis=2)
    return float((diff > 24).mean())


def distinct_colours(png: bytes) -> int:
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return len(np.unique(arr.reshape(-1, 3), axis=0))


NUMBER = re.compile(r"[−+-]?[\d,]+\.\d\d")
