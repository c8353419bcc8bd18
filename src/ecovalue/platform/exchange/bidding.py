"""Electronic bidding (电子竞价): listings, bids and the public result.

A seller (or the government selling new units, e.g. a paid-use 排污权 allocation) lists a
quantity with a reserve price and a bidding window. A seller's units go into escrow at
listing; each bid reserves its cash (price × quantity + fee) at placement, and a bidder may
raise its bid (the new bid takes a new place in time). At the close the awards follow price
first, then time (:func:`~.auctions.allocate`); each award settles by delivery versus payment
in one journal entry, losing bids and unsold units are released, and the result is public.
After every change the escrow accounts of the venue are asserted to hold exactly the open
bids' reserves and the open listings' units.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.errors import Problem
from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.auctions import Bid, BidPricing, allocate
from ecovalue.platform.exchange.keys import Venue
from ecovalue.platform.exchange.tables import BidRow, Listing, Trade
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.rules import Entry, Posting, TxKind, canonical_json, iso


@dataclass(frozen=True)
class ListingView:
    id: int
    instrument: str
    seller: str
    from_issuance: bool
    quantity: Decimal
    reserve_price: Decimal
    pricing: str
    opens_at: str
    closes_at: str
    status: str
    bids: int
    result: dict[str, Any] | None


def _fail(problems: list[Problem]) -> None:
    if problems:
        raise RuleViolation(problems)


def _journal(session: Session, actor: Principal) -> ledger.Journal:
    return ledger.Journal(session, actor.username)


def _post(j: ledger.Journal, kind: TxKind, legs: list[tuple[str, str, Decimal]], ref: str) -> None:
    j.post(Entry(kind, tuple(Posting(a, c, x) for a, c, x in legs if x != 0), ledger.now(), "",
                 None, {"ref": ref}))  # fmt: skip


def _utc(at: dt.datetime, what: str) -> dt.datetime:
    if at.tzinfo is None:
        raise RuleViolation([Problem(what, f"{at} has no time zone", "a UTC date-time",
                                     "give the time with its zone, e.g. 2026-05-01T09:00+08:00")])  # fmt: skip
    return at.astimezone(dt.UTC)


def create_listing(
    session: Session,
    actor: Principal,
    instrument: str,
    quantity: Decimal,
    reserve_price: Decimal,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
    seller: str,
    from_issuance: bool = False,
    pricing: str = BidPricing.pay_as_bid.value,
) -> ListingView:
    """List ``quantity`` of ``seller``'s units for bidding.

    With ``from_issuance`` (administrators) the units are new ones the programme issues to the
    winners, and ``seller`` is the allocating authority (a government participant) that
    receives the proceeds: a paid-use (有偿使用) allocation by bidding.
    """
    i = registry.get_instrument(session, instrument)
    opens, closes = _utc(opens_at, "opens_at"), _utc(closes_at, "closes_at")
    if from_issuance:
        registry.require_admin(actor, "list new units for bidding")
    else:
        registry.require_acting_for(session, actor, seller)
    problems = R.check_tradable(i, R.TradingMode.bidding, closes.date())
    problems += R.check_quantity(i, quantity, "quantity")
    problems += R.check_price(i, reserve_price, None, "reserve price")
    if closes <= opens or closes <= ledger.now():
        problems.append(Problem("window", f"{opens.isoformat()} – {closes.isoformat()} is empty "
                                "or already over", "a window that ends in the future",
                                "choose a later closing time"))  # fmt: skip
    try:
        BidPricing(pricing)
    except ValueError:
        problems.append(Problem("pricing", f"'{pricing}' is unknown", "pay_as_bid or uniform",
                                "choose one"))  # fmt: skip
    p = registry.get_participant(session, seller)
    if from_issuance and p.kind != R.ParticipantKind.government:
        problems.append(Problem("seller", f"{seller} is a {p.kind.value}", "the allocating "
                                "authority (a government participant)",
                                "new units are sold by the authority that allocates them"))  # fmt: skip
    elif not from_issuance:
        problems += R.check_eligibility(i, p, R.Side.sell)
    _fail(problems)
    j = _journal(session, actor)
    row = Listing(instrument=i.code, seller=seller, from_issuance=from_issuance,
                  quantity=quantity, reserve_price=reserve_price, pricing=pricing,
                  opens_at=iso(opens), closes_at=iso(closes), status="open", result=None,
                  created_by=actor.username, created_at=iso(ledger.now()))  # fmt: skip
    session.add(row)
    session.flush()
    if not from_issuance:
        ledger.ensure_accounts(session, [keys.escrow_account(seller, i.code, Venue.bid)])
        try:
            _post(j, TxKind.escrow, [(keys.hold(seller), i.code, -quantity),
                                     (keys.escrow(seller, i.code, Venue.bid), i.code, quantity)],
                  f"listing:{row.id}")  # fmt: skip
        except RuleViolation:
            free = j.balance(keys.hold(seller), i.code)
            raise RuleViolation([Problem(f"participant {seller}", f"holds {free} {i.unit} of "
                                         f"{i.code} free; the listing offers {quantity}",
                                         f"at most {free}", "list only free units")]) from None  # fmt: skip
        _assert(session, j, seller, i.code)
    j.flush()
    return _view(session, row)


def _reserve(i: R.Instrument, price: Decimal, qty: Decimal) -> Decimal:
    return R.buy_reserve(price, qty, i.fee_buy)


def _assert(session: Session, j: ledger.Journal, who: str, instrument: str) -> None:
    """Escrow of the bidding venue = open bids' reserves + open listings' units of ``who``."""
    bids = session.scalars(select(BidRow.reserve).join(Listing, Listing.id == BidRow.listing_id)
                           .where(BidRow.bidder == who, BidRow.status == "active",
                                  Listing.instrument == instrument))  # fmt: skip
    units = session.scalars(select(Listing.quantity).where(
        Listing.seller == who, Listing.status == "open", Listing.instrument == instrument,
        Listing.from_issuance.is_(False)))  # fmt: skip
    esc = keys.escrow(who, instrument, Venue.bid)
    j.assert_balance(esc, "CNY", sum(bids, Decimal(0)), "reserves of the open bids")
    j.assert_balance(esc, instrument, sum(units, Decimal(0)), "units of the open listings")


def _listing(session: Session, listing_id: int) -> Listing:
    row = session.get(Listing, listing_id)
    if row is None:
        raise NotFound(f"no listing {listing_id}")
    return row


def place_bid(session: Session, actor: Principal, listing_id: int, bidder: str, price: Decimal,
              quantity: Decimal) -> int:  # fmt: skip
    """Bid (or raise an earlier bid) on an open listing; reserves the bid's cash."""
    registry.require_acting_for(session, actor, bidder)
    lst = _listing(session, listing_id)
    i = registry.get_instrument(session, lst.instrument)
    now = ledger.now()
    problems = []
    if lst.status != "open" or not dt.datetime.fromisoformat(lst.opens_at) <= now < \
            dt.datetime.fromisoformat(lst.closes_at):  # fmt: skip
        problems.append(Problem(f"listing {listing_id}", f"takes bids {lst.opens_at} – "
                                f"{lst.closes_at} (status {lst.status})", "the bidding window",
                                "bid while the window is open"))  # fmt: skip
    problems += R.check_price(i, price, None, "price") + R.check_quantity(i, quantity, "quantity")
    if price < lst.reserve_price:
        problems.append(Problem("price", f"{price} 元 is below the reserve price "
                                f"{lst.reserve_price} 元", f"at least {lst.reserve_price}",
                                "raise the bid"))  # fmt: skip
    if quantity > lst.quantity:
        problems.append(Problem("quantity", f"{quantity} exceeds the {lst.quantity} listed",
                                f"at most {lst.quantity}", "bid for less"))  # fmt: skip
    if bidder == lst.seller:
        problems.append(Problem("bidder", "is the seller", "another participant",
                                "a seller cannot bid on its own listing"))  # fmt: skip
    problems += R.check_eligibility(i, registry.get_participant(session, bidder), R.Side.buy)
    old = session.scalar(select(BidRow).where(BidRow.listing_id == listing_id,
                                              BidRow.bidder == bidder, BidRow.status == "active"))  # fmt: skip
    if old is not None and (price, quantity) <= (old.price, old.quantity):
        problems.append(Problem("price", f"an earlier bid of {i.qty(old.quantity)} at {i.price(old.price)} 元 "
                                "stands", "a higher price or quantity", "raise the bid"))  # fmt: skip
    _fail(problems)
    j = _journal(session, actor)
    esc = keys.escrow(bidder, i.code, Venue.bid)
    ledger.ensure_accounts(session, [keys.escrow_account(bidder, i.code, Venue.bid)])
    if old is not None:
        _post(j, TxKind.release, [(esc, "CNY", -old.reserve), (keys.cash(bidder), "CNY", old.reserve)],
              f"bid:{old.id}")  # fmt: skip
        old.status = "withdrawn"
    reserve = _reserve(i, price, quantity)
    row = BidRow(listing_id=listing_id, bidder=bidder, price=price, quantity=quantity,
                 reserve=reserve, status="active", won_quantity=None, placed_at=iso(now))  # fmt: skip
    session.add(row)
    session.flush()
    try:
        _post(j, TxKind.escrow, [(keys.cash(bidder), "CNY", -reserve), (esc, "CNY", reserve)],
              f"bid:{row.id}")  # fmt: skip
    except RuleViolation:
        free = j.balance(keys.cash(bidder), "CNY")
        raise RuleViolation([Problem(f"participant {bidder}", f"has {free:,} 元 of free cash; the "
                                     f"bid reserves {reserve:,} 元", f"at most {free:,} 元",
                                     "pay money in or bid for less")]) from None  # fmt: skip
    session.flush()
    _assert(session, j, bidder, i.code)
    j.flush()
    return row.id


