"""The login rate limiter and the gate that bounds concurrent password checks.

Three counters of failed sign-ins in a sliding window (docs/decisions/0107-login-limits.md):

* per (username, address): guessing one account from one place;
* per address over all usernames: password spraying from one place;
* per username over all addresses: a distributed attack on one account. It pauses sign-ins
  to that username only from addresses the owner has not used: an address where the user
  signed in successfully within ``known_address_seconds`` still gets in, so an attacker
  cannot lock the owner out; a new address waits at most the window after the attack stops.

An attempt is counted as a failure when it starts and forgiven when it succeeds, so
concurrent attempts cannot overshoot a limit. Password checks (argon2id, ~19 MiB and one
core each) pass through a semaphore of ``concurrency`` slots; a sign-in that cannot get a
slot within ``queue_seconds`` gets 429. In-process only: with several server processes each
keeps its own counts (documented in docs/platform.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ecovalue.config import Settings
from ecovalue.platform.errors import TooManyAttempts

MAX_KEYS = 100_000  # counters kept per kind; the oldest are dropped beyond (bounded memory)
MAX_KNOWN_ADDRESSES = 16  # per user


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins each counter allows in ``window_seconds``."""

    per_user_address: int = 5
    per_address: int = 20
    per_user: int = 20
    window_seconds: int = 300
    known_address_seconds: int = 30 * 24 * 3600
    concurrency: int = 1
    queue_seconds: float = 5.0

    @classmethod
    def from_settings(cls, s: Settings) -> LoginLimits:
        return cls(
            per_user_address=s.login_max_failures,
            per_address=s.login_max_failures_per_address,
            per_user=s.login_max_failures_per_user,
            window_seconds=s.login_window_seconds,
            concurrency=s.login_concurrency,
            queue_seconds=s.login_queue_seconds,
        )


class _Counter:
    """Timestamps of failures per key within the window, with bounded memory."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.items: OrderedDict[object, deque[float]] = OrderedDict()

    def recent(self, key: object, now: float) -> deque[float]:
        q = self.items.get(key)
        if q is None:
            q = self.items[key] = deque()
            if len(self.items) > MAX_KEYS:
                self.items.popitem(last=False)
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def retry_after(self, q: deque[float], limit: int, now: float) -> int | None:
        """Seconds until ``q`` falls below ``limit``, or None when it already is."""
        if len(q) < limit:
            return None
        return int(q[len(q) - limit] + self.window - now) + 1

    def forgive(self, key: object, stamp: float) -> None:
        q = self.items.get(key)
        if q is not None and stamp in q:
            q.remove(stamp)


class LoginRateLimiter:
    """Sign-in limits of one server process (see the module docstring)."""

    def __init__(self, limits: LoginLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._pair = _Counter(limits.window_seconds)
        self._address = _Counter(limits.window_seconds)
        self._user = _Counter(limits.window_seconds)
        self._known: OrderedDict[str, dict[str, float]] = OrderedDict()
        self._gate = threading.BoundedSemaphore(limits.concurrency)

    def _is_known(self, username: str, address: str, now: float) -> bool:
        seen = self._known.get(username, {}).get(address)
        return seen is not None and seen > now - self.limits.known_address_seconds

    def begin(self, username: str, address: str) -> float:
        """Refuse a blocked attempt (TooManyAttempts); otherwise count it and return its stamp."""
        lim = self.limits
        with self._lock:
            now = self._clock()
            pair = self._pair.recent((username, address), now)
            addr = self._address.recent(address, now)
            user = self._user.recent(username, now)
            retry = self._pair.retry_after(pair, lim.per_user_address, now)
            if retry is not None:
                raise TooManyAttempts(
                    f"too many failed sign-ins for '{username}' from {address}; try again in "
                    f"{retry} s",
                    retry,
                )
            retry = self._address.retry_after(addr, lim.per_address, now)
            if retry is not None:
                raise TooManyAttempts(
                    f"too many failed sign-ins from {address} ({len(addr)} in "
                    f"{lim.window_seconds} s, over several usernames); try again in {retry} s",
                    retry,
                )
            retry = self._user.retry_after(user, lim.per_user, now)
            if retry is not None and not self._is_known(username, address, now):
                raise TooManyAttempts(
                    f"sign-ins for '{username}' from new addresses are paused for {retry} s "
                    f"after {len(user)} failures from several addresses; addresses where "
                    f"'{username}' signed in before are not affected",
                    retry,
                )
            for q in (pair, addr, user):
                q.append(now)
            return now

    def succeeded(self, username: str, address: str, stamp: float) -> None:
        """Forgive the attempt, clear this pair's failures, remember the address as known."""
        with self._lock:
            self._pair.items.pop((username, address), None)
            self._address.forgive(address, stamp)
            self._user.forgive(username, stamp)
            known = self._known.setdefault(username, {})
            self._known.move_to_end(username)
            known[address] = self._clock()
            if len(known) > MAX_KNOWN_ADDRESSES:
                del known[min(known, key=lambda a: known[a])]
            if len(self._known) > MAX_KEYS:
                self._known.popitem(last=False)

    @contextmanager
    def password_check(self) -> Iterator[None]:
        """Hold one of the ``concurrency`` slots for a password hash or check."""
        if not self._gate.acquire(timeout=self.limits.queue_seconds):
            raise TooManyAttempts(
                "the server is busy checking other sign-ins; try again in a few seconds", 2
            )
        try:
            yield
        finally:
            self._gate.release()
