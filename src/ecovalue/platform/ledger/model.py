"""The journal's state in memory and the one function that applies an entry to it.

:class:`JournalState` holds balances per (account, commodity), the lots (serial ranges) of
every account, the serial ranges ever issued and the chain head. :meth:`JournalState.post`
checks an entry against every invariant and, only if all hold, applies it and returns the
posted transaction with its hash; a refused entry changes nothing. The invariants:

* postings balance per commodity and respect each commodity's decimal places;
* accounts exist, are open at the entry's time and accept the commodity;
* no account outside the issuance kind goes below zero (no overdraft);
* serials moved out of an account are held by it; new serials were never issued before;
* for every serial commodity, the serials an account holds add up to its balance.

The same code posts in the service (its state a cache loaded from the database inside the
locked transaction, through a :class:`StateSource`), replays the whole journal in
``ledger verify``, and runs the property tests' 10⁵ random operations. Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from ecovalue.errors import Problem
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger.rules import (
    GENESIS_HASH,
    MAY_GO_NEGATIVE,
    ZERO,
    Account,
    AccountKind,
    Commodity,
    Entry,
    Posted,
    Posting,
    TxKind,
    chain_hash,
    check_amounts,
    check_balanced,
    entry_body,
)
from ecovalue.platform.ledger.serials import Range

Key = tuple[str, str]  # (account key, commodity code)


class StateSource(Protocol):
    """Where a :class:`JournalState` loads what it has not seen yet (the database).

    ``complete`` is True when the state already holds everything (a journal in memory):
    whatever it has not seen is then empty.
    """

    complete: bool

    def load_accounts(self, keys: Iterable[str]) -> Mapping[str, Account]: ...

    def load_commodities(self, codes: Iterable[str]) -> Mapping[str, Commodity]: ...

    def load_positions(
        self, keys: Iterable[Key], with_lots: bool
    ) -> Mapping[Key, tuple[Decimal, tuple[Range, ...]]]: ...

    def issued_overlapping(self, commodity: str, ranges: Iterable[Range]) -> list[Range]: ...

    def was_reversed(self, seq: int) -> bool: ...


class EmptySource:
    """A source with nothing in it: a journal that lives only in memory."""

    complete = True

    def load_accounts(self, keys: Iterable[str]) -> Mapping[str, Account]:
        return {}

    def load_commodities(self, codes: Iterable[str]) -> Mapping[str, Commodity]:
        return {}

    def load_positions(
        self, keys: Iterable[Key], with_lots: bool
    ) -> Mapping[Key, tuple[Decimal, tuple[Range, ...]]]:
        return {}

    def issued_overlapping(self, commodity: str, ranges: Iterable[Range]) -> list[Range]:
        return []

    def was_reversed(self, seq: int) -> bool:
        return False


class InvariantBroken(RuleViolation):
    """An invariant that the journal's own code should make impossible failed: a bug."""


