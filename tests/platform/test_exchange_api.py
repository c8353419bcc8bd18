"""The exchange through HTTP: public board and registry, members' own accounts only, orders
answered after they are durable, refusals as 409 with every problem, certificates (HTML and
PDF, zh/en) verifiable by anyone, the journal's verification for administrators."""

from __future__ import annotations

import pytest
from exchange_support import HB, build_world
from fastapi.testclient import TestClient
from platform_support import ADMIN

from ecovalue.api.app import create_app
from ecovalue.config import Settings
from ecovalue.db.session import unit_of_work
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.exchange import service as X

PASSWORD = "a long password"


@pytest.fixture
def client(database_url, factory):  # type: ignore[no-untyped-def]
    build_world(factory)
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
        for user, p in (("ta", "A"), ("tb", "B")):
            auth.create_user(s, ADMIN, user, PASSWORD, Role.public)
            X.add_member(s, ADMIN, p, user)
    app = create_app(Settings(env="test", secret_key="s" * 40, database_url=database_url))
    with TestClient(app) as c:
        yield c
    gateway = getattr(app.state, "exchange_gateway", None)
    if gateway is not None:
        gateway.stop()
    app.state.engine.dispose()


def _h(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _order(client: TestClient, user: str, **body):  # type: ignore[no-untyped-def]
    base = {"instrument": HB, "side": "sell", "quantity": "10", "price": "40.00"}
    return client.post("/api/exchange/orders", json={**base, **body}, headers=_h(client, user))


def test_public_board_and_rules(client: TestClient) -> None:
    r = client.get("/api/exchange/instruments")
    assert r.status_code == 200
    hb = next(i for i in r.json() if i["code"] == HB)
    assert (hb["tick"], hb["lot"], hb["band"]) == ("0.01", "1", "0.10")
    assert "S90" in hb["sources"]["tick"] and "assumed" in hb["sources"]["fee_buy"]
    assert client.get(f"/api/exchange/instruments/{HB}/depth").json()["sell"] == []


def test_members_trade_and_see_only_their_own_accounts(client: TestClient) -> None:
    r = _order(client, "ta", participant="A")
    assert r.status_code == 201 and r.json()["status"] == "open", r.text
    sell_id = r.json()["order_id"]
    r = _order(client, "tb", participant="B", side="buy", quantity="4")
    assert r.status_code == 201
    (trade,) = r.json()["trades"]
    assert (trade["price"], trade["quantity"], trade["seller"]) == ("40.00", "4", "A")
    tape = client.get(f"/api/exchange/instruments/{HB}/trades").json()
    assert tape[0]["seller"] is None  # counterparties are not public
    mine = client.get("/api/exchange/participants/B/balances", headers=_h(client, "tb"))
    assert mine.status_code == 200 and mine.json()["P:B:hold"][HB] == "10004"
    other = client.get("/api/exchange/participants/A/balances", headers=_h(client, "tb"))
    assert other.status_code == 403 and "only their own accounts" in other.json()["detail"]
    assert _order(client, "tb", participant="A").status_code == 409  # not B's participant
    stmt = client.get("/api/exchange/participants/B/statement",
                      params={"account": "cash", "commodity": "CNY"}, headers=_h(client, "tb"))  # fmt: skip
    # B's cash: the reserve of 4 × 40.00 + fee 1.20 went into escrow, all of it was used
    assert stmt.status_code == 200
    assert [(x["kind"], x["amount"], x["balance"]) for x in stmt.json()[:2]] == [
        ("escrow", "-161.20", "999838.80"), ("deposit", "1000000.00", "1000000.00")]  # fmt: skip
    assert client.get("/api/exchange/participants/A/orders", headers=_h(client, "ta")).json()[0][
        "remaining"] == "6"  # fmt: skip
    cancelled = client.delete(f"/api/exchange/orders/{sell_id}", headers=_h(client, "ta"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_refusals_are_409_with_every_problem(client: TestClient) -> None:
    r = _order(client, "ta", participant="A", quantity="10.5", price="40.005")
    assert r.status_code == 409
    text = " ".join(p["what"] for p in r.json()["problems"])
    assert "not a multiple of the tick" in text and "not a whole number of lots" in text
    r = client.post("/api/exchange/orders", json={"instrument": HB, "participant": "A",
                                                  "side": "sideways", "quantity": "1"},
                    headers=_h(client, "ta"))  # fmt: skip
    assert r.status_code == 422


def test_certificates_are_verifiable_by_anyone(client: TestClient) -> None:
    r = client.post("/api/exchange/participants/A/retirements",
                    json={"instrument": HB, "quantity": "25", "purpose": "2025 年度配额清缴"},
                    headers=_h(client, "ta"))  # fmt: skip
    assert r.status_code == 201, r.text
    cert = r.json()
    assert cert["serials"] == ["CN-HB-EA-1-25-2025"]
    v = client.get(cert["verify"])
    assert v.status_code == 200 and v.json()["valid"] and v.json()["holder_code"] == "A"
    html = client.get(cert["html"], params={"lang": "en"})
    assert html.status_code == 200 and "Retirement Certificate" in html.text
    assert cert["verify"] in html.text  # the verification link is printed on it
    pdf = client.get(cert["pdf"])
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    registry = client.get("/api/exchange/registry/retirements").json()
    assert registry[0]["certificate"] == cert["verify"] and "verify_code" not in registry[0]
    assert client.get("/api/exchange/certificates/forged").status_code == 404


def test_journal_verification_is_for_administrators(client: TestClient) -> None:
    assert client.get("/api/exchange/journal/verify", headers=_h(client, "ta")).status_code == 403
    r = client.get("/api/exchange/journal/verify", headers=_h(client, "admin"))
    assert r.status_code == 200 and r.json()["intact"] and r.json()["transactions"] > 0
    one = client.get("/api/exchange/journal/transactions/1", headers=_h(client, "admin")).json()
    assert one["kind"] == "deposit" and one["postings"][1]["account"] == "P:A:cash"
