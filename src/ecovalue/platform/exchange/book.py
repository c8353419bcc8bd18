"""The order book of one instrument: price-time priority, in memory, pure.

:class:`Book` matches an incoming order against the opposite side while the prices cross —
best price first, and at one price the order that arrived first (price-time priority) — and
rests what is left. Quantities are whole numbers of the instrument's smallest quantity
(serials), prices :class:`~decimal.Decimal`. Self-trade prevention cancels either the
incoming order's rest or the resting order (``SelfTrade``). A market-to-limit order takes
the best opposite price and becomes a limit order at it. Nothing here reads a clock or a
database: the trading service feeds the book in the order the journal records, so the same
inputs always give the same trades (the crash test replays them; decision 0125).
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from ecovalue.platform.exchange.rules import SelfTrade, Side


@dataclass(slots=True)
class Resting:
    """An order in the book (its remaining quantity and reserved cash change as it fills)."""

    order_id: int
    participant: str
    side: Side
    price: Decimal
    remaining: int  # in serials (smallest quantities)
    seq: int  # arrival in the book: time priority
    expires_at: dt.datetime | None = None
    reserve: Decimal = Decimal(0)  # cash still reserved (buy orders)


@dataclass(frozen=True, slots=True)
class Fill:
    """One trade between an incoming (taker) and a resting (maker) order, at the maker's price."""

    taker: int
    maker: int
    buy_order: int
    sell_order: int
    buyer: str
    seller: str
    price: Decimal
    qty: int


@dataclass
class MatchResult:
    """What matching one incoming order did."""

    fills: list[Fill] = field(default_factory=list)
    makers: dict[int, Resting] = field(default_factory=dict)  # every resting order it traded with
    cancelled_resting: list[Resting] = field(default_factory=list)  # by self-trade prevention
    self_trade_cancelled: int = 0  # serials of the incoming order cancelled by prevention


class _Side:
    """One side: price levels (FIFO queues) and the sorted prices; best price first."""

    def __init__(self, side: Side):
        self.side = side
        self.levels: dict[Decimal, deque[Resting]] = {}
        self.prices: list[Decimal] = []  # ascending

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.side == Side.buy else self.prices[0]

    def add(self, order: Resting) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            bisect.insort(self.prices, order.price)
        level.append(order)

    def head(self) -> Resting | None:
        """The first live order at the best price (dropping filled or cancelled ones)."""
        while self.prices:
            price = self.best()
            assert price is not None
            level = self.levels[price]
            while level and level[0].remaining == 0:
                level.popleft()
            if level:
                return level[0]
            del self.levels[price]
            self.prices.remove(price)
        return None

    def orders(self) -> Iterator[Resting]:
        """Live orders in priority order."""
        prices = reversed(self.prices) if self.side == Side.buy else iter(self.prices)
        for p in prices:
            for o in self.levels[p]:
                if o.remaining > 0:
                    yield o


def crosses(side: Side, limit: Decimal, opposite: Decimal) -> bool:
    """Whether an order on ``side`` at ``limit`` trades with an opposite order at ``opposite``."""
    return opposite <= limit if side == Side.buy else opposite >= limit


