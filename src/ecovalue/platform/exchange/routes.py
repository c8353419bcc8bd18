"""HTTP routes of the eco-rights exchange (thin: parse, call the service, shape the answer).

Public: instruments and their rules, order-book depth, the trade tape, the registry of
issuances and retirements, bidding results, certificates by their verification code.
Participants' members (any signed-in user an administrator made a member): their own
accounts, blocks, orders, trades, bids, transfers and journal statements; entering and
cancelling orders goes through the exchange's single order writer (:mod:`.gateway`) and is
answered only once durable. Administrators run the registry. Web pages of the exchange will
be built on these routes.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from ecovalue.db.bounds import (
    Amount,
    Day,
    Id,
    Moment,
    Price,
    Quantity24,
    Year,
)
from ecovalue.db.session import unit_of_work
from ecovalue.platform.auth.rules import Principal, Role, require_role
from ecovalue.platform.auth.service import principal_from_token
from ecovalue.platform.deps import CurrentUser, SessionDep, SettingsDep, TokenDep
from ecovalue.platform.errors import NotAuthenticated, RuleViolation
from ecovalue.platform.exchange import bidding, indicators, transfers, verify
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.exchange.gateway import Gateway
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.verify import verify_journal
from ecovalue.platform.responses import PUBLIC_READ, READ, WRITE, errors
from ecovalue.reports.certificate import CertificateData, certificate_html, certificate_pdf

router = APIRouter(prefix="/api/exchange", tags=["exchange"])
_gateway_lock = threading.Lock()


def get_gateway(request: Request) -> Gateway:
    """The app's one order writer (started on first use)."""
    with _gateway_lock:
        gw: Gateway | None = getattr(request.app.state, "exchange_gateway", None)
        if gw is None:
            gw = Gateway(T.Market(request.app.state.sessionmaker)).start()
            request.app.state.exchange_gateway = gw
        return gw


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
#: Quantities of units, prices per unit and sums of money posted to the exchange (db.bounds).
Units = Annotated[Quantity24, Field(gt=0)]
UnitPrice = Annotated[Price, Field(gt=0)]
Cash = Annotated[Amount, Field(gt=0)]
Serial = Annotated[int, Field(ge=1, le=2**63 - 1, description="a unit's serial number")]


def get_trader(request: Request, settings: SettingsDep, token: TokenDep) -> Principal:
    """The signed-in principal, read in a transaction of its own that ends before the route.

    Order routes wait for the order writer's commit; on SQLite a request holding its own
    write transaction (``SessionDep``) meanwhile would block that commit.
    """
    if not token:
        raise NotAuthenticated("sign in first: POST /api/auth/token, then send "
                               "'Authorization: Bearer <token>'")  # fmt: skip
    with unit_of_work(request.app.state.sessionmaker, "anonymous") as session:
        return principal_from_token(session, settings, token)


TraderDep = Annotated[Principal, Depends(get_trader)]


# ------------------------------------------------------------------ schemas


class InstrumentPublic(BaseModel):
    code: str
    programme: str
    kind: str
    name_zh: str
    name_en: str
    vintage: Year
    unit: str
    places: int
    tick: Decimal
    lot: Decimal
    band: Decimal | None
    reference_price: Decimal | None
    floor_price: Decimal | None
    fee_buy: Decimal
    fee_sell: Decimal
    settlement_days: int
    modes: list[str]
    holder_kinds: list[str]
    buyer_kinds: list[str]
    regions: list[str]
    valid_until: dt.date | None
    halted: bool
    sources: dict[str, str]


def _instrument(i: R.Instrument) -> InstrumentPublic:
    p = i.programme
    return InstrumentPublic(
        code=i.code, programme=p.code, kind=p.kind.value, name_zh=p.name_zh, name_en=p.name_en,
        vintage=i.vintage, unit=p.unit, places=p.places, tick=i.tick, lot=i.lot, band=i.band,
        reference_price=i.reference_price, floor_price=i.floor_price, fee_buy=i.fee_buy,
        fee_sell=i.fee_sell, settlement_days=i.settlement_days,
        modes=sorted(m.value for m in i.modes), holder_kinds=sorted(k.value for k in p.holder_kinds),
        buyer_kinds=sorted(k.value for k in p.buyer_kinds), regions=list(i.regions),
        valid_until=i.valid_until, halted=i.halted, sources=dict(p.sources))  # fmt: skip