def close_listing(session: Session, actor: Principal, listing_id: int) -> ListingView:
    """Allocate an ended listing (price, then time), settle each award and publish the result."""
    registry.require_admin(actor, "close biddings")
    lst = _listing(session, listing_id)
    i = registry.get_instrument(session, lst.instrument)
    if lst.status != "open":
        raise RuleViolation([Problem(f"listing {listing_id}", f"is {lst.status}", "an open listing",
                                     "nothing to close")])  # fmt: skip
    if ledger.now() < dt.datetime.fromisoformat(lst.closes_at):
        raise RuleViolation([Problem(f"listing {listing_id}", f"closes at {lst.closes_at}",
                                     "a listing past its window", "close it after the window")])  # fmt: skip
    j = _journal(session, actor)
    rows = list(session.scalars(select(BidRow).where(BidRow.listing_id == listing_id,
                                                     BidRow.status == "active")
                                .order_by(BidRow.placed_at, BidRow.id)))  # fmt: skip
    seq = {r.id: n for n, r in enumerate(rows)}
    bids = [Bid(r.id, r.bidder, i.price(r.price), int(r.quantity.scaleb(i.places)), seq[r.id])
            for r in rows]  # fmt: skip
    awards = allocate(int(lst.quantity.scaleb(i.places)), i.price(lst.reserve_price), bids,
                      BidPricing(lst.pricing))  # fmt: skip
    won = {a.bid_id: a for a in awards}
    trade_id = int(session.scalar(select(func.max(Trade.id))) or 0)
    sold = Decimal(0)
    for r in rows:
        a = won.get(r.id)
        if a is None:
            _post(j, TxKind.release, [(keys.escrow(r.bidder, i.code, Venue.bid), "CNY", -r.reserve),
                                      (keys.cash(r.bidder), "CNY", r.reserve)], f"bid:{r.id}")  # fmt: skip
            r.status = "lost"
            continue
        trade_id += 1
        qty = Decimal(a.qty) * i.quantum
        sold += qty
        _award(session, j, lst, i, r, qty, a.price, trade_id)
    unsold = i.qty(lst.quantity) - sold
    if unsold and not lst.from_issuance:
        esc = keys.escrow(lst.seller, i.code, Venue.bid)
        _post(j, TxKind.release, [(esc, i.code, -unsold), (keys.hold(lst.seller), i.code, unsold)],
              f"listing:{lst.id}")  # fmt: skip
    lst.status = "closed"
    lst.result = canonical_json({
        "sold": format(sold, "f"), "unsold": format(unsold, "f"), "bids": len(rows),
        "awards": [{"bidder": a.bidder, "quantity": format(Decimal(a.qty) * i.quantum, "f"),
                    "price": format(a.price, "f")} for a in awards],
        "rule": "price first, then time (价格优先、时间优先)", "pricing": lst.pricing,
    })  # fmt: skip
    session.flush()
    for who in {r.bidder for r in rows} | ({lst.seller} if not lst.from_issuance else set()):
        _assert(session, j, who, i.code)
    j.flush()
    return _view(session, lst)


