"""Services of the unit registry: programmes, instruments, participants, money in and out,
issuance and allocation, freezes and pledges, retirement with its certificate, and the views
of holdings by block.

Every movement of units or money is a journal transaction (``platform/ledger``); this module
decides which accounts and checks the registry's rules first, so a refused request moves
nothing. Every function takes the caller's :class:`Principal`: administrators run the
registry; a participant's members see and move only that participant's accounts.
Trading (order book, call auctions) is in :mod:`.trading`, electronic bidding in
:mod:`.bidding`, negotiated and indicator transfers in :mod:`.transfers`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.errors import InputError, Problem
from ecovalue.platform.auth.rules import Principal, Role, require_role
from ecovalue.platform.errors import NotFound, PermissionDenied, RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange.ruleset import (
    instrument_from_json,
    instrument_of,
    instrument_to_json,
    load_ruleset,
    programme_from_json,
    programme_to_json,
)
from ecovalue.platform.exchange.tables import (
    BookState,
    Certificate,
    Hold,
    InstrumentRow,
    Issuance,
    Member,
    Participant,
    ProgrammeRow,
    Quota,
)
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger import service as ledger
from ecovalue.platform.ledger.rules import (
    CNY,
    AccountKind,
    Commodity,
    Entry,
    Posted,
    Posting,
    TxKind,
    canonical_json,
    iso,
)

ADMIN_ROLES = frozenset({Role.administrator})
READ_ALL_ROLES = frozenset({Role.administrator, Role.analyst})


def _fail(problems: list[Problem]) -> None:
    if problems:
        raise RuleViolation(problems)


def require_admin(actor: Principal, action: str) -> None:
    """Only administrators (the exchange operator) run the registry."""
    require_role(actor, ADMIN_ROLES, action)


# ------------------------------------------------------------------ participants and scope


def participant_record(row: Participant) -> R.Participant:
    return R.Participant(row.code, row.name, R.ParticipantKind(row.kind), row.region_code,
                         row.basin, row.sector, row.active)  # fmt: skip


def register_participant(
    session: Session,
    actor: Principal,
    code: str,
    name: str,
    kind: str,
    region_code: str,
    basin: str | None = None,
    sector: str | None = None,
) -> R.Participant:
    """Register a participant and open its accounts in the journal."""
    require_admin(actor, "register participants")
    problems = []
    try:
        pk = R.ParticipantKind(kind)
    except ValueError:
        names = ", ".join(k.value for k in R.ParticipantKind)
        problems.append(Problem("kind", f"'{kind}' is unknown", names, "use one of them"))
    if not code or ":" in code or len(code) > 60:
        problems.append(Problem("code", f"'{code}' is empty, too long or contains ':'",
                                "up to 60 characters without ':'", "choose another code"))  # fmt: skip
    if not region_code.isdigit():
        problems.append(Problem("region_code", f"'{region_code}' is not an administrative code",
                                "digits such as 420102", "give the 区划代码"))  # fmt: skip
    if session.scalar(select(Participant.id).where(Participant.code == code)) is not None:
        problems.append(Problem("code", f"participant '{code}' exists", "a new code",
                                "use the existing participant"))  # fmt: skip
    _fail(problems)
    row = Participant(code=code, name=name, kind=pk.value, region_code=region_code, basin=basin,
                      sector=sector, active=True, created_at=iso(ledger.now()))  # fmt: skip
    session.add(row)
    session.flush()
    ledger.ensure_accounts(session, keys.participant_accounts(code))
    return participant_record(row)


def add_member(session: Session, actor: Principal, participant: str, username: str) -> None:
    """Let platform user ``username`` act for ``participant``."""
    require_admin(actor, "add members to participants")
    row = _participant_row(session, participant)
    exists = session.scalar(select(Member.id).where(Member.participant_id == row.id,
                                                    Member.username == username))  # fmt: skip
    if exists is None:
        session.add(Member(participant_id=row.id, username=username))
        session.flush()


def _participant_row(session: Session, code: str) -> Participant:
    row = session.scalar(select(Participant).where(Participant.code == code))
    if row is None:
        raise NotFound(f"no participant '{code}'; register it first (ecovalue ledger participant)")
    return row


def get_participant(session: Session, code: str) -> R.Participant:
    """The participant ``code``; raises NotFound."""
    return participant_record(_participant_row(session, code))


def participant_id(session: Session, code: str) -> int:
    """The row id of participant ``code`` (for tables that refer to it)."""
    return _participant_row(session, code).id


def participant_code(session: Session, participant_id: int) -> str:
    row = session.get(Participant, participant_id)
    if row is None:
        raise NotFound(f"no participant with id {participant_id}")
    return row.code


def participant_codes(session: Session) -> list[str]:
    """Codes of every participant."""
    return list(session.scalars(select(Participant.code).order_by(Participant.code)))


def set_active(session: Session, actor: Principal, code: str, active: bool) -> R.Participant:
    """Suspend or reinstate a participant (a suspended one may not enter orders)."""
    require_admin(actor, "suspend participants")
    row = _participant_row(session, code)
    row.active = active
    session.flush()
    return participant_record(row)


def participants_of(session: Session, actor: Principal) -> list[str]:
    """Codes of the participants ``actor`` acts for (administrators and analysts: all)."""
    if actor.role in READ_ALL_ROLES:
        return list(session.scalars(select(Participant.code).order_by(Participant.code)))
    stmt = (select(Participant.code).join(Member, Member.participant_id == Participant.id)
            .where(Member.username == actor.username).order_by(Participant.code))  # fmt: skip
    return list(session.scalars(stmt))


def require_acting_for(session: Session, actor: Principal, participant: str) -> None:
    """Raise PermissionDenied unless ``actor`` is an administrator or a member of ``participant``."""
    if actor.role == Role.administrator:
        _participant_row(session, participant)
        return
    stmt = (select(Member.id).join(Participant, Participant.id == Member.participant_id)
            .where(Participant.code == participant, Member.username == actor.username))  # fmt: skip
    if session.scalar(stmt) is None:
        raise PermissionDenied(
            f"user '{actor.username}' does not act for participant '{participant}'; "
            "participants see and move only their own accounts"
        )


def require_reading(session: Session, actor: Principal, participant: str) -> None:
    """Administrators and analysts read every participant; members read their own."""
    if actor.role in READ_ALL_ROLES:
        _participant_row(session, participant)
        return
    require_acting_for(session, actor, participant)


# ------------------------------------------------------------------ programmes and instruments


def adopt_ruleset(session: Session, actor: Principal, ruleset: str | Path = "cn-hubei-2026"
                  ) -> list[str]:  # fmt: skip
    """Adopt the programmes of a rule set (new ones, or a new definition of existing ones)."""
    require_admin(actor, "adopt rule sets")
    rs = load_ruleset(ruleset)
    ledger.register_commodity(session, CNY)
    ledger.ensure_accounts(session, keys.EXCHANGE_ACCOUNTS)
    out = []
    for p in rs.programmes.values():
        definition = canonical_json(programme_to_json(p))
        row = session.get(ProgrammeRow, p.code)
        if row is None:
            session.add(ProgrammeRow(code=p.code, kind=p.kind.value, ruleset_id=rs.id,
                                     ruleset_sha256=rs.sha256, definition=definition,
                                     next_serial=1, created_at=iso(ledger.now())))  # fmt: skip
        elif row.definition != definition:
            row.definition, row.ruleset_id, row.ruleset_sha256 = definition, rs.id, rs.sha256
        ledger.ensure_accounts(session, keys.programme_accounts(p.code))
        out.append(p.code)
    session.flush()
    return out


def get_programme(session: Session, code: str) -> R.Programme:
    """The adopted programme ``code``; raises NotFound."""
    row = session.get(ProgrammeRow, code)
    if row is None:
        raise NotFound(f"no programme '{code}'; adopt a rule set first (ecovalue ledger init)")
    return programme_from_json(json.loads(row.definition))


def programme_codes(session: Session) -> list[str]:
    """Codes of every adopted programme."""
    return list(session.scalars(select(ProgrammeRow.code).order_by(ProgrammeRow.code)))


def create_instrument(
    session: Session,
    actor: Principal,
    programme: str,
    vintage: int,
    code: str | None = None,
    regions: Sequence[str] = (),
    reference_price: Decimal | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> R.Instrument:
    """Open an instrument of ``programme`` for ``vintage`` (its units' journal commodity too)."""
    require_admin(actor, "create instruments")
    prog = get_programme(session, programme)
    base = instrument_of(prog, vintage, code, tuple(regions), reference_price=reference_price)
    if overrides:
        stored = {**instrument_to_json(base), **overrides}
        base = instrument_from_json(base.code, prog, vintage, stored, reference_price)
    problems = R.check_instrument(base)
    if session.get(InstrumentRow, base.code) is not None:
        problems.append(Problem("code", f"instrument '{base.code}' exists", "a new code",
                                "use the existing instrument"))  # fmt: skip
    _fail(problems)
    ledger.register_commodity(session, Commodity(base.code, prog.unit, prog.places, True,
                                                 f"{prog.name_zh} {vintage}",
                                                 f"{prog.name_en} {vintage}"))  # fmt: skip
    session.add(InstrumentRow(code=base.code, programme=prog.code, vintage=vintage,
                              definition=canonical_json(instrument_to_json(base)),
                              reference_price=reference_price, halted=False,
                              created_at=iso(ledger.now())))  # fmt: skip
    session.flush()
    session.add(BookState(instrument=base.code, version=0, book_seq=0, phase="continuous",
                          last_price=None, last_at=None))  # fmt: skip
    session.flush()
    return base


def get_instrument(session: Session, code: str) -> R.Instrument:
    """The instrument ``code`` with its current reference price and halt; raises NotFound."""
    row = session.get(InstrumentRow, code)
    if row is None:
        raise NotFound(f"no instrument '{code}'")
    prog = get_programme(session, row.programme)
    d = json.loads(row.definition)
    ref = row.reference_price
    if ref is not None:  # stored with 4 places; shown on the instrument's own price grid
        ref = ref.quantize(Decimal(d["tick"])) if ref == ref.quantize(Decimal(d["tick"])) else ref
    return instrument_from_json(row.code, prog, row.vintage, d, ref, row.halted)


def list_instruments(session: Session) -> list[R.Instrument]:
    """Every instrument, by code (public)."""
    return [get_instrument(session, c) for c in
            session.scalars(select(InstrumentRow.code).order_by(InstrumentRow.code))]  # fmt: skip


def set_reference_price(session: Session, actor: Principal, code: str, price: Decimal
                        ) -> R.Instrument:  # fmt: skip
    """Set the reference price the price band is measured from (e.g. the previous close)."""
    require_admin(actor, "set reference prices")
    i = get_instrument(session, code)
    _fail(R.check_price(i, price, None, "reference price"))
    row = session.get(InstrumentRow, code)
    assert row is not None
    row.reference_price = price
    session.flush()
    return get_instrument(session, code)


def set_halted(session: Session, actor: Principal, code: str, halted: bool) -> R.Instrument:
    """Halt or resume trading of an instrument."""
    require_admin(actor, "halt trading")
    row = session.get(InstrumentRow, code)
    if row is None:
        raise NotFound(f"no instrument '{code}'")
    row.halted = halted
    session.flush()
    return get_instrument(session, code)


# ------------------------------------------------------------------ money


def _post(session: Session, kind: TxKind, legs: Iterable[tuple[str, str, Decimal]],
          memo: str, ref: str, serials: Mapping[int, tuple[sr.Range, ...]] | None = None,
          **meta: Any) -> Posted:  # fmt: skip
    serials = serials or {}
    postings = tuple(Posting(a, c, x, serials.get(i, ())) for i, (a, c, x) in enumerate(legs))
    return ledger.post(session, Entry(kind, postings, ledger.now(), memo, None,
                                      {"ref": ref, **meta}))  # fmt: skip


def deposit(session: Session, actor: Principal, participant: str, amount: Decimal,
            reference: str) -> Posted:  # fmt: skip
    """Money paid in through the settlement bank (``reference``: the bank's transfer number)."""
    require_admin(actor, "record deposits")
    _participant_row(session, participant)
    if amount <= 0:
        raise InputError(f"deposit {amount} 元 must be positive")
    return _post(session, TxKind.deposit,
                 [(keys.BANK, "CNY", -amount), (keys.cash(participant), "CNY", amount)],
                 f"deposit {reference}", f"bank:{reference}")  # fmt: skip


def withdraw(session: Session, actor: Principal, participant: str, amount: Decimal,
             reference: str) -> Posted:  # fmt: skip
    """Money paid out through the settlement bank; refused beyond the free cash."""
    require_acting_for(session, actor, participant)
    if amount <= 0:
        raise InputError(f"withdrawal {amount} 元 must be positive")
    return _post(session, TxKind.withdraw,
                 [(keys.cash(participant), "CNY", -amount), (keys.BANK, "CNY", amount)],
                 f"withdrawal {reference}", f"bank:{reference}")  # fmt: skip


# ------------------------------------------------------------------ issuance and allocation


def next_serials(session: Session, programme: str, n: int) -> sr.Range:
    """Take the next ``n`` serials of a programme's counter (inside the journal's lock)."""
    stmt = select(ProgrammeRow).where(ProgrammeRow.code == programme).with_for_update()
    row = session.scalar(stmt)
    assert row is not None
    first = row.next_serial
    row.next_serial = first + n
    session.flush()
    return first, first + n - 1


@dataclass(frozen=True)
class IssuanceView:
    """An issuance or allocation: to whom, how much, which serials, from what."""

    id: int
    instrument: str
    kind: str
    participant: str
    quantity: Decimal
    buffer_quantity: Decimal
    serial: str
    price: Decimal | None
    amount: Decimal | None
    ledger_seq: int
    provenance: dict[str, Any]
    created_at: str


def issue(
    session: Session,
    actor: Principal,
    instrument: str,
    participant: str,
    quantity: Decimal,
    kind: str = "issue",
    buffer_quantity: Decimal = Decimal(0),
    price: Decimal | None = None,
    payee: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> IssuanceView:
    """Issue new serial-numbered units of ``instrument`` to ``participant``.

    ``buffer_quantity`` more units go to the programme's risk buffer. With ``price`` (paid
    use, 有偿使用) the participant pays ``price × quantity`` to ``payee``'s cash in the same
    journal transaction, or nothing happens. The serials continue the programme's counter.
    """
    require_admin(actor, "issue or allocate units")
    i = get_instrument(session, instrument)
    p = get_participant(session, participant)
    problems = R.check_quantity(i, quantity, "quantity")
    problems += R.check_eligibility(i, p, R.Side.sell)
    if buffer_quantity < 0 or (buffer_quantity and R.check_quantity(i, buffer_quantity, "buffer")):
        problems.append(Problem("buffer_quantity", f"{buffer_quantity} is not a whole number of "
                                f"{i.quantum}", "0 or more units", "round the buffer"))  # fmt: skip
    if price is not None:
        problems += R.check_price(i, price, None, "paid-use price")
        if payee is None:
            problems.append(Problem("payee", "is missing", "the participant paid (the authority)",
                                    "name who receives the paid-use price"))  # fmt: skip
    _fail(problems)
    total = quantity + buffer_quantity
    first, last = next_serials(session, i.programme.code, int(total.scaleb(i.places)))
    legs = [(keys.issuance(i.programme.code), i.code, -total), (keys.hold(participant), i.code,
                                                                 quantity)]  # fmt: skip
    if buffer_quantity:
        legs.append((keys.buffer(i.programme.code), i.code, buffer_quantity))
    amount = None
    if price is not None and payee is not None:
        _participant_row(session, payee)
        amount = R.trade_value(price, quantity)
        legs += [(keys.cash(participant), "CNY", -amount), (keys.cash(payee), "CNY", amount)]
    tx_kind = TxKind.allocate if kind == "allocate" else TxKind.issue
    posted = _post(session, tx_kind, legs, f"{kind} {quantity} {i.unit} of {i.code}",
                   f"issue:{i.code}:{first}", {0: ((first, last),)})  # fmt: skip
    row = record_issuance(session, i, participant, quantity, kind, (first, last), posted.seq,
                          provenance or {}, actor.username, buffer_quantity, price, amount)
    return _issuance_view(session, row)


def record_issuance(session: Session, i: R.Instrument, participant: str, quantity: Decimal,
                    kind: str, serials: sr.Range, ledger_seq: int, provenance: Mapping[str, Any],
                    by: str, buffer_quantity: Decimal = Decimal(0), price: Decimal | None = None,
                    amount: Decimal | None = None) -> Issuance:  # fmt: skip
    """The registry's row of units put into circulation by journal transaction ``ledger_seq``."""
    row = Issuance(instrument=i.code, kind=kind,
                   participant_id=_participant_row(session, participant).id, quantity=quantity,
                   buffer_quantity=buffer_quantity, serial_first=serials[0],
                   serial_last=serials[1], price=price, amount=amount, ledger_seq=ledger_seq,
                   provenance=canonical_json(dict(provenance)), created_by=by,
                   created_at=iso(ledger.now()))  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _issuance_view(session: Session, row: Issuance) -> IssuanceView:
    i = get_instrument(session, row.instrument)
    code = session.scalar(select(Participant.code).where(Participant.id == row.participant_id))
    return IssuanceView(row.id, row.instrument, row.kind, str(code), row.quantity.quantize(i.quantum),
                        row.buffer_quantity.quantize(i.quantum),
                        R.serial_label(i.programme.serial_prefix, row.serial_first,
                                       row.serial_last, i.vintage),
                        row.price, row.amount, row.ledger_seq, json.loads(row.provenance),
                        row.created_at)  # fmt: skip


def set_quota(session: Session, actor: Principal, instrument: str, district: str,
              quantity: Decimal, source: str) -> None:  # fmt: skip
    """Set a district's allocation quota of an instrument (a new version of it)."""
    require_admin(actor, "set allocation quotas")
    i = get_instrument(session, instrument)
    _fail(R.check_quantity(i, quantity, "quota"))
    if not source.strip():
        raise InputError("a quota needs its source (the 总量控制 document or decision)")
    version = (session.scalar(select(func.max(Quota.version)).where(
        Quota.instrument == instrument, Quota.district == district)) or 0) + 1  # fmt: skip
    session.add(Quota(instrument=instrument, district=district, version=version,
                      quantity=quantity, source=source, created_by=actor.username))  # fmt: skip
    session.flush()


def allocated_in(session: Session, instrument: str, district: str) -> Decimal:
    """Units of ``instrument`` allocated so far to participants of ``district``."""
    stmt = (select(Issuance.quantity).join(Participant, Participant.id == Issuance.participant_id)
            .where(Issuance.instrument == instrument, Issuance.kind == "allocate",
                   Participant.region_code.startswith(district)))  # fmt: skip
    return sum(session.scalars(stmt), Decimal(0))


def allocate(
    session: Session,
    actor: Principal,
    instrument: str,
    participant: str,
    quantity: Decimal,
    district: str,
    price: Decimal | None = None,
    payee: str | None = None,
    basis: str = "",
) -> IssuanceView:
    """Government allocation (排污权, 水权) within a district's quota, free or at a paid-use price."""
    require_admin(actor, "allocate units")
    quota = session.scalar(select(Quota).where(Quota.instrument == instrument,
                                               Quota.district == district)
                           .order_by(Quota.version.desc()).limit(1))  # fmt: skip
    p = get_participant(session, participant)
    q = get_instrument(session, instrument).quantum
    problems = []
    if quota is None:
        problems.append(Problem("quota", f"district {district} has no quota of {instrument}",
                                "a quota set first", "ecovalue ledger quota …"))  # fmt: skip
    elif allocated_in(session, instrument, district) + quantity > quota.quantity:
        used, total = allocated_in(session, instrument, district).quantize(q), quota.quantity.quantize(q)
        problems.append(Problem("quantity", f"{quantity} would exceed district {district}'s quota "
                                f"{total} ({used} allocated)", f"at most {total - used}",
                                "lower the allocation"))  # fmt: skip
    if not p.region_code.startswith(district):
        problems.append(Problem("participant", f"{participant} is in {p.region_code}, not in "
                                f"district {district}", "a participant of the district",
                                "allocate from its own district's quota"))  # fmt: skip
    _fail(problems)
    assert quota is not None
    prov = {"basis": basis, "quota_version": quota.version, "quota_source": quota.source,
            "paid_use": price is not None}  # fmt: skip
    return issue(session, actor, instrument, participant, quantity, "allocate", price=price,
                 payee=payee, provenance=prov)  # fmt: skip


def issuances(session: Session, instrument: str | None = None) -> list[IssuanceView]:
    """Every issuance and allocation (the public registry), newest first."""
    stmt = select(Issuance).order_by(Issuance.id.desc())
    if instrument:
        stmt = stmt.where(Issuance.instrument == instrument)
    return [_issuance_view(session, r) for r in session.scalars(stmt)]


# ------------------------------------------------------------------ holdings by block


@dataclass(frozen=True)
class BlockView:
    """A serial block held now: its serial, quantity, status and where it is."""

    serial: str
    instrument: str
    first: int
    last: int
    quantity: Decimal
    status: str
    account: str
    since_seq: int


def _blocks(session: Session, account_keys: Sequence[str], instrument: str | None
            ) -> list[BlockView]:  # fmt: skip
    out = []
    kinds = {a.key: a.kind for k in account_keys for a in [ledger.get_account(session, k)]}
    first_seq = {}
    for (acc, com), held in sorted(ledger.lots(session, account_keys, instrument).items()):
        i = get_instrument(session, com)
        for (first, last), since in held:
            if (com, first) not in first_seq:
                first_seq[(com, first)] = since
            status = R.STATUS_OF_ACCOUNT.get(kinds[acc], R.BlockStatus.held)
            out.append(BlockView(R.serial_label(i.programme.serial_prefix, first, last, i.vintage),
                                 com, first, last, Decimal(last - first + 1) * i.quantum,
                                 status.value, acc, since))  # fmt: skip
    return out


def holdings(session: Session, actor: Principal, participant: str,
             instrument: str | None = None) -> list[BlockView]:  # fmt: skip
    """The blocks a participant holds in every account (held, escrowed, frozen, pledged, retired)."""
    require_reading(session, actor, participant)
    own = [a.key for a in ledger.accounts_of(session, participant)]
    blocks = _blocks(session, own, instrument)
    issued = _first_issuances(session, participant)
    return [
        BlockView(b.serial, b.instrument, b.first, b.last, b.quantity,
                  R.BlockStatus.issued.value if b.status == "held" and b.since_seq in issued
                  else b.status, b.account, b.since_seq)
        for b in blocks
    ]  # fmt: skip


def _first_issuances(session: Session, participant: str) -> set[int]:
    stmt = (select(Issuance.ledger_seq).join(Participant, Participant.id == Issuance.participant_id)
            .where(Participant.code == participant))  # fmt: skip
    return set(session.scalars(stmt))


def balances_of(session: Session, actor: Principal, participant: str) -> dict[str, dict[str, Decimal]]:
    """Every balance of a participant: account key → commodity → amount."""
    require_reading(session, actor, participant)
    own = [a.key for a in ledger.accounts_of(session, participant)]
    out: dict[str, dict[str, Decimal]] = {}
    for (acc, com), bal in sorted(ledger.balances(session, own).items()):
        if bal != 0:
            out.setdefault(acc, {})[com] = bal
    return out


# ------------------------------------------------------------------ freeze, pledge, retire


def _unit_problems(session: Session, participant: str, i: R.Instrument, qty: Decimal,
                   serials: Sequence[sr.Range]) -> list[Problem]:  # fmt: skip
    """Say why the units are not free to move: held elsewhere (frozen, escrowed…) or absent."""
    problems = R.check_quantity(i, qty, "quantity")
    free = ledger.balances(session, [keys.hold(participant)]).get((keys.hold(participant), i.code),
                                                                 Decimal(0))  # fmt: skip
    if serials:
        if Decimal(sr.count(serials)) * i.quantum != qty:
            problems.append(Problem("serials", f"{sr.to_text(serials)} are {sr.count(serials)} "
                                    f"serials, not {qty} {i.unit}", "serials adding up to the "
                                    "quantity", "name the right serials"))  # fmt: skip
        for first, last in serials:
            for s in (first, last):
                where = ledger.holder_of(session, i.code, s)
                if where is None or where[0] != keys.hold(participant):
                    status = "not issued" if where is None else _status_of(session, where[0])
                    label = R.serial_label(i.programme.serial_prefix, first, last, i.vintage)
                    problems.append(Problem(f"block {label}", f"serial {s} is {status}",
                                            f"held free by {participant}",
                                            "release or unfreeze the block first, or name "
                                            "serials the participant holds"))  # fmt: skip
                    break
    elif qty > free:
        tied = _tied_up(session, participant, i.code)
        problems.append(Problem(f"participant {participant}", f"holds {free} {i.unit} of {i.code} "
                                f"free{tied}", f"at most {free}", "lower the quantity"))  # fmt: skip
    return problems


def _status_of(session: Session, account: str) -> str:
    acc = ledger.get_account(session, account)
    owner = keys.owner_of(account)
    status = R.STATUS_OF_ACCOUNT.get(acc.kind, R.BlockStatus.held).value
    return f"{status}{f' (held by {owner})' if owner else ''}"


def _tied_up(session: Session, participant: str, instrument: str) -> str:
    parts = []
    own = [a for a in ledger.accounts_of(session, participant) if a.kind != AccountKind.holding]
    bal = ledger.balances(session, [a.key for a in own])
    for a in own:
        v = bal.get((a.key, instrument), Decimal(0))
        if v:
            parts.append(f"{v} {R.STATUS_OF_ACCOUNT.get(a.kind, R.BlockStatus.held).value}")
    return f" (besides {', '.join(parts)})" if parts else ""


def hold_units(session: Session, actor: Principal, kind: str, participant: str, instrument: str,
               quantity: Decimal, reason: str, serials: Sequence[sr.Range] = (),
               counterparty: str | None = None) -> Hold:  # fmt: skip
    """Freeze (dispute, court order) or pledge (质押, to ``counterparty``) units of a participant."""
    if kind == "pledge":
        require_acting_for(session, actor, participant)
    else:
        require_admin(actor, "freeze units")
    if kind not in ("freeze", "pledge"):
        raise InputError(f"hold kind '{kind}' is unknown; expected freeze or pledge")
    if not reason.strip() or (kind == "pledge" and not counterparty):
        raise InputError("a freeze needs its reason; a pledge its reason and the lender")
    i = get_instrument(session, instrument)
    _fail(_unit_problems(session, participant, i, quantity, serials))
    to = keys.frozen(participant) if kind == "freeze" else keys.pledged(participant)
    posted = _post(session, TxKind.freeze if kind == "freeze" else TxKind.pledge,
                   [(keys.hold(participant), i.code, -quantity), (to, i.code, quantity)],
                   reason, f"hold:{participant}:{i.code}", {0: tuple(serials)})  # fmt: skip
    moved = posted.entry.postings[0].serials
    row = Hold(kind=kind, participant=participant, instrument=i.code, quantity=quantity,
               serials=sr.to_text(moved), reason=reason, counterparty=counterparty,
               ledger_seq=posted.seq, released_seq=None, created_by=actor.username)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def release_hold(session: Session, actor: Principal, hold_id: int) -> Hold:
    """Unfreeze or release a pledge: the same serials go back to the holder's free units."""
    require_admin(actor, "release freezes and pledges")
    row = session.get(Hold, hold_id)
    if row is None:
        raise NotFound(f"no freeze or pledge {hold_id}")
    if row.released_seq is not None:
        raise RuleViolation([Problem(f"hold {hold_id}", f"was released by transaction "
                                     f"{row.released_seq}", "an active hold", "nothing to do")])  # fmt: skip
    src = keys.frozen(row.participant) if row.kind == "freeze" else keys.pledged(row.participant)
    posted = _post(session, TxKind.unfreeze if row.kind == "freeze" else TxKind.unpledge,
                   [(src, row.instrument, -row.quantity),
                    (keys.hold(row.participant), row.instrument, row.quantity)],
                   f"release of hold {hold_id}", f"hold:{hold_id}",
                   {0: sr.from_text(row.serials)})  # fmt: skip
    row.released_seq = posted.seq
    session.flush()
    return row


@dataclass(frozen=True)
class CertificateView:
    """A retirement certificate as shown to anyone holding its verification code."""

    number: str
    verify_code: str
    instrument: str
    instrument_name_zh: str
    instrument_name_en: str
    unit: str
    holder_code: str
    holder_name: str
    quantity: Decimal
    serials: tuple[str, ...]
    purpose: str
    beneficiary: str
    retired_at: str
    ledger_seq: int
    ledger_hash: str


def retire(session: Session, actor: Principal, participant: str, instrument: str,
           quantity: Decimal, purpose: str, beneficiary: str = "",
           serials: Sequence[sr.Range] = ()) -> CertificateView:  # fmt: skip
    """Retire units (注销) for ``purpose``; returns the certificate with its verification code."""
    require_acting_for(session, actor, participant)
    if not purpose.strip():
        raise InputError("a retirement needs its purpose (e.g. '2025 年度配额清缴' or "
                         "'offsetting the 2025 annual meeting')")  # fmt: skip
    i = get_instrument(session, instrument)
    _fail(_unit_problems(session, participant, i, quantity, serials))
    posted = _post(session, TxKind.retire,
                   [(keys.hold(participant), i.code, -quantity),
                    (keys.retired(participant), i.code, quantity)],
                   purpose, f"retire:{participant}:{i.code}", {0: tuple(serials)})  # fmt: skip
    moved = posted.entry.postings[0].serials
    count = session.scalar(select(func.count()).select_from(Certificate)) or 0
    number = f"RC-{i.vintage}-{count + 1:08d}"
    labels = ",".join(R.serial_label(i.programme.serial_prefix, a, b, i.vintage) for a, b in moved)
    row = Certificate(number=number, verify_code=secrets.token_urlsafe(18), instrument=i.code,
                      participant_id=_participant_row(session, participant).id, quantity=quantity,
                      serials=labels, purpose=purpose, beneficiary=beneficiary,
                      ledger_seq=posted.seq, ledger_hash=posted.hash,
                      retired_at=iso(posted.entry.at))  # fmt: skip
    session.add(row)
    session.flush()
    return _certificate_view(session, row)


def _certificate_view(session: Session, row: Certificate) -> CertificateView:
    i = get_instrument(session, row.instrument)
    holder = session.get(Participant, row.participant_id)
    assert holder is not None
    return CertificateView(row.number, row.verify_code, i.code, f"{i.programme.name_zh} {i.vintage}",
                           f"{i.programme.name_en} {i.vintage}", i.unit, holder.code, holder.name,
                           row.quantity.quantize(i.quantum), tuple(row.serials.split(",")), row.purpose,
                           row.beneficiary, row.retired_at, row.ledger_seq, row.ledger_hash)  # fmt: skip


def certificate(session: Session, verify_code: str) -> CertificateView:
    """The certificate with ``verify_code`` (public: anyone with the link may verify it).

    Also checks that its journal transaction still carries the hash printed on it.
    """
    row = session.scalar(select(Certificate).where(Certificate.verify_code == verify_code))
    if row is None:
        raise NotFound("no retirement certificate with this verification code; check the link")
    if ledger.get_transaction(session, row.ledger_seq).hash != row.ledger_hash:
        raise RuleViolation([Problem(f"certificate {row.number}", "its journal transaction no "
                                     "longer carries the hash printed on it", row.ledger_hash,
                                     "report this to the exchange: the journal was altered")])  # fmt: skip
    return _certificate_view(session, row)


def retirements(session: Session, instrument: str | None = None) -> list[CertificateView]:
    """Every retirement (the public registry), newest first."""
    stmt = select(Certificate).order_by(Certificate.id.desc())
    if instrument:
        stmt = stmt.where(Certificate.instrument == instrument)
    return [_certificate_view(session, r) for r in session.scalars(stmt)]


def cancel_units(session: Session, actor: Principal, participant: str, instrument: str,
                 quantity: Decimal, reason: str) -> Posted:  # fmt: skip
    """Cancel a participant's free units (administrators: e.g. an issuance found invalid)."""
    require_admin(actor, "cancel units")
    if not reason.strip():
        raise InputError("a cancellation needs its reason")
    i = get_instrument(session, instrument)
    _fail(_unit_problems(session, participant, i, quantity, ()))
    return _post(session, TxKind.cancel, [(keys.hold(participant), i.code, -quantity),
                                          (keys.CANCELLED, i.code, quantity)],
                 reason, f"cancel:{participant}:{i.code}")  # fmt: skip


def expire_units(session: Session, actor: Principal, instrument: str) -> list[Posted]:
    """Move every free, frozen or pledged unit of an expired instrument to the expiry account.

    Refused while any unit is still in escrow (open orders, bids or transfers): cancel those
    first, so nothing expires under a pending trade.
    """
    require_admin(actor, "expire rights")
    i = get_instrument(session, instrument)
    today = ledger.now().date()
    if i.valid_until is None or today <= i.valid_until:
        raise RuleViolation([Problem(f"instrument {i.code}", f"is valid until "
                                     f"{i.valid_until or 'no end'}", "an instrument past its "
                                     "validity", "expire it after its validity ends")])  # fmt: skip
    accounts = ledger.lots(session, [k for k in _all_participant_accounts(session)], i.code)
    escrowed = [a for (a, _), held in accounts.items() if ":escrow:" in a and held]
    if escrowed:
        raise RuleViolation([Problem(f"instrument {i.code}", f"units are still in escrow in "
                                     f"{escrowed[:3]}", "no open orders, bids or transfers",
                                     "cancel them first")])  # fmt: skip
    out = []
    for (acc, com), held in sorted(accounts.items()):
        qty = Decimal(sum(b - a + 1 for (a, b), _ in held)) * i.quantum
        if qty:
            out.append(_post(session, TxKind.expire, [(acc, com, -qty), (keys.EXPIRED, com, qty)],
                             f"{i.code} expired on {i.valid_until}", f"expire:{i.code}"))  # fmt: skip
    return out


EXPIRING = frozenset({AccountKind.holding, AccountKind.frozen, AccountKind.pledged, AccountKind.escrow})


def _all_participant_accounts(session: Session) -> list[str]:
    """Every participant account whose units expire (retired units stay retired)."""
    codes = list(session.scalars(select(Participant.code)))
    return [a.key for c in codes for a in ledger.accounts_of(session, c) if a.kind in EXPIRING]
