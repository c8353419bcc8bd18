"""Errors raised by platform services; the API maps each to one HTTP status.

They extend the root hierarchy in :mod:`ecovalue.errors` and the matching built-ins.
"""

from __future__ import annotations

from ecovalue.errors import EcovalueError, InputError, Problem


class PermissionDenied(EcovalueError, PermissionError):
    """The signed-in user's role or scope does not allow this action (HTTP 403)."""


class NotAuthenticated(EcovalueError, PermissionError):
    """No valid credentials or token were presented (HTTP 401)."""


class NotFound(EcovalueError, LookupError):
    """A referenced record does not exist (HTTP 404)."""


class TooManyAttempts(EcovalueError):
    """Too many failed logins in the rate-limit window (HTTP 429)."""

    def __init__(self, message: str, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class RuleViolation(InputError):
    """A domain rule refused the change (HTTP 409); ``problems`` says which and how to fix."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
