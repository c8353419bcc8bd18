"""Session-wide test settings: the routing cache of every command the tests run lives in a
temporary folder of this test process, never in the user's ~/.cache."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    _CACHE.append(tempfile.mkdtemp(prefix="ecovalue-test-cache-"))
    os.environ["ECOVALUE_CACHE_DIR"] = _CACHE[-1]


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _CACHE:
        shutil.rmtree(folder, ignore_errors=True)
