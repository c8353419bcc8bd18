"""Negotiated transfers (协议转让): proposal, acceptance, the exchange's approval, settlement.

The proposer (seller or buyer) names the counterparty, the quantity and the price — on the
tick grid, inside the negotiated price band around the reference price and not below a
floor — and its side goes into escrow at once (the seller's units, possibly named serials; or
the buyer's cash with the fee). The counterparty accepts (its side goes into escrow) or
rejects; where the instrument's rules ask for it (区域水权, indicator trades) the exchange
approves before settlement. Settlement is delivery versus payment in one journal entry.
After every step the venue's escrow accounts are asserted to hold exactly the pending
transfers' amounts.

Indicator trades (:mod:`.indicators`) are transfers of kind ``indicator`` whose units are
issued from the seller's surplus when proposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.errors import Problem
from ecovalue.platform.auth.rules import Principal, Role
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as registry
from ecovalue.platform.exchange.keys import Venue
from ecovalue.platform.exchange.tables import Trade, Transfer
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.rules import Entry, Posting, TxKind, iso

PENDING = ("proposed", "accepted")


@dataclass(frozen=True)
class TransferView:
    id: int
    instrument: str
    kind: str
    seller: str
    buyer: str
    proposer: str
    quantity: Decimal
    price: Decimal
    value: Decimal
    serials: str
    status: str
    note: str
    trade_id: int | None
    created_at: str
    updated_at: str


def _view(row: Transfer) -> TransferView:
    return TransferView(row.id, row.instrument, row.kind, row.seller, row.buyer, row.proposer,
                        row.quantity.normalize(), row.price, R.trade_value(row.price, row.quantity),
                        row.serials, row.status, row.note, row.trade_id, row.created_at,
                        row.updated_at)  # fmt: skip


def _fail(problems: list[Problem]) -> None:
    if problems:
        raise RuleViolation(problems)


def _post(j: ledger.Journal, kind: TxKind, legs: Sequence[tuple[str, str, Decimal]], ref: str,
          serials: tuple[sr.Range, ...] = ()) -> None:  # fmt: skip
    postings = tuple(Posting(a, c, x, serials if n == 0 else ())
                     for n, (a, c, x) in enumerate(leg for leg in legs if leg[2] != 0))  # fmt: skip
    j.post(Entry(kind, postings, ledger.now(), "", None, {"ref": ref}))


def _escrow_seller(j: ledger.Journal, t: Transfer, i: R.Instrument) -> None:
    esc = keys.escrow(t.seller, i.code, Venue.xfer)
    try:
        _post(j, TxKind.escrow, [(keys.hold(t.seller), i.code, -t.quantity),
                                 (esc, i.code, t.quantity)], f"transfer:{t.id}",
              sr.from_text(t.serials))  # fmt: skip
    except RuleViolation as exc:
        free = j.balance(keys.hold(t.seller), i.code)
        if t.serials:
            raise
        raise RuleViolation([Problem(f"participant {t.seller}", f"holds {free} {i.unit} of "
                                     f"{i.code} free; the transfer sells {t.quantity}",
                                     f"at most {free}", "sell only free units")]) from exc  # fmt: skip


def _buyer_reserve(t: Transfer, i: R.Instrument) -> Decimal:
    return R.buy_reserve(t.price, t.quantity, i.fee_buy)


def _escrow_buyer(j: ledger.Journal, t: Transfer, i: R.Instrument) -> None:
    reserve = _buyer_reserve(t, i)
    esc = keys.escrow(t.buyer, i.code, Venue.xfer)
    try:
        _post(j, TxKind.escrow, [(keys.cash(t.buyer), "CNY", -reserve), (esc, "CNY", reserve)],
              f"transfer:{t.id}")  # fmt: skip
    except RuleViolation as exc:
        free = j.balance(keys.cash(t.buyer), "CNY")
        raise RuleViolation([Problem(f"participant {t.buyer}", f"has {free:,} 元 of free cash; "
                                     f"the transfer needs {reserve:,} 元 with its fee",
                                     f"at most {free:,} 元", "pay money in first")]) from exc  # fmt: skip


def _sides_escrowed(t: Transfer) -> tuple[bool, bool]:
    """(seller's units, buyer's cash) in escrow now."""
    if t.status == "accepted":
        return True, True
    if t.status == "proposed":
        return t.proposer == t.seller, t.proposer == t.buyer
    return False, False


def _assert(session: Session, j: ledger.Journal, who: str, instrument: str) -> None:
    """Escrow of the transfer venue = what ``who``'s pending transfers hold there."""
    i = registry.get_instrument(session, instrument)
    cash = units = Decimal(0)
    pending = session.scalars(select(Transfer).where(
        Transfer.instrument == instrument, Transfer.status.in_(PENDING),
        (Transfer.seller == who) | (Transfer.buyer == who)))  # fmt: skip
    for t in pending:
        s_in, b_in = _sides_escrowed(t)
        if t.seller == who and s_in:
            units += t.quantity
        if t.buyer == who and b_in:
            cash += _buyer_reserve(t, i)
    esc = keys.escrow(who, instrument, Venue.xfer)
    j.assert_balance(esc, "CNY", cash, "cash of the pending transfers")
    j.assert_balance(esc, instrument, units, "units of the pending transfers")


