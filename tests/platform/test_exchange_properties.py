"""Property tests: random operations with every invariant checked after each.

In memory, 10⁵ operations (issue, deposit, limit and market-to-limit orders, cancel, matching,
transfer of named or lowest serials — which splits blocks —, freeze, unfreeze, retire,
withdraw) run through the same :class:`~ecovalue.platform.exchange.engine.Batch` and journal
state the database path uses (``ECOVALUE_PROPERTY_OPS`` changes the count). After every
operation: the postings of every commodity sum to zero, no account outside issuance is
negative, escrowed = open orders for every participant (recomputed from the book), the chain
links, and every position the operation touched holds as many serials as its balance (the
journal's serial count); every 1,000 operations (and at the end) the whole partition,
recounted from the ranges themselves: all blocks disjoint, inside what was issued, each
position's ranges adding up to its count and its balance. At the end the journal is replayed
from its bodies and must give the same state.

Through the database, orders and cancels go in batches of 1–16 commands (one transaction
each, as the order writer groups them) between registry operations (retire, freeze, pledge,
each its own transaction); the journal checks its invariants inside every transaction, and
``ledger verify``, ``exchange verify`` and the audit record's verification (chain and every
table replayed) run every ``ECOVALUE_PROPERTY_DB_VERIFY`` operations and at the end.

``make test`` runs 10⁴ operations in memory and 600 through each database (about 15 s and
10 s). The issue's full run, 10⁵ of each (docs/exchange.md gives its time)::

    ECOVALUE_PROPERTY_OPS=100000 ECOVALUE_PROPERTY_DB_OPS=100000 \
        .venv/bin/pytest -q -p no:cacheprovider tests/platform/test_exchange_properties.py
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from decimal import Decimal

from exchange_support import HB, build_world
from platform_support import ADMIN

from ecovalue.errors import Problem
from ecovalue.platform.audit.service import verify_record
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.exchange.engine import CancelRequest, MemoryMarket, OrderRequest
from ecovalue.platform.exchange.keys import Venue
from ecovalue.platform.exchange.ruleset import instrument_of, load_ruleset
from ecovalue.platform.exchange.verify import verify_books
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger.model import JournalState
from ecovalue.platform.ledger.rules import GENESIS_HASH, AccountKind, Posted, TxKind
from ecovalue.platform.ledger.verify import verify_journal

D = Decimal
OPS = int(os.environ.get("ECOVALUE_PROPERTY_OPS", "10000"))
DB_OPS = int(os.environ.get("ECOVALUE_PROPERTY_DB_OPS", "600"))
DB_VERIFY = int(os.environ.get("ECOVALUE_PROPERTY_DB_VERIFY", "10000"))
PEOPLE = [f"P{n}" for n in range(6)]


class Recording(JournalState):
    """A journal state that remembers what it posted (to check the chain and replay it)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Posted] = []

    def post(self, entry):  # type: ignore[no-untyped-def]
        posted = super().post(entry)
        self.log.append(posted)
        return posted


def _market() -> tuple[MemoryMarket, list[R.Instrument]]:
    rs = load_ruleset()
    hb = instrument_of(rs.programme("HBEA"), 2025, reference_price=D("40.00"))
    ci = instrument_of(rs.programme("WHCI"), 2025, reference_price=D("100"))  # 0.001 t units
    m = MemoryMarket(journal=Recording())
    for i in (hb, ci):
        m.add_instrument(i)
    for code in PEOPLE:
        m.add_participant(R.Participant(code, code, R.ParticipantKind.enterprise, "420102"))
    return m, [hb, ci]


