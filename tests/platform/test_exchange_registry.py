"""The unit registry: serial blocks that partition what was issued, allocation within quotas
(free and paid use), the risk buffer, freezes and pledges, retirement and its certificate,
expiry, and the public registry."""

from __future__ import annotations

import datetime as dt

import pytest
from exchange_support import HB, D, build_world
from platform_support import ADMIN

from ecovalue.platform.errors import NotFound, RuleViolation
from ecovalue.platform.exchange import keys
from ecovalue.platform.exchange import service as X
from ecovalue.platform.exchange import trading as T
from ecovalue.platform.ledger import serials as sr
from ecovalue.platform.ledger import service as L
from ecovalue.platform.ledger.verify import verify_journal
from ecovalue.reports.certificate import CertificateData, certificate_html, certificate_pdf


@pytest.fixture
def world(factory, uow):  # type: ignore[no-untyped-def]
    build_world(factory)
    with uow() as s:
        X.create_instrument(s, ADMIN, "PWCOD", 2025, regions=["4201"])
        X.register_participant(s, ADMIN, "GOV", "武汉市生态环境局", "government", "420100")
        X.register_participant(s, ADMIN, "F", "江岸某化工厂", "enterprise", "420102", sector="industry")
        X.deposit(s, ADMIN, "F", D("100000.00"), "dep-F")
    return factory


def test_blocks_partition_the_issued_serials_and_split_on_partial_moves(world, uow) -> None:  # type: ignore[no-untyped-def]
    T.Market(world).execute([(ADMIN, T.OrderRequest(HB, "A", T.R.Side.sell, D("25"), D("40.00"))),
                             (ADMIN, T.OrderRequest(HB, "B", T.R.Side.buy, D("10"), D("40.00")))])  # fmt: skip
    with uow() as s:
        issued = {v.participant: v for v in X.issuances(s, HB)}
        assert issued["A"].serial == "CN-HB-EA-1-10000-2025"  # prefix-first-last-vintage
        assert issued["B"].serial == "CN-HB-EA-10001-20000-2025"
        blocks = [b for p in "ABCD" for b in X.holdings(s, ADMIN, p, HB)]
        ranges = sorted((b.first, b.last) for b in blocks)
        assert sr.check_ranges(ranges) is None and sr.count(ranges) == 40000  # a partition
        a = {b.serial: b.status for b in X.holdings(s, ADMIN, "A", HB)}
        # A's one block split: 10 to B, 15 escrowed for the rest of its order, the rest free
        assert a == {"CN-HB-EA-11-25-2025": "escrowed", "CN-HB-EA-26-10000-2025": "held"}
        b = {x.serial: x.status for x in X.holdings(s, ADMIN, "B", HB)}
        assert b["CN-HB-EA-1-10-2025"] == "held" and b["CN-HB-EA-10001-20000-2025"] == "issued"


def test_allocation_within_the_quota_free_or_at_a_paid_use_price(world, uow) -> None:  # type: ignore[no-untyped-def]
    code = "PWCOD-2025"
    with pytest.raises(RuleViolation, match="district 420102 has no quota"), uow() as s:
        X.allocate(s, ADMIN, code, "F", D("1.000"), "420102")
    with uow() as s:
        X.set_quota(s, ADMIN, code, "420102", D("10.000"), "江岸区 2025 COD 总量控制指标 (test)")
        free = X.allocate(s, ADMIN, code, "F", D("2.500"), "420102", basis="existing permit")
        paid = X.allocate(s, ADMIN, code, "F", D("3.000"), "420102", price=D("230"), payee="GOV")
    assert free.amount is None and paid.amount == D("690.00")  # 3 t × 230 元 (株洲 comparator)
    assert free.serial == "CN-HB-PW-COD-1-2500-2025"  # 0.001 t serials
    with pytest.raises(RuleViolation, match=r"would exceed district 420102's quota 10.000 \(5.500 allocated\)"), uow() as s:  # fmt: skip
        X.allocate(s, ADMIN, code, "F", D("4.501"), "420102")
    with uow() as s:
        assert L.balances(s, [keys.cash("GOV")])[(keys.cash("GOV"), "CNY")] == D("690.00")
        i = X.get_instrument(s, code)
        assert i.valid_until == dt.date(2029, 12, 31)  # 有效期原则上为五年
        assert verify_journal(s).intact


