"""kill -9 under load, restart: nothing acknowledged is lost, nothing half-applied, the book
rebuilt from the database equals the one replayed from the record (bench/exchange_crash.py;
``make test`` runs ``ECOVALUE_CRASH_CYCLES`` cycles, default 3; the 100-cycle run is
``.venv/bin/python bench/exchange_crash.py --cycles 100``)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from ecovalue.db.session import make_engine

BENCH = Path(__file__).resolve().parents[2] / "bench" / "exchange_crash.py"
CYCLES = os.environ.get("ECOVALUE_CRASH_CYCLES", "3")


def test_kill_minus_nine_under_load_loses_nothing(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--cycles", CYCLES, "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    (path,) = tmp_path.glob("exchange-crash-*.json")
    report = json.loads(path.read_text())
    assert proc.returncode == 0, [c["problems"] for c in report["cycles"]]
    assert len(report["cycles"]) == int(CYCLES) and report["acknowledged"] > 0


def test_the_crash_check_finds_a_lost_trade(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("exchange_crash", BENCH)
    assert spec and spec.loader
    crash = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crash)
    url = f"sqlite:///{tmp_path / 'c.db'}"
    crash.setup(url)
    acked = [{"order_id": 999, "trades": [{"id": 7, "price": "40.00", "quantity": "3"}]}]
    problems = [p for p in crash.check(url, acked) if not p.startswith("__depth__")]
    assert problems == ["acknowledged order 999 is missing",
                        "acknowledged trade 7 is None, not {'id': 7, 'price': '40.00', 'quantity': '3'}"]
    engine = make_engine(url)
    with engine.begin() as conn:  # a derived row edited: the verification names it
        conn.execute(text("UPDATE ledger_balances SET balance = '0' WHERE commodity = 'CNY'"))
    engine.dispose()
    assert any("ledger_balances" in p for p in crash.check(url, []))
