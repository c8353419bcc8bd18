"""The page frame: Jinja2 environment, the request's page context, role-aware navigation.

Every page is rendered by :func:`render` with a :class:`Page` (who is signed in, language,
CSRF value, navigation, whether the figures shown are synthetic). Cookies the request
needs (a new CSRF value, a cleared expired session) are set on the response here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.deps import ANONYMOUS
from ecovalue.web import numbers
from ecovalue.web.i18n import LANG_COOKIE, Translator, language
from ecovalue.web.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token,
    is_https,
)

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
BUNDLE = STATIC / "dist"

SIGNED_IN = frozenset(r for r in Role if r != Role.public)


@dataclass(frozen=True)
class NavItem:
    """A link of the top navigation, shown to the roles in ``roles``."""

    key: str
    href: str
    roles: frozenset[Role]


ALL_ROLES = frozenset(Role)
NAV: tuple[NavItem, ...] = (
    NavItem("nav.home", "/", ALL_ROLES),
    NavItem("nav.map", "/map", ALL_ROLES),
    NavItem("nav.plot", "/plot", ALL_ROLES),
    NavItem("nav.register", "/register",
            frozenset({Role.administrator, Role.analyst, Role.district_official})),
    NavItem("nav.reporting", "/reporting",
            frozenset({Role.administrator, Role.analyst, Role.district_official,
                       Role.department_reporter})),
    NavItem("nav.monitoring", "/monitoring", SIGNED_IN),
    NavItem("nav.catalogue", "/catalogue", SIGNED_IN),
    NavItem("nav.runs", "/runs", frozenset({Role.administrator, Role.analyst})),
)


@dataclass
class Page:
    """What every page knows about its request."""

    request: Request
    user: Principal
    t: Translator
    csrf: str
    synthetic: bool = False
    title_key: str = "site.name"
    basemap: tuple[str, str] = ("", "")  # XYZ URL and attribution of an optional base map

    def script_data(self, page_data: Any) -> dict[str, Any]:
        """The JSON block every page script reads (labels, CSRF value, base map, page data)."""
        return {"lang": self.lang, "csrf": self.csrf, "messages": self.t.messages_for_script(),
                "basemap": self.basemap[0], "basemap_attribution": self.basemap[1],
                "page": page_data}

    @property
    def signed_in(self) -> bool:
        """True for users with more than public rights (a public account reads what anyone does)."""
        return self.user.role != Role.public

    @property
    def anonymous(self) -> bool:
        """True when nobody is signed in."""
        return self.user is ANONYMOUS

    @property
    def lang(self) -> str:
        return self.t.lang

    def nav(self) -> list[NavItem]:
        return [n for n in NAV if self.user.role in n.roles]

    def active(self, href: str) -> bool:
        path = self.request.url.path
        return path == href if href == "/" else path.startswith(href)


def new_page(request: Request, user: Principal) -> Page:
    """The page context of ``request`` for ``user``."""
    return Page(request, user, Translator(language(request.cookies.get(LANG_COOKIE))),
                csrf_token(request))


@cache
def _asset_version() -> str:
    manifest = BUNDLE / "meta.json"
    if not manifest.exists():
        return "missing"
    return hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]


def bundle_built() -> bool:
    """True when ``make web-assets`` has built the script bundle."""
    return (BUNDLE / "meta.json").exists()


def asset(name: str) -> str:
    """URL of a bundled asset with a version query, so browsers reload after a rebuild."""
    return f"/static/dist/{name}?v={_asset_version()}"


def _json_script(data: Any) -> Markup:
    text = json.dumps(data, ensure_ascii=False, default=str)
    # the JSON sits inside <script type="application/json">: "</" must not end the script
    return Markup(text.replace("</", "<\\/"))


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(asset=asset, n=numbers, bundle_built=bundle_built)
    env.filters["json_script"] = _json_script
    return env


def render(page: Page, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """The HTML of ``template`` for ``page``, with the cookies the request needs."""
    html = environment().get_template(template).render(page=page, t=page.t, **values)
    response = HTMLResponse(html, status_code=status_code)
    finish(page.request, response)
    return response


def finish(request: Request, response: Any) -> None:
    """Set a new CSRF cookie and clear an expired session cookie on ``response``."""
    new = getattr(request.state, "new_csrf", None)
    secure = is_https(request)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", secure=secure,
                            path="/")
    if getattr(request.state, "session_expired", False):
        response.delete_cookie(SESSION_COOKIE, path="/")
