"""Runs, plots and scenarios as background jobs; datasets only under configured roots (issue 23).

The request returns the job at once; a worker (here run in the test's process, as
``ecovalue worker`` runs it) accounts with no transaction open, writes progress, honours a
cancel, and a job whose worker died is taken again or failed visibly.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from platform_support import ADMIN

from ecovalue.api.app import create_app
from ecovalue.config import Settings
from ecovalue.datasets.demo import build_demo
from ecovalue.db.session import make_engine, make_sessionmaker, unit_of_work
from ecovalue.platform.auth import service as auth
from ecovalue.platform.auth.rules import Role
from ecovalue.platform.jobs import routes as job_routes
from ecovalue.platform.jobs import service as jobs
from ecovalue.platform.jobs.worker import run_claimed, run_worker

PASSWORD = "a long password"
# a 9 km square near the middle of the demo city, in its CRS (EPSG:4547, metres)
PLOT_4547 = {
    "type": "Polygon",
    "coordinates": [[[530000, 3390000], [539000, 3390000], [539000, 3399000],
                     [530000, 3399000], [530000, 3390000]]],
}  # fmt: skip


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset root holding the demo city at 3 km (53 × 46 pixels)."""
    root = tmp_path_factory.mktemp("roots")
    build_demo(root / "wuhan", resolution=3000, seed=0, year=2023)
    return root


@pytest.fixture
def settings(database_url: str, root: Path, tmp_path: Path) -> Settings:
    return Settings(
        env="test", secret_key="jobs-" + "k" * 40, database_url=database_url,
        dataset_roots=str(root), jobs_dir=str(tmp_path / "jobs"), job_lease_seconds=6,
    )  # fmt: skip