def check_terms(i: R.Instrument, seller: R.Participant, buyer: R.Participant, quantity: Decimal,
                price: Decimal, today: object) -> list[Problem]:  # fmt: skip
    """Mode, validity, quantity, price (tick, negotiated band, floor), both sides' eligibility."""
    problems = R.check_tradable(i, R.TradingMode.negotiated, today)  # type: ignore[arg-type]
    problems += R.check_quantity(i, quantity, "quantity")
    problems += R.check_price(i, price, i.negotiated_band, "price")
    problems += R.check_eligibility(i, seller, R.Side.sell)
    problems += R.check_eligibility(i, buyer, R.Side.buy)
    if seller.code == buyer.code:
        problems.append(Problem("buyer", "is the seller", "two different participants",
                                "name the counterparty"))  # fmt: skip
    return problems


def propose(
    session: Session,
    actor: Principal,
    instrument: str,
    seller: str,
    buyer: str,
    quantity: Decimal,
    price: Decimal,
    proposer: str,
    serials: Sequence[sr.Range] = (),
    note: str = "",
    kind: str = "negotiated",
) -> TransferView:
    """Propose a transfer; the proposer's side goes into escrow now."""
    registry.require_acting_for(session, actor, proposer)
    if proposer not in (seller, buyer):
        raise RuleViolation([Problem("proposer", f"{proposer} is neither seller nor buyer",
                                     "one of the two parties", "propose for your own side")])  # fmt: skip
    i = registry.get_instrument(session, instrument)
    s, b = registry.get_participant(session, seller), registry.get_participant(session, buyer)
    problems = check_terms(i, s, b, quantity, price, ledger.now().date())
    if serials and Decimal(sr.count(serials)) * i.quantum != quantity:
        problems.append(Problem("serials", f"{sr.to_text(serials)} are {sr.count(serials)} "
                                f"serials, not {quantity} {i.unit}", "serials of the quantity",
                                "name the right serials or none"))  # fmt: skip
    if serials and proposer != seller:
        problems.append(Problem("serials", "only the seller names the serials it sells",
                                "no serials from the buyer", "leave them out"))  # fmt: skip
    _fail(problems)
    j = ledger.Journal(session, actor.username)
    now = iso(ledger.now())
    row = Transfer(instrument=i.code, seller=seller, buyer=buyer, proposer=proposer,
                   quantity=quantity, price=price, serials=sr.to_text(serials), status="proposed",
                   kind=kind, note=note, trade_id=None, decided_by=None, created_at=now,
                   updated_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    ledger.ensure_accounts(session, [keys.escrow_account(p, i.code, Venue.xfer)
                                     for p in (seller, buyer)])  # fmt: skip
    if proposer == seller:
        _escrow_seller(j, row, i)
    else:
        _escrow_buyer(j, row, i)
    _assert(session, j, proposer, i.code)
    j.flush()
    return _view(row)


def _pending(session: Session, transfer_id: int) -> Transfer:
    row = session.get(Transfer, transfer_id)
    if row is None:
        raise NotFound(f"no transfer {transfer_id}")
    if row.status not in PENDING:
        raise RuleViolation([Problem(f"transfer {transfer_id}", f"is {row.status}",
                                     "a pending transfer", "nothing to do")])  # fmt: skip
    return row


def accept(session: Session, actor: Principal, transfer_id: int) -> TransferView:
    """The counterparty accepts: its side goes into escrow; settles unless approval is needed."""
    row = _pending(session, transfer_id)
    counterparty = row.buyer if row.proposer == row.seller else row.seller
    registry.require_acting_for(session, actor, counterparty)
    if row.status != "proposed":
        raise RuleViolation([Problem(f"transfer {transfer_id}", "was accepted already",
                                     "a proposed transfer", "wait for the exchange's approval")])  # fmt: skip
    i = registry.get_instrument(session, row.instrument)
    s, b = registry.get_participant(session, row.seller), registry.get_participant(session, row.buyer)
    _fail(check_terms(i, s, b, row.quantity, row.price, ledger.now().date()))
    j = ledger.Journal(session, actor.username)
    if counterparty == row.seller:
        _escrow_seller(j, row, i)
    else:
        _escrow_buyer(j, row, i)
    row.status, row.updated_at = "accepted", iso(ledger.now())
    session.flush()
    if not i.negotiated_approval:
        _settle(session, j, row, i)
    for who in (row.seller, row.buyer):
        _assert(session, j, who, i.code)
    j.flush()
    return _view(row)


def approve(session: Session, actor: Principal, transfer_id: int) -> TransferView:
    """The exchange approves an accepted transfer whose rules ask for it; it settles now."""
    registry.require_admin(actor, "approve transfers")
    row = _pending(session, transfer_id)
    if row.status != "accepted":
        raise RuleViolation([Problem(f"transfer {transfer_id}", "is not accepted by the "
                                     "counterparty yet", "an accepted transfer",
                                     "wait for the counterparty")])  # fmt: skip
    i = registry.get_instrument(session, row.instrument)
    j = ledger.Journal(session, actor.username)
    row.decided_by = actor.username
    _settle(session, j, row, i)
    for who in (row.seller, row.buyer):
        _assert(session, j, who, i.code)
    j.flush()
    return _view(row)


def _settle(session: Session, j: ledger.Journal, row: Transfer, i: R.Instrument) -> None:
    """Delivery versus payment of an accepted transfer, in one journal entry, and its trade."""
    reserve = _buyer_reserve(row, i)
    money = R.fill_money(row.price, row.quantity, row.price, Decimal(0), reserve, i.fee_buy,
                         i.fee_sell)  # fmt: skip
    s_esc, b_esc = keys.escrow(row.seller, i.code, Venue.xfer), keys.escrow(row.buyer, i.code,
                                                                            Venue.xfer)  # fmt: skip
    trade_id = int(session.scalar(select(func.max(Trade.id))) or 0) + 1
    _post(j, TxKind.settle, [
        (s_esc, i.code, -row.quantity), (keys.hold(row.buyer), i.code, row.quantity),
        (b_esc, "CNY", -reserve), (keys.cash(row.buyer), "CNY", money.release),
        (keys.cash(row.seller), "CNY", money.value - money.fee_sell),
        (keys.FEE, "CNY", money.fee_buy + money.fee_sell)], f"trade:{trade_id}")  # fmt: skip
    j.flush()  # the trade row refers to the journal transaction
    session.add(Trade(id=trade_id, instrument=i.code, mode=row.kind, buy_order=None,
                      sell_order=None, buyer=row.buyer, seller=row.seller, price=row.price,
                      quantity=row.quantity, value=money.value, fee_buy=money.fee_buy,
                      fee_sell=money.fee_sell, book_seq=None, cycle=0,
                      settle_on=ledger.now().date(), ledger_seq=j.state.seq,
                      at=iso(ledger.now())))  # fmt: skip
    session.flush()
    row.status, row.trade_id, row.updated_at = "settled", trade_id, iso(ledger.now())
    session.flush()


def reject(session: Session, actor: Principal, transfer_id: int, reason: str = "") -> TransferView:
    """Counterparty or exchange rejects; the proposer cancels. What is in escrow goes back."""
    row = _pending(session, transfer_id)
    allowed = {row.seller, row.buyer}
    if actor.role != Role.administrator and not any(
        _acts(session, actor, p) for p in allowed
    ):  # fmt: skip
        raise PermissionDenied(f"user '{actor.username}' is not a party to transfer {transfer_id}")
    i = registry.get_instrument(session, row.instrument)
    j = ledger.Journal(session, actor.username)
    s_in, b_in = _sides_escrowed(row)
    if s_in:
        back = keys.issuance(i.programme.code) if row.kind == "indicator" else keys.hold(row.seller)
        _post(j, TxKind.release, [(keys.escrow(row.seller, i.code, Venue.xfer), i.code, -row.quantity),
                                  (back, i.code, row.quantity)], f"transfer:{row.id}")  # fmt: skip
    if b_in:
        reserve = _buyer_reserve(row, i)
        _post(j, TxKind.release, [(keys.escrow(row.buyer, i.code, Venue.xfer), "CNY", -reserve),
                                  (keys.cash(row.buyer), "CNY", reserve)], f"transfer:{row.id}")  # fmt: skip
    row.status = "cancelled" if _acts(session, actor, row.proposer) else "rejected"
    row.decided_by, row.updated_at = actor.username, iso(ledger.now())
    row.note = (row.note + f" | {row.status}: {reason}").strip(" |") if reason else row.note
    session.flush()
    for who in (row.seller, row.buyer):
        _assert(session, j, who, i.code)
    j.flush()
    return _view(row)


def _acts(session: Session, actor: Principal, participant: str) -> bool:
    """True when ``actor`` is a member of ``participant`` (administrators are not members)."""
    if actor.role == Role.administrator:
        return False
    try:
        registry.require_acting_for(session, actor, participant)
    except PermissionDenied:
        return False
    return True


def transfers_of(session: Session, actor: Principal, participant: str) -> list[TransferView]:
    """The transfers a participant is a party to, newest first."""
    registry.require_reading(session, actor, participant)
    stmt = (select(Transfer).where((Transfer.seller == participant) | (Transfer.buyer == participant))
            .order_by(Transfer.id.desc()))  # fmt: skip
    return [_view(r) for r in session.scalars(stmt)]


def get_transfer(session: Session, actor: Principal, transfer_id: int) -> TransferView:
    row = session.get(Transfer, transfer_id)
    if row is None:
        raise NotFound(f"no transfer {transfer_id}")
    if actor.role not in (Role.administrator, Role.analyst):
        if not (_acts(session, actor, row.seller) or _acts(session, actor, row.buyer)):
            raise PermissionDenied(f"transfer {transfer_id} is not yours to see")
    return _view(row)
