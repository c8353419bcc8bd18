"""Eight clients at once on the same accounts (each with its own order books in memory, as
eight server processes would have): nobody overdraws, no block is spent twice, and the
journal and every book verify. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

from exchange_support import HB, START_CASH, D, build_world
from platform_support import ADMIN

from ecovalue.db.session import unit_of_work
from ecovalue.errors import EcovalueError
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.exchange.verify import verify_books
from ecovalue.platform.ledger import service as L
from ecovalue.platform.ledger.rules import AccountKind
from ecovalue.platform.ledger.verify import verify_journal

CLIENTS = 8


def test_eight_clients_never_overdraw_nor_double_spend(factory) -> None:  # type: ignore[no-untyped-def]
    build_world(factory)
    with unit_of_work(factory) as s:  # E holds little, so its clients compete for it
        X.register_participant(s, ADMIN, "E", "小企业", "enterprise", "420102")
        X.deposit(s, ADMIN, "E", D("5000.00"), "dep-E")
        X.issue(s, ADMIN, HB, "E", D("100"))
        block = X.holdings(s, ADMIN, "E", HB)[0]
    errors: list[BaseException] = []
    retired: list[str] = []
    start = threading.Barrier(CLIENTS)

    def client(k: int) -> None:
        rng = random.Random(k)
        market = T.Market(factory)
        start.wait()
        try:
            try:  # every client tries to retire the same named block: one may
                with unit_of_work(factory) as s:
                    X.retire(s, ADMIN, "E", HB, block.quantity, f"client {k}",
                             serials=[(block.first, block.last)])  # fmt: skip
                retired.append(f"client {k}")
            except EcovalueError:
                pass
            for _ in range(25):
                who = rng.choice("ABCDE")
                side = rng.choice(list(T.R.Side))
                price = Decimal("40.00") + Decimal("0.01") * rng.randint(-50, 50)
                market.execute([(ADMIN, T.OrderRequest(HB, who, side, D(rng.randint(1, 60)), price))])
                if rng.random() < 0.3:
                    with unit_of_work(factory) as s:
                        try:
                            X.withdraw(s, ADMIN, who, D(rng.randint(100, 3000)), f"w{k}")
                        except EcovalueError:
                            pass  # refused: more than the free cash
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(retired) == 1  # the block was spent once
    with unit_of_work(factory) as s:
        accounts = [a for p in "ABCDE" for a in L.accounts_of(s, p)]
        for (acc, com), bal in L.balances(s, [a.key for a in accounts]).items():
            assert bal >= 0, (acc, com, bal)
        cash = sum(L.balances(s, [keys.cash(p) for p in "ABCDE"]).values(), Decimal(0))
        assert cash <= 4 * START_CASH + D("5000.00")  # withdrawals only ever take money out
        assert all(a.kind != AccountKind.issuance for a in accounts)
        assert verify_journal(s).problems == []
        assert verify_books(s) == []
