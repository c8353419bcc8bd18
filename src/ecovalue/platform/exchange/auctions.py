"""Periodic call auctions and electronic bidding (电子竞价): pure allocation rules.

Call auction (for thin markets; the batch ``match(timestamp)`` style of the peer engine
``order-matching``): the clearing price is the limit price that executes the **maximum
volume**; among those, the one with the **minimum imbalance** between demand and supply at
that price; then the one **nearest the reference price**; then the lower price (assumed
— the last tie-break is not published). Everything trades at that one price, orders ranked
by price then time.

Electronic bidding (湖北环境资源交易中心: 价格优先、时间优先 [S94][S95]): a listing offers a
quantity with a reserve price over a window; bids at or above the reserve are ranked by price,
then time, and filled in that order until the quantity is gone, the last winner possibly in
part. Winners pay their own bid (pay-as-bid, the default: the 咸宁 session reports a highest
price per pollutant) or, by the listing's choice, the lowest winning bid (uniform).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from ecovalue.platform.exchange.rules import Side


@dataclass(frozen=True)
class CallOrder:
    """A limit order waiting for the call."""

    order_id: int
    participant: str
    side: Side
    price: Decimal
    qty: int
    seq: int


@dataclass(frozen=True)
class CallFill:
    buy_order: int
    sell_order: int
    buyer: str
    seller: str
    price: Decimal
    qty: int


@dataclass
class CallResult:
    """The clearing price and volume, the fills, and orders cancelled by self-trade prevention."""

    price: Decimal | None
    volume: int
    imbalance: int
    fills: list[CallFill] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def clearing_price(
    orders: Sequence[CallOrder], reference: Decimal | None
) -> tuple[Decimal, int, int] | None:
    """(price, executable volume, imbalance) of the call, or None when nothing crosses."""
    bids = [o for o in orders if o.side == Side.buy]
    asks = [o for o in orders if o.side == Side.sell]
    best: tuple[tuple[int, int, Decimal, Decimal], Decimal, int, int] | None = None
    for p in sorted({o.price for o in orders}):
        demand = sum(o.qty for o in bids if o.price >= p)
        supply = sum(o.qty for o in asks if o.price <= p)
        volume, imbalance = min(demand, supply), abs(demand - supply)
        if volume == 0:
            continue
        distance = abs(p - reference) if reference is not None else Decimal(0)
        key = (-volume, imbalance, distance, p)
        if best is None or key < best[0]:
            best = (key, p, volume, imbalance)
    return None if best is None else (best[1], best[2], best[3])


def uncross(orders: Sequence[CallOrder], reference: Decimal | None) -> CallResult:
    """Run the call: fills at the clearing price in price-time order on both sides.

    When a buy and a sell of the same participant meet, the newer of the two is cancelled
    (self-trade prevention) and pairing goes on; the volume can then be below the maximum.
    """
    found = clearing_price(orders, reference)
    if found is None:
        return CallResult(None, 0, 0)
    price, volume, imbalance = found
    bids = sorted((o for o in orders if o.side == Side.buy and o.price >= price),
                  key=lambda o: (-o.price, o.seq))  # fmt: skip
    asks = sorted((o for o in orders if o.side == Side.sell and o.price <= price),
                  key=lambda o: (o.price, o.seq))  # fmt: skip
    left = {o.order_id: o.qty for o in (*bids, *asks)}
    result = CallResult(price, 0, imbalance)
    i = j = 0
    while i < len(bids) and j < len(asks) and result.volume < volume:
        b, a = bids[i], asks[j]
        if b.participant == a.participant:
            newer = b if b.seq > a.seq else a
            result.cancelled.append(newer.order_id)
            left[newer.order_id] = 0
            i, j = (i + 1, j) if newer is b else (i, j + 1)
            continue
        qty = min(left[b.order_id], left[a.order_id], volume - result.volume)
        result.fills.append(CallFill(b.order_id, a.order_id, b.participant, a.participant,
                                     price, qty))  # fmt: skip
        result.volume += qty
        left[b.order_id] -= qty
        left[a.order_id] -= qty
        i += left[b.order_id] == 0
        j += left[a.order_id] == 0
    return result


class BidPricing(StrEnum):
    pay_as_bid = "pay_as_bid"
    uniform = "uniform"


@dataclass(frozen=True)
class Bid:
    bid_id: int
    bidder: str
    price: Decimal
    qty: int
    seq: int


@dataclass(frozen=True)
class Award:
    bid_id: int
    bidder: str
    qty: int
    price: Decimal


def allocate(
    quantity: int, reserve: Decimal, bids: Sequence[Bid], pricing: BidPricing = BidPricing.pay_as_bid
) -> list[Award]:
    """Awards of an electronic bidding: price first, then time, until ``quantity`` is gone."""
    ranked = sorted((b for b in bids if b.price >= reserve), key=lambda b: (-b.price, b.seq))
    awards: list[tuple[Bid, int]] = []
    left = quantity
    for b in ranked:
        if left == 0:
            break
        take = min(b.qty, left)
        awards.append((b, take))
        left -= take
    if not awards:
        return []
    lowest = awards[-1][0].price
    return [
        Award(b.bid_id, b.bidder, q, b.price if pricing == BidPricing.pay_as_bid else lowest)
        for b, q in awards
    ]
