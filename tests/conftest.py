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


@pytest.fixture(scope="session")
def demo_2km(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The demo dataset at 2 km, seed 0, 2023: built once per test process (the malformed
    corpus breaks copies of it)."""
    from ecovalue.datasets.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("demo2km") / "demo", resolution=2000, seed=0, year=2023)
