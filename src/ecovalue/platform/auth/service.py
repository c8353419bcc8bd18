"""Accounts, password hashing (argon2id), JWT tokens and the in-process login rate limiter."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict, deque

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ecovalue.config import Settings
from ecovalue.errors import InputError
from ecovalue.platform.auth.rules import Principal, Role, require_role, validate_scope
from ecovalue.platform.auth.tables import User
from ecovalue.platform.errors import NotAuthenticated, NotFound, TooManyAttempts

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10  # assumed — user-settable policy
TOKEN_ALGORITHM = "HS256"
# A fixed hash verified for unknown usernames, so response time does not reveal which exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password-0")


def principal_of(user: User) -> Principal:
    """The :class:`Principal` a user acts as."""
    return Principal(user.username, Role(user.role), user.district_code, user.department)


def create_user(
    session: Session,
    actor: Principal,
    username: str,
    password: str,
    role: Role | str,
    district_code: str | None = None,
    department: str | None = None,
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
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            f"the password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}"
        )
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
        active=True,
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
    """The active user whose password matches; raises NotAuthenticated otherwise."""
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        user = None
    if user is None or not user.active:
        raise NotAuthenticated("wrong username or password")
    return user


def issue_token(settings: Settings, user: User, now: dt.datetime | None = None) -> str:
    """A signed JWT naming the user, valid for ``settings.token_lifetime_minutes``."""
    now = now or dt.datetime.now(dt.UTC)
    claims = {
        "sub": user.username,
        "role": user.role,
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
            options={"require": ["exp", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("the token has expired; sign in again") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"the token is invalid ({exc}); sign in again") from exc
    user = session.scalar(select(User).where(User.username == claims["sub"]))
    if user is None or not user.active:
        raise NotAuthenticated("the token's user no longer exists or is disabled")
    return principal_of(user)


class LoginRateLimiter:
    """Refuse logins after ``max_failures`` failures per (username, client) within ``window``.

    In-process only: with several server processes each keeps its own count.
    """

    def __init__(self, max_failures: int, window_seconds: int, clock=time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._failures[key]
        cutoff = self._clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def check(self, username: str, client: str) -> None:
        """Raise :class:`TooManyAttempts` when the key is currently blocked."""
        with self._lock:
            q = self._recent((username, client))
            if len(q) >= self.max_failures:
                retry = int(q[0] + self.window - self._clock()) + 1
                raise TooManyAttempts(
                    f"too many failed logins for '{username}'; try again in {retry} s", retry
                )

    def failed(self, username: str, client: str) -> None:
        """Record one failed login."""
        with self._lock:
            self._recent((username, client)).append(self._clock())

    def succeeded(self, username: str, client: str) -> None:
        """Forget the failures of a key after a successful login."""
        with self._lock:
            self._failures.pop((username, client), None)


def login(
    session: Session,
    settings: Settings,
    limiter: LoginRateLimiter,
    username: str,
    password: str,
    client: str,
) -> str:
    """Check the rate limit and the password; return a token."""
    limiter.check(username, client)
    try:
        user = authenticate(session, username, password)
    except NotAuthenticated:
        limiter.failed(username, client)
        raise
    limiter.succeeded(username, client)
    return issue_token(settings, user)