class OrderCreate(BaseModel):
    instrument: str
    participant: str
    side: R.Side
    quantity: Units
    price: UnitPrice | None = Field(default=None, description="omit for market-to-limit")
    kind: R.OrderKind = R.OrderKind.limit
    tif: R.TimeInForce = R.TimeInForce.gtc
    expires_at: Moment | None = None
    client_ref: str | None = Field(default=None, max_length=80)


class TradePublic(BaseModel):
    id: int
    instrument: str
    mode: str
    price: Decimal
    quantity: Decimal
    value: Decimal
    at: str
    buyer: str | None = None
    seller: str | None = None
    fee_buy: Decimal | None = None
    fee_sell: Decimal | None = None
    settle_on: dt.date | None = None


class AckPublic(BaseModel):
    status: str
    order_id: int | None
    quantity: Decimal
    remaining: Decimal
    trades: list[TradePublic]
    detail: str


def _trade(t: T.TradeView, private: bool) -> TradePublic:
    base = TradePublic(id=t.id, instrument=t.instrument, mode=t.mode, price=t.price,
                       quantity=t.quantity, value=t.value, at=t.at)  # fmt: skip
    if private:
        base = base.model_copy(update=dict(buyer=t.buyer, seller=t.seller, fee_buy=t.fee_buy,
                                           fee_sell=t.fee_sell, settle_on=t.settle_on))  # fmt: skip
    return base


def _answer(ack: T.Ack) -> AckPublic:
    if not ack.accepted:
        raise RuleViolation(list(ack.problems))  # 409 with every problem; nothing moved
    return AckPublic(status=ack.status, order_id=ack.order_id, quantity=ack.quantity,
                     remaining=ack.remaining, trades=[_trade(t, True) for t in ack.trades],
                     detail=ack.detail)  # fmt: skip


class ParticipantCreate(BaseModel):
    code: str
    name: str
    kind: str
    region_code: str
    basin: str | None = None
    sector: str | None = None


class Money(BaseModel):
    amount: Cash
    reference: str = Field(min_length=1, description="the bank's transfer number")


class IssueCreate(BaseModel):
    instrument: str
    participant: str
    quantity: Units
    provenance: dict[str, Any] = {}


class AllocationCreate(BaseModel):
    instrument: str
    participant: str
    quantity: Units
    district: str
    price: UnitPrice | None = Field(default=None, description="paid-use price per unit (有偿使用)")
    payee: str | None = None
    basis: str = ""


class QuotaCreate(BaseModel):
    instrument: str
    district: str
    quantity: Units
    source: str


class InstrumentCreate(BaseModel):
    programme: str
    vintage: Year
    code: str | None = None
    regions: list[str] = []
    reference_price: UnitPrice | None = None
    overrides: dict[str, Any] | None = None


class Serials(BaseModel):
    serials: list[tuple[Serial, Serial]] = Field(
        max_length=10_000, default=[], description="[[first, last], …]; empty: lowest first"
    )


class RetireCreate(Serials):
    instrument: str
    quantity: Units
    purpose: str
    beneficiary: str = ""


class HoldCreate(Serials):
    kind: str = Field(description="freeze or pledge")
    participant: str
    instrument: str
    quantity: Units
    reason: str
    counterparty: str | None = None


class ListingCreate(BaseModel):
    instrument: str
    seller: str
    quantity: Units
    reserve_price: UnitPrice
    opens_at: Moment
    closes_at: Moment
    from_issuance: bool = False
    pricing: str = "pay_as_bid"


class BidCreate(BaseModel):
    bidder: str
    price: UnitPrice
    quantity: Units


class TransferCreate(Serials):
    instrument: str
    seller: str
    buyer: str
    proposer: str
    quantity: Units
    price: UnitPrice
    note: str = ""


class Decision(BaseModel):
    reason: str = ""


class TargetCreate(BaseModel):
    indicator: str
    district: str
    year: Year
    target: Quantity24
    source: str


class ObligationCreate(BaseModel):
    kind: str
    description: str
    parcel_code: str | None = None
    due: Day | None = None


class IndicatorTradeCreate(BaseModel):
    indicator: str
    year: Year
    seller_district: str
    buyer_district: str
    quantity: Units
    price: UnitPrice
    obligations: list[ObligationCreate]


class Created(BaseModel):
    id: int | str


def _serials(body: Serials) -> list[sr.Range]:
    return [(int(a), int(b)) for a, b in body.serials]


