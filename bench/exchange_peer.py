"""Run an order stream through PyPI ``order-matching`` (the in-memory reference engine).

Runs under bench/.exchange-peer-venv (bench/setup_exchange_peer.sh), never under ecovalue's
environment: ``python bench/exchange_peer.py STREAM.json`` prints one JSON line with the
wall time, the number of trades and the per-order latency percentiles. Each order is placed
and matched on arrival (``place`` then ``match``), as a continuous book does; the library
keeps prices and sizes as floats and has no persistence, accounts or settlement.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time

from loguru import logger
from order_matching.enums import Side
from order_matching.matching_engine import MatchingEngine
from order_matching.order import LimitOrder
from order_matching.orders import Orders


def main(path: str) -> None:
    logger.remove()  # the engine logs every placement at debug level
    stream = json.loads(open(path, encoding="utf-8").read())
    engine = MatchingEngine(seed=1)
    t0 = dt.datetime(2026, 1, 5)
    trades, lat = 0, []
    start = time.perf_counter()
    for n, o in enumerate(stream):
        at = t0 + dt.timedelta(microseconds=n)
        order = LimitOrder(
            side=Side.BUY if o["side"] == "buy" else Side.SELL,
            price=float(o["price"]),
            size=float(o["qty"]),
            timestamp=at,
            order_id=str(n),
            trader_id=o["participant"],
            expiration=t0 + dt.timedelta(days=365),
        )
        s = time.perf_counter()
        engine.place(Orders([order]))
        trades += len(engine.match(timestamp=at).trades)
        lat.append(time.perf_counter() - s)
    wall = time.perf_counter() - start
    lat.sort()
    print(
        json.dumps(
            {
                "engine": "order-matching 0.12.0",
                "orders": len(stream),
                "wall_s": wall,
                "trades": trades,
                "p50_ms": lat[len(lat) // 2] * 1e3,
                "p99_ms": lat[int(len(lat) * 0.99)] * 1e3,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
