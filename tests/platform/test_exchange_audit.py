"""``ecovalue audit verify`` after exchange activity (issue 26): intact on an untouched
database; a direct UPDATE of a journal transaction or of a trade, made behind the platform's
back, is named by table, row and column (the journal's and the trading record's rows are in
the audit record with their full after-images: decision 0127)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from exchange_support import build_world, order
from platform_support import ADMIN
from sqlalchemy import text
from typer.testing import CliRunner

from ecovalue.cli.platform import audit_app
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T

runner = CliRunner(env={"COLUMNS": "400"})  # wide: problem tables stay on one line


@pytest.fixture
def traded(factory, uow) -> int:  # type: ignore[no-untyped-def]
    """Orders that trade (T+0), a cancel, a retirement: the id of one trade."""
    build_world(factory)
    m = T.Market(factory)
    acks = m.execute([(ADMIN, order("A", "sell", "30", "40.00")),
                      (ADMIN, order("B", "buy", "20", "40.00")),
                      (ADMIN, order("C", "buy", "5", "39.00"))])  # fmt: skip
    assert acks[1].trades and acks[2].order_id is not None
    m.execute([(ADMIN, T.CancelRequest(acks[2].order_id))])
    with uow() as s:
        X.retire(s, ADMIN, "B", "HBEA-2025", Decimal("3"), "清缴 2025")
    return acks[1].trades[0].id


def _audit_verify(database_url: str) -> tuple[int, str]:
    r = runner.invoke(audit_app, ["verify", "--database-url", database_url])
    return r.exit_code, r.output


def test_audit_verify_is_intact_after_exchange_activity(database_url, traded) -> None:  # type: ignore[no-untyped-def]
    code, out = _audit_verify(database_url)
    assert code == 0 and "audit record intact" in out, out


def test_an_updated_journal_row_is_named(database_url, uow, traded) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        seq = s.execute(text("SELECT max(seq) FROM ledger_transactions")).scalar_one()
        s.execute(
            text("UPDATE ledger_transactions SET actor = 'mallory' WHERE seq = :s"), {"s": seq}
        )
    code, out = _audit_verify(database_url)
    assert code == 1, out
    assert f"ledger_transactions row {seq} " in out and "differs from the record's entry" in out, (
        out
    )
    assert 'actor: table "mallory", record "test"' in out


def test_an_updated_trade_row_is_named(database_url, uow, traded) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        s.execute(text("UPDATE xch_trades SET price = 1 WHERE id = :i"), {"i": traded})
    code, out = _audit_verify(database_url)
    assert code == 1, out
    assert f"xch_trades row {traded} " in out and "differs from the record's entry" in out, out
    assert 'price: table "1' in out, out
