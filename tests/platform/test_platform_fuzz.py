"""Zero server errors and zero schema violations under a bounded Schemathesis run (issue 23).

The run sends, with an administrator's token, what every operation of ``/openapi.json``
accepts and what it refuses, on SQLite and on PostgreSQL, and fails on any 5xx, any status
the operation does not document, and any body that does not match the documented schema.
``ECOVALUE_FUZZ_EXAMPLES`` and ``ECOVALUE_FUZZ_SECONDS`` raise the bounds for a longer run.
"""

from __future__ import annotations

import os

from fastapi.testclient import TestClient
from fuzz_support import fuzz
from platform_support import ADMIN

from ecovalue.api.app import create_app
from ecovalue.config import Settings
from ecovalue.db.session import unit_of_work
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role

PASSWORD = "a long password"
MAX_EXAMPLES = int(os.environ.get("ECOVALUE_FUZZ_EXAMPLES", "25"))
BUDGET_S = float(os.environ.get("ECOVALUE_FUZZ_SECONDS", "75"))


def test_no_server_error_and_no_schema_violation(database_url, factory, backend) -> None:  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
    settings = Settings(
        env="test",
        secret_key="fuzz-" + "k" * 40,
        database_url=database_url,
        login_max_failures=100_000,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        r = client.post("/api/auth/token", data={"username": "admin", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        report = fuzz(app, headers, MAX_EXAMPLES, BUDGET_S)
    app.state.engine.dispose()
    print(f"fuzz on {backend}: {report.summary()}")
    kinds = "\n".join(f"{n} × {k}" for k, n in report.kinds.most_common(40))
    assert report.cases > 500, report.summary()
    assert report.server_errors == 0 and report.violations == 0, (
        f"{report.summary()}\n{kinds}\n" + "\n".join(report.examples)
    )