def _award(session: Session, j: ledger.Journal, lst: Listing, i: R.Instrument, r: BidRow,
           qty: Decimal, price: Decimal, trade_id: int) -> None:  # fmt: skip
    """Deliver ``qty`` to bid ``r`` at ``price`` against payment, in one journal entry."""
    money = R.fill_money(price, qty, i.price(r.price), Decimal(0), r.reserve, i.fee_buy, i.fee_sell)
    b_esc = keys.escrow(r.bidder, i.code, Venue.bid)
    cash = [(b_esc, "CNY", -r.reserve), (keys.cash(r.bidder), "CNY", money.release),
            (keys.FEE, "CNY", money.fee_buy + money.fee_sell)]  # fmt: skip
    cash.append((keys.cash(lst.seller), "CNY", money.value - money.fee_sell))
    serials: tuple[tuple[int, int], ...] = ()
    if lst.from_issuance:  # new serials from the programme's counter, straight to the winner
        serials = (registry.next_serials(session, i.programme.code, int(qty.scaleb(i.places))),)
        units = [(keys.issuance(i.programme.code), i.code, -qty), (keys.hold(r.bidder), i.code, qty)]
    else:
        units = [(keys.escrow(lst.seller, i.code, Venue.bid), i.code, -qty),
                 (keys.hold(r.bidder), i.code, qty)]  # fmt: skip
    legs = [leg for leg in cash + units if leg[2] != 0]
    first_unit = next(n for n, leg in enumerate(legs) if leg[1] == i.code)
    j.post(Entry(TxKind.settle, tuple(Posting(a, c, x, serials if n == first_unit else ())
                                      for n, (a, c, x) in enumerate(legs)),
                 ledger.now(), "", None, {"ref": f"trade:{trade_id}"}))  # fmt: skip
    j.flush()  # the rows below refer to the journal transaction
    if lst.from_issuance:
        registry.record_issuance(session, i, r.bidder, qty, "sale", serials[0], j.state.seq,
                                 {"listing": lst.id, "price": format(price, "f")}, lst.created_by,
                                 price=price, amount=money.value)  # fmt: skip
    r.status, r.won_quantity = "won", qty
    session.add(Trade(id=trade_id, instrument=i.code, mode="bidding", buy_order=None,
                      sell_order=None, buyer=r.bidder, seller=lst.seller, price=price,
                      quantity=qty, value=money.value, fee_buy=money.fee_buy,
                      fee_sell=money.fee_sell, book_seq=None, cycle=0,
                      settle_on=ledger.now().date(), ledger_seq=j.state.seq,
                      at=iso(ledger.now())))  # fmt: skip