# ------------------------------------------------------------------ public


@router.get("/instruments", response_model=list[InstrumentPublic], responses=errors(*PUBLIC_READ))
def instruments(session: SessionDep) -> list[InstrumentPublic]:
    """Every instrument with its tick, lot, band, fees, eligibility and their sources."""
    return [_instrument(i) for i in X.list_instruments(session)]


@router.get("/instruments/{code}", response_model=InstrumentPublic, responses=errors(*PUBLIC_READ))
def instrument(code: str, session: SessionDep) -> InstrumentPublic:
    return _instrument(X.get_instrument(session, code))


@router.get("/instruments/{code}/depth", responses=errors(*PUBLIC_READ))
def depth(code: str, session: SessionDep, levels: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """Order-book depth by price level (the market board)."""
    return T.depth(session, code, levels)


@router.get(
    "/instruments/{code}/trades", response_model=list[TradePublic], responses=errors(*PUBLIC_READ)
)
def tape(
    code: str, session: SessionDep, limit: int = Query(100, ge=1, le=1000)
) -> list[TradePublic]:
    """The newest trades (price, quantity, time; counterparties are private)."""
    return [_trade(t, False) for t in T.trades(session, code, limit)]


@router.get("/registry/issuances", responses=errors(*PUBLIC_READ))
def registry_issuances(session: SessionDep, instrument: str | None = None) -> list[dict[str, Any]]:
    """Every issuance and allocation with its serials and provenance (public registry)."""
    return [v.__dict__ for v in X.issuances(session, instrument)]


@router.get("/registry/retirements", responses=errors(*PUBLIC_READ))
def registry_retirements(
    session: SessionDep, instrument: str | None = None
) -> list[dict[str, Any]]:
    """Every retirement (public registry); each links to its certificate."""
    return [{k: v for k, v in c.__dict__.items() if k != "verify_code"}
            | {"certificate": f"/api/exchange/certificates/{c.verify_code}"}
            for c in X.retirements(session, instrument)]  # fmt: skip


def _cert_data(request: Request, c: X.CertificateView, lang: str) -> CertificateData:
    url = str(request.url_for("certificate", verify_code=c.verify_code))
    return CertificateData(c.number, c.instrument, c.instrument_name_zh if lang == "zh"
                           else c.instrument_name_en, c.unit, c.holder_code, c.holder_name,
                           c.quantity, c.serials, c.purpose, c.beneficiary, c.retired_at,
                           c.ledger_seq, c.ledger_hash, url)  # fmt: skip


@router.get("/certificates/{verify_code}", name="certificate", responses=errors(*PUBLIC_READ))
def certificate(verify_code: str, session: SessionDep) -> dict[str, Any]:
    """Verify a retirement certificate: its content, checked against the journal (public)."""
    c = X.certificate(session, verify_code)
    return {**{k: v for k, v in c.__dict__.items() if k != "verify_code"}, "valid": True}


@router.get(
    "/certificates/{verify_code}/html", response_class=HTMLResponse, responses=errors(*PUBLIC_READ)
)
def certificate_page(verify_code: str, request: Request, session: SessionDep,
                     lang: str = Query("zh", pattern="^(zh|en)$")) -> HTMLResponse:  # fmt: skip
    c = X.certificate(session, verify_code)
    return HTMLResponse(certificate_html(_cert_data(request, c, lang), lang))


@router.get("/certificates/{verify_code}/pdf", responses=errors(*PUBLIC_READ))
def certificate_file(verify_code: str, request: Request, session: SessionDep,
                     lang: str = Query("zh", pattern="^(zh|en)$")) -> Response:  # fmt: skip
    c = X.certificate(session, verify_code)
    pdf = certificate_pdf(_cert_data(request, c, lang), lang)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{c.number}.pdf"'},
    )


@router.get("/listings", responses=errors(*PUBLIC_READ))
def listings(session: SessionDep, instrument: str | None = None) -> list[dict[str, Any]]:
    """Electronic biddings with their public results."""
    return [v.__dict__ for v in bidding.listings(session, instrument)]


@router.get("/listings/{listing_id}", responses=errors(*PUBLIC_READ))
def listing(listing_id: Id, session: SessionDep) -> dict[str, Any]:
    return bidding.get_listing(session, listing_id).__dict__


