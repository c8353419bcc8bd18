"""Readers do not queue behind a lock: the site's GET requests use read-only units of work
(no write lock on SQLite), which refuse to write; tiles come from web-optimized copies that
paint the same pixels as the run's own COG."""

from __future__ import annotations

import io
import tempfile
import threading
import time
from pathlib import Path

import httpx
import morecantile
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text
from tests.web.support import api

from ecovalue.db import migrate
from ecovalue.db.session import make_engine, make_sessionmaker, unit_of_work
from ecovalue.platform.auth.tables import User
from ecovalue.raster import tiles
from ecovalue.web import layers, results


def test_read_only_units_of_work_run_side_by_side_and_refuse_writes():
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 't.db'}"
    migrate.upgrade(url)
    factory = make_sessionmaker(make_engine(url))

    def reader() -> None:
        with unit_of_work(factory, read_only=True) as s:
            s.execute(text("select count(*) from users")).scalar()
            time.sleep(0.4)

    threads = [threading.Thread(target=reader) for _ in range(5)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.perf_counter() - t0 < 1.2  # one after another would take 2 s
    with pytest.raises(RuntimeError, match="read-only"):
        with unit_of_work(factory, read_only=True) as s:
            s.add(User(username="x", password_hash="x", role="public"))
            s.flush()


def test_pages_are_read_while_a_writer_holds_its_lock(site):
    engine = make_engine(site.database_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("select 1")  # BEGIN IMMEDIATE: a write transaction holds the lock
        try:
            t0 = time.perf_counter()
            r = httpx.get(site.url("/district/420111"), timeout=8)
            assert r.status_code == 200 and time.perf_counter() - t0 < 5
        finally:
            conn.rollback()


def test_web_optimized_copy_paints_what_the_original_paints(site):
    from ecovalue.db.session import unit_of_work as uow
    from ecovalue.platform.audit.service import audited_sessionmaker
    from ecovalue.platform.runs import service as runs

    run_id = api(site.base, "/api/results/2023")["publication"]["run_id"]
    with uow(audited_sessionmaker(make_engine(site.database_url), site.settings), "t",
             read_only=True) as s:
        info = results.run_info(runs.get_run(s, run_id))
    lay = next(x for x in layers.available(info) if x.name == "water_conservation_value")
    copy = layers.tile_source(lay, wait=True)
    assert copy != lay.path and copy.is_file()
    lg = layers.legend(lay)
    tms = morecantile.tms.get("WebMercatorQuad")
    same = total = 0
    for lon, lat, z in ((114.3, 30.6, 9), (114.2, 30.9, 10), (114.5, 30.4, 11), (114.05, 30.55, 12)):
        t = tms.tile(lon, lat, z)
        a, b = (tiles.render_tile(tiles.TileRequest(src, t.z, t.x, t.y, lay.per_ha, lg.breaks,
                                                    lg.colors)) for src in (lay.path, copy))
        assert a is not None and b is not None
        pa, pb = (np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")) for png in (a, b))
        painted = (pa[..., 3] > 0) | (pb[..., 3] > 0)
        same += int((np.all(pa == pb, axis=2) & painted).sum())
        total += int(painted.sum())
    assert total > 10_000 and same / total > 0.97  # nearest twice: only pixel edges differ
