"""The exchange's order book under load: orders per second matched and durably settled, and the
acknowledgement latency, on SQLite and on PostgreSQL, beside the same stream in memory.

``.venv/bin/python bench/exchange.py [--orders 20000] [--backends sqlite,postgresql]``

1. A deterministic stream of limit orders (``--seed``) from ``--participants`` enterprises on
   one allowance (HBEA): buy or sell at random, the price 40.00 ± up to 20 ticks, 1–50 t, so
   about half the orders trade on arrival.
2. Per backend, a fresh database (SQLite: a WAL file with ``synchronous=FULL``; PostgreSQL: a
   throwaway server started here with ``fsync=on``, ``synchronous_commit=on``) is migrated and
   filled; then the exchange's one writer (:class:`~ecovalue.platform.exchange.gateway.Gateway`)
   takes the stream from ``--clients`` threads, each keeping ``--window`` orders in flight.
   An order counts when its acknowledgement arrives, i.e. after the batch holding it —
   escrow, matching, DvP settlement, trading record, audit entries — is committed to disk.
   Orders/s = orders ÷ time from the first submission to the last acknowledgement; latency
   = submission → acknowledgement. Afterwards ``ledger verify``, ``exchange verify`` and the
   audit record's verification (chain and replay of every table) run (their time is
   reported, not counted).
3. The same stream runs through ecovalue's engine in memory (no database) and, when
   bench/.exchange-peer-venv exists (bench/setup_exchange_peer.sh), through PyPI
   ``order-matching`` 0.12.0 in its own process; the report gives each backend's ratio to it.

Results go to bench/results/exchange-<time>.json and .md. The machine's load average is
recorded before and after: other work on the same cores slows every figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecovalue.config import Settings
from ecovalue.db import migrate
from ecovalue.db.session import make_engine, unit_of_work
from ecovalue.platform import schema  # noqa: F401  (tables and the audit listener)
from ecovalue.platform.audit.service import audited_sessionmaker, verify_record
from ecovalue.platform.auth.rules import SYSTEM
from ecovalue.platform.exchange import rules as R
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange.engine import MemoryMarket, OrderRequest
from ecovalue.platform.exchange.gateway import Gateway
from ecovalue.platform.exchange.ruleset import instrument_of, load_ruleset
from ecovalue.platform.exchange.trading import Market
from ecovalue.platform.exchange.verify import verify_books
from ecovalue.platform.ledger.verify import verify_journal

HERE = Path(__file__).resolve().parent
PEER = HERE / ".exchange-peer-venv" / "bin" / "python"
INSTRUMENT = "HBEA-2025"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def make_stream(n: int, participants: int, seed: int) -> list[dict[str, str]]:
    """``n`` limit orders: participant, side, price (40.00 ± 20 ticks) and quantity (1–50 t)."""
    rng = random.Random(seed)
    return [
        {"participant": f"E{rng.randrange(participants):03d}", "side": rng.choice(("buy", "sell")),
         "price": str(Decimal("40.00") + Decimal("0.01") * rng.randint(-20, 20)),
         "qty": str(rng.randint(1, 50))}
        for _ in range(n)
    ]  # fmt: skip


def bench_settings(url: str, workdir: Path) -> Settings:
    """Settings of a bench database: its audit keys and checkpoint log in ``workdir``."""
    return Settings(env="test", database_url=url, secret_key="bench-" + "k" * 40,
                    audit_key_file=workdir / "audit-keys.json",
                    audit_checkpoint_file=workdir / "audit-checkpoints.log")  # fmt: skip


def setup(settings: Settings, participants: int) -> None:
    """Migrate, adopt the rule set, list HBEA-2025 and fund every participant."""
    url = settings.database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = audited_sessionmaker(engine, settings)
    with unit_of_work(factory, "bench") as s:
        X.adopt_ruleset(s, SYSTEM)
        X.create_instrument(s, SYSTEM, "HBEA", 2025, reference_price=Decimal("40.00"))
        for k in range(participants):
            code = f"E{k:03d}"
            X.register_participant(s, SYSTEM, code, code, "enterprise", "420102")
            X.deposit(s, SYSTEM, code, Decimal("1000000000.00"), f"bench-{code}")
            X.issue(s, SYSTEM, INSTRUMENT, code, Decimal("10000000"))
    engine.dispose()


def _request(o: dict[str, str]) -> OrderRequest:
    return OrderRequest(INSTRUMENT, o["participant"], R.Side(o["side"]), Decimal(o["qty"]),
                        Decimal(o["price"]))  # fmt: skip


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))] if s else float("nan")


def run_db(settings: Settings, stream: list[dict[str, str]], clients: int,
           window: int) -> dict[str, Any]:  # fmt: skip
    """Feed the stream to the writer from ``clients`` threads; time and verify."""
    url = settings.database_url
    engine = make_engine(url, pool_size=4) if url.startswith("postgresql") else make_engine(url)
    factory = audited_sessionmaker(engine, settings)
    gateway = Gateway(Market(factory, actor="bench")).start()
    lat: list[float] = [0.0] * len(stream)
    status: list[str] = [""] * len(stream)
    trades = [0]
    lock = threading.Lock()

    def client(k: int) -> None:
        pending: list[Any] = []
        for n in range(k, len(stream), clients):
            t0 = time.perf_counter()
            fut = gateway.submit(SYSTEM, _request(stream[n]))

            def done(f: Any, n: int = n, t0: float = t0) -> None:
                lat[n] = time.perf_counter() - t0
                ack = f.result()
                status[n] = ack.status
                with lock:
                    trades[0] += len(ack.trades)

            fut.add_done_callback(done)
            pending.append(fut)
            if len(pending) >= window:
                pending.pop(0).result()
        for f in pending:
            f.result()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    gateway.stop()
    v0 = time.perf_counter()
    with unit_of_work(factory, "bench") as s:
        problems = [str(p) for p in verify_journal(s).problems] + [str(p) for p in verify_books(s)]
        problems += [str(p) for p in verify_record(s).problems if p.severity == "error"]
    verify_s = time.perf_counter() - v0
    engine.dispose()
    accepted = sum(st != "rejected" for st in status)
    return {"orders": len(stream), "accepted": accepted, "trades": trades[0], "wall_s": wall,
            "orders_per_s": len(stream) / wall, "trades_per_s": trades[0] / wall,
            "p50_ms": _percentile(lat, 0.5) * 1e3, "p99_ms": _percentile(lat, 0.99) * 1e3,
            "max_ms": max(lat) * 1e3, "batches": gateway.batches,
            "orders_per_batch": len(stream) / max(1, gateway.batches), "verify_s": verify_s,
            "verify_problems": problems[:5], "clients": clients, "window": window}  # fmt: skip


def run_memory(stream: list[dict[str, str]], participants: int) -> dict[str, Any]:
    """The same stream through ecovalue's engine in memory (no database), one order a batch."""
    from ecovalue.platform.exchange import keys
    from ecovalue.platform.ledger.rules import TxKind

    rs = load_ruleset()
    m = MemoryMarket()
    i = instrument_of(rs.programme("HBEA"), 2025, reference_price=Decimal("40.00"))
    m.add_instrument(i)
    units = Decimal("10000000")
    for k in range(participants):
        code = f"E{k:03d}"
        m.add_participant(R.Participant(code, code, R.ParticipantKind.enterprise, "420102"))
        m.post(
            TxKind.deposit,
            [
                (keys.BANK, "CNY", Decimal("-1000000000.00"), ()),
                (keys.cash(code), "CNY", Decimal("1000000000.00"), ()),
            ],
        )
        first = k * int(units) + 1
        m.post(TxKind.issue, [(keys.issuance("HBEA"), i.code, -units,
                               ((first, first + int(units) - 1),)),
                              (keys.hold(code), i.code, units, ())])  # fmt: skip
    lat, trades = [], 0
    start = time.perf_counter()
    for o in stream:
        s = time.perf_counter()
        (ack,) = m.execute([(SYSTEM, _request(o))])
        lat.append(time.perf_counter() - s)
        trades += len(ack.trades)
    wall = time.perf_counter() - start
    return {"orders": len(stream), "trades": trades, "wall_s": wall,
            "orders_per_s": len(stream) / wall, "p50_ms": _percentile(lat, 0.5) * 1e3,
            "p99_ms": _percentile(lat, 0.99) * 1e3}  # fmt: skip


