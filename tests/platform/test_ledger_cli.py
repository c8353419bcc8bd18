"""``ecovalue ledger`` end to end on a SQLite file: the administrators' commands, ``verify``
clean and then naming a break (exit status 1), ``rebuild``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import typer
from typer.testing import CliRunner

from ecovalue.cli import ledger
from ecovalue.cli.platform import audit_app, db_app

runner = CliRunner(env={"COLUMNS": "400"})  # wide: problem tables stay on one line


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
    ledger.register(app)
    return app


def test_ledger_commands_and_verify(tmp_path: Path, data_dir: Path) -> None:
    db = tmp_path / "x.db"
    opt = ["--database-url", f"sqlite:///{db}"]
    app = _app()

    def ok(*args: str) -> str:
        r = runner.invoke(app, [*args, *opt])
        assert r.exit_code == 0, r.output
        return r.output

    ok("db", "upgrade")
    ok("audit", "init-key")
    assert "HBEA" in ok("ledger", "init")
    assert "tick 10 元, lot 0.001 t_COD_a" in ok("ledger", "instrument", "PWCOD", "2025")
    ok("ledger", "participant", "F", "某化工厂", "--kind", "enterprise", "--region", "420102")
    ok("ledger", "participant", "GOV", "江岸区生态环境分局", "--kind", "government", "--region", "420102")
    ok("ledger", "deposit", "F", "10000.00", "--reference", "BANK-1")
    ok("ledger", "quota", "PWCOD-2025", "420102", "5.000", "--source", "2025 总量控制 (test)")
    out = ok("ledger", "allocate", "PWCOD-2025", "F", "2.000", "--district", "420102",
             "--price", "230", "--payee", "GOV")  # fmt: skip
    assert "CN-HB-PW-COD-1-2000-2025" in out and "460.00 元" in out
    r = runner.invoke(app, ["ledger", "allocate", "PWCOD-2025", "F", "9", "--district", "420102", *opt])
    assert r.exit_code == 1 and "would exceed" in r.output
    assert "journal intact" in ok("ledger", "verify")
    assert "P:F:cash" in ok("ledger", "balances", "F")
    # the journal's Core-written transactions replay from the audit record like ORM rows
    assert "audit record intact" in ok("audit", "verify")

    with sqlite3.connect(db) as conn:  # tamper with a posting's amount in the index
        conn.execute("UPDATE ledger_balances SET balance = '1.00' WHERE commodity = 'CNY'")
    r = runner.invoke(app, ["ledger", "verify", *opt])
    assert r.exit_code == 1 and "ledger_balances" in r.output and "recomputed" in r.output
    assert "intact" in ok("ledger", "rebuild")
    assert "journal intact" in ok("ledger", "verify")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE ledger_transactions SET body = replace(body, '10000.00', '10001.00')")
    r = runner.invoke(app, ["ledger", "verify", *opt])
    assert r.exit_code == 1 and "content was changed" in r.output