@pytest.fixture
def client(settings: Settings, factory):  # type: ignore[no-untyped-def]
    with unit_of_work(factory) as s:
        auth.create_user(s, ADMIN, "admin", PASSWORD, Role.administrator)
        auth.create_user(s, ADMIN, "ana", PASSWORD, Role.analyst)
        auth.create_user(s, ADMIN, "li", PASSWORD, Role.district_official, district_code="420102")
    app = create_app(settings)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def _h(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/auth/token", data={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _job(client: TestClient, job_id: int, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    r = client.get(f"/api/jobs/{job_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_run_is_a_job_returned_at_once_then_published_with_its_synthetic_label(
    client: TestClient, settings: Settings
) -> None:
    ana, admin = _h(client, "ana"), _h(client, "admin")
    body = {"dataset": "wuhan", "year": 2023}
    assert client.post("/api/runs", json=body, headers=_h(client, "li")).status_code == 403
    t0 = time.perf_counter()
    r = client.post("/api/runs", json=body, headers=ana)
    assert r.status_code == 202, r.text
    assert time.perf_counter() - t0 < 2.0  # nothing is accounted inside the request
    job = r.json()
    assert job["status"] == "queued" and job["kind"] == "account"
    assert job["links"]["events"] == f"/api/jobs/{job['id']}/events"
    assert run_worker(settings, until_idle=True) == 1
    done = _job(client, job["id"], ana)
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1.0 and done["result"]["synthetic"] is True
    run_id = done["run_id"]
    assert done["result"]["run_id"] == run_id
    run = client.get(f"/api/runs/{run_id}", headers=ana).json()
    assert run["synthetic"] is True and run["dataset"] == "wuhan" and "SYNTHETIC" in run["notice"]
    assert "/" not in run["dataset"]  # no server path in an answer
    p = client.post(f"/api/runs/{run_id}/publish", json={"reason": "2023"}, headers=admin)
    assert p.status_code == 201 and p.json()["synthetic"] is True
    public = client.get("/api/results/2023", params={"district": "420102"}).json()
    assert public["synthetic"] is True and "SYNTHETIC" in public["notice"]
    assert public["publication"]["synthetic"] is True
    assert public["rows"] and all(row["synthetic"] for row in public["rows"])
    assert all(row["region_code"] == "420102" for row in public["rows"])
    assert public["publication"]["published_at"].endswith("Z")
    versions = client.get("/api/results/2023/publications").json()
    assert versions[0]["published_at"] == public["publication"]["published_at"]
    rows = client.get(f"/api/runs/{run_id}/results", headers=ana).json()
    assert rows and all(r["synthetic"] for r in rows)


def test_datasets_only_under_the_roots_and_every_manifest_path_inside(
    client: TestClient, root: Path, tmp_path: Path
) -> None:
    ana = _h(client, "ana")
    listed = client.get("/api/datasets", headers=ana).json()
    assert [d["name"] for d in listed] == ["wuhan"] and listed[0]["synthetic"] is True
    outside = tmp_path / "elsewhere"
    build_demo(outside, resolution=5000, seed=1, year=2023)
    (root / "linked").symlink_to(outside)  # a link inside the root to a folder outside it
    try:
        # outside the roots answers exactly as a name that does not exist: 404, same text
        details = set()
        for name in ("linked", "nothing-here", "wuhan/rasters"):
            r = client.post("/api/runs", json={"dataset": name, "year": 2023}, headers=ana)
            assert r.status_code == 404, (name, r.text)
            details.add(r.json()["detail"].replace(f"'{name}'", "NAME"))
        assert len(details) == 1 and "GET /api/datasets" in details.pop()
    finally:
        (root / "linked").unlink()
    for name in ("../elsewhere", "wuhan/..", str(outside), "/etc", "a\x00b", ""):
        r = client.post("/api/runs", json={"dataset": name, "year": 2023}, headers=ana)
        assert r.status_code == 422, (name, r.text)  # not a name relative to a root
    # a manifest whose table points outside the dataset folder
    evil = root / "evil"
    build_demo(evil, resolution=5000, seed=2, year=2023)
    manifest = (evil / "dataset.toml").read_text("utf-8")
    (evil / "dataset.toml").write_text(
        manifest.replace('path = "tables/statistics.csv"', 'path = "../../../etc/passwd"'), "utf-8"
    )
    os.symlink("/etc/hostname", evil / "tables" / "link.csv")
    (evil / "dataset.toml").write_text(
        (evil / "dataset.toml").read_text("utf-8").replace(
            'path = "tables/prices.csv"', 'path = "tables/link.csv"'), "utf-8")  # fmt: skip
    try:
        r = client.post("/api/runs", json={"dataset": "evil", "year": 2023}, headers=ana)
        assert r.status_code == 422, r.text
        where = {p["where"] for p in r.json()["problems"]}
        assert where == {"dataset.toml [tables.statistics]", "dataset.toml [tables.prices]"}
        assert all("outside the dataset folder" in p["what"] for p in r.json()["problems"])
        assert "passwd" not in json.dumps([p["expected"] for p in r.json()["problems"]])
        assert [d["name"] for d in client.get("/api/datasets", headers=ana).json()] == ["wuhan"]
    finally:
        import shutil

        shutil.rmtree(evil)


def test_progress_streams_as_events_and_a_read_does_not_wait_behind_a_run(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stream looks at the job every EVENTS_EVERY_S (0.5 s); with the kernels compiled at
    # set-up the small dataset's run can end between two looks, so look more often here.
    monkeypatch.setattr(job_routes, "EVENTS_EVERY_S", 0.02)
    ana = _h(client, "ana")
    job = client.post("/api/runs", json={"dataset": "wuhan", "year": 2023}, headers=ana).json()
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop, 0.1))
    worker.start()
    try:
        events, slowest = [], 0.0
        with client.stream("GET", f"/api/jobs/{job['id']}/events", headers=ana) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            name = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    t = time.perf_counter()
                    assert client.get("/api/results/2023").status_code in (200, 404)
                    slowest = max(slowest, time.perf_counter() - t)
                    if name == "end":
                        break
    finally:
        stop.set()
        worker.join()
    stages = [e["stage"] for n, e in events if n == "progress" and e["status"] == "running"]
    assert stages, events
    assert events[-1][0] == "end" and events[-1][1]["status"] == "succeeded"
    assert slowest < 1.0  # a public read is not held behind the run's transaction


def test_cancel_a_queued_and_a_running_job(client: TestClient, settings: Settings) -> None:
    ana = _h(client, "ana")
    body = {"dataset": "wuhan", "year": 2023}
    queued = client.post("/api/runs", json=body, headers=ana).json()
    r = client.post(f"/api/jobs/{queued['id']}/cancel", headers=ana)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    again = client.post(f"/api/jobs/{queued['id']}/cancel", headers=ana)
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    running = client.post("/api/runs", json=body, headers=ana).json()
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop, 0.1))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while _job(client, running["id"], ana)["status"] == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert client.post(f"/api/jobs/{running['id']}/cancel", headers=ana).status_code == 200
        while _job(client, running["id"], ana)["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join()
    ended = _job(client, running["id"], ana)
    assert ended["status"] in ("cancelled", "succeeded")  # a 3 km demo may end first
    if ended["status"] == "cancelled":
        assert ended["run_id"] is None and ended["error"]["detail"] == "cancelled while running"


def test_a_running_job_stops_at_its_next_progress_report_once_cancelled(
    client: TestClient, settings: Settings, database_url: str
) -> None:
    ana = _h(client, "ana")
    job = client.post("/api/runs", json={"dataset": "wuhan", "year": 2023}, headers=ana).json()
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    try:
        claimed = jobs.claim(factory, "w:1", lease_s=30, max_attempts=2)
        assert claimed is not None and _job(client, job["id"], ana)["status"] == "running"
        r = client.post(f"/api/jobs/{job['id']}/cancel", headers=ana)
        assert r.status_code == 200 and r.json()["cancel_requested"] is True
        run_claimed(settings, factory, "w:1", claimed)
    finally:
        engine.dispose()
    ended = _job(client, job["id"], ana)
    assert ended["status"] == "cancelled" and ended["run_id"] is None
    assert ended["error"]["detail"] == "cancelled while running"


def test_a_dead_workers_job_is_taken_again_then_failed_visibly(
    client: TestClient, settings: Settings, database_url: str
) -> None:
    ana = _h(client, "ana")
    job = client.post("/api/runs", json={"dataset": "wuhan", "year": 2023}, headers=ana).json()
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    try:
        # a worker claims it with a short lease and is "killed": it never renews
        first = jobs.claim(factory, "dead-host:1", lease_s=0.2, max_attempts=2)
        assert first is not None and first.id == job["id"] and first.attempt == 1
        assert jobs.claim(factory, "other:2", lease_s=5, max_attempts=2) is None  # lease held
        time.sleep(0.3)
        # the lease ran out: a second worker takes it (attempt 2) and dies as well
        second = jobs.claim(factory, "dead-host:3", lease_s=0.2, max_attempts=2)
        assert second is not None and second.attempt == 2
        time.sleep(0.3)
        assert jobs.claim(factory, "other:4", lease_s=5, max_attempts=2) is None
    finally:
        engine.dispose()
    failed = _job(client, job["id"], ana)
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert "stopped answering" in failed["error"]["detail"]
    assert "dead-host:3" in failed["error"]["detail"]


def test_plot_gep_through_the_api_in_lon_lat_or_metres(
    client: TestClient, settings: Settings
) -> None:
    from pyproj import Transformer

    li = _h(client, "li")
    tr = Transformer.from_crs("EPSG:4547", "EPSG:4490", always_xy=True)
    lonlat = {"type": "Polygon",
              "coordinates": [[list(tr.transform(x, y)) for x, y in PLOT_4547["coordinates"][0]]]}  # fmt: skip
    body = {"dataset": "wuhan", "year": 2023, "geometry": lonlat}
    r = client.post("/api/plots", json=body, headers=li)
    assert r.status_code == 422 and "look like longitude/latitude" in r.json()["detail"]
    assert "EPSG:4490" in r.json()["detail"]
    ids = []
    for b in ({**body, "crs": "EPSG:4490"}, {**body, "geometry": PLOT_4547}):
        r = client.post("/api/plots", json=b, headers=li)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    assert run_worker(settings, until_idle=True) == 2
    a, b = (_job(client, i, li) for i in ids)
    assert a["status"] == b["status"] == "succeeded", (a["error"], b["error"])
    assert a["result"]["synthetic"] is True and a["result"]["indicators"]
    assert a["result"]["plot_area_km2"] == pytest.approx(81.0, rel=1e-3)
    assert float(a["result"]["gep_current"]) == pytest.approx(
        float(b["result"]["gep_current"]), rel=1e-3
    )
    assert float(b["result"]["gep_current"]) > 0 and b["result"]["notes"]
    # the second plot of the same account reuses the engine the first one built or loaded
    assert a["result"]["engine"] in ("built", "disk") and b["result"]["engine"] == "memory"
    makeup = b["result"]["landcover"]
    assert makeup and makeup[0]["name_zh"] and makeup[0]["area_km2"] > 0
    assert sum(r["area_km2"] for r in makeup) == pytest.approx(81.0, rel=1e-6)


def test_scenario_through_the_api_with_its_deltas_and_maps(
    client: TestClient, settings: Settings
) -> None:
    ana = _h(client, "ana")
    body = {
        "dataset": "wuhan", "year": 2023, "geometry": PLOT_4547,
        "scenario": {"scenario": {"name": "new-town"},
                     "conversion": [{"from": [11, 12], "to": 51, "share": 1.0}]},
    }  # fmt: skip
    r = client.post("/api/scenarios", json=body, headers=ana)
    assert r.status_code == 202, r.text
    assert run_worker(settings, until_idle=True) == 1
    job = _job(client, r.json()["id"], ana)
    assert job["status"] == "succeeded", job["error"]
    res = job["result"]
    assert res["synthetic"] is True and res["notes"]
    assert {"summary.html", "change_map.png", "comparison.csv"} <= set(res["files"])
    # every indicator before and after, losses first (the largest first), then gains
    deltas = [float(r["delta_value_total"]) for r in res["indicators"]]
    losses = [d for d in deltas if d < 0]
    assert losses and deltas[: len(losses)] == sorted(losses)
    assert sum(deltas) == pytest.approx(float(res["totals"]["delta_total"]), abs=0.05)
    assert res["transitions"] and {t["to"] for t in res["transitions"]} == {51}
    png = client.get(f"/api/jobs/{job['id']}/files/change_map.png", headers=ana)
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert client.get(f"/api/jobs/{job['id']}/files/..%2Fx", headers=ana).status_code in (404, 422)
    assert client.get(f"/api/jobs/{job['id']}/files/other.png", headers=ana).status_code == 404
    assert client.get(f"/api/jobs/{job['id']}", headers=_h(client, "li")).status_code == 403
