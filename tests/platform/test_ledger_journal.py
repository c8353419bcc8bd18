"""The journal on SQLite and PostgreSQL: posting, every refusal, reversal, lots, snapshots,
audit entries, and ``verify`` naming each kind of break."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import text

from ecovalue.platform.audit.service import verify_audit_chain
from ecovalue.platform.errors import RuleViolation
from ecovalue.platform.ledger import service as L
from ecovalue.platform.ledger.rules import (
    CNY,
    AccountKind,
    Commodity,
    Entry,
    Posting,
    TxKind,
    chain_hash,
)
from ecovalue.platform.ledger.verify import rebuild_derived, verify_journal

D = Decimal
HBEA = Commodity("HBEA-2024", "tCO2e", 0, True, "湖北碳排放配额", "Hubei allowance")
COD = Commodity("COD-WH", "t_COD_a", 3, True, "化学需氧量排污权", "COD discharge right")


def tx(kind: TxKind, *legs: tuple[str, str, str], **kw) -> Entry:  # type: ignore[no-untyped-def]
    serials = kw.pop("serials", {})
    postings = tuple(Posting(a, c, D(x), serials.get(i, ())) for i, (a, c, x) in enumerate(legs))
    return Entry(kind, postings, L.now(), **kw)


@pytest.fixture
def books(uow):  # type: ignore[no-untyped-def]
    """CNY and two serial commodities; a bank and a programme issuance account; A and B."""
    with uow() as s:
        for c in (CNY, HBEA, COD):
            L.register_commodity(s, c)
        L.open_account(s, "bank", AccountKind.issuance, "bank")
        L.open_account(s, "prog", AccountKind.issuance, "programme")
        for who in ("A", "B"):
            L.open_account(s, f"{who}/cash", AccountKind.cash, who, "CNY")
            L.open_account(s, f"{who}/hold", AccountKind.holding, who)
            L.open_account(s, f"{who}/ret", AccountKind.retirement, who)
        L.post(s, tx(TxKind.deposit, ("bank", "CNY", "-1000.00"), ("A/cash", "CNY", "1000.00")))
        L.post(
            s,
            tx(TxKind.issue, ("prog", HBEA.code, "-100"), ("A/hold", HBEA.code, "100"),
               serials={0: ((1, 100),)}),
        )  # fmt: skip
    return uow


def test_balances_derive_from_postings_and_lots_split(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        L.post(s, tx(TxKind.transfer, ("A/hold", HBEA.code, "-30"), ("B/hold", HBEA.code, "30")))
        bal = L.balances(s, ["A/hold", "B/hold", "prog", "A/cash"])
        assert bal[("A/hold", HBEA.code)] == 70 and bal[("B/hold", HBEA.code)] == 30
        assert bal[("prog", HBEA.code)] == -100  # minus what is in circulation
        assert bal[("A/cash", "CNY")] == D("1000.00")
        held = L.lots(s, ["A/hold", "B/hold"])
        # the lot 1-100 split: the 30 lowest serials moved, 31-100 stayed as a new lot
        assert [r for r, _ in held[("B/hold", HBEA.code)]] == [(1, 30)]
        assert [r for r, _ in held[("A/hold", HBEA.code)]] == [(31, 100)]
        assert L.holder_of(s, HBEA.code, 31) == ("A/hold", (31, 100))
        assert verify_journal(s).intact


def test_each_refusal_names_what_and_moves_nothing(books) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (tx(TxKind.transfer, ("A/cash", "CNY", "-10.00"), ("B/cash", "CNY", "9.00")),
         "postings sum to -1.00, not 0"),
        (tx(TxKind.transfer, ("A/cash", "CNY", "-1000.01"), ("B/cash", "CNY", "1000.01")),
         "holds 1000.00 元 of CNY; this entry takes 1000.01"),
        (tx(TxKind.transfer, ("A/cash", "CNY", "-0.001"), ("B/cash", "CNY", "0.001")),
         "has more than 2 decimal places"),
        (tx(TxKind.transfer, ("A/hold", HBEA.code, "-1"), ("B/cash", HBEA.code, "1")),
         "holds only CNY, not HBEA-2024"),
        (tx(TxKind.transfer, ("A/hold", HBEA.code, "-1"), ("nobody", HBEA.code, "1")),
         "account 'nobody' does not exist"),
        (tx(TxKind.transfer, ("A/hold", HBEA.code, "-2"), ("B/hold", HBEA.code, "2"),
            serials={0: ((200, 201),)}), "serials 200-201 are not all held by 'A/hold'"),
        (tx(TxKind.issue, ("prog", HBEA.code, "-5"), ("B/hold", HBEA.code, "5"),
            serials={0: ((98, 102),)}), "overlap serials issued before (1-100)"),
        (tx(TxKind.issue, ("prog", HBEA.code, "-5"), ("B/hold", HBEA.code, "5")),
         "new serials none are not 5 serials"),
        (tx(TxKind.transfer, ("A/hold", HBEA.code, "-0"), ("B/hold", HBEA.code, "0")),
         "amount is zero"),
    ]  # fmt: skip
    for entry, message in cases:
        with pytest.raises(RuleViolation, match=re.escape(message)), books() as s:
            L.post(s, entry)
    with books() as s:
        assert L.head(s)[0] == 2  # nothing was posted
        assert L.balances(s, ["A/cash"])[("A/cash", "CNY")] == D("1000.00")
        assert verify_journal(s).intact


def test_a_closed_account_refuses_postings_and_needs_zero_balances(books) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuleViolation, match="still holds"), books() as s:
        L.close_account(s, "A/cash")
    with books() as s:
        L.close_account(s, "B/cash")
    with pytest.raises(RuleViolation, match="'B/cash' was closed"), books() as s:
        L.post(s, tx(TxKind.transfer, ("A/cash", "CNY", "-1.00"), ("B/cash", "CNY", "1.00")))


def test_reversal_links_to_the_original_and_gives_the_serials_back(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        moved = L.post(
            s, tx(TxKind.transfer, ("A/hold", HBEA.code, "-10"), ("B/hold", HBEA.code, "10"))
        )
    with books() as s:
        back = L.reverse(s, moved.seq, "entered for the wrong holder")
        assert back.entry.reverses == moved.seq
        assert sorted(r for r, _ in L.lots(s, ["A/hold"])[("A/hold", HBEA.code)]) == [
            (1, 10),
            (11, 100),
        ]
        assert L.get_transaction(s, moved.seq).hash == moved.hash  # the original is untouched
    with pytest.raises(RuleViolation, match="already reversed"), books() as s:
        L.reverse(s, moved.seq, "again")
    with books() as s:  # reversing an issuance voids its serials; they are never issued again
        L.reverse(s, 2, "issued by mistake")
        assert L.balances(s, ["prog"])[("prog", HBEA.code)] == 0
    with pytest.raises(RuleViolation, match="overlap serials issued before"), books() as s:
        L.post(
            s,
            tx(TxKind.issue, ("prog", HBEA.code, "-1"), ("B/hold", HBEA.code, "1"),
               serials={0: ((5, 5),)}),
        )  # fmt: skip
    with books() as s:
        assert verify_journal(s).intact


def test_fractional_units_count_in_serials_of_their_quantum(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        L.post(
            s,
            tx(TxKind.allocate, ("prog", COD.code, "-133.252"), ("A/hold", COD.code, "133.252"),
               serials={0: ((1, 133252),)}),
        )  # fmt: skip
        L.post(s, tx(TxKind.retire, ("A/hold", COD.code, "-0.5"), ("A/ret", COD.code, "0.5")))
        held = L.lots(s, ["A/ret"])[("A/ret", COD.code)]
        assert [r for r, _ in held] == [(1, 500)]  # 0.5 t = 500 serials of 0.001 t
        assert L.balances(s, ["A/hold"])[("A/hold", COD.code)] == D("132.752")


def test_snapshots_and_balance_at_any_transaction(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        L.take_snapshot(s)  # as of seq 2
        for _ in range(3):
            L.post(
                s, tx(TxKind.transfer, ("A/cash", "CNY", "-100.00"), ("B/cash", "CNY", "100.00"))
            )
        L.take_snapshot(s)  # as of seq 5
        L.post(s, tx(TxKind.transfer, ("B/cash", "CNY", "-50.00"), ("A/cash", "CNY", "50.00")))
        assert [L.balance_at(s, "B/cash", "CNY", q) for q in (1, 2, 3, 4, 5, 6)] == [
            0, 0, 100, 200, 300, 250,
        ]  # fmt: skip
        lines = L.statement(s, "B/cash", "CNY")
        assert [(x.seq, x.amount, x.balance) for x in lines] == [
            (6, D("-50.00"), D("250.00")),
            (5, D("100.00"), D("300.00")),
            (4, D("100.00"), D("200.00")),
            (3, D("100.00"), D("100.00")),
        ]
        assert verify_journal(s).intact


def test_every_transaction_is_in_the_audit_log(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        assert verify_audit_chain(s) == []
        entities = s.execute(
            text("SELECT entity_id FROM audit_log WHERE entity = 'ledger_transactions'")
        ).scalars()
        assert sorted(entities) == ["1", "2"]


def _tamper(books, *sql: str) -> list[str]:  # type: ignore[no-untyped-def]
    with books() as s:
        L.post(s, tx(TxKind.transfer, ("A/hold", HBEA.code, "-10"), ("B/hold", HBEA.code, "10")))
        L.post(s, tx(TxKind.transfer, ("A/cash", "CNY", "-5.00"), ("B/cash", "CNY", "5.00")))
    with books() as s:
        for statement in sql:
            s.execute(text(statement))
    with books() as s:
        return [str(p) for p in verify_journal(s).problems]


def test_verify_names_an_edited_body(books) -> None:  # type: ignore[no-untyped-def]
    found = _tamper(
        books, "UPDATE ledger_transactions SET body = replace(body, '-5.00', '-6.00') WHERE seq = 4"
    )
    assert any("seq 4: content was changed after it was written" in p for p in found)


def test_verify_names_a_deleted_posting(books) -> None:  # type: ignore[no-untyped-def]
    found = _tamper(books, "DELETE FROM ledger_postings WHERE seq = 3")
    assert any("ledger_postings seq 3: the index holds []" in p for p in found)


def test_verify_names_a_cut_tail(books) -> None:  # type: ignore[no-untyped-def]
    found = _tamper(
        books,
        "DELETE FROM ledger_postings WHERE seq = 4",
        "DELETE FROM ledger_transactions WHERE seq = 4",
    )
    assert any("ledger_head: names transaction 4" in p and "ends at 3" in p for p in found)


def test_verify_names_a_gap_and_a_rewritten_chain(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        for _ in range(3):
            L.post(s, tx(TxKind.transfer, ("A/cash", "CNY", "-1.00"), ("B/cash", "CNY", "1.00")))
    with books() as s:
        s.execute(text("DELETE FROM ledger_postings WHERE seq = 4"))
        s.execute(text("DELETE FROM ledger_transactions WHERE seq = 4"))
        found = [str(p) for p in verify_journal(s).problems]
        assert any("seq 5: transactions 4..4 are missing" in p for p in found)
        assert any("seq 5: prev_hash does not match" in p for p in found)
    with books() as s:  # rewrite seq 5's body and hash consistently: the audit log disagrees
        body, prev = s.execute(
            text("SELECT body, prev_hash FROM ledger_transactions WHERE seq=5")
        ).one()
        forged = body.replace("-1.00", "-2.00").replace('"1.00"', '"2.00"')
        s.execute(
            text("UPDATE ledger_transactions SET body = :b, hash = :h WHERE seq = 5"),
            {"b": forged, "h": chain_hash(prev, forged)},
        )
        found = [str(p) for p in verify_journal(s).problems]
        assert any("seq 5: hash" in p and "differs from the one the audit log" in p for p in found)


def test_verify_names_edited_derived_rows_and_rebuild_repairs_them(books) -> None:  # type: ignore[no-untyped-def]
    with books() as s:
        L.post(s, tx(TxKind.transfer, ("A/hold", HBEA.code, "-10"), ("B/hold", HBEA.code, "10")))
    with books() as s:
        s.execute(text("UPDATE ledger_balances SET balance = '999' WHERE commodity = 'CNY'"))
        s.execute(text("UPDATE ledger_lots SET serial_last = serial_last - 1"))
        found = [str(p) for p in verify_journal(s).problems]
        assert any("ledger_balances A/cash CNY: holds 999" in p for p in found)
        assert any("ledger_lots B/hold HBEA-2024: holds serials 1-9" in p for p in found)
    with books() as s:
        assert rebuild_derived(s).intact
    with books() as s:
        assert verify_journal(s).intact


def test_entry_times_are_utc(books) -> None:  # type: ignore[no-untyped-def]
    naive = Entry(
        TxKind.transfer,
        (Posting("A/cash", "CNY", D("-1.00")), Posting("B/cash", "CNY", D("1.00"))),
        dt.datetime(2026, 1, 1),
    )
    with pytest.raises((TypeError, ValueError)), books() as s:
        L.post(s, naive)