def _view(session: Session, row: Listing) -> ListingView:
    n = session.scalar(select(func.count()).select_from(BidRow).where(BidRow.listing_id == row.id))
    i = registry.get_instrument(session, row.instrument)
    return ListingView(row.id, row.instrument, row.seller, row.from_issuance, i.qty(row.quantity),
                       i.price(row.reserve_price), row.pricing, row.opens_at, row.closes_at, row.status,
                       int(n or 0), json.loads(row.result) if row.result else None)  # fmt: skip


def listings(session: Session, instrument: str | None = None) -> list[ListingView]:
    """Every listing with its public result (public), newest first."""
    stmt = select(Listing).order_by(Listing.id.desc())
    if instrument:
        stmt = stmt.where(Listing.instrument == instrument)
    return [_view(session, r) for r in session.scalars(stmt)]


def get_listing(session: Session, listing_id: int) -> ListingView:
    return _view(session, _listing(session, listing_id))


def my_bids(session: Session, actor: Principal, bidder: str) -> list[BidRow]:
    """A participant's bids (its members and administrators only: bids are sealed)."""
    if actor.role != Role.administrator:
        registry.require_acting_for(session, actor, bidder)
    return list(session.scalars(select(BidRow).where(BidRow.bidder == bidder)
                                .order_by(BidRow.id.desc())))  # fmt: skip
