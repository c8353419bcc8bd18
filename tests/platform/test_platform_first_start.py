"""The platform as a new user meets it: ``ecovalue serve`` on a fresh machine (issue 23).

Without a secret in production: one line saying what to set, exit 1. With ``--dev``: a
per-installation secret generated and kept, the server and a worker start, ``/docs``
shows every endpoint in Debian's chromium with no network (every request to another host
is blocked and counted), and ``Ctrl+C`` stops the worker too.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOVALUE_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    return env


def _ecovalue(*args: str) -> list[str]:
    return [sys.executable, "-m", "ecovalue.cli.main", *args]


def test_serve_without_a_secret_says_so_in_one_line(tmp_path: Path) -> None:
    r = subprocess.run(_ecovalue("serve", "--port", str(_free_port())), env=_env(tmp_path),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert "ECOVALUE_SECRET_KEY is not set" in lines[0] and "ecovalue serve --dev" in lines[0]
    assert "validation error" not in r.stderr and "Traceback" not in r.stderr
    weak = subprocess.run(_ecovalue("serve"), env={**_env(tmp_path), "ECOVALUE_SECRET_KEY": "a" * 16},
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert weak.returncode == 1 and "entropy" in weak.stderr or "characters" in weak.stderr


@pytest.fixture
def dev_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = _free_port()
    proc = subprocess.Popen(_ecovalue("serve", "--dev", "--port", str(port)), env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the server did not start:\n{proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.3)
    try:
        yield base, proc, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_dev_mode_keeps_one_secret_per_installation_and_starts_a_worker(dev_server) -> None:  # type: ignore[no-untyped-def]
    base, proc, tmp_path = dev_server
    secret = tmp_path / "xdg" / "ecovalue" / "secret_key"
    assert secret.is_file() and oct(secret.stat().st_mode & 0o777) == "0o600"
    assert len(secret.read_text().strip()) >= 40
    workers = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "ecovalue.cli.main worker"],
                             capture_output=True, text=True)  # fmt: skip
    assert workers.stdout.split(), "serve started no job worker"
    from ecovalue.config import Settings

    os.environ["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    try:  # a second start reads the same secret: tokens survive restarts
        assert (
            Settings(env="development").secret_key.get_secret_value() == secret.read_text().strip()
        )
    finally:
        del os.environ["XDG_DATA_HOME"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_docs_show_every_endpoint_with_no_network(dev_server) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    base, _proc, tmp_path = dev_server
    blocked: list[str] = []
    paths: set[str] = set()

    def look() -> None:  # in its own thread: another test's browser may hold this thread's loop
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page()

            def route(r):  # type: ignore[no-untyped-def]
                if r.request.url.startswith(base):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            paths.update(page.locator(".opblock-summary-path").all_inner_texts())
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
            browser.close()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(timeout=120)
    assert paths, "the docs page showed no endpoint (see the thread's error above)"
    expected = set(httpx.get(f"{base}/openapi.json").json()["paths"])
    assert {p.replace("\u200b", "") for p in paths} == expected
    assert "/api/jobs/{job_id}/events" in expected
    assert blocked == [], f"the docs asked the internet for {blocked}"
