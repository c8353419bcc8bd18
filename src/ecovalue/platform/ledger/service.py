"""The journal's services: commodities, accounts, posting, reversal, balances, statements.

Posting goes through a :class:`Journal`, opened on the caller's session (one unit of work):
it takes the audit chain's lock and then the journal head's (always in that order, so
writers never wait on each other in a circle), loads what the entries touch into a
:class:`~ecovalue.platform.ledger.model.JournalState`, checks and applies each entry there
and writes the rows with Core statements when flushed. Every invariant is checked inside
that locked transaction; the caller's commit makes it durable, and only then may anything be
acknowledged (docs/decisions/0120-one-journal.md, 0123-group-commit.md).

Verification lives in :mod:`ecovalue.platform.ledger.verify`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from ecovalue.db.bulk import delete_rows, insert_rows, update_rows
from ecovalue.errors import InputError, Problem
from ecovalue.platform.audit.service import Head, lock_head, record_inserts
from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger.model import JournalState, Key
from ecovalue.platform.ledger.rules import (
    GENESIS_HASH,
    ZERO,
    Account,
    AccountKind,
    Commodity,
    Entry,
    Posted,
    entry_from_body,
    iso,
    reversing,
)
from ecovalue.platform.ledger.serials import Range
from ecovalue.platform.ledger.tables import (
    LedgerAccount,
    LedgerBalance,
    LedgerCommodity,
    LedgerHead,
    LedgerIssuedRange,
    LedgerLot,
    LedgerPosting,
    LedgerSnapshot,
    LedgerTransaction,
)

CHUNK = 500  # ids per IN (...) list
# The journal writes its rows with Core statements on these tables (no ORM bookkeeping).
TX = cast(Table, LedgerTransaction.__table__)
POSTINGS = cast(Table, LedgerPosting.__table__)
BALANCES = cast(Table, LedgerBalance.__table__)
LOTS = cast(Table, LedgerLot.__table__)
ISSUED = cast(Table, LedgerIssuedRange.__table__)
HEAD = cast(Table, LedgerHead.__table__)


def now() -> dt.datetime:
    """The current UTC time (journal times are UTC)."""
    return dt.datetime.now(dt.UTC)


def _chunks(items: Sequence[object], n: int = CHUNK) -> Iterator[Sequence[object]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def account_from_row(row: LedgerAccount) -> Account:
    opened = _time(row.opened_at)
    assert opened is not None
    return Account(row.key, AccountKind(row.kind), row.owner, opened, _time(row.closed_at),
                   row.commodity)  # fmt: skip


def commodity_from_row(row: LedgerCommodity) -> Commodity:
    return Commodity(row.code, row.unit, row.places, row.serial, row.name_zh, row.name_en)


# ------------------------------------------------------------------ reference data


def register_commodity(session: Session, commodity: Commodity) -> Commodity:
    """Register ``commodity``; registering the same one again is a no-op, a different one fails."""
    row = session.get(LedgerCommodity, commodity.code)
    if row is not None:
        if commodity_from_row(row) != commodity:
            raise RuleViolation(
                [
                    Problem(
                        f"commodity {commodity.code}",
                        f"is registered as {commodity_from_row(row)}",
                        "the same definition",
                        "choose another code; commodities never change",
                    )
                ]
            )
        return commodity
    if not 0 <= commodity.places <= 6:
        raise InputError(
            f"commodity {commodity.code}: {commodity.places} decimal places; expected 0 to 6"
        )
    session.add(LedgerCommodity(code=commodity.code, unit=commodity.unit,
                                places=commodity.places, serial=commodity.serial,
                                name_zh=commodity.name_zh, name_en=commodity.name_en,
                                created_at=iso(now())))  # fmt: skip
    session.flush()
    return commodity


def get_commodity(session: Session, code: str) -> Commodity:
    """The commodity ``code``; raises NotFound."""
    row = session.get(LedgerCommodity, code)
    if row is None:
        raise NotFound(f"no commodity '{code}' in the journal")
    return commodity_from_row(row)


def open_account(
    session: Session,
    key: str,
    kind: AccountKind,
    owner: str,
    commodity: str | None = None,
    at: dt.datetime | None = None,
) -> Account:
    """Open an account; its key must be new."""
    if session.scalar(select(LedgerAccount.id).where(LedgerAccount.key == key)) is not None:
        raise RuleViolation(
            [Problem(f"account {key}", "is already open", "a new key", "use the existing account")]
        )
    if commodity is not None:
        get_commodity(session, commodity)
    when = at or now()
    session.add(LedgerAccount(key=key, kind=kind.value, owner=owner, commodity=commodity,
                              opened_at=iso(when)))  # fmt: skip
    session.flush()
    return Account(key, kind, owner, when, None, commodity)


def ensure_accounts(
    session: Session, wanted: Iterable[tuple[str, AccountKind, str]], at: dt.datetime | None = None
) -> None:
    """Open each (key, kind, owner) account that does not exist yet (one query, one insert)."""
    by_key = {k: (kind, owner) for k, kind, owner in wanted}
    if not by_key:
        return
    have: set[str] = set()
    for chunk in _chunks(sorted(by_key)):
        have.update(session.scalars(select(LedgerAccount.key).where(LedgerAccount.key.in_(chunk))))
    new = [k for k in by_key if k not in have]
    if new:
        when = iso(at or now())
        session.add_all(
            LedgerAccount(key=k, kind=by_key[k][0].value, owner=by_key[k][1], opened_at=when)
            for k in sorted(new)
        )
        session.flush()


def get_account(session: Session, key: str) -> Account:
    """The account ``key``; raises NotFound."""
    row = session.scalar(select(LedgerAccount).where(LedgerAccount.key == key))
    if row is None:
        raise NotFound(f"no journal account '{key}'")
    return account_from_row(row)


def accounts_of(session: Session, owner: str) -> list[Account]:
    """Every account of ``owner``, by key."""
    rows = session.scalars(select(LedgerAccount).where(LedgerAccount.owner == owner)
                           .order_by(LedgerAccount.key))  # fmt: skip
    return [account_from_row(r) for r in rows]


def close_account(session: Session, key: str, at: dt.datetime | None = None) -> Account:
    """Close an account whose every balance is zero; later postings to it are refused."""
    row = session.scalar(select(LedgerAccount).where(LedgerAccount.key == key))
    if row is None:
        raise NotFound(f"no journal account '{key}'")
    if row.closed_at is not None:
        raise RuleViolation(
            [
                Problem(
                    f"account {key}",
                    f"was closed at {row.closed_at}",
                    "an open account",
                    "nothing to do",
                )
            ]
        )
    Journal(session)  # the locks: nothing posts to the account while it closes
    left = {c: b for (a, c), b in balances(session, [key]).items() if b != 0}
    if left:
        raise RuleViolation(
            [
                Problem(
                    f"account {key}",
                    f"still holds {left}",
                    "zero balances",
                    "move what it holds to another account first",
                )
            ]
        )
    row.closed_at = iso(at or now())
    session.flush()
    return account_from_row(row)


# ------------------------------------------------------------------ the database as a source


class _DbSource:
    """Loads journal state from the database for a :class:`JournalState` (inside the lock)."""

    complete = False

    def __init__(self, session: Session):
        self.session = session
        self.ids: dict[str, int] = {}
        self.keys: dict[int, str] = {}
        self.balance_rows: set[Key] = set()
        self.loaded_lots: dict[Key, dict[int, int]] = {}  # first -> last, as stored

    def load_accounts(self, keys: Iterable[str]) -> Mapping[str, Account]:
        out = {}
        for chunk in _chunks(sorted(keys)):
            for row in self.session.scalars(
                select(LedgerAccount).where(LedgerAccount.key.in_(chunk))
            ):
                self.ids[row.key], self.keys[row.id] = row.id, row.key
                out[row.key] = account_from_row(row)
        return out

    def load_commodities(self, codes: Iterable[str]) -> Mapping[str, Commodity]:
        rows = self.session.scalars(select(LedgerCommodity).where(LedgerCommodity.code.in_(codes)))
        return {r.code: commodity_from_row(r) for r in rows}

    def load_positions(
        self, keys: Iterable[Key], with_lots: bool
    ) -> Mapping[Key, tuple[Decimal, tuple[Range, ...]]]:
        wanted = {k for k in keys if k[0] in self.ids}
        ids = sorted({self.ids[a] for a, _ in wanted})
        out: dict[Key, tuple[Decimal, tuple[Range, ...]]] = {}
        lots: dict[Key, list[Range]] = {}
        for chunk in _chunks(ids):
            stmt = select(
                LedgerBalance.account_id, LedgerBalance.commodity, LedgerBalance.balance
            ).where(LedgerBalance.account_id.in_(chunk))
            for aid, com, bal in self.session.execute(stmt):
                key = (self.keys[aid], com)
                if key in wanted:
                    out[key] = (bal, ())
                    self.balance_rows.add(key)
            if with_lots:
                stmt2 = select(
                    LedgerLot.account_id,
                    LedgerLot.commodity,
                    LedgerLot.serial_first,
                    LedgerLot.serial_last,
                ).where(LedgerLot.account_id.in_(chunk))
                for aid, com, first, last in self.session.execute(stmt2):
                    key = (self.keys[aid], com)
                    if key in wanted:
                        lots.setdefault(key, []).append((first, last))
        for key in wanted:
            if with_lots:
                got = tuple(sorted(lots.get(key, [])))
                self.loaded_lots[key] = dict(got)
                out[key] = (out.get(key, (ZERO, ()))[0], got)
        return out

    def issued_overlapping(self, commodity: str, ranges: Iterable[Range]) -> list[Range]:
        out = []
        for first, last in ranges:
            stmt = select(LedgerIssuedRange.serial_first, LedgerIssuedRange.serial_last).where(
                LedgerIssuedRange.commodity == commodity,
                LedgerIssuedRange.serial_first <= last,
                LedgerIssuedRange.serial_last >= first,
            )
            out += [(a, b) for a, b in self.session.execute(stmt)]
        return out

    def was_reversed(self, seq: int) -> bool:
        stmt = select(LedgerTransaction.seq).where(LedgerTransaction.reverses_seq == seq)
        return self.session.scalar(stmt) is not None


# ------------------------------------------------------------------ posting


def _lock_journal_head(session: Session) -> tuple[int, str]:
    # The no-op UPDATE takes the row's write lock before it is read (as the audit head does).
    conn = session.connection()
    done = conn.execute(update(HEAD).where(HEAD.c.id == 1).values(last_seq=HEAD.c.last_seq))
    if done.rowcount == 0:
        conn.execute(insert(HEAD).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
    row = conn.execute(select(HEAD.c.last_seq, HEAD.c.last_hash)).one()
    return int(row.last_seq), str(row.last_hash)


@dataclass
class JournalCache:
    """What a :class:`Journal` loaded, kept by a caller between its transactions.

    Valid while the audit head is still ``token`` (the head after the caller's last write):
    any write by anyone else moves it.
    """

    state: JournalState
    source: _DbSource
    token: Head | None


class Journal:
    """Posts entries in the caller's transaction; :meth:`flush` writes them.

    Opening one takes the audit and journal locks for the rest of the transaction. Entries
    posted are kept in memory until :meth:`flush`; the caller's unit of work commits them.
    With ``cache`` (from :meth:`keep` after the caller's previous commit) the balances, lots
    and accounts loaded then are reused if nobody has written since (``reused``).
    """

    def __init__(self, session: Session, actor: str | None = None,
                 cache: JournalCache | None = None):  # fmt: skip
        self.session = session
        self.actor = actor or str(session.info.get("actor", "system"))
        self.token = lock_head(session)
        seq, last = _lock_journal_head(session)
        self.reused = bool(cache and cache.token == self.token and cache.state.seq == seq
                           and cache.state.head == last)  # fmt: skip
        if cache is not None and self.reused:
            cache.source.session = session
            self.source, self.state = cache.source, cache.state
        else:
            self.source = _DbSource(session)
            self.state = JournalState(self.source, seq, last)
        self.pending: list[Posted] = []
        self._touched: set[Key] = set()

    def keep(self, token: Head | None) -> JournalCache:
        """What to pass as ``cache`` next time; ``token``: the audit head after the commit's
        last write (valid only if the transaction commits)."""
        return JournalCache(self.state, self.source, token)

    def preload(self, keys: Iterable[Key], lots: Iterable[Key] = ()) -> None:
        """Load what these positions hold (and the lots of ``lots``) in bulk: a speed hint."""
        self.state.preload(keys, lots)

    def post(self, entry: Entry) -> Posted:
        """Check and apply ``entry``; raises RuleViolation (nothing changes) when refused."""
        posted = self.state.post(entry)
        self.pending.append(posted)
        self._touched.update((p.account, p.commodity) for p in posted.entry.postings)
        return posted

    def try_post(self, entry: Entry) -> Posted | list[Problem]:
        """:meth:`post`, returning the problems instead of raising them."""
        try:
            return self.post(entry)
        except RuleViolation as exc:
            return exc.problems

    def balance(self, account: str, commodity: str) -> Decimal:
        """The balance now, including entries posted but not flushed."""
        return self.state.balance(account, commodity)

    def assert_balance(self, account: str, commodity: str, expected: Decimal, why: str) -> None:
        """Raise InvariantBroken unless the balance is ``expected`` (in this transaction)."""
        self.state.assert_balance(account, commodity, expected, why)

    def flush(self) -> list[Posted]:
        """Write the pending transactions and every derived row; returns what was written."""
        posted, self.pending = self.pending, []
        if not posted:
            return []
        conn, ids = self.session.connection(), self.source.ids
        tx_rows = [_tx_row(p, self.actor) for p in posted]
        insert_rows(conn, TX, tx_rows)
        insert_rows(conn, POSTINGS, [
            dict(seq=p.seq, idx=i, account_id=ids[q.account], commodity=q.commodity,
                 amount=q.amount, serials=sr.to_text(q.serials))
            for p in posted for i, q in enumerate(p.entry.postings)
        ])  # fmt: skip
        kinds = self.state.accounts
        issued = [
            dict(commodity=q.commodity, serial_first=a, serial_last=b, seq=p.seq)
            for p in posted for q in p.entry.postings
            if q.amount < 0 and q.serials and kinds[q.account].kind == AccountKind.issuance
            for a, b in q.serials
        ]  # fmt: skip
        insert_rows(conn, ISSUED, issued)
        self._write_balances(posted[-1].seq)
        self._write_lots(posted[-1].seq)
        self._touched = set()
        conn.execute(
            update(HEAD).where(HEAD.c.id == 1).values(last_seq=posted[-1].seq,
                                                      last_hash=posted[-1].hash)
        )  # fmt: skip
        record_inserts(self.session, TX, tx_rows, self.actor)
        return posted

    def _write_balances(self, seq: int) -> None:
        conn, ids, st = self.session.connection(), self.source.ids, self.state
        new_rows: list[dict[str, Any]] = []
        upd_rows: list[dict[str, Any]] = []
        for key in sorted(self._touched):
            row = dict(balance=st.balances[key], last_seq=seq, account_id=ids[key[0]],
                       commodity=key[1])  # fmt: skip
            (upd_rows if key in self.source.balance_rows else new_rows).append(row)
            self.source.balance_rows.add(key)
        update_rows(conn, BALANCES, ("account_id", "commodity"), upd_rows)
        insert_rows(conn, BALANCES, new_rows)

    def _write_lots(self, seq: int) -> None:
        conn, ids, st = self.session.connection(), self.source.ids, self.state
        gone: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for key in sorted(self._touched):
            if key not in st.lots or key in st.added:
                continue
            before = self.source.loaded_lots.get(key, {})
            after = dict(st.lots[key])
            gone += [dict(commodity=key[1], serial_first=f) for f, last in before.items()
                     if after.get(f) != last]  # fmt: skip
            added += [dict(account_id=ids[key[0]], commodity=key[1], serial_first=f,
                           serial_last=last, since_seq=seq)
                      for f, last in after.items() if before.get(f) != last]  # fmt: skip
            self.source.loaded_lots[key] = after
        for key, ranges in sorted(st.added.items()):  # credits to positions not loaded
            added += [dict(account_id=ids[key[0]], commodity=key[1], serial_first=f,
                           serial_last=last, since_seq=seq) for f, last in ranges]  # fmt: skip
        st.added.clear()
        # all deletes before the inserts: a lot moved whole keeps its first serial
        delete_rows(conn, LOTS, ("commodity", "serial_first"), gone)
        insert_rows(conn, LOTS, added)


def _tx_row(p: Posted, actor: str) -> dict[str, object]:
    ref = p.entry.meta.get("ref")
    return dict(seq=p.seq, kind=p.entry.kind.value, at=iso(p.entry.at), actor=actor,
                ref=str(ref) if ref is not None else None, reverses_seq=p.entry.reverses,
                body=p.body, prev_hash=p.prev_hash, hash=p.hash)  # fmt: skip


def post(session: Session, entry: Entry, actor: str | None = None) -> Posted:
    """Post one entry in the caller's transaction (opens a :class:`Journal` and flushes it)."""
    journal = Journal(session, actor)
    posted = journal.post(entry)
    journal.flush()
    return posted


def get_transaction(session: Session, seq: int) -> Posted:
    """The posted transaction ``seq``; raises NotFound."""
    row = session.get(LedgerTransaction, seq)
    if row is None:
        raise NotFound(f"no journal transaction {seq}")
    _, entry = entry_from_body(row.body)
    return Posted(row.seq, entry, row.body, row.prev_hash, row.hash)


def transactions_by_ref(session: Session, ref: str) -> list[Posted]:
    """Transactions whose meta ``ref`` is ``ref`` (e.g. ``trade:12``), oldest first."""
    seqs = session.scalars(select(LedgerTransaction.seq).where(LedgerTransaction.ref == ref)
                           .order_by(LedgerTransaction.seq))  # fmt: skip
    return [get_transaction(session, s) for s in seqs]


def reverse(session: Session, seq: int, memo: str, actor: str | None = None) -> Posted:
    """Post the reversal of transaction ``seq`` (linked to it); the original stays as it was."""
    if not memo.strip():
        raise InputError("a reversal needs a memo saying why (e.g. 'entered twice')")
    original = get_transaction(session, seq)
    return post(session, reversing(original, now(), memo), actor)


# ------------------------------------------------------------------ reading


def _ids(session: Session, keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(keys))):
        stmt = select(LedgerAccount.key, LedgerAccount.id).where(LedgerAccount.key.in_(chunk))
        out.update({k: i for k, i in session.execute(stmt)})
    return out


def quanta(session: Session) -> dict[str, Decimal]:
    """The smallest amount of every commodity (to show amounts with their own places)."""
    rows = session.execute(select(LedgerCommodity.code, LedgerCommodity.places))
    return {code: Decimal(1).scaleb(-places) for code, places in rows}


def balances(session: Session, keys: Iterable[str]) -> dict[Key, Decimal]:
    """Current balances of the accounts ``keys`` by (account, commodity), zero ones included.

    Amounts have their commodity's decimal places."""
    ids = _ids(session, keys)
    back = {i: k for k, i in ids.items()}
    out: dict[Key, Decimal] = {}
    for chunk in _chunks(sorted(back)):
        stmt = select(LedgerBalance.account_id, LedgerBalance.commodity, LedgerBalance.balance
                      ).where(LedgerBalance.account_id.in_(chunk))  # fmt: skip
        out.update({(back[a], c): b for a, c, b in session.execute(stmt)})
    q = quanta(session)
    return {k: v.quantize(q[k[1]]) for k, v in out.items()}


def lots(
    session: Session, keys: Iterable[str], commodity: str | None = None
) -> dict[Key, list[tuple[Range, int]]]:
    """Serial ranges held now by the accounts ``keys``: ((first, last), since seq), by position."""
    ids = _ids(session, keys)
    back = {i: k for k, i in ids.items()}
    out: dict[Key, list[tuple[Range, int]]] = {}
    for chunk in _chunks(sorted(back)):
        stmt = (
            select(
                LedgerLot.account_id,
                LedgerLot.commodity,
                LedgerLot.serial_first,
                LedgerLot.serial_last,
                LedgerLot.since_seq,
            )
            .where(LedgerLot.account_id.in_(chunk))
            .order_by(LedgerLot.serial_first)
        )
        if commodity is not None:
            stmt = stmt.where(LedgerLot.commodity == commodity)
        for a, c, f, last, since in session.execute(stmt):
            out.setdefault((back[a], c), []).append(((f, last), since))
    return out


def holder_of(session: Session, commodity: str, serial: int) -> tuple[str, Range] | None:
    """Which account holds ``serial`` of ``commodity`` now, and the range it is in."""
    stmt = (select(LedgerAccount.key, LedgerLot.serial_first, LedgerLot.serial_last)
            .join(LedgerAccount, LedgerAccount.id == LedgerLot.account_id)
            .where(LedgerLot.commodity == commodity, LedgerLot.serial_first <= serial,
                   LedgerLot.serial_last >= serial))  # fmt: skip
    row = session.execute(stmt).first()
    return None if row is None else (row[0], (row[1], row[2]))


@dataclass(frozen=True)
class StatementLine:
    """One posting of an account statement with the balance after it."""

    seq: int
    at: str
    kind: str
    commodity: str
    amount: Decimal
    serials: str
    balance: Decimal
    memo: str


def balance_at(session: Session, key: str, commodity: str, seq: int) -> Decimal:
    """The balance of ``key`` in ``commodity`` right after transaction ``seq``.

    Starts from the newest snapshot at or before ``seq`` and adds the postings after it.
    """
    aid = _ids(session, [key]).get(key)
    if aid is None:
        raise NotFound(f"no journal account '{key}'")
    # a snapshot lists every non-zero balance, so no row in the newest one means zero then
    start_seq = (
        session.scalar(select(func.max(LedgerSnapshot.seq)).where(LedgerSnapshot.seq <= seq)) or 0
    )
    total = session.scalar(
        select(LedgerSnapshot.balance).where(
            LedgerSnapshot.seq == start_seq, LedgerSnapshot.account_id == aid,
            LedgerSnapshot.commodity == commodity)
    ) or ZERO  # fmt: skip
    amounts = session.scalars(
        select(LedgerPosting.amount).where(
            LedgerPosting.account_id == aid, LedgerPosting.commodity == commodity,
            LedgerPosting.seq > start_seq, LedgerPosting.seq <= seq)
    )  # fmt: skip
    return sum(amounts, total).quantize(quanta(session)[commodity])


def statement(
    session: Session, key: str, commodity: str, limit: int = 100, before_seq: int | None = None
) -> list[StatementLine]:
    """The newest ``limit`` postings of an account in a commodity (before ``before_seq``)."""
    aid = _ids(session, [key]).get(key)
    if aid is None:
        raise NotFound(f"no journal account '{key}'")
    stmt = (select(LedgerPosting.seq, LedgerTransaction.at, LedgerTransaction.kind,
                   LedgerPosting.amount, LedgerPosting.serials, LedgerTransaction.body)
            .join(LedgerTransaction, LedgerTransaction.seq == LedgerPosting.seq)
            .where(LedgerPosting.account_id == aid, LedgerPosting.commodity == commodity)
            .order_by(LedgerPosting.seq.desc(), LedgerPosting.idx.desc()).limit(limit))  # fmt: skip
    if before_seq is not None:
        stmt = stmt.where(LedgerPosting.seq < before_seq)
    rows = list(session.execute(stmt))
    if not rows:
        return []
    end = balance_at(session, key, commodity, rows[0][0])
    q = quanta(session)[commodity]
    out = []
    for seq, at, kind, amount, serials, body in rows:
        amount = amount.quantize(q)
        memo = entry_from_body(body)[1].memo
        out.append(StatementLine(seq, at, kind, commodity, amount, serials, end, memo))
        end -= amount
    return out


def head(session: Session) -> tuple[int, str]:
    """(last seq, last hash) of the journal; (0, genesis) when empty."""
    row = session.execute(select(LedgerHead.last_seq, LedgerHead.last_hash)).first()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def take_snapshot(session: Session) -> int:
    """Record every non-zero balance as of the journal's head; returns that seq."""
    Journal(session)  # the locks: no posting between reading the head and the balances
    seq, _ = head(session)
    if session.scalar(select(LedgerSnapshot.seq).where(LedgerSnapshot.seq == seq).limit(1)):
        return seq
    rows = session.execute(select(LedgerBalance.account_id, LedgerBalance.commodity,
                                  LedgerBalance.balance))  # fmt: skip
    values = [dict(seq=seq, account_id=a, commodity=c, balance=b) for a, c, b in rows if b != 0]
    if values:
        session.execute(insert(LedgerSnapshot), values)
    return seq
