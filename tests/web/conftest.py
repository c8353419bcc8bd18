"""The web platform under test: the demo city built once (1000 m) and served on a free port,
and Debian's Chromium driven by Playwright.

The demo is built once per test run and shared by the xdist workers (a file lock in the
run's temporary root); each worker serves its own copy of the database, so form tests of one
worker do not change what another's pages show. Browser tests skip, saying why, when
Chromium or Playwright is missing.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SKIP_BROWSER = "Debian's chromium is not installed (apt-get install chromium) — browser tests skipped"
RESOLUTION_M = 1000.0
ARTIFACTS = Path(os.environ.get("ECOVALUE_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "test-artifacts")) / "web"


@dataclass
class Site:
    """A served demo platform."""

    base: str
    database_url: str
    folder: Path
    settings: object

    def url(self, path: str) -> str:
        return self.base + path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo city and its loaded database, built once per run (shared by the workers)."""
    from ecovalue.cli.demo_platform import load

    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "web-demo"
    shared.mkdir(exist_ok=True)
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").exists():
            load(shared, RESOLUTION_M, 0, None, reports=False)
            (shared / "done").write_text("ok")
    return shared


@contextmanager
def served(demo_folder: Path, here: Path) -> Iterator[Site]:
    """A copy of the demo's database in ``here``, served by uvicorn in a thread with a job
    worker in another, as ``ecovalue serve`` runs them."""
    import uvicorn

    from ecovalue.api.app import create_app
    from ecovalue.config import Settings
    from ecovalue.platform.demo.service import dataset_root
    from ecovalue.platform.jobs.worker import run_worker

    # The database through SQLite's backup API: in WAL mode the loader's last commits may
    # still be in platform.db-wal, which a file copy of platform.db would leave behind.
    with sqlite3.connect(demo_folder / "platform.db") as src, \
            sqlite3.connect(here / "platform.db") as dst:
        src.backup(dst)
    for name in ("audit-keys.json", "audit-checkpoints.log"):
        if (demo_folder / name).exists():
            shutil.copy(demo_folder / name, here / name)
    url = f"sqlite:///{here / 'platform.db'}"
    settings = Settings(env="test", database_url=url, secret_key=secrets.token_urlsafe(32),
                        audit_key_file=here / "audit-keys.json",
                        audit_checkpoint_file=here / "audit-checkpoints.log",
                        dataset_roots=str(dataset_root(demo_folder).resolve()),
                        jobs_dir=str(here / "jobs"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start within 30 s")
        time.sleep(0.05)
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop), kwargs={"poll_s": 0.1},
                              daemon=True)
    worker.start()
    try:
        yield Site(f"http://127.0.0.1:{port}", url, demo_folder, settings)
    finally:
        stop.set()
        server.should_exit = True
        thread.join(timeout=10)
        worker.join(timeout=60)


@pytest.fixture(scope="session")
def site(demo_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo served with its job worker (this xdist worker's own copy of the database)."""
    with served(demo_folder, tmp_path_factory.mktemp("site")) as s:
        yield s


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium (skipped with the reason when it is missing)."""
    if not CHROMIUM.exists():
        pytest.skip(SKIP_BROWSER)
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots are kept (git-ignored ``test-artifacts/web``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
