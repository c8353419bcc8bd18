"""``ledger verify``: recompute the hash chain and every derived table from the bodies.

Each stored transaction is checked for its place in the chain (no gap, ``prev_hash`` links to
the one before, the hash matches the body) and replayed through the same
:class:`~ecovalue.platform.ledger.model.JournalState` that posted it, so an entry that would be
refused today (unbalanced, an overdraft, serials its account did not hold) is named too. The
replayed state is then compared with the postings index, the balances, the lots, the issued
ranges, the snapshots and the head. Every break is reported with the row it is in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ecovalue.errors import Problem
from ecovalue.platform.audit.service import payloads_of
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger.model import JournalState, Key
from ecovalue.platform.ledger.rules import (
    GENESIS_HASH,
    AccountKind,
    Entry,
    chain_hash,
    entry_from_body,
    iso,
)
from ecovalue.platform.ledger.service import Journal, account_from_row, commodity_from_row
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

FIX = (
    "restore the journal tables from a backup; the journal is never edited "
    "(corrections are reversing transactions)"
)
DERIVED_FIX = "the derived tables can be rebuilt from the journal: `ecovalue ledger rebuild`"
BATCH = 2000


@dataclass
class VerifyReport:
    """What ``ledger verify`` found: the number of transactions, every problem, the replay."""

    transactions: int
    head_seq: int
    head_hash: str
    problems: list[Problem] = field(default_factory=list)
    state: JournalState = field(default_factory=JournalState)

    @property
    def intact(self) -> bool:
        return not self.problems


def _problem(where: str, what: str, expected: str, fix: str = FIX) -> Problem:
    return Problem(where, what, expected, fix)


def _initial_state(session: Session) -> tuple[JournalState, dict[int, str]]:
    state = JournalState()
    keys: dict[int, str] = {}
    for row in session.scalars(select(LedgerCommodity)):
        state.add_commodity(commodity_from_row(row))
    for acc in session.scalars(select(LedgerAccount)):
        state.add_account(account_from_row(acc))
        keys[acc.id] = acc.key
    return state, keys


def _postings_by_seq(
    session: Session, keys: Mapping[int, str], first: int, last: int
) -> dict[int, list[tuple[str, str, Decimal, str]]]:
    stmt = (
        select(
            LedgerPosting.seq,
            LedgerPosting.account_id,
            LedgerPosting.commodity,
            LedgerPosting.amount,
            LedgerPosting.serials,
        )
        .where(LedgerPosting.seq >= first, LedgerPosting.seq <= last)
        .order_by(LedgerPosting.seq, LedgerPosting.idx)
    )
    out: dict[int, list[tuple[str, str, Decimal, str]]] = {}
    for seq, aid, com, amount, serials in session.execute(stmt):
        out.setdefault(seq, []).append((keys.get(aid, f"#{aid}"), com, amount, serials))
    return out


def _rows(session: Session) -> Iterator[list[LedgerTransaction]]:
    last = 0
    while True:
        stmt = (
            select(LedgerTransaction)
            .where(LedgerTransaction.seq > last)
            .order_by(LedgerTransaction.seq)
            .limit(BATCH)
        )
        rows = list(session.scalars(stmt))
        if not rows:
            return
        yield rows
        last = rows[-1].seq
        session.expunge_all()


def _check_row(row: LedgerTransaction, prev: str, expected_seq: int) -> list[Problem]:
    where = f"ledger_transactions seq {row.seq}"
    out = []
    if row.seq != expected_seq:
        out.append(
            _problem(
                where,
                f"transactions {expected_seq}..{row.seq - 1} are missing",
                f"seq {expected_seq}",
            )  # fmt: skip
        )
    if row.prev_hash != prev:
        out.append(
            _problem(where, "prev_hash does not match the previous transaction's hash", prev)
        )
    recomputed = chain_hash(row.prev_hash, row.body)
    if recomputed != row.hash:
        out.append(
            _problem(
                where, "content was changed after it was written (hash does not match)", recomputed
            )  # fmt: skip
        )
    return out


def _check_anchor(row: LedgerTransaction, payload: str | None) -> list[Problem]:
    """The audit log recorded each transaction's hash when it was written: a journal
    rewritten consistently from some point on still disagrees with it."""
    where = f"ledger_transactions seq {row.seq}"
    if payload is None:
        return [_problem(where, "has no entry in the audit log", "one audit entry per transaction")]
    logged = json.loads(payload).get("hash")
    if logged != row.hash:
        return [
            _problem(
                where,
                f"hash {row.hash[:12]}… differs from the one the audit log recorded "
                f"when it was written ({str(logged)[:12]}…)",
                str(logged),
            )  # fmt: skip
        ]
    return []


def _check_columns(row: LedgerTransaction, seq: int, entry: Entry) -> list[Problem]:
    where = f"ledger_transactions seq {row.seq}"
    ref = entry.meta.get("ref")
    columns = {
        "seq": (row.seq, seq),
        "kind": (row.kind, entry.kind.value),
        "at": (row.at, iso(entry.at)),
        "reverses_seq": (row.reverses_seq, entry.reverses),
        "ref": (row.ref, None if ref is None else str(ref)),
    }
    return [
        _problem(where, f"column {name} is {got!r} but the hashed body says {want!r}", repr(want))
        for name, (got, want) in columns.items()
        if got != want
    ]


def _check_index(
    seq: int, entry: Entry, index: list[tuple[str, str, Decimal, str]]
) -> list[Problem]:
    want = [(p.account, p.commodity, p.amount, sr.to_text(p.serials)) for p in entry.postings]
    if index == want:
        return []
    return [
        _problem(f"ledger_postings seq {seq}", f"the index holds {index}", f"{want}", DERIVED_FIX)
    ]


def _replay(state: JournalState, row: LedgerTransaction, entry: Entry) -> list[Problem]:
    state.seq, state.head = row.seq - 1, row.prev_hash
    try:
        posted = state.post(entry)
    except RuleViolation as exc:
        state.seq, state.head = row.seq, row.hash
        return [
            _problem(
                f"ledger_transactions seq {row.seq}",
                f"would be refused today: {p.where}: {p.what}",
                p.expected,
            )  # fmt: skip
            for p in exc.problems
        ]
    if posted.body != row.body:
        return [
            _problem(
                f"ledger_transactions seq {row.seq}",
                "replaying it resolves other serials than its body names",
                row.body,
            )  # fmt: skip
        ]
    return []


def _snapshots(session: Session, keys: Mapping[int, str]) -> dict[int, dict[Key, Decimal]]:
    out: dict[int, dict[Key, Decimal]] = {}
    stmt = select(
        LedgerSnapshot.seq, LedgerSnapshot.account_id, LedgerSnapshot.commodity,
        LedgerSnapshot.balance,
    )  # fmt: skip
    for seq, aid, com, bal in session.execute(stmt):
        out.setdefault(seq, {})[(keys.get(aid, f"#{aid}"), com)] = bal
    return out


def _compare_balances(
    where: str, stored: Mapping[Key, Decimal], replayed: Mapping[Key, Decimal]
) -> list[Problem]:
    out = []
    for key in sorted(set(stored) | set(replayed)):
        got, want = stored.get(key, Decimal(0)), replayed.get(key, Decimal(0))
        if got != want:
            out.append(
                _problem(
                    f"{where} {key[0]} {key[1]}",
                    f"holds {got}",
                    f"{want} (recomputed from the journal)",
                    DERIVED_FIX,
                )  # fmt: skip
            )
    return out


def verify_journal(session: Session, max_problems: int = 200) -> VerifyReport:
    """Recompute the chain, replay every transaction and compare every derived table."""
    state, keys = _initial_state(session)
    snapshots = _snapshots(session, keys)
    anchors = payloads_of(session, LedgerTransaction.__tablename__)
    problems: list[Problem] = []
    prev, expected, count = GENESIS_HASH, 1, 0
    for rows in _rows(session):
        index = _postings_by_seq(session, keys, rows[0].seq, rows[-1].seq)
        for row in rows:
            count += 1
            problems += _check_row(row, prev, expected)
            problems += _check_anchor(row, anchors.get(str(row.seq)))
            prev, expected = row.hash, row.seq + 1
            try:
                seq, entry = entry_from_body(row.body)
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(
                    _problem(
                        f"ledger_transactions seq {row.seq}",
                        f"body cannot be read ({exc})",
                        "the canonical JSON the journal wrote",
                    )  # fmt: skip
                )
                continue
            problems += _check_columns(row, seq, entry)
            problems += _check_index(row.seq, entry, index.get(row.seq, []))
            problems += _replay(state, row, entry)
            if row.seq in snapshots:
                live = {k: v for k, v in state.balances.items() if v != 0}
                problems += _compare_balances(
                    f"ledger_snapshots seq {row.seq}", snapshots.pop(row.seq), live
                )
            if len(problems) >= max_problems:
                break
        if len(problems) >= max_problems:
            problems.append(_problem("ledger verify", f"stopped after {len(problems)} problems",
                                     "an intact journal"))  # fmt: skip
            return VerifyReport(count, expected - 1, prev, problems, state)
    for seq in sorted(snapshots):
        problems.append(
            _problem(
                f"ledger_snapshots seq {seq}",
                "names a transaction the journal does not have",
                f"a seq ≤ {expected - 1}",
                DERIVED_FIX,
            )  # fmt: skip
        )
    problems += _check_derived(session, keys, state)
    problems += _check_head(session, expected - 1, prev)
    return VerifyReport(count, expected - 1, prev, problems, state)


def _check_derived(session: Session, keys: Mapping[int, str], state: JournalState) -> list[Problem]:
    stored = {
        (keys.get(a, f"#{a}"), c): b
        for a, c, b in session.execute(
            select(LedgerBalance.account_id, LedgerBalance.commodity, LedgerBalance.balance)
        )
    }
    problems = _compare_balances("ledger_balances", stored, state.balances)
    held: dict[Key, list[sr.Range]] = {}
    for a, c, f, last in session.execute(
        select(
            LedgerLot.account_id, LedgerLot.commodity, LedgerLot.serial_first, LedgerLot.serial_last
        )  # fmt: skip
    ):
        held.setdefault((keys.get(a, f"#{a}"), c), []).append((f, last))
    replayed = {
        k: sorted(v) for k, v in state.lots.items()
        if v and state.accounts[k[0]].kind != AccountKind.issuance
    }  # fmt: skip
    for key in sorted(set(held) | set(replayed)):
        got, want = sorted(held.get(key, [])), replayed.get(key, [])
        if got != want:
            problems.append(
                _problem(
                    f"ledger_lots {key[0]} {key[1]}",
                    f"holds serials {sr.to_text(got)}",
                    f"{sr.to_text(want) or 'none'} (recomputed)",
                    DERIVED_FIX,
                )  # fmt: skip
            )
    issued: dict[str, list[sr.Range]] = {}
    for c, f, last in session.execute(
        select(
            LedgerIssuedRange.commodity,
            LedgerIssuedRange.serial_first,
            LedgerIssuedRange.serial_last,
        )  # fmt: skip
    ):
        issued.setdefault(c, []).append((f, last))
    for c in sorted(set(issued) | set(state.issued)):
        got, want = sorted(issued.get(c, [])), sorted(state.issued.get(c, []))
        if got != want:
            problems.append(
                _problem(
                    f"ledger_issued_ranges {c}",
                    f"lists {sr.to_text(got)}",
                    f"{sr.to_text(want)} (recomputed)",
                    DERIVED_FIX,
                )  # fmt: skip
            )
    return problems


def _check_head(session: Session, last_seq: int, last_hash: str) -> list[Problem]:
    row = session.execute(select(LedgerHead.last_seq, LedgerHead.last_hash)).first()
    seq, digest = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)
    if (seq, digest) == (last_seq, last_hash):
        return []
    return [
        _problem(
            "ledger_head",
            f"names transaction {seq} ({digest[:12]}…) but the journal ends "
            f"at {last_seq} (transactions deleted or head edited)",
            f"seq {last_seq}, hash {last_hash}",
        )  # fmt: skip
    ]


def rebuild_derived(session: Session) -> VerifyReport:
    """Rewrite the postings index, balances, lots and issued ranges from the journal's bodies.

    For repairing derived tables only: it refuses (and changes nothing) when the chain itself
    is broken, since then the bodies are not to be trusted.
    """
    Journal(session)  # the locks
    report = verify_journal(session)
    chain = [p for p in report.problems if p.where.startswith("ledger_transactions")]
    if chain:
        raise RuleViolation(chain)
    state, ids = report.state, {k: i for i, k in _initial_state(session)[1].items()}
    for table in (LedgerPosting, LedgerBalance, LedgerLot, LedgerIssuedRange):
        session.execute(delete(table))
    postings, issued = [], []
    for rows in _rows(session):
        for row in rows:
            _, entry = entry_from_body(row.body)
            for i, p in enumerate(entry.postings):
                postings.append(dict(seq=row.seq, idx=i, account_id=ids[p.account],
                                     commodity=p.commodity, amount=p.amount,
                                     serials=sr.to_text(p.serials)))  # fmt: skip
                if p.amount < 0 and state.accounts[p.account].kind == AccountKind.issuance:
                    issued += [dict(commodity=p.commodity, serial_first=a, serial_last=b,
                                    seq=row.seq) for a, b in p.serials]  # fmt: skip
    for table, values in (
        (LedgerPosting, postings),
        (LedgerIssuedRange, issued),
        (LedgerBalance, [dict(account_id=ids[a], commodity=c, balance=b, last_seq=report.head_seq)
                         for (a, c), b in state.balances.items()]),
        (LedgerLot, [dict(account_id=ids[a], commodity=c, serial_first=f, serial_last=last,
                          since_seq=report.head_seq)
                     for (a, c), ranges in state.lots.items()
                     if state.accounts[a].kind != AccountKind.issuance
                     for f, last in ranges]),
    ):  # fmt: skip
        for i in range(0, len(values), 5000):
            session.execute(insert(table), values[i : i + 5000])
    session.execute(
        update(LedgerHead)
        .where(LedgerHead.id == 1)
        .values(last_seq=report.head_seq, last_hash=report.head_hash)
    )
    return verify_journal(session)
