"""Audit chain (tampering detected on both backends), accounts, tokens, rate limit, scoping."""

from __future__ import annotations

import datetime as dt

import pytest
from platform_support import ADMIN, ANALYST, OFFICIAL_A, square
from sqlalchemy import select, text

from ecovalue.config import Settings
from ecovalue.errors import InputError
from ecovalue.platform.audit.service import entries_for, verify_audit_chain
from ecovalue.platform.audit.tables import AuditEntry
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role, can_read_unpublished, in_district
from ecovalue.platform.errors import NotAuthenticated, PermissionDenied
from ecovalue.platform.registry import service as reg

SETTINGS = Settings(env="test", secret_key="t" * 40, token_lifetime_minutes=5)


@pytest.fixture
def audited(uow):  # type: ignore[no-untyped-def]
    """A few writes by two actors: a user, a register, an owner and a parcel."""
    with uow("admin") as s:
        auth.create_user(
            s, ADMIN, "li", "correct horse battery", Role.district_official, district_code="420102"
        )
        reg.create_register(s, ADMIN, "WH", "register", 4547)
    with uow("li") as s:
        owner = reg.add_owner(s, OFFICIAL_A, "collective", "某村", "某村股份经济合作社")
        reg.register_parcel(
            s, OFFICIAL_A, "WH", "P1", "forest", "420102001", square(0, 0), owner.id
        )


def test_every_write_is_in_the_chain(session, audited) -> None:  # type: ignore[no-untyped-def]
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [(e.actor, e.action, e.entity) for e in entries] == [
        ("admin", "insert", "users"),
        ("admin", "insert", "registers"),
        ("li", "insert", "owners"),
        ("li", "insert", "parcels"),
        ("li", "insert", "rights"),
    ]
    assert "argon2" in entries[0].payload  # the hash, never the password
    assert "correct horse" not in entries[0].payload
    assert entries_for(session, "parcels", "1")[0].action == "insert"
    assert verify_audit_chain(session) == []


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", "seq 2: content was changed"),
        ("UPDATE audit_log SET payload = '{}' WHERE seq = 5", "seq 5: content was changed"),
        ("DELETE FROM audit_log WHERE seq = 3", "entries 3..3 are missing"),
        ("DELETE FROM audit_log WHERE seq = 5", "head names entry 5 but the log ends at entry 4"),
    ],
)
def test_tampering_is_detected(session, audited, tamper: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    session.execute(text(tamper))
    problems = verify_audit_chain(session)
    assert any(expected in str(p) for p in problems), problems


def test_passwords_are_hashed_and_checked(session) -> None:  # type: ignore[no-untyped-def]
    user = auth.create_user(session, ADMIN, "ana", "a long password", Role.analyst)
    assert user.password_hash.startswith("$argon2id$")
    assert auth.authenticate(session, "ana", "a long password").username == "ana"
    with pytest.raises(NotAuthenticated):
        auth.authenticate(session, "ana", "wrong password!")
    with pytest.raises(NotAuthenticated):
        auth.authenticate(session, "nobody", "a long password")


def test_account_rules(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        auth.create_user(session, ANALYST, "x", "a long password", Role.analyst)
    with pytest.raises(InputError, match="needs a district code"):
        auth.create_user(session, ADMIN, "x", "a long password", Role.district_official)
    with pytest.raises(InputError, match="at least 10"):
        auth.create_user(session, ADMIN, "x", "short", Role.analyst)
    with pytest.raises(InputError, match="role 'king' is unknown"):
        auth.create_user(session, ADMIN, "x", "a long password", "king")


def test_tokens_expire_and_carry_the_scope(session) -> None:  # type: ignore[no-untyped-def]
    user = auth.create_user(
        session, ADMIN, "li", "a long password", Role.district_official, district_code="420102"
    )
    token = auth.issue_token(SETTINGS, user)
    p = auth.principal_from_token(session, SETTINGS, token)
    assert (p.username, p.role, p.district_code) == ("li", Role.district_official, "420102")
    old = auth.issue_token(SETTINGS, user, now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6))
    with pytest.raises(NotAuthenticated, match="expired"):
        auth.principal_from_token(session, SETTINGS, old)
    other = Settings(env="test", secret_key="u" * 40)
    with pytest.raises(NotAuthenticated, match="invalid"):
        auth.principal_from_token(session, other, token)


def test_district_scope_rules() -> None:
    assert in_district("420102001", "420102") and not in_district("420103001", "420102")
    assert can_read_unpublished(OFFICIAL_A, "420102")
    assert not can_read_unpublished(OFFICIAL_A, "420103")
    assert can_read_unpublished(ANALYST, "420103")
