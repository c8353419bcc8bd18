"""Sign-in limits and accounts (issue 23): forwarded headers only from trusted proxies, the
per-address and per-username limits without a free lock-out, bounded password-check cost,
account management and token revocation at once."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from platform_support import ADMIN
from sqlalchemy import text

from ecovalue.api.app import create_app
from ecovalue.cli.platform import server_config
from ecovalue.config import Settings
from ecovalue.db.session import unit_of_work
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.limits import LoginLimits, LoginRateLimiter
from ecovalue.platform.auth.rules import Role, client_address, trusted_networks
from ecovalue.platform.errors import NotAuthenticated, RuleViolation, TooManyAttempts

PASSWORD = "a long password"


def _limiter(now: list[float], **limits: int) -> LoginRateLimiter:
    return LoginRateLimiter(LoginLimits(**limits), clock=lambda: now[0])


def _fail(limiter: LoginRateLimiter, user: str, address: str) -> None:
    limiter.begin(user, address)  # counted as failed unless succeeded() follows


def test_per_username_and_address_limit_and_its_window() -> None:
    now = [0.0]
    limiter = _limiter(now, per_user_address=5)
    for _ in range(5):
        _fail(limiter, "li", "1.2.3.4")
    with pytest.raises(TooManyAttempts, match="for 'li' from 1.2.3.4") as err:
        limiter.begin("li", "1.2.3.4")
    assert err.value.retry_after_seconds == 301
    limiter.begin("li", "5.6.7.8")  # another address is not blocked by this counter
    now[0] = 301.0
    limiter.begin("li", "1.2.3.4")


def test_password_spraying_from_one_address_is_limited() -> None:
    now = [0.0]
    limiter = _limiter(now, per_address=20)
    for i in range(20):
        _fail(limiter, f"user{i}", "6.6.6.6")
    with pytest.raises(TooManyAttempts, match="from 6.6.6.6 .20 in 300 s, over several"):
        limiter.begin("user20", "6.6.6.6")
    limiter.begin("user20", "7.7.7.7")


def test_a_distributed_attack_does_not_lock_the_owner_out() -> None:
    now = [0.0]
    limiter = _limiter(now, per_user=20)
    stamp = limiter.begin("li", "10.0.0.5")
    limiter.succeeded("li", "10.0.0.5", stamp)  # li's usual address
    for i in range(20):  # 20 attackers, one guess each
        _fail(limiter, "li", f"203.0.113.{i}")
    with pytest.raises(TooManyAttempts, match="from new addresses are paused"):
        limiter.begin("li", "203.0.113.99")
    stamp = limiter.begin("li", "10.0.0.5")  # the owner still gets in from a known address
    limiter.succeeded("li", "10.0.0.5", stamp)
    now[0] = 301.0  # and from anywhere once the attack's failures age out (bounded delay)
    limiter.begin("li", "198.51.100.1")


def test_concurrent_attempts_cannot_overshoot_the_limit() -> None:
    limiter = LoginRateLimiter(LoginLimits(per_user_address=5))
    started: list[bool] = []

    def attempt() -> None:
        try:
            limiter.begin("li", "1.2.3.4")
            started.append(True)
        except TooManyAttempts:
            started.append(False)

    with ThreadPoolExecutor(16) as pool:
        for _ in range(40):
            pool.submit(attempt)
    assert started.count(True) == 5


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = trusted_networks(["10.0.0.1", "172.16.0.0/12"])
    assert client_address("127.0.0.1", ["1.1.1.1"], proxies) == "127.0.0.1"
    assert client_address("10.0.0.1", ["1.1.1.1"], proxies) == "1.1.1.1"
    # a client's own header comes first; the proxy appends the real peer on the right
    assert client_address("10.0.0.1", ["6.6.6.6, 2.2.2.2"], proxies) == "2.2.2.2"
    assert client_address("10.0.0.1", ["2.2.2.2, 172.16.5.5"], proxies) == "2.2.2.2"
    assert client_address("10.0.0.1", ["2.2.2.2", "172.16.5.5"], proxies) == "2.2.2.2"
    assert client_address("10.0.0.1", ["not-an-ip"], proxies) == "10.0.0.1"
    assert client_address("10.0.0.1", [], proxies) == "10.0.0.1"
    assert client_address("testclient", ["1.1.1.1"], proxies) == "testclient"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(database_url, factory, settings) -> Iterator[tuple[str, Settings]]:  # type: ignore[no-untyped-def]
    """A real uvicorn with the configuration `ecovalue serve` uses, on 127.0.0.1."""
    import uvicorn

    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "li", PASSWORD, Role.analyst)
    servers: list[uvicorn.Server] = []

    def start(**overrides: object) -> str:
        port = _free_port()
        config = server_config(settings.model_copy(update=overrides), "127.0.0.1", port)
        config.log_level = "warning"
        server = uvicorn.Server(config)
        threading.Thread(target=server.run, daemon=True).start()
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        servers.append(server)
        return f"http://127.0.0.1:{port}"

    yield start  # type: ignore[misc]
    for server in servers:
        server.should_exit = True
    time.sleep(0.3)


_HTTP = httpx.Client(timeout=30)  # one client: building one per request costs ~0.1 s


def _login(base: str, user: str, password: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    r = _HTTP.post(
        f"{base}/api/auth/token", data={"username": user, "password": password}, headers=headers
    )
    return r.status_code


def test_changing_forwarded_headers_from_a_local_process_do_not_escape_the_limit(live) -> None:  # type: ignore[no-untyped-def]
    base = live()
    codes = [_login(base, "li", "wrong password", f"198.51.100.{i}") for i in range(40)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


def test_behind_a_trusted_proxy_the_owner_gets_in_during_an_attack(live) -> None:  # type: ignore[no-untyped-def]
    base = live(trusted_proxies=["127.0.0.1"], login_max_failures_per_user=20)
    assert _login(base, "li", PASSWORD, "10.0.0.5") == 200  # li's usual address
    codes = [_login(base, "li", "wrong password", f"203.0.113.{i}") for i in range(40)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    assert _login(base, "li", PASSWORD, "198.51.100.7") == 429  # a new address waits
    assert _login(base, "li", PASSWORD, "10.0.0.5") == 200  # the known one does not
    # spraying many usernames from one address is limited too
    sprays = [_login(base, f"user{i}", "wrong password", "192.0.2.1") for i in range(40)]
    assert set(sprays[:20]) == {401} and set(sprays[20:]) == {429}


def test_password_checks_use_one_core_and_queue(settings, factory) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        user = auth.create_user(s, ADMIN, "li", PASSWORD, Role.analyst)
        assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    limiter = LoginRateLimiter(LoginLimits(concurrency=1, queue_seconds=0.2))
    with limiter.password_check(), unit_of_work(factory) as s:  # another check holds the slot
        with pytest.raises(TooManyAttempts, match="busy checking other sign-ins"):
            auth.login(s, settings, limiter, "li", PASSWORD, "1.2.3.4")
    limiter = LoginRateLimiter(LoginLimits(per_user_address=100, per_address=100))

    def login(_: int) -> None:
        with unit_of_work(factory) as s:
            auth.login(s, settings, limiter, "li", PASSWORD, "1.2.3.4")

    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(login, range(16)))
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    # 16 sign-ins from 8 threads keep about one core busy (argon2-cffi's default used ~2)
    assert cpu / wall < 1.4, (cpu, wall)


def test_old_hashes_are_upgraded_at_sign_in(session) -> None:  # type: ignore[no-untyped-def]
    auth.create_user(session, ADMIN, "li", PASSWORD, Role.analyst)
    session.execute(
        text("UPDATE users SET password_hash = :h WHERE username = 'li'"),
        {"h": PasswordHasher().hash(PASSWORD)},  # argon2-cffi's defaults (p=4, 64 MiB)
    )
    session.expire_all()
    user = auth.authenticate(session, "li", PASSWORD)
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


@pytest.fixture
def client(factory, settings) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
        auth.create_user(s, ADMIN, "li", PASSWORD, Role.district_official, district_code="420102")
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _token(c: TestClient, user: str, password: str = PASSWORD) -> dict[str, str]:
    r = c.post("/api/auth/token", data={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_a_disabled_users_token_stops_working_at_once(client: TestClient) -> None:
    admin, li = _token(client, "admin"), _token(client, "li")
    assert client.get("/api/auth/me", headers=li).status_code == 200
    r = client.post("/api/users/li/disable", headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/api/auth/me", headers=li).status_code == 401
    assert (
        client.post("/api/auth/token", data={"username": "li", "password": PASSWORD}).status_code
        == 401
    )
    assert client.post("/api/users/li/enable", headers=admin).json()["active"] is True
    assert client.get("/api/auth/me", headers=li).status_code == 401  # old tokens stay dead
    assert client.get("/api/auth/me", headers=_token(client, "li")).status_code == 200


def test_accounts_are_managed_by_administrators(client: TestClient) -> None:
    admin, li = _token(client, "admin"), _token(client, "li")
    users = client.get("/api/users", headers=admin).json()
    assert [(u["username"], u["active"]) for u in users] == [("admin", True), ("li", True)]
    for path in ("/api/users", "/api/users/admin/disable"):
        r = client.get(path, headers=li) if path == "/api/users" else client.post(path, headers=li)
        assert r.status_code == 403
    r = client.post("/api/users/admin/disable", headers=admin)
    assert r.status_code == 409 and "last active administrator" in r.json()["detail"]
    r = client.post("/api/users/li/reset-password", headers=admin, json={"new_password": "short"})
    assert r.status_code == 422 and "at least 10" in r.json()["detail"]
    r = client.post(
        "/api/users/li/reset-password", headers=admin, json={"new_password": "a new long one"}
    )
    assert r.status_code == 200
    assert client.get("/api/auth/me", headers=li).status_code == 401
    assert (
        client.get("/api/auth/me", headers=_token(client, "li", "a new long one")).status_code
        == 200
    )
    assert client.post("/api/users/nobody/disable", headers=admin).status_code == 404


def test_users_change_their_password_and_sign_out_everywhere(client: TestClient) -> None:
    li = _token(client, "li")
    other_device = _token(client, "li")
    r = client.post(
        "/api/auth/password",
        headers=li,
        json={"current_password": "wrong password", "new_password": "another long one"},
    )
    assert r.status_code == 401
    r = client.post(
        "/api/auth/password", headers=li, json={"current_password": PASSWORD, "new_password": "li"}
    )
    assert r.status_code == 422 and "equals the username" in r.json()["detail"]
    r = client.post(
        "/api/auth/password",
        headers=li,
        json={"current_password": PASSWORD, "new_password": "another long one"},
    )
    assert r.status_code == 200
    fresh = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.get("/api/auth/me", headers=other_device).status_code == 401
    assert client.get("/api/auth/me", headers=fresh).status_code == 200
    assert client.post("/api/auth/logout", headers=fresh).status_code == 204
    assert client.get("/api/auth/me", headers=fresh).status_code == 401
    admin = _token(client, "admin")
    mine = _token(client, "li", "another long one")
    assert client.post("/api/users/li/revoke-tokens", headers=admin).status_code == 200
    assert client.get("/api/auth/me", headers=mine).status_code == 401


def test_revocation_services(session) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(env="test", secret_key="t" * 40)
    admin = auth.create_user(session, ADMIN, "root", PASSWORD, Role.administrator)
    token = auth.issue_token(settings, admin)
    auth.revoke_tokens(session, ADMIN, "root")
    with pytest.raises(NotAuthenticated, match="revoked"):
        auth.principal_from_token(session, settings, token)
    with pytest.raises(RuleViolation, match="last active administrator"):
        auth.set_active(session, ADMIN, "root", False)
