"""A bounded Schemathesis run against the platform API, counting cases and failures.

Every operation of ``/openapi.json`` gets up to ``max_examples`` positive cases (data the
schema allows) and as many negative ones (data it forbids), sent with an administrator's
token; each answer is checked for server errors (5xx), for a status the operation documents
and for a body that matches the documented schema. The run stops generating when its time
budget is spent, so it fits ``make test`` on two shared cores; the figures say how many
cases ran.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@dataclass
class FuzzReport:
    """What a fuzz run found: cases sent, statuses seen and every failure (first few kept)."""

    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    violations: int = 0
    examples: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)  # "operation -> status: check"
    operations: Counter[str] = field(default_factory=Counter)  # cases per operation label
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.cases} cases in {self.seconds:.0f} s, {self.server_errors} server errors, "
            f"{self.violations} schema/status violations; statuses {dict(sorted(self.statuses.items()))}"
        )


def _record(report: FuzzReport, case: Any, response: Any, headers: dict[str, str]) -> None:
    report.cases += 1
    report.operations[case.operation.label] += 1
    report.statuses[response.status_code] += 1
    if response.status_code >= 500:
        report.server_errors += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except (AssertionError, BaseExceptionGroup) as exc:  # a FailureGroup of check failures
        if response.status_code < 500:
            report.violations += 1
        titles = [
            line.strip()[2:] for line in str(exc).splitlines() if line.strip().startswith("- ")
        ]
        report.kinds[f"{case.operation.label} -> {response.status_code}: {'; '.join(titles)}"] += 1
        if len(report.examples) < 12:
            body = response.text[:300] if hasattr(response, "text") else ""
            report.examples.append(
                f"{case.operation.label} {case.path_parameters} {case.query} "
                f"{str(case.body)[:200]!r} -> {response.status_code} {body}: {str(exc)[:400]}"
            )


def answering_500(app: Any) -> Any:
    """``app`` as a production server runs it: an unhandled error is a 500 answer, not a raise.

    (Starlette sends the 500 and re-raises for the server to log; an in-process client would
    otherwise stop the whole run at the first one instead of counting it.)
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message.get("type") == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except Exception:
            if scope.get("type") == "http" and not started:
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": b"Internal Server Error"})

    return wrapped


REVOKES_TOKENS = ("/auth/logout", "/auth/password", "/users/{username}/")


def fuzz(
    app: Any,
    headers: dict[str, str],
    max_examples: int,
    budget_s: float,
    skip: frozenset[str] = frozenset(),
) -> FuzzReport:
    """Fuzz every operation of ``app``'s OpenAPI within ``budget_s`` seconds."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", answering_500(app))
    report = FuzzReport()
    t0 = time.monotonic()
    # operations that revoke the caller's token (sign-out, password change, an administrator
    # resetting or disabling accounts) go last: before them every case runs signed in
    operations = sorted(
        (op.ok() for op in schema.get_all_operations()),
        key=lambda op: any(word in op.label for word in REVOKES_TOKENS),
    )
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if op.label in skip or time.monotonic() - t0 > budget_s:
                continue

            @hypothesis.settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[hypothesis.Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                if time.monotonic() - t0 > budget_s:
                    return
                response = case.call(headers=headers)
                _record(report, case, response, headers)

            try:
                one()
            except hypothesis.errors.Unsatisfiable:
                pass  # nothing in this operation can be made invalid (no parameters, no body)
    report.seconds = time.monotonic() - t0
    return report
