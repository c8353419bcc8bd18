"""确权登记: the rights register as its users see it, scoped by the register service.

The list shows the parcels the user may read on a map and in a table, with who holds what
on a chosen date (``holdings_on`` replays the transactions). A parcel's page shows its
rights and full history, and, to those who may change the register (administrators, the
parcel's district officials), the forms for grant 出让, transfer 转让, equity contribution
入股, lease 出租, mortgage 抵押 and its release; a refused form is shown again with the
rules' messages next to it, nothing stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ecovalue.errors import InputError, Problem, ValidationFailed
from ecovalue.platform.auth.rules import Principal, require_register_write
from ecovalue.platform.errors import PermissionDenied, RuleViolation
from ecovalue.platform.registry import service as registry
from ecovalue.platform.registry.rules import DEFAULT_RED_LINE_ALLOWED_USES, RightKind, TxKind
from ecovalue.web import places
from ecovalue.web.deps import Csrf, PageDep, SessionDep
from ecovalue.web.forms import FormReader, problem_dicts
from ecovalue.web.geography import collection
from ecovalue.web.render import Page, render

router = APIRouter(include_in_schema=False)
FORMS = ("grant", "transfer", "lease", "mortgage", "release")


def may_write(user: Principal, admin_code: str) -> bool:
    try:
        require_register_write(user, admin_code)
    except PermissionDenied:
        return False
    return True


def _matches(q: str | None, *texts: str) -> bool:
    return not q or any(q.lower() in t.lower() for t in texts)


@router.get("/register", response_class=HTMLResponse)
def register_list(page: PageDep, session: SessionDep, q: str | None = None,
                  on: dt.date | None = None, district: str | None = None) -> HTMLResponse:
    """Parcels the user may read, and who held what on ``on`` (default today)."""
    page.title_key = "register.title"
    on = on or dt.date.today()
    found = places.parcels(session, page.user, district or None)
    if found is None:
        raise PermissionDenied(f"user '{page.user.username}' must sign in to read the register")
    holdings = registry.holdings_on(session, page.user, on)
    by_parcel: dict[int, list[Any]] = defaultdict(list)
    for h in holdings:
        by_parcel[h.parcel_id].append(h)
    parcels = [(reg, p) for reg, p in found
               if _matches(q, p.code, *(h.holder for h in by_parcel[p.id]))]
    shown = {p.id for _, p in parcels}
    rows = [h for h in holdings if h.parcel_id in shown]
    script = {"parcels": collection(places.parcel_feature(reg, p) for reg, p in parcels)}
    return render(page, "register.html.j2", parcels=parcels, by_parcel=by_parcel, holdings=rows,
                  q=q or "", on=on, district=district or "", script=script)


def _parcel_context(page: Page, session: SessionDep, parcel_id: int) -> dict[str, Any]:
    reg, parcel = places.parcel(session, page.user, parcel_id)
    today = dt.date.today()
    held = registry.holdings_on(session, page.user, today, parcel_id)
    history = registry.parcel_history(session, page.user, parcel_id)
    released = {t.mortgage_id for t in history if t.kind == TxKind.mortgage_release.value}
    mortgages = [t for t in history if t.kind == TxKind.mortgage.value and t.id not in released]
    return {"reg": reg, "parcel": parcel, "held": held, "history": history,
            "mortgages": mortgages, "writable": may_write(page.user, parcel.admin_code),
            "uses": DEFAULT_RED_LINE_ALLOWED_USES, "grantable": (RightKind.contracting.value,
                                                                 RightKind.use_operation.value),
            "script": {"parcels": collection([places.parcel_feature(reg, parcel)])},
            "today": today}


@router.get("/register/parcel/{parcel_id}", response_class=HTMLResponse)
def parcel_page(parcel_id: int, page: PageDep, session: SessionDep,
                done: str | None = None) -> HTMLResponse:
    page.title_key = "register.parcel_title"
    ctx = _parcel_context(page, session, parcel_id)
    notice = page.t(f"register.done_{done}") if done in FORMS else None
    return render(page, "parcel.html.j2", errors={}, values={}, notice=notice, **ctx)


def _grant(session: SessionDep, user: Principal, parcel_id: int, f: FormReader) -> None:
    kind, holder = f.text("kind"), f.text("holder")
    share, start = f.decimal("share"), f.date("start_date")
    end, use = f.date("end_date", required=False), f.text("use", required=False)
    cert, amount = f.text("certificate_no", required=False), f.decimal("amount", required=False)
    if not f.problems:
        assert kind and holder and share is not None and start
        registry.grant_right(session, user, parcel_id, kind, holder, share, start, end, use,
                             cert, amount)


def _transfer(session: SessionDep, user: Principal, parcel_id: int, f: FormReader) -> None:
    right, to = f.integer("right_id"), f.text("to_holder")
    on, amount = f.date("effective_date"), f.decimal("amount", required=False)
    consent = [c.strip() for c in (f.text("consent_of", required=False) or "").split(",")
               if c.strip()]
    kind = TxKind.equity_contribution if f.flag("equity") else TxKind.transfer
    if not f.problems:
        assert right is not None and to and on
        registry.transfer_right(session, user, right, to, on, consent, amount, kind)


def _lease(session: SessionDep, user: Principal, parcel_id: int, f: FormReader) -> None:
    right, lessee = f.integer("right_id"), f.text("lessee")
    start, end = f.date("start_date"), f.date("end_date")
    share, use = f.decimal("share", required=False), f.text("use", required=False)
    amount = f.decimal("amount", required=False)
    if not f.problems:
        assert right is not None and lessee and start and end
        registry.lease_right(session, user, right, lessee, start, end, share, use, amount)


def _mortgage(session: SessionDep, user: Principal, parcel_id: int, f: FormReader) -> None:
    right, bank = f.integer("right_id"), f.text("mortgagee")
    start, end, amount = f.date("start_date"), f.date("end_date"), f.decimal("amount", False)
    if not f.problems:
        assert right is not None and bank and start and end
        registry.mortgage_right(session, user, right, bank, start, end, amount)


def _release(session: SessionDep, user: Principal, parcel_id: int, f: FormReader) -> None:
    mortgage, on = f.integer("mortgage_id"), f.date("on")
    if not f.problems:
        assert mortgage is not None and on
        registry.release_mortgage(session, user, mortgage, on)


ACTIONS: dict[str, Callable[[SessionDep, Principal, int, FormReader], None]] = {
    "grant": _grant, "transfer": _transfer, "lease": _lease, "mortgage": _mortgage,
    "release": _release}


@router.post("/register/parcel/{parcel_id}/{action}", dependencies=[Csrf], response_model=None)
async def parcel_action(parcel_id: int, action: str, request: Request, page: PageDep,
                        session: SessionDep) -> Response:
    """Record one transaction through the register service; refused ones show the rules."""
    if action not in ACTIONS:
        raise InputError(f"'{action}' is not a register action; expected one of {FORMS}")
    form = dict(await request.form())
    reader = FormReader(form)
    places.parcel(session, page.user, parcel_id)  # scope first: NotFound outside it
    problems: list[Problem] = []
    try:
        with session.begin_nested():
            ACTIONS[action](session, page.user, parcel_id, reader)
            if reader.problems:
                raise ValidationFailed(reader.problems)
    except (RuleViolation, ValidationFailed) as exc:
        problems = exc.problems
    except InputError as exc:
        problems = [Problem(action, str(exc), "", "")]
    if not problems:
        return RedirectResponse(f"/register/parcel/{parcel_id}?done={action}", status_code=303)
    page.title_key = "register.parcel_title"
    ctx = _parcel_context(page, session, parcel_id)
    return render(page, "parcel.html.j2", 409, errors={action: problem_dicts(problems)},
                  values={action: {k: str(v) for k, v in form.items()}}, notice=None, **ctx)