class World:
    """The random driver and the checks."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.m, self.instruments = _market()
        self.j: Recording = self.m.journal  # type: ignore[assignment]
        self.next_serial: dict[str, int] = defaultdict(lambda: 1)
        self.holds: list[tuple[str, str, tuple[sr.Range, ...]]] = []  # frozen (who, instr, serials)
        self.checked = 0
        self.counts: dict[str, int] = defaultdict(int)

    # ------------------------------------------------------------------ operations

    def qty(self, i: R.Instrument, most: int = 50) -> Decimal:
        return D(self.rng.randint(1, most)) * i.lot * (1000 if i.places else 1)

    def issue(self) -> None:
        i, who = self.rng.choice(self.instruments), self.rng.choice(PEOPLE)
        q = self.qty(i, 500)
        n = int(q.scaleb(i.places))
        first = self.next_serial[i.code]
        self.next_serial[i.code] += n
        self.m.post(TxKind.issue, [(keys.issuance(i.programme.code), i.code, -q,
                                    ((first, first + n - 1),)), (keys.hold(who), i.code, q, ())])  # fmt: skip

    def deposit(self) -> None:
        amount = D(self.rng.randint(1, 10_000_000)) / 100
        self.m.post(TxKind.deposit, [(keys.BANK, "CNY", -amount, ()),
                                     (keys.cash(self.rng.choice(PEOPLE)), "CNY", amount, ())])  # fmt: skip

    def order(self) -> None:
        i, who = self.rng.choice(self.instruments), self.rng.choice(PEOPLE)
        side = self.rng.choice(list(R.Side))
        ref = i.reference_price or D(1)
        if self.rng.random() < 0.1:
            price, kind = None, R.OrderKind.market_to_limit
        else:
            steps = int(ref * i.band / i.tick) if i.band else 10  # type: ignore[operator]
            price = ref + i.tick * self.rng.randint(-steps, steps)
            kind = R.OrderKind.limit
        (ack,) = self.m.execute([(ADMIN, OrderRequest(i.code, who, side, self.qty(i), price, kind))])
        self.counts[ack.status] += 1

    def cancel(self) -> None:
        book = self.m.store.books.get(self.rng.choice(self.instruments).code)
        if book and book.book.orders:
            oid = self.rng.choice(list(book.book.orders))
            (ack,) = self.m.execute([(ADMIN, CancelRequest(oid))])
            assert ack.status == "cancelled", ack

    def _free(self, who: str, i: R.Instrument) -> tuple[sr.Range, ...]:
        return self.j.lots_of(keys.hold(who), i.code)

    def move(self, kind: TxKind, to_account: str) -> None:
        i, who = self.rng.choice(self.instruments), self.rng.choice(PEOPLE)
        held = self._free(who, i)
        if not held:
            return
        named: tuple[sr.Range, ...] = ()
        if self.rng.random() < 0.5:  # name serials inside one block: splits it in up to three
            a, b = self.rng.choice(held)
            s = self.rng.randint(a, b)
            named = ((s, self.rng.randint(s, b)),)
            q = D(sr.count(named)) * i.quantum
        else:
            q = min(self.qty(i), D(sr.count(held)) * i.quantum)
        dest = to_account.format(who=self.rng.choice(PEOPLE))
        self.m.post(kind, [(keys.hold(who), i.code, -q, named), (dest, i.code, q, ())])

    def unfreeze(self) -> None:
        if self.holds:
            who, code, serials = self.holds.pop(self.rng.randrange(len(self.holds)))
            q = D(sr.count(serials)) * self.m.store.instruments[code].quantum
            self.m.post(TxKind.unfreeze, [(keys.frozen(who), code, -q, serials),
                                          (keys.hold(who), code, q, ())])  # fmt: skip

    def withdraw(self) -> None:
        who = self.rng.choice(PEOPLE)
        free = self.j.balance(keys.cash(who), "CNY")
        if free > 0:
            amount = (free * D(self.rng.random())).quantize(D("0.01"))
            if amount > 0:
                self.m.post(TxKind.withdraw, [(keys.cash(who), "CNY", -amount, ()),
                                              (keys.BANK, "CNY", amount, ())])  # fmt: skip

    def step(self) -> None:
        resting = sum(len(c.book.orders) for c in self.m.store.books.values())
        ops = [(self.issue, 4), (self.deposit, 4), (self.order, 55), (self.cancel, 5 + resting // 8),
               (self.transfer, 8), (self.freeze, 4), (self.unfreeze, 4), (self.retire, 4),
               (self.withdraw, 5)]  # fmt: skip
        op = self.rng.choices([o for o, _ in ops], [w for _, w in ops])[0]
        before = len(self.j.log)
        try:
            op()
        except RuleViolation as exc:  # refused: it must have left nothing behind
            assert len(self.j.log) == before, exc
            self.counts["refused"] += 1
        self.check(self.j.log[before:])

    def transfer(self) -> None:
        self.move(TxKind.transfer, "P:{who}:hold")

    def freeze(self) -> None:
        self._hold_to(TxKind.freeze, "frozen")

    def retire(self) -> None:
        self._hold_to(TxKind.retire, "retired")

    def _hold_to(self, kind: TxKind, where: str) -> None:
        i, who = self.rng.choice(self.instruments), self.rng.choice(PEOPLE)
        held = self._free(who, i)
        if not held:
            return
        q = min(self.qty(i), D(sr.count(held)) * i.quantum)
        to = keys.frozen(who) if where == "frozen" else keys.retired(who)
        posted = self.m.post(kind, [(keys.hold(who), i.code, -q, ()), (to, i.code, q, ())])
        if kind == TxKind.freeze:
            self.holds.append((who, i.code, posted.entry.postings[1].serials))

    # ------------------------------------------------------------------ invariants

    def check(self, new: list[Posted]) -> None:
        j = self.j
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for (acc, com), bal in j.balances.items():
            sums[com] += bal
            assert bal >= 0 or j.accounts[acc].kind == AccountKind.issuance, (acc, com, bal)
        assert all(v == 0 for v in sums.values()), sums
        for p in new:  # the chain links, and the touched positions hold their balance in serials
            assert p.seq == 1 or p.prev_hash == self.j.log[p.seq - 2].hash
            for q in p.entry.postings:
                c = j.commodities[q.commodity]
                if c.serial and j.accounts[q.account].kind != AccountKind.issuance:
                    key = (q.account, q.commodity)  # the serial count the journal keeps
                    assert j.counts[key] == c.serials_of(j.balances[key]), q  # (recounted below)
        self.check_escrow()
        self.checked += 1
        if self.checked % 1000 == 0:
            self.check_partition()

    def check_escrow(self) -> None:
        """Every participant's escrow holds what its open orders reserve (from the book)."""
        for i in self.instruments:
            cached = self.m.store.books.get(i.code)
            cash: dict[str, Decimal] = defaultdict(Decimal)
            units: dict[str, int] = defaultdict(int)
            for o in cached.book.resting() if cached else ():
                if o.side == R.Side.buy:
                    cash[o.participant] += o.reserve
                else:
                    units[o.participant] += o.remaining
            for who in PEOPLE:
                esc = keys.escrow(who, i.code, Venue.book)
                got = (self.j.balances.get((esc, "CNY"), D(0)), self.j.balances.get((esc, i.code), D(0)))
                assert got == (cash[who], units[who] * i.quantum), (esc, got)

    def check_partition(self) -> None:
        j = self.j
        for i in self.instruments:
            blocks = sorted(r for (acc, com), held in j.lots.items() if com == i.code
                            and j.accounts[acc].kind != AccountKind.issuance for r in held)  # fmt: skip
            assert sr.check_ranges(blocks) is None, i.code  # disjoint
            issued = sorted(j.issued.get(i.code, []))
            k = 0  # both sorted: each block lies inside an issued range (one sweep)
            for s, e in blocks:
                while k < len(issued) and issued[k][1] < s:
                    k += 1
                assert k < len(issued) and issued[k][0] <= s and e <= issued[k][1], (s, e)
            total = sum(bal for (acc, com), bal in j.balances.items() if com == i.code
                        and j.accounts[acc].kind != AccountKind.issuance)  # fmt: skip
            assert D(sr.count(blocks)) * i.quantum == total
            for (acc, com), held in j.lots.items():  # every position, recounted from its ranges
                if com == i.code and j.accounts[acc].kind != AccountKind.issuance:
                    want = j.commodities[com].serials_of(j.balances.get((acc, com), D(0)))
                    assert sr.count(held) == j.counts[(acc, com)] == want, (acc, com)


