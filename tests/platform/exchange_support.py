"""A small exchange for the exchange tests: the default rule set, a few instruments and
participants with money and units."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from platform_support import ADMIN

from ecovalue.db.session import unit_of_work
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.exchange.rules import OrderKind, Side

D = Decimal
HB = "HBEA-2025"
START_CASH = D("1000000.00")
START_UNITS = D("10000")


def build_world(factory, *, instrument_overrides: dict[str, Any] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Rule set; HBEA-2025 (reference 40.00); enterprises A, B, C and an individual D in
    420102, each with 1,000,000.00 元 and 10,000 t; a district government W."""
    with unit_of_work(factory) as s:
        X.adopt_ruleset(s, ADMIN)
        X.create_instrument(s, ADMIN, "HBEA", 2025, reference_price=D("40.00"),
                            overrides=instrument_overrides)  # fmt: skip
        for code, kind in (("A", "enterprise"), ("B", "enterprise"), ("C", "enterprise"),
                           ("D", "individual")):  # fmt: skip
            X.register_participant(s, ADMIN, code, f"参与者{code}", kind, "420102", sector="industry")
            X.deposit(s, ADMIN, code, START_CASH, f"dep-{code}")
            X.issue(s, ADMIN, HB, code, START_UNITS)
        X.register_participant(s, ADMIN, "W", "武汉市江岸区人民政府", "district", "420102")


def order(p: str, side: str, qty: str, price: str | None = None, **kw: Any) -> T.OrderRequest:
    kind = OrderKind.market_to_limit if price is None else OrderKind.limit
    return T.OrderRequest(kw.pop("instrument", HB), p, Side(side), D(qty),
                          D(price) if price else None, kind, **kw)  # fmt: skip


class Clock:
    """A settable clock for the market (expiry tests)."""

    def __init__(self, at: dt.datetime | None = None):
        self.at = at or dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at