def run_peer(stream_path: Path) -> dict[str, Any] | None:
    """The stream through PyPI order-matching in its own environment (None if not set up)."""
    if not PEER.exists():
        return None
    out = subprocess.run([str(PEER), str(HERE / "exchange_peer.py"), str(stream_path)],
                         capture_output=True, text=True, timeout=3600, check=True)  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["orders_per_s"] = result["orders"] / result["wall_s"]
    return result


def _as_postgres(args: list[str]) -> None:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


def start_postgres(tmp: Path) -> tuple[str, Callable[[], None]]:
    """A throwaway PostgreSQL 15 with durable commits (fsync and synchronous_commit on)."""
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    data = tmp / "pg"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C"])  # fmt: skip
    opts = (f"-p {port} -k {tmp} -c listen_addresses='' -c fsync=on -c synchronous_commit=on "
            "-c full_page_writes=on -c max_connections=50")  # fmt: skip
    _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "log"),
                  "-w", "start"])  # fmt: skip
    _as_postgres([str(PG_BIN / "createdb"), "-h", str(tmp), "-p", str(port), "bench"])

    def stop() -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])

    return f"postgresql+psycopg://postgres@/bench?host={tmp}&port={port}", stop


def _md(report: dict[str, Any]) -> str:
    peer = report.get("peer")
    lines = [f"# Exchange benchmark {report['at']}", "",
             f"{report['orders']} orders, {report['participants']} participants, seed "
             f"{report['seed']}; machine: {report['machine']}; load average before "
             f"{report['load_before']}, after {report['load_after']}.", "",
             "| run | orders/s | trades/s | p50 ack (ms) | p99 ack (ms) | orders/batch | "
             "ratio to order-matching | verify |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in report["runs"].items():
        ratio = f"{r['orders_per_s'] / peer['orders_per_s']:.2f}×" if peer else "—"
        verify = (
            ("clean" if not r.get("verify_problems") else "PROBLEMS") if "verify_s" in r else "—"
        )
        lines.append(f"| {name} | {r['orders_per_s']:,.0f} | {r.get('trades_per_s', 0):,.0f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r.get('orders_per_batch', 1):.1f} | "
                     f"{ratio} | {verify} |")  # fmt: skip
    if peer:
        lines.append(
            f"| order-matching 0.12.0 (in memory) | {peer['orders_per_s']:,.0f} | — | "
            f"{peer['p50_ms']:.2f} | {peer['p99_ms']:.2f} | 1 | 1.00× | — |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=20000)
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--window", type=int, default=16, help="orders in flight per client")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    stream = make_stream(args.orders, args.participants, args.seed)
    report: dict[str, Any] = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "orders": args.orders,
        "participants": args.participants, "seed": args.seed,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "load_before": [round(x, 2) for x in os.getloadavg()], "runs": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ecovalue-xbench-") as tmp_name:
        tmp = Path(tmp_name)
        stream_path = tmp / "stream.json"
        stream_path.write_text(json.dumps(stream), encoding="utf-8")
        for backend in [b for b in args.backends.split(",") if b]:
            if backend == "sqlite":
                url, stop = f"sqlite:///{tmp / 'bench.db'}", (lambda: None)
            else:
                url, stop = start_postgres(tmp)
            try:
                settings = bench_settings(url, tmp / backend)
                setup(settings, args.participants)
                report["runs"][backend] = run_db(settings, stream, args.clients, args.window)
            finally:
                stop()
            print(backend, json.dumps(report["runs"][backend]), flush=True)
        if not args.no_memory:
            report["runs"]["ecovalue in memory"] = run_memory(stream, args.participants)
        report["peer"] = run_peer(stream_path)
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / f"exchange-{stamp}.json").write_text(json.dumps(report, indent=2))
    md = _md(report)
    (args.out / f"exchange-{stamp}.md").write_text(md, encoding="utf-8")
    print(md)


if __name__ == "__main__":
    sys.exit(main())