@dataclass
class _Work:
    """What one entry would change, computed before anything is applied."""

    postings: list[Posting] = field(default_factory=list)
    balances: dict[Key, Decimal] = field(default_factory=dict)
    lots: dict[Key, tuple[Range, ...]] = field(default_factory=dict)
    added: dict[Key, list[Range]] = field(default_factory=dict)  # credits to unloaded lots
    moved: dict[Key, int] = field(default_factory=dict)  # serials in (+) and out (−)
    issued: dict[str, list[Range]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class JournalState:
    """Balances, lots, issued serials and the chain head; a cache over ``source``."""

    source: StateSource = field(default_factory=EmptySource)
    seq: int = 0
    head: str = GENESIS_HASH
    accounts: dict[str, Account] = field(default_factory=dict)
    commodities: dict[str, Commodity] = field(default_factory=dict)
    balances: dict[Key, Decimal] = field(default_factory=dict)
    lots: dict[Key, tuple[Range, ...]] = field(default_factory=dict)
    issued: dict[str, list[Range]] = field(default_factory=dict)
    reversed: set[int] = field(default_factory=set)
    # Lots are loaded only for positions a posting takes serials from; serials credited to a
    # position whose lots are not loaded wait in ``added`` (the service writes them as new
    # lots), so crediting an account that holds many lots never reads them all.
    added: dict[Key, list[Range]] = field(default_factory=dict)
    counts: dict[Key, int] = field(default_factory=dict)  # serials held, for loaded lots
    _lots_loaded: set[Key] = field(default_factory=set)

    # ------------------------------------------------------------------ cache

    def add_account(self, account: Account) -> None:
        """Make ``account`` known (opening it is the service's business)."""
        self.accounts[account.key] = account

    def add_commodity(self, commodity: Commodity) -> None:
        """Make ``commodity`` known."""
        self.commodities[commodity.code] = commodity

    def preload(self, keys: Iterable[Key], lots: Iterable[Key] = ()) -> None:
        """Load the accounts, commodities and balances of ``keys`` (and the lots of ``lots``)."""
        lots = [k for k in lots if k not in self._lots_loaded]
        keys = [k for k in keys if k not in self.balances or k[0] not in self.accounts]
        if not keys and not lots:
            return  # everything is here already (the common case)
        keys = set(keys) | set(lots)
        missing_acc = {a for a, _ in keys if a not in self.accounts}
        if missing_acc:
            self.accounts.update(self.source.load_accounts(missing_acc))
        missing_com = {c for _, c in keys if c not in self.commodities}
        if missing_com:
            self.commodities.update(self.source.load_commodities(missing_com))
        want_lots = {k for k in lots if self._serial(k[1])}
        if self.source.complete:
            want_lots |= {k for k in keys if self._serial(k[1])}
        need_lots = [k for k in want_lots if k not in self._lots_loaded]
        need_bal = [k for k in keys if k not in self.balances and k not in need_lots]
        loaded: dict[Key, tuple[Decimal, tuple[Range, ...]]] = {}
        if not self.source.complete:
            if need_bal:
                loaded.update(self.source.load_positions(need_bal, False))
            if need_lots:
                loaded.update(self.source.load_positions(need_lots, True))
        for k in need_bal:
            self._set_balance(k, loaded.get(k, (ZERO, ()))[0])
        for k in need_lots:
            bal, held = loaded.get(k, (ZERO, ()))
            if k not in self.balances:
                self._set_balance(k, bal)
            self.lots[k] = sr.add(held, self.added.pop(k, ()))
            self.counts[k] = sr.count(self.lots[k])
            self._lots_loaded.add(k)

    def _set_balance(self, key: Key, value: Decimal) -> None:
        c = self.commodities.get(key[1])
        self.balances[key] = value.quantize(c.quantum) if c else value

    def _serial(self, commodity: str) -> bool:
        c = self.commodities.get(commodity)
        return bool(c and c.serial)

    def balance(self, account: str, commodity: str) -> Decimal:
        """The balance of ``account`` in ``commodity`` (loaded on first use)."""
        self.preload([(account, commodity)])
        return self.balances[(account, commodity)]

    def lots_of(self, account: str, commodity: str) -> tuple[Range, ...]:
        """The serial ranges ``account`` holds of ``commodity``."""
        self.preload([], [(account, commodity)])
        return self.lots.get((account, commodity), ())

    # ------------------------------------------------------------------ posting

    def post(self, entry: Entry) -> Posted:
        """Check ``entry`` against every invariant, apply it and return it posted.

        Raises :class:`RuleViolation` listing every problem (nothing changes then).
        """
        self.preload([(p.account, p.commodity) for p in entry.postings])
        self.preload([], [
            (p.account, p.commodity) for p in entry.postings
            if p.amount < 0 and p.account in self.accounts
            and self.accounts[p.account].kind != AccountKind.issuance
        ])  # fmt: skip
        work = _Work()
        work.problems += check_amounts(entry, self.commodities)
        work.problems += check_balanced(entry.postings)
        work.problems += self._check_accounts(entry)
        work.problems += self._check_reversal(entry)
        if work.problems:
            raise RuleViolation(work.problems)
        self._resolve_serials(entry, work)
        self._check_balances(entry, work)
        if work.problems:
            raise RuleViolation(work.problems)
        self._check_lots_match(work)
        resolved = Entry(entry.kind, tuple(work.postings), entry.at, entry.memo,
                         entry.reverses, entry.meta)  # fmt: skip
        seq = self.seq + 1
        body = entry_body(seq, resolved)
        digest = chain_hash(self.head, body)
        self.balances.update(work.balances)
        self.lots.update(work.lots)
        for key, n in work.moved.items():
            if key in self._lots_loaded:
                self.counts[key] = self.counts.get(key, 0) + n
        for key, ranges in work.added.items():
            self.added.setdefault(key, []).extend(ranges)
        for c, ranges in work.issued.items():
            self.issued.setdefault(c, []).extend(ranges)
        if entry.reverses is not None:
            self.reversed.add(entry.reverses)
        posted = Posted(seq, resolved, body, self.head, digest)
        self.seq, self.head = seq, digest
        return posted

    def _check_accounts(self, entry: Entry) -> list[Problem]:
        problems = []
        for i, p in enumerate(entry.postings):
            where = f"posting {i + 1} ({p.account})"
            acc = self.accounts.get(p.account)
            if acc is None:
                problems.append(
                    Problem(
                        where,
                        f"account '{p.account}' does not exist",
                        "an open account",
                        "open the account first",
                    )
                )
                continue
            if entry.at < acc.opened_at:
                problems.append(
                    Problem(
                        where,
                        f"the entry's time {entry.at} is before the account opened "
                        f"({acc.opened_at})",
                        "a time in the account's lifetime",
                        "post at or after the opening time",
                    )
                )
            if acc.closed_at is not None and entry.at >= acc.closed_at:
                problems.append(
                    Problem(
                        where,
                        f"account '{p.account}' was closed at {acc.closed_at}",
                        "an open account",
                        "post to the account that replaced it",
                    )
                )
            if acc.commodity is not None and acc.commodity != p.commodity:
                problems.append(
                    Problem(
                        where,
                        f"account '{p.account}' holds only {acc.commodity}, not {p.commodity}",
                        f"a {acc.commodity} posting",
                        "post this commodity to another account",
                    )
                )
        return problems

    def _check_reversal(self, entry: Entry) -> list[Problem]:
        if entry.kind != TxKind.reversal:
            if entry.reverses is not None:
                return [
                    Problem(
                        "reverses",
                        "only a reversal may name a transaction it reverses",
                        "kind 'reversal'",
                        "post a reversal entry",
                    )
                ]
            return []
        if entry.reverses is None or not 1 <= entry.reverses <= self.seq:
            return [
                Problem(
                    "reverses",
                    f"transaction {entry.reverses} does not exist",
                    f"a transaction 1..{self.seq}",
                    "name the transaction to reverse",
                )
            ]
        if entry.reverses in self.reversed or self.source.was_reversed(entry.reverses):
            return [
                Problem(
                    "reverses",
                    f"transaction {entry.reverses} is already reversed",
                    "a transaction not reversed yet",
                    "post a new correcting transaction instead",
                )
            ]
        return []

    def _debit_serials(self, i: int, p: Posting, acc: Account, work: _Work) -> tuple[Range, ...]:
        c = self.commodities[p.commodity]
        n = c.serials_of(p.amount)
        where = f"posting {i + 1} ({p.account}, {p.commodity})"
        if acc.kind == AccountKind.issuance:
            bad = sr.check_ranges(p.serials)
            if not p.serials or bad or sr.count(p.serials) != n:
                work.problems.append(
                    Problem(
                        where,
                        bad or f"new serials {sr.to_text(p.serials) or 'none'} are not {n} serials",
                        f"{n} new serials for {p.amount} {c.unit}",
                        "name the serial ranges being issued",
                    )
                )
                return ()
            clash = self.source.issued_overlapping(c.code, p.serials) + [
                r for r in self.issued.get(c.code, []) + work.issued.get(c.code, [])
                if any(sr.overlaps(r, q) for q in p.serials)
            ]  # fmt: skip
            if clash:
                work.problems.append(
                    Problem(
                        where,
                        f"serials {sr.to_text(p.serials)} overlap serials issued "
                        f"before ({sr.to_text(clash[:3])})",
                        "serials never issued",
                        "take the next free serials of the programme",
                    )
                )
                return ()
            work.issued.setdefault(c.code, []).extend(p.serials)
            return tuple(p.serials)
        key = (p.account, p.commodity)
        held = work.lots.get(key, self.lots.get(key, ()))
        if p.serials:
            left = sr.take_exact(held, p.serials) if sr.count(p.serials) == n else None
            if left is None:
                work.problems.append(
                    Problem(
                        where,
                        f"serials {sr.to_text(p.serials)} are not all held by "
                        f"'{p.account}' or are not {n} serials",
                        f"serials among {sr.to_text(held[:5]) or 'none'}",
                        "name serials the account holds",
                    )
                )
                return ()
            work.lots[key] = left
            work.moved[key] = work.moved.get(key, 0) - n
            return tuple(sorted(p.serials))
        if self.counts.get(key, 0) + work.moved.get(key, 0) < n:
            return ()  # reported as an overdraft by _check_balances
        taken, left = sr.take_fifo(held, n)
        work.lots[key] = left
        work.moved[key] = work.moved.get(key, 0) - n
        return taken

    def _q(self, p: Posting) -> Decimal:
        """The amount with exactly its commodity's places (one text per amount in the body)."""
        return p.amount.quantize(self.commodities[p.commodity].quantum)

    def _resolve_serials(self, entry: Entry, work: _Work) -> None:
        streams: dict[str, tuple[Range, ...]] = {}
        resolved: list[Posting | None] = [None] * len(entry.postings)
        for i, p in enumerate(entry.postings):
            if p.amount < 0 and self._serial(p.commodity):
                got = self._debit_serials(i, p, self.accounts[p.account], work)
                streams[p.commodity] = streams.get(p.commodity, ()) + got
                resolved[i] = Posting(p.account, p.commodity, self._q(p), got)
        for i, p in enumerate(entry.postings):
            if resolved[i] is not None:
                continue
            if p.amount < 0 or not self._serial(p.commodity):
                resolved[i] = Posting(p.account, p.commodity, self._q(p), ())
                continue
            n = self.commodities[p.commodity].serials_of(p.amount)
            stream = streams.get(p.commodity, ())
            if sr.count(stream) < n:  # the debits failed; their problem is recorded
                resolved[i] = Posting(p.account, p.commodity, self._q(p), ())
                continue
            got, streams[p.commodity] = sr.cut(stream, n)
            if p.serials and tuple(sorted(p.serials)) != tuple(sorted(got)):
                work.problems.append(
                    Problem(
                        f"posting {i + 1} ({p.account})",
                        f"serials {sr.to_text(p.serials)}"
                        f" are not the ones debited in this entry ({sr.to_text(got)})",
                        "the serials the debits move",
                        "leave the credit's serials empty",
                    )
                )
            resolved[i] = Posting(p.account, p.commodity, self._q(p), got)
            key = (p.account, p.commodity)
            if self.accounts[p.account].kind == AccountKind.issuance:
                continue  # serials given back to their issuance account are voided
            work.moved[key] = work.moved.get(key, 0) + n
            if key in self._lots_loaded:
                work.lots[key] = sr.add(work.lots.get(key, self.lots.get(key, ())), got)
            else:
                work.added[key] = work.added.get(key, []) + list(got)
        work.postings = [p for p in resolved if p is not None]

    def _check_balances(self, entry: Entry, work: _Work) -> None:
        for p in work.postings:
            key = (p.account, p.commodity)
            work.balances[key] = work.balances.get(key, self.balances.get(key, ZERO)) + p.amount
        for (acc_key, com), new in work.balances.items():
            acc = self.accounts[acc_key]
            if new < 0 and acc.kind not in MAY_GO_NEGATIVE:
                old = self.balances.get((acc_key, com), ZERO)
                c = self.commodities[com]
                work.problems.append(
                    Problem(
                        f"account {acc_key}",
                        f"holds {old} {c.unit} of {com}; this entry takes {old - new}",
                        f"at most {old} {c.unit}",
                        "lower the amount or pay in / receive units first",
                    )
                )

    def _check_lots_match(self, work: _Work) -> None:
        """Units in blocks = units in accounts, for every serial position the entry touches.

        A position whose lots are loaded must hold exactly its balance in serials; one whose
        lots are not loaded must receive exactly as many serials as its balance grows.
        """
        broken = []
        for key, bal in work.balances.items():
            c = self.commodities[key[1]]
            if not c.serial or self.accounts[key[0]].kind == AccountKind.issuance:
                continue
            if key in self._lots_loaded:
                held, want = self.counts.get(key, 0) + work.moved.get(key, 0), bal
            else:
                held = sr.count(work.added.get(key, ()))
                want = bal - self.balances.get(key, ZERO)
            if held != c.serials_of(want) or bal < 0 or want < 0:
                broken.append(
                    Problem(
                        f"account {key[0]}",
                        f"holds {held} serials of {key[1]} but its balance is {bal}",
                        "serials × quantum = balance",
                        "report this: it is a bug in the journal",
                    )
                )
        if broken:
            raise InvariantBroken(broken)

    def assert_balance(self, account: str, commodity: str, expected: Decimal, why: str) -> None:
        """A balance assertion (beancount's ``balance``): raise unless it holds."""
        got = self.balance(account, commodity)
        if got != expected:
            raise InvariantBroken(
                [
                    Problem(
                        f"account {account}",
                        f"holds {got} {commodity}",
                        f"{expected} ({why})",
                        "report this: the journal and its callers disagree",
                    )
                ]
            )


def new_account(
    key: str, kind: AccountKind, owner: str, at: dt.datetime, commodity: str | None = None
) -> Account:
    """An account record opened at ``at``."""
    return Account(key, kind, owner, at, None, commodity)