def test_random_operations_keep_every_invariant() -> None:
    w = World(seed=20261207)
    for _ in range(OPS):
        w.step()
    w.check_partition()
    fills = len(w.m.store.trades)
    # the stream traded, rested, cancelled, and hit refusals (short of cash or units, no price)
    assert fills > OPS // 20 and min(w.counts[k] for k in ("open", "filled", "rejected")) > 0
    replay = JournalState()  # the bodies alone give the same state
    for c in w.j.commodities.values():
        replay.add_commodity(c)
    for a in w.j.accounts.values():
        replay.add_account(a)
    prev = GENESIS_HASH
    for p in w.j.log:
        again = replay.post(p.entry)
        assert (again.body, again.prev_hash, again.hash) == (p.body, prev, p.hash)
        prev = p.hash
    assert replay.balances == {k: v for k, v in w.j.balances.items() if k in replay.balances}
    assert {k: v for k, v in replay.lots.items() if v} == {k: v for k, v in w.j.lots.items() if v}


def _verified(uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        assert verify_journal(s).problems == []
        assert verify_books(s) == []
        assert [p for p in verify_record(s).problems if p.severity == "error"] == []


def _registry_op(uow, rng: random.Random, who: str, n: int) -> None:  # type: ignore[no-untyped-def]
    op = rng.choice(["retire", "freeze", "pledge"])
    with uow() as s:
        try:
            if op == "retire":
                X.retire(s, ADMIN, who, HB, D(rng.randint(1, 5)), f"清缴 {n}")
            elif op == "freeze":
                X.hold_units(s, ADMIN, "freeze", who, HB, D(rng.randint(1, 5)), f"dispute {n}")
            else:
                X.hold_units(s, ADMIN, "pledge", who, HB, D(rng.randint(1, 5)), f"loan {n}",
                             counterparty="某银行")  # fmt: skip
        except RuleViolation as exc:
            assert isinstance(exc.problems[0], Problem)


def _command(rng: random.Random, m: T.Market, people: list[str]) -> T.Request | None:
    if rng.random() < 0.82:
        price = D("40.00") + D("0.01") * rng.randint(-300, 300)
        kind = R.OrderKind.limit if rng.random() > 0.1 else R.OrderKind.market_to_limit
        return OrderRequest(HB, rng.choice(people), rng.choice(list(R.Side)), D(rng.randint(1, 80)),
                            price if kind == R.OrderKind.limit else None, kind)  # fmt: skip
    book = m.book(HB)
    return CancelRequest(rng.choice(list(book.orders))) if book and book.orders else None


def test_random_operations_through_the_database(factory, uow) -> None:  # type: ignore[no-untyped-def]
    build_world(factory)
    rng = random.Random(7)
    m = T.Market(factory)
    people = ["A", "B", "C", "D"]
    done = statuses = 0
    next_verify = DB_VERIFY
    while done < DB_OPS:
        if rng.random() < 0.15:
            _registry_op(uow, rng, rng.choice(people), done)
            done += 1
        else:
            size = min(rng.randint(1, 16), DB_OPS - done)
            batch = [c for c in (_command(rng, m, people) for _ in range(size)) if c is not None]
            acks = m.execute([(ADMIN, c) for c in batch]) if batch else []
            statuses += sum(a.status in ("open", "filled") for a in acks)
            done += size
        if done >= next_verify:
            _verified(uow)
            next_verify += DB_VERIFY
    assert statuses > 0
    _verified(uow)
