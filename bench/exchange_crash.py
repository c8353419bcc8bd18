"""Crash test of the exchange: kill -9 the API server at random moments under load, restart.

``.venv/bin/python bench/exchange_crash.py --cycles 100`` (the issue's figure; ``make test``
runs 3 cycles through tests/platform/test_exchange_crash.py).

Each cycle starts ``ecovalue serve`` on a SQLite file (WAL, synchronous FULL), has
``--clients`` threads enter and cancel orders through HTTP as two participants' traders,
kills the server with SIGKILL after a random 0.2–1.5 s, and then, on the database as the
crash left it, checks:

* nothing acknowledged was lost: every order acknowledged is in ``xch_orders`` and every
  trade acknowledged is in ``xch_trades`` with its price and quantity;
* no half-applied transaction: ``ledger verify`` is clean (chain, balances, lots, snapshots;
  every escrow equals its open orders), every book replays from its record to the state
  ``xch_order_state`` holds, and the audit record verifies (chain, and every table replayed
  from its after-images);
* the book rebuilt from the database equals the book replayed from the record, and after the
  restart the server's depth (HTTP) equals it.

Writes bench/results/exchange-crash-<time>.json; exit status 1 if any cycle found a problem.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from ecovalue.config import Settings
from ecovalue.db import migrate
from ecovalue.db.session import make_engine, unit_of_work
from ecovalue.platform import schema  # noqa: F401  (tables and the audit listener)
from ecovalue.platform.audit.service import audited_sessionmaker, verify_record
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import SYSTEM, Role
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.exchange.tables import Order, Trade
from ecovalue.platform.exchange.verify import replay_book, verify_books
from ecovalue.platform.ledger.verify import verify_journal

HERE = Path(__file__).resolve().parent
INSTRUMENT = "HBEA-2025"
PASSWORD = "crash test password"
SECRET = "crash-test-secret-key-not-for-production"
TRADERS = {"ta": "A", "tb": "B", "tc": "C"}


def settings_for(url: str) -> Settings:
    """The settings the harness and its server share: the audit keys beside the database."""
    folder = Path(url.removeprefix("sqlite:///")).parent
    return Settings(env="test", database_url=url, secret_key=SECRET,
                    audit_key_file=folder / "audit-keys.json",
                    audit_checkpoint_file=folder / "audit-checkpoints.log")  # fmt: skip


def setup(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with unit_of_work(audited_sessionmaker(engine, settings_for(url)), "crash") as s:
        X.adopt_ruleset(s, SYSTEM)
        X.create_instrument(s, SYSTEM, "HBEA", 2025, reference_price=Decimal("40.00"))
        for user, p in TRADERS.items():
            X.register_participant(s, SYSTEM, p, p, "enterprise", "420102")
            X.deposit(s, SYSTEM, p, Decimal("100000000.00"), f"crash-{p}")
            X.issue(s, SYSTEM, INSTRUMENT, p, Decimal("1000000"))
            auth.create_user(s, SYSTEM, user, PASSWORD, Role.public)
            X.add_member(s, SYSTEM, p, user)
    engine.dispose()


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    settings = settings_for(url)
    env = {**os.environ, "ECOVALUE_DATABASE_URL": url, "ECOVALUE_SECRET_KEY": SECRET,
           "ECOVALUE_ENV": "test", "ECOVALUE_AUDIT_KEY_FILE": str(settings.audit_key_file),
           "ECOVALUE_AUDIT_CHECKPOINT_FILE": str(settings.audit_checkpoint_file)}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecovalue.cli.main", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--no-migrate"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log}")
    proc.kill()
    raise RuntimeError(f"the server did not answer within 120 s; see {log}")


def _tokens(base: str) -> dict[str, str]:
    out = {}
    for user in TRADERS:
        r = httpx.post(f"{base}/api/auth/token", data={"username": user, "password": PASSWORD},
                       timeout=30)  # fmt: skip
        r.raise_for_status()
        out[user] = r.json()["access_token"]
    return out


def load(base: str, tokens: dict[str, str], rng: random.Random, stop: threading.Event,
         acked: list[dict[str, Any]], lock: threading.Lock) -> None:  # fmt: skip
    """Enter (and sometimes cancel) orders until the server dies or ``stop`` is set."""
    user = rng.choice(list(tokens))
    headers = {"Authorization": f"Bearer {tokens[user]}"}
    mine: list[int] = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while not stop.is_set():
            try:
                if mine and rng.random() < 0.15:
                    oid = mine.pop(rng.randrange(len(mine)))
                    r = client.delete(f"/api/exchange/orders/{oid}")
                else:
                    price = Decimal("40.00") + Decimal("0.01") * rng.randint(-30, 30)
                    r = client.post("/api/exchange/orders", json={
                        "instrument": INSTRUMENT, "participant": TRADERS[user],
                        "side": rng.choice(("buy", "sell")), "quantity": str(rng.randint(1, 40)),
                        "price": str(price)})  # fmt: skip
            except httpx.HTTPError:
                return  # the server was killed
            if r.status_code in (200, 201):
                body = r.json()
                with lock:
                    acked.append(body)
                if body["status"] == "open" and body["order_id"]:
                    mine.append(body["order_id"])


def check(url: str, acked: list[dict[str, Any]]) -> list[str]:
    """Every check of a cycle on the database as the crash left it."""
    engine = make_engine(url)
    problems: list[str] = []
    with unit_of_work(audited_sessionmaker(engine, settings_for(url)), "crash-check") as s:
        problems += [str(p) for p in verify_journal(s).problems]
        problems += [str(p) for p in verify_books(s)]
        problems += [str(p) for p in verify_record(s).problems if p.severity == "error"]
        orders = {o.id for o in s.query(Order)}
        trades = {t.id: (t.price, t.quantity) for t in s.query(Trade)}
        for a in acked:
            if a["order_id"] and a["order_id"] not in orders:
                problems.append(f"acknowledged order {a['order_id']} is missing")
            for t in a["trades"]:
                got = trades.get(t["id"])
                if got is None or (got[0], got[1]) != (Decimal(t["price"]), Decimal(t["quantity"])):
                    problems.append(f"acknowledged trade {t['id']} is {got}, not {t}")
        i = X.get_instrument(s, INSTRUMENT)
        rebuilt = T.load_book(s, i).book.snapshot()
        replayed = replay_book(s, INSTRUMENT)[0].snapshot()
        if rebuilt != replayed:
            problems.append(f"the book rebuilt from the database ({len(rebuilt)} orders) differs "
                            f"from the book replayed from the record ({len(replayed)})")  # fmt: skip
        depth = T.depth(s, INSTRUMENT, 100)
    engine.dispose()
    return problems + [f"__depth__:{json.dumps(depth, default=str)}"]


def run(cycles: int, clients: int, seed: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    url = f"sqlite:///{workdir / 'crash.db'}"
    setup(url)
    log = workdir / "server.log"
    report: dict[str, Any] = {"cycles": [], "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                              "load_before": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
    expected_depth: str | None = None
    for n in range(cycles):
        proc, base = start_server(url, log)
        problems: list[str] = []
        if expected_depth is not None:  # the restarted server shows the book the record gives
            d = httpx.get(f"{base}/api/exchange/instruments/{INSTRUMENT}/depth",
                          params={"levels": 100}, timeout=30).json()  # fmt: skip
            got = json.dumps(d, default=str, sort_keys=True)
            if got != expected_depth:
                problems.append(
                    f"after the restart the server's depth differs from the replayed "
                    f"book: {got[:300]} vs {expected_depth[:300]}"
                )
        tokens = _tokens(base)
        stop, lock, acked = threading.Event(), threading.Lock(), []  # type: ignore[var-annotated]
        threads = [threading.Thread(target=load, args=(base, tokens, random.Random(rng.random()),
                                                       stop, acked, lock)) for _ in range(clients)]  # fmt: skip
        for t in threads:
            t.start()
        wait = rng.uniform(0.2, 1.5)
        time.sleep(wait)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        found = check(url, acked)
        depth = next(p for p in found if p.startswith("__depth__:")).removeprefix("__depth__:")
        expected_depth = json.dumps(json.loads(depth), default=str, sort_keys=True)
        problems += [p for p in found if not p.startswith("__depth__:")]
        report["cycles"].append({"cycle": n + 1, "killed_after_s": round(wait, 3),
                                 "acknowledged": len(acked),
                                 "trades": sum(len(a["trades"]) for a in acked),
                                 "problems": problems})  # fmt: skip
        print(
            f"cycle {n + 1}: killed after {wait:.2f} s, {len(acked)} acknowledged, "
            f"{len(problems)} problem(s)",
            flush=True,
        )
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report["problems"] = sum(len(c["problems"]) for c in report["cycles"])
    report["acknowledged"] = sum(c["acknowledged"] for c in report["cycles"])
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecovalue-crash-") as tmp:
        report = run(args.cycles, args.clients, args.seed, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"exchange-crash-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{len(report['cycles'])} cycles, {report['acknowledged']} acknowledged, "
          f"{report['problems']} problem(s); report {path}")  # fmt: skip
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
