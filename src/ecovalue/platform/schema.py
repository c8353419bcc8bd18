"""Imports every platform table so ``metadata`` is complete (Alembic and tests use it).

Importing this module also installs the audit listener on every EcoSession.
"""

from __future__ import annotations

import ecovalue.platform.audit.service  # noqa: F401  (installs the audit listener)
from ecovalue.db.base import Base
from ecovalue.platform.audit import tables as audit_tables  # noqa: F401
from ecovalue.platform.auth import tables as auth_tables  # noqa: F401
from ecovalue.platform.catalogue import tables as catalogue_tables  # noqa: F401
from ecovalue.platform.exchange import tables as exchange_tables  # noqa: F401
from ecovalue.platform.jobs import tables as jobs_tables  # noqa: F401
from ecovalue.platform.ledger import tables as ledger_tables  # noqa: F401
from ecovalue.platform.monitoring import tables as monitoring_tables  # noqa: F401
from ecovalue.platform.registry import tables as registry_tables  # noqa: F401
from ecovalue.platform.reporting import tables as reporting_tables  # noqa: F401
from ecovalue.platform.runs import tables as runs_tables  # noqa: F401

metadata = Base.metadata