@router.get("/indicators/{indicator}/{district}/{year}", responses=errors(*PUBLIC_READ, 409))
def indicator_assessed(
    indicator: str, district: str, year: Year, session: SessionDep
) -> dict[str, Any]:
    """A district's assessed indicator: measured + bought − sold, against its target."""
    return indicators.assessed(session, indicator, district, year)


# ------------------------------------------------------------------ participants (members)


@router.get("/me/participants", response_model=list[str], responses=errors(*READ))
def my_participants(session: SessionDep, user: CurrentUser) -> list[str]:
    """The participants the signed-in user acts for."""
    return X.participants_of(session, user)


@router.get("/participants/{code}/balances", responses=errors(*READ))
def balances(code: str, session: SessionDep, user: CurrentUser) -> dict[str, dict[str, Decimal]]:
    """Every balance of a participant by account (cash, free units, escrow, frozen, retired)."""
    return X.balances_of(session, user, code)


@router.get("/participants/{code}/blocks", responses=errors(*READ))
def blocks(code: str, session: SessionDep, user: CurrentUser,
           instrument: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The serial blocks a participant holds, with their status."""
    return [b.__dict__ for b in X.holdings(session, user, code, instrument)]


@router.get("/participants/{code}/orders", responses=errors(*READ))
def orders(code: str, session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    return T.open_orders(session, user, code)


@router.get(
    "/participants/{code}/trades", response_model=list[TradePublic], responses=errors(*READ)
)
def my_trades(code: str, instrument: str, session: SessionDep, user: CurrentUser,
              limit: int = Query(100, ge=1, le=1000)) -> list[TradePublic]:  # fmt: skip
    X.require_reading(session, user, code)
    return [_trade(t, True) for t in T.trades(session, instrument, limit, code)]


@router.get("/participants/{code}/statement", responses=errors(*READ))
def statement(code: str, account: str, commodity: str, session: SessionDep, user: CurrentUser,
              limit: int = Query(100, ge=1, le=1000), before_seq: Id | None = None
              ) -> list[dict[str, Any]]:  # fmt: skip
    """Journal postings of one of the participant's accounts (e.g. ``cash``, ``hold``)."""
    X.require_reading(session, user, code)
    key = f"P:{code}:{account}"  # always one of the participant's own accounts
    return [line.__dict__ for line in ledger.statement(session, key, commodity, limit, before_seq)]


@router.get("/participants/{code}/transfers", responses=errors(*READ))
def my_transfers(code: str, session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    return [t.__dict__ for t in transfers.transfers_of(session, user, code)]


@router.get("/participants/{code}/bids", responses=errors(*READ))
def my_bids(code: str, session: SessionDep, user: CurrentUser) -> list[dict[str, Any]]:
    return [{c.name: getattr(b, c.name) for c in b.__table__.columns}
            for b in bidding.my_bids(session, user, code)]  # fmt: skip


@router.post("/orders", response_model=AckPublic, status_code=201, responses=errors(*WRITE))
def enter_order(body: OrderCreate, user: TraderDep, gateway: GatewayDep) -> AckPublic:
    """Enter an order; answered after its escrow, trades and settlement are on disk."""
    req = T.OrderRequest(body.instrument, body.participant, body.side, body.quantity, body.price,
                         body.kind, body.tif, body.expires_at, body.client_ref)  # fmt: skip
    return _answer(gateway.run(user, req))


@router.delete("/orders/{order_id}", response_model=AckPublic, responses=errors(*WRITE))
def cancel_order(order_id: Id, user: TraderDep, gateway: GatewayDep) -> AckPublic:
    return _answer(gateway.run(user, T.CancelRequest(order_id)))


@router.post("/participants/{code}/retirements", status_code=201, responses=errors(*WRITE))
def retire(code: str, body: RetireCreate, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Retire units; the answer links to the certificate (HTML and PDF, zh/en)."""
    c = X.retire(session, user, code, body.instrument, body.quantity, body.purpose,
                 body.beneficiary, _serials(body))  # fmt: skip
    base = f"/api/exchange/certificates/{c.verify_code}"
    return {"number": c.number, "serials": c.serials, "verify": base, "html": f"{base}/html",
            "pdf": f"{base}/pdf"}  # fmt: skip


@router.post("/participants/{code}/withdrawals", status_code=201, responses=errors(*WRITE))
def withdraw(code: str, body: Money, session: SessionDep, user: CurrentUser) -> Created:
    return Created(id=X.withdraw(session, user, code, body.amount, body.reference).seq)


@router.post("/listings/{listing_id}/bids", status_code=201, responses=errors(*WRITE))
def bid(listing_id: Id, body: BidCreate, session: SessionDep, user: CurrentUser) -> Created:
    return Created(id=bidding.place_bid(session, user, listing_id, body.bidder, body.price,
                                        body.quantity))  # fmt: skip


@router.post("/transfers", status_code=201, responses=errors(*WRITE))
def propose(body: TransferCreate, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Propose a negotiated transfer (协议转让); the proposer's side goes into escrow."""
    return transfers.propose(session, user, body.instrument, body.seller, body.buyer,
                             body.quantity, body.price, body.proposer, _serials(body),
                             body.note).__dict__  # fmt: skip


@router.get("/transfers/{transfer_id}", responses=errors(*READ))
def transfer(transfer_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return transfers.get_transfer(session, user, transfer_id).__dict__


@router.post("/transfers/{transfer_id}/accept", responses=errors(*WRITE))
def accept(transfer_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return transfers.accept(session, user, transfer_id).__dict__


@router.post("/transfers/{transfer_id}/reject", responses=errors(*WRITE))
def reject(
    transfer_id: Id, body: Decision, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    return transfers.reject(session, user, transfer_id, body.reason).__dict__


@router.post("/participants/{code}/pledges", status_code=201, responses=errors(*WRITE))
def pledge(code: str, body: HoldCreate, session: SessionDep, user: CurrentUser) -> Created:
    hold = X.hold_units(session, user, "pledge", code, body.instrument, body.quantity, body.reason,
                        _serials(body), body.counterparty)  # fmt: skip
    return Created(id=hold.id)


@router.post("/indicator-trades", status_code=201, responses=errors(*WRITE))
def indicator_trade(
    body: IndicatorTradeCreate, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    """A district above its target sells indicator units to one below (with its obligations)."""
    obligations = [indicators.ObligationIn(o.kind, o.description, o.parcel_code, o.due)
                   for o in body.obligations]  # fmt: skip
    return indicators.propose_trade(session, user, body.indicator, body.year, body.seller_district,
                                    body.buyer_district, body.quantity, body.price,
                                    obligations).__dict__  # fmt: skip


# ------------------------------------------------------------------ administrators


@router.post("/participants", status_code=201, responses=errors(*WRITE))
def register_participant(
    body: ParticipantCreate, session: SessionDep, user: CurrentUser
) -> Created:
    p = X.register_participant(session, user, body.code, body.name, body.kind, body.region_code,
                               body.basin, body.sector)  # fmt: skip
    return Created(id=p.code)


@router.post("/participants/{code}/members/{username}", status_code=201, responses=errors(*WRITE))
def add_member(code: str, username: str, session: SessionDep, user: CurrentUser) -> Created:
    X.add_member(session, user, code, username)
    return Created(id=username)


@router.post("/participants/{code}/deposits", status_code=201, responses=errors(*WRITE))
def deposit(code: str, body: Money, session: SessionDep, user: CurrentUser) -> Created:
    return Created(id=X.deposit(session, user, code, body.amount, body.reference).seq)


@router.post("/instruments", status_code=201, responses=errors(*WRITE))
def create_instrument(
    body: InstrumentCreate, session: SessionDep, user: CurrentUser
) -> InstrumentPublic:
    i = X.create_instrument(session, user, body.programme, body.vintage, body.code, body.regions,
                            body.reference_price, body.overrides)  # fmt: skip
    return _instrument(i)


@router.put("/instruments/{code}/reference-price", responses=errors(*WRITE))
def reference_price(
    code: str, price: UnitPrice, session: SessionDep, user: CurrentUser
) -> InstrumentPublic:
    return _instrument(X.set_reference_price(session, user, code, price))


@router.put("/instruments/{code}/halted", responses=errors(*WRITE))
def halt(code: str, halted: bool, session: SessionDep, user: CurrentUser) -> InstrumentPublic:
    return _instrument(X.set_halted(session, user, code, halted))


@router.post("/instruments/{code}/call", response_model=AckPublic, responses=errors(*WRITE))
def call_auction(code: str, user: TraderDep, gateway: GatewayDep) -> AckPublic:
    """Run the instrument's periodic call auction now."""
    return _answer(gateway.run(user, T.CallRequest(code)))


@router.put("/instruments/{code}/phase", response_model=AckPublic, responses=errors(*WRITE))
def phase(code: str, phase: str, user: TraderDep, gateway: GatewayDep) -> AckPublic:
    return _answer(gateway.run(user, T.PhaseRequest(code, phase)))


@router.post("/issuances", status_code=201, responses=errors(*WRITE))
def issue(body: IssueCreate, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return X.issue(session, user, body.instrument, body.participant, body.quantity,
                   provenance=body.provenance).__dict__  # fmt: skip


@router.post("/quotas", status_code=201, responses=errors(*WRITE))
def quota(body: QuotaCreate, session: SessionDep, user: CurrentUser) -> Created:
    X.set_quota(session, user, body.instrument, body.district, body.quantity, body.source)
    return Created(id=body.district)


@router.post("/allocations", status_code=201, responses=errors(*WRITE))
def allocate(body: AllocationCreate, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return X.allocate(session, user, body.instrument, body.participant, body.quantity,
                      body.district, body.price, body.payee, body.basis).__dict__  # fmt: skip


@router.post("/holds", status_code=201, responses=errors(*WRITE))
def freeze(body: HoldCreate, session: SessionDep, user: CurrentUser) -> Created:
    hold = X.hold_units(session, user, body.kind, body.participant, body.instrument,
                        body.quantity, body.reason, _serials(body), body.counterparty)  # fmt: skip
    return Created(id=hold.id)


@router.post("/holds/{hold_id}/release", responses=errors(*WRITE))
def release(hold_id: Id, session: SessionDep, user: CurrentUser) -> Created:
    return Created(id=X.release_hold(session, user, hold_id).id)


@router.post("/listings", status_code=201, responses=errors(*WRITE))
def create_listing(body: ListingCreate, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return bidding.create_listing(session, user, body.instrument, body.quantity, body.reserve_price,
                                  body.opens_at, body.closes_at, body.seller, body.from_issuance,
                                  body.pricing).__dict__  # fmt: skip


@router.post("/listings/{listing_id}/close", responses=errors(*WRITE))
def close_listing(listing_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return bidding.close_listing(session, user, listing_id).__dict__


@router.post("/transfers/{transfer_id}/approve", responses=errors(*WRITE))
def approve(transfer_id: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return transfers.approve(session, user, transfer_id).__dict__


@router.post("/settlement", responses=errors(*WRITE))
def settle(on: Day, session: SessionDep, user: CurrentUser) -> dict[str, list[int]]:
    """Deliver every T+1 trade due on or before ``on``."""
    return {"settled": T.settle_due(session, user, on)}


@router.post("/indicator-targets", status_code=201, responses=errors(*WRITE))
def target(body: TargetCreate, session: SessionDep, user: CurrentUser) -> Created:
    indicators.set_target(session, user, body.indicator, body.district, body.year, body.target,
                          body.source)  # fmt: skip
    return Created(id=body.district)


@router.post(
    "/indicator-measures/{indicator}/{district}/{year}", status_code=201, responses=errors(*WRITE)
)
def measure(
    indicator: str, district: str, year: Year, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    """Measure a district's indicator from the published run or monitoring."""
    m = indicators.measure(session, user, indicator, district, year)
    return {"measured": m.measured, "basis": m.basis, "version": m.version}


@router.get("/journal/verify", responses=errors(*READ))
def journal_verify(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Recompute the journal's chain and derived tables and replay every book (administrators)."""
    require_role(user, {Role.administrator}, "verify the journal")
    report = verify_journal(session)
    books = verify.verify_books(session)
    return {"intact": report.intact and not books, "transactions": report.transactions,
            "head_seq": report.head_seq, "head_hash": report.head_hash,
            "problems": [str(p) for p in [*report.problems, *books]]}  # fmt: skip


@router.get("/journal/transactions/{seq}", responses=errors(*READ))
def journal_transaction(seq: Id, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """One journal transaction with its postings and hash (administrators and analysts)."""
    require_role(user, {Role.administrator, Role.analyst}, "read the journal")
    p = ledger.get_transaction(session, seq)
    return {"seq": p.seq, "kind": p.entry.kind.value, "at": p.entry.at, "memo": p.entry.memo,
            "reverses": p.entry.reverses, "meta": dict(p.entry.meta), "prev_hash": p.prev_hash,
            "hash": p.hash, "postings": [{"account": q.account, "commodity": q.commodity,
                                          "amount": q.amount, "serials": sr.to_text(q.serials)}
                                         for q in p.entry.postings]}  # fmt: skip