def test_buffer_share_goes_to_the_programme_buffer(world, uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        X.create_instrument(s, ADMIN, "FCER", 2025)
        v = X.issue(s, ADMIN, "FCER-2025", "A", D("90"), kind="sink", buffer_quantity=D("10"))
        assert v.serial == "CN-FC-1-100-2025"
        buffer = L.balances(s, [keys.buffer("FCER")])[(keys.buffer("FCER"), "FCER-2025")]
        assert buffer == 10 and L.balances(s, [keys.hold("A")])[(keys.hold("A"), "FCER-2025")] == 90


def test_retirement_certificate_is_verifiable_by_anyone(world, uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        c = X.retire(s, ADMIN, "C", HB, D("120"), "2025 年度配额清缴", "武汉市生态环境局")
    assert c.serials == ("CN-HB-EA-20001-20120-2025",) and c.number == "RC-2025-00000001"
    with uow() as s:
        again = X.certificate(s, c.verify_code)
        assert again.ledger_hash == c.ledger_hash and again.holder_name == "参与者C"
        assert [b.status for b in X.holdings(s, ADMIN, "C", HB) if b.first == 20001] == ["retired"]
        (listed,) = X.retirements(s)
        assert listed.number == c.number
    with pytest.raises(NotFound, match="check the link"), uow() as s:
        X.certificate(s, "not-a-code")
    data = CertificateData(c.number, c.instrument, c.instrument_name_zh, c.unit, c.holder_code,
                           c.holder_name, c.quantity, c.serials, c.purpose, c.beneficiary,
                           c.retired_at, c.ledger_seq, c.ledger_hash, "https://x/verify")  # fmt: skip
    html = certificate_html(data, "zh", embed_font=False)
    assert "注销证明" in html and "CN-HB-EA-20001-20120-2025" in html and "https://x/verify" in html
    assert "Retirement Certificate" in certificate_html(data, "en", embed_font=False)
    pdf = certificate_pdf(data, "en")
    assert pdf.startswith(b"%PDF") and b"RC-2025-00000001" in pdf  # the number in its metadata


def test_a_changed_journal_invalidates_the_certificate(world, uow) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with uow() as s:
        c = X.retire(s, ADMIN, "C", HB, D("1"), "test")
    with uow() as s:
        s.execute(text("UPDATE ledger_transactions SET hash = :h WHERE seq = :q"),
                  {"h": "0" * 64, "q": c.ledger_seq})  # fmt: skip
    with pytest.raises(RuleViolation, match="no longer carries the hash printed on it"), uow() as s:
        X.certificate(s, c.verify_code)


def test_expiry_moves_free_units_and_waits_for_open_orders(world, uow) -> None:  # type: ignore[no-untyped-def]
    with uow() as s:
        X.create_instrument(s, ADMIN, "HBEA", 2020, reference_price=D("30.00"),
                            overrides={"valid_until": "2030-12-31"})  # fmt: skip
        X.issue(s, ADMIN, "HBEA-2020", "A", D("50"))
    with pytest.raises(RuleViolation, match="is valid until 2030-12-31"), uow() as s:
        X.expire_units(s, ADMIN, "HBEA-2020")
    with uow() as s:
        X.create_instrument(s, ADMIN, "HBEA", 2019, overrides={"valid_until": "2020-12-31"})
        X.issue(s, ADMIN, "HBEA-2019", "A", D("40"))
        X.retire(s, ADMIN, "A", "HBEA-2019", D("5"), "2020 年度清缴")  # retired stays retired
        done = X.expire_units(s, ADMIN, "HBEA-2019")
        assert len(done) == 1
        assert L.balances(s, [keys.EXPIRED])[(keys.EXPIRED, "HBEA-2019")] == 35
        assert {b.status for b in X.holdings(s, ADMIN, "A", "HBEA-2019")} == {"retired"}