class Book:
    """The book of one instrument."""

    def __init__(self, instrument: str, self_trade: SelfTrade = SelfTrade.cancel_incoming):
        self.instrument = instrument
        self.self_trade = self_trade
        self.bids, self.asks = _Side(Side.buy), _Side(Side.sell)
        self.orders: dict[int, Resting] = {}
        self.of: dict[str, dict[int, Resting]] = {}  # participant -> its resting orders
        self._expiry: list[tuple[dt.datetime, int]] = []
        self.seq = 0  # the last arrival number used

    def side(self, side: Side) -> _Side:
        return self.bids if side == Side.buy else self.asks

    def opposite(self, side: Side) -> _Side:
        return self.asks if side == Side.buy else self.bids

    def best(self, side: Side) -> Decimal | None:
        """The best live price on ``side``."""
        head = self.side(side).head()
        return head.price if head else None

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def match(self, incoming: Resting) -> MatchResult:
        """Trade ``incoming`` against the opposite side while prices cross; it does not rest."""
        result = MatchResult()
        book = self.opposite(incoming.side)
        while incoming.remaining > 0:
            maker = book.head()
            if maker is None or not crosses(incoming.side, incoming.price, maker.price):
                break
            if maker.participant == incoming.participant:
                if self.self_trade == SelfTrade.cancel_incoming:
                    result.self_trade_cancelled = incoming.remaining
                    incoming.remaining = 0
                    break
                result.cancelled_resting.append(self._take_out(maker))
                continue
            qty = min(incoming.remaining, maker.remaining)
            result.makers[maker.order_id] = maker
            buy, sell = (incoming, maker) if incoming.side == Side.buy else (maker, incoming)
            result.fills.append(
                Fill(incoming.order_id, maker.order_id, buy.order_id, sell.order_id,
                     buy.participant, sell.participant, maker.price, qty)
            )  # fmt: skip
            incoming.remaining -= qty
            maker.remaining -= qty
            if maker.remaining == 0:
                self._forget(maker)
        return result

    def rest(self, order: Resting) -> None:
        """Put ``order`` in the book (at the back of its price level)."""
        if order.remaining <= 0:
            raise ValueError(f"order {order.order_id} has nothing left to rest")
        self.side(order.side).add(order)
        self.orders[order.order_id] = order
        self.of.setdefault(order.participant, {})[order.order_id] = order
        if order.expires_at is not None:
            heapq.heappush(self._expiry, (order.expires_at, order.order_id))

    def _take_out(self, order: Resting) -> Resting:
        gone = Resting(order.order_id, order.participant, order.side, order.price,
                       order.remaining, order.seq, order.expires_at, order.reserve)  # fmt: skip
        order.remaining = 0  # dropped lazily from its level
        self._forget(order)
        return gone

    def _forget(self, order: Resting) -> None:
        del self.orders[order.order_id]
        mine = self.of[order.participant]
        del mine[order.order_id]
        if not mine:
            del self.of[order.participant]

    def cancel(self, order_id: int) -> Resting | None:
        """Remove a resting order; returns it as it was (None when it is not in the book)."""
        order = self.orders.get(order_id)
        return None if order is None else self._take_out(order)

    def due(self, now: dt.datetime) -> list[int]:
        """Ids of resting orders whose expiry time is at or before ``now`` (earliest first)."""
        out = []
        while self._expiry and self._expiry[0][0] <= now:
            _, oid = heapq.heappop(self._expiry)
            if oid in self.orders:
                out.append(oid)
        return out

    def resting(self) -> list[Resting]:
        """Every live order, bids then asks, each in priority order."""
        return [*self.bids.orders(), *self.asks.orders()]

    def snapshot(self) -> list[tuple[str, str, int, int, str]]:
        """The book as comparable rows: (side, price, order id, remaining, reserve)."""
        return [(o.side.value, str(o.price), o.order_id, o.remaining, str(o.reserve))
                for o in self.resting()]  # fmt: skip

    def depth(self, levels: int = 10) -> dict[str, list[tuple[Decimal, int, int]]]:
        """Up to ``levels`` price levels per side: (price, total serials, number of orders)."""
        out: dict[str, list[tuple[Decimal, int, int]]] = {"buy": [], "sell": []}
        for name, side in (("buy", self.bids), ("sell", self.asks)):
            agg: dict[Decimal, list[int]] = {}
            for o in side.orders():
                if o.price not in agg and len(agg) == levels:
                    break
                cell = agg.setdefault(o.price, [0, 0])
                cell[0] += o.remaining
                cell[1] += 1
            out[name] = [(p, q, n) for p, (q, n) in agg.items()]
        return out
