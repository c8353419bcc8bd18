"""Accounts, password hashing (argon2id), JWT tokens with revocation, and signing in.

Tokens carry the account's ``token_version``; disabling an account, changing or resetting
its password, or revoking its tokens raises the version, so every token issued before
stops working at the next request (each request loads the account).
"""

from __future__ import annotations

import datetime as dt
import secrets

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecovalue.config import Settings
from ecovalue.errors import InputError, Problem
from ecovalue.platform.auth.limits import LoginRateLimiter
from ecovalue.platform.auth.rules import (
    Principal,
    Role,
    require_role,
    require_self_or_admin,
    validate_scope,
)
from ecovalue.platform.auth.tables import User
from ecovalue.platform.errors import NotAuthenticated, NotFound, RuleViolation

# argon2id with the OWASP Password Storage Cheat Sheet's minimum (m = 19 MiB, t = 2, p = 1):
# one core per check (~17 ms here) instead of argon2-cffi's default four lanes on 64 MiB
# (~110 ms wall, 130 ms CPU), so a burst of sign-ins cannot load every core. Hashes with
# other parameters still verify and are re-hashed at the next successful sign-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
MIN_PASSWORD_LENGTH = 10  # assumed — user-settable policy
TOKEN_ALGORITHM = "HS256"
# A fixed hash verified for unknown usernames, so response time does not reveal which exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")


def principal_of(user: User) -> Principal:
    """The :class:`Principal` a user acts as."""
    return Principal(
        user.username, Role(user.role), user.district_code, user.department, user.organization
    )


def password_problems(username: str, password: str) -> list[str]:
    """What is wrong with a new password (empty when it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}"
        )
    if password.strip().lower() == username.strip().lower():
        problems.append("the password equals the username; choose another")
    return problems


def create_user(
    session: Session,
    actor: Principal,
    username: str,
    password: str,
    role: Role | str,
    district_code: str | None = None,
    department: str | None = None,
    organization: str | None = None,
) -> User:
    """Add an account (administrators only); raises InputError on bad role/scope/password."""
    require_role(actor, {Role.administrator}, "create accounts")
    try:
        role = Role(role)
    except ValueError as exc:
        raise InputError(
            f"role '{role}' is unknown; expected one of {', '.join(r.value for r in Role)}"
        ) from exc
    problems = validate_scope(role, district_code, department)
    problems += password_problems(username, password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        problems.append(f"username '{username}' is taken; choose another")
    if problems:
        raise InputError(f"cannot create user '{username}': " + "; ".join(problems))
    user = User(
        username=username,
        password_hash=_hasher.hash(password),
        role=role.value,
        district_code=district_code,
        department=department,
        organization=organization or None,
        active=True,
        token_version=0,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User:
    """The account called ``username``; raises NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named '{username}'")
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user whose password matches; raises NotAuthenticated otherwise.

    A hash made with other argon2 parameters is replaced by one with the current ones.
    """
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise NotAuthenticated("wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return user


def issue_token(settings: Settings, user: User, now: dt.datetime | None = None) -> str:
    """A signed JWT naming the user, valid for ``settings.token_lifetime_minutes``."""
    now = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": user.username,
        "role": user.role,
        "tv": user.token_version,
        "iat": now,
        "exp": now + dt.timedelta(minutes=settings.token_lifetime_minutes),
    }
    return jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=TOKEN_ALGORITHM)


def principal_from_token(session: Session, settings: Settings, token: str) -> Principal:
    """Check the token's signature and expiry and load its (still active) user."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key.get_secret_value(),
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "sub", "tv"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("the token has expired; sign in again") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"the token is invalid ({exc}); sign in again") from exc
    user = session.scalar(select(User).where(User.username == claims["sub"]))
    if user is None or not user.active:
        raise NotAuthenticated("the token's user no longer exists or is disabled")
    if claims["tv"] != user.token_version:
        raise NotAuthenticated(
            "the token was revoked (password changed, tokens revoked or account re-enabled); "
            "sign in again"
        )
    return principal_of(user)


def _checked_user(
    session: Session, limiter: LoginRateLimiter, username: str, password: str, client: str
) -> User:
    stamp = limiter.begin(username, client)
    with limiter.password_check():
        user = authenticate(session, username, password)
    limiter.succeeded(username, client, stamp)
    return user


def login(
    session: Session,
    settings: Settings,
    limiter: LoginRateLimiter,
    username: str,
    password: str,
    client: str,
) -> str:
    """Check the rate limits and the password (through the limiter's gate); return a token."""
    return issue_token(settings, _checked_user(session, limiter, username, password, client))


def list_users(session: Session, actor: Principal) -> list[User]:
    """Every account, by username (administrators only)."""
    require_role(actor, {Role.administrator}, "list accounts")
    return list(session.scalars(select(User).order_by(User.username)))


def _revoke(user: User) -> None:
    user.token_version = (user.token_version or 0) + 1


def set_active(session: Session, actor: Principal, username: str, active: bool) -> User:
    """Disable or enable an account (administrators only); its issued tokens stop working.

    The last active administrator cannot be disabled (no one could enable accounts again).
    """
    require_role(actor, {Role.administrator}, "disable or enable accounts")
    user = get_user(session, username)
    if not active and user.active and user.role == Role.administrator.value:
        others = session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.administrator.value, User.active.is_(True), User.id != user.id)
        )
        if not others:
            raise RuleViolation(
                [
                    Problem(
                        f"user '{username}'",
                        "is the last active administrator",
                        "another active administrator first",
                        "create or enable another administrator, then disable this one",
                    )
                ]
            )
    user.active = active
    _revoke(user)
    session.flush()
    return user


def _set_password(session: Session, user: User, new_password: str) -> None:
    problems = password_problems(user.username, new_password)
    if problems:
        raise InputError(f"cannot set the password of '{user.username}': " + "; ".join(problems))
    user.password_hash = _hasher.hash(new_password)
    _revoke(user)
    session.flush()


def reset_password(
    session: Session, actor: Principal, username: str, new_password: str | None = None
) -> tuple[User, str]:
    """Set a new password (administrators only; generated when None); tokens are revoked.

    Returns the account and the password set, to hand to the user once.
    """
    require_role(actor, {Role.administrator}, "reset passwords")
    user = get_user(session, username)
    password = new_password if new_password is not None else secrets.token_urlsafe(15)
    _set_password(session, user, password)
    return user, password


def change_password(
    session: Session,
    settings: Settings,
    limiter: LoginRateLimiter,
    actor: Principal,
    current_password: str,
    new_password: str,
    client: str,
) -> str:
    """The signed-in user changes their own password; returns a fresh token.

    The current password is checked like a sign-in (same limits), so a stolen token cannot
    be used to guess it; every token issued before stops working.
    """
    user = _checked_user(session, limiter, actor.username, current_password, client)
    _set_password(session, user, new_password)
    return issue_token(settings, user)


def revoke_tokens(session: Session, actor: Principal, username: str) -> User:
    """Make every token of ``username`` invalid now (the user or an administrator)."""
    require_self_or_admin(actor, username, "revoke the tokens")
    user = get_user(session, username)
    _revoke(user)
    session.flush()
    return user
