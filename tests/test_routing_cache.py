"""The routing cache (``raster/routing_cache.py``): the same LS bit for bit, a miss whenever
anything the LS depends on changes, damaged entries recomputed, a size bound, and the engines and
commands that use it."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.tiny import write_tiny_dataset

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.streaming import run_account_streamed
from ecovalue.caches import default_cache_dir
from ecovalue.errors import InputError
from ecovalue.raster import hydrology as H
from ecovalue.raster import routing_cache as RC
from ecovalue.raster.routing_cache import RoutingCache, route_ls_cached


def _dem(n: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:n, 0:n]
    dem = (100.0 - 0.8 * y - 0.3 * x + rng.normal(0, 1.5, (n, n))).astype(np.float32)
    valid = np.ones((n, n), dtype=bool)
    valid[:3, :5] = False
    return dem, valid


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the real routing runs (the routing still runs)."""
    calls: list[int] = []
    real = H.route_ls

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(H, "route_ls", counted)
    return calls


def test_a_float32_dem_finds_the_entry_of_its_float64_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dem, valid = _dem()
    cache = RoutingCache(tmp_path)
    # routed as given (no float64 copy of the grid): a float32 DEM in float32
    seen: list[np.dtype] = []
    real = H.route_ls
    monkeypatch.setattr(H, "route_ls", lambda d, *a, **k: seen.append(d.dtype) or real(d, *a, **k))
    route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)
    route_ls_cached(dem, valid, 30.0, "mfd", cache=None)
    assert seen == [np.float32, np.float32]
    assert route_ls_cached(dem.astype(np.float64), valid, 30.0, "mfd", cache=cache)[1]
    # one key for the float32 DEM, its float64 copy and the streamed engine's row-wise digest
    params = RC.ls_params(30.0, "mfd")
    key = RoutingCache.key(dem, valid, params)
    assert key == RoutingCache.key(dem.astype(np.float64), valid, params)
    assert key == RoutingCache.key_of(
        (np.dtype(np.float64).str, dem.shape), RC.grid_digest(dem, np.float64),
        (valid.dtype.str, valid.shape), RC.grid_digest(valid), params,
    )


def test_a_hit_is_the_routed_ls_bit_for_bit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dem, valid = _dem()
    calls = _spy(monkeypatch)
    cache = RoutingCache(tmp_path)
    first, hit1 = route_ls_cached(dem, valid, 30.0, "mfd", cache=cache, threads=2)
    second, hit2 = route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)
    assert (hit1, hit2) == (False, True)
    assert len(calls) == 1  # the second run did not route
    plain = H.route_ls(dem, valid, 30.0, "mfd")
    assert first.tobytes() == plain.tobytes() and second.tobytes() == plain.tobytes()
    assert len(cache.entries()) == 1
    # a hit maps the entry's file read-only (a plain ndarray for the kernels); an entry
    # replaced under the same key (a new file) leaves the mapped grid as it was checked
    assert type(second) is np.ndarray and not second.flags.writeable
    (entry,) = cache.entries()
    assert cache.put(entry.key, np.zeros_like(plain), {})
    assert second.tobytes() == plain.tobytes()


@pytest.mark.parametrize(
    "change",
    ["dem", "valid", "cell_size", "method", "exponent", "l_max", "formulation", "code"],
)
def test_any_change_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    dem, valid = _dem()
    cache = RoutingCache(tmp_path)
    kw: dict = {"cell_size": 30.0, "method": "mfd", "exponent": 1.1, "l_max": None,
                "formulation": "desmet_govers"}
    route_ls_cached(dem, valid, cache=cache, **kw)
    if change == "dem":
        dem = dem.copy()
        dem[20, 20] += 0.5
    elif change == "valid":
        valid = valid.copy()
        valid[30, 30] = False
    elif change == "code":
        monkeypatch.setattr(RC, "routing_code_hash", lambda: "another version of the kernels")
    else:
        kw[change] = {"cell_size": 10.0, "method": "d8", "exponent": 1.0, "l_max": 100.0,
                      "formulation": "invest"}[change]
    calls = _spy(monkeypatch)
    ls, hit = route_ls_cached(dem, valid, cache=cache, **kw)
    assert not hit and len(calls) == 1
    assert ls.tobytes() == H.route_ls(dem, valid, **kw).tobytes()
    assert len(cache.entries()) == 2


def test_bad_parameters_fail_before_any_work(tmp_path: Path) -> None:
    dem, valid = _dem()
    with pytest.raises(InputError, match="routing method"):
        route_ls_cached(dem, valid, 30.0, "dinf", cache=RoutingCache(tmp_path))
    with pytest.raises(InputError, match="cell_size"):
        route_ls_cached(dem, valid, -30.0, "mfd", cache=RoutingCache(tmp_path))
    assert not (tmp_path / "routing").exists()


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "bad json", "wrong shape"])
def test_a_damaged_entry_is_removed_and_recomputed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    dem, valid = _dem()
    cache = RoutingCache(tmp_path)
    good, _ = route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)
    (entry,) = cache.entries()
    npy, js = cache.path / f"{entry.key}.npy", cache.path / f"{entry.key}.json"
    if damage == "flip a byte":
        raw = bytearray(npy.read_bytes())
        raw[-9] ^= 0x40
        npy.write_bytes(bytes(raw))
    elif damage == "truncate":
        npy.write_bytes(npy.read_bytes()[:200])
    elif damage == "bad json":
        js.write_text("{not json")
    else:
        np.save(npy, np.zeros((3, 3)))
    calls = _spy(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="ecovalue.raster.routing_cache"):
        again, hit = route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)
    assert not hit and len(calls) == 1
    assert again.tobytes() == good.tobytes()
    assert entry.key[:12] in caplog.text and "computed again" in caplog.text
    # the entry was written again, whole
    assert [e.key for e in cache.entries()] == [entry.key]
    assert route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)[1]


def test_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    dem, valid = _dem(30)
    size = RoutingCache(tmp_path / "probe")
    route_ls_cached(dem, valid, 30.0, "mfd", cache=size)
    cache = RoutingCache(tmp_path, max_bytes=2 * size.entries()[0].nbytes)  # room for two

    def cells() -> list[float]:
        return [e.meta["params"]["cell_size"] for e in cache.entries()]  # oldest first

    for cell in (10.0, 20.0, 30.0):
        route_ls_cached(dem, valid, cell, "mfd", cache=cache)
        time.sleep(0.01)
    assert cells() == [20.0, 30.0]  # 10 m went when the third came
    assert route_ls_cached(dem, valid, 20.0, "mfd", cache=cache)[1]  # a hit makes it recent
    time.sleep(0.01)
    route_ls_cached(dem, valid, 40.0, "mfd", cache=cache)
    assert cells() == [20.0, 40.0]


def test_a_grid_larger_than_the_bound_is_not_stored(tmp_path: Path) -> None:
    dem, valid = _dem()
    cache = RoutingCache(tmp_path, max_bytes=1000)
    _, hit = route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)
    assert not hit and cache.entries() == []
    assert not route_ls_cached(dem, valid, 30.0, "mfd", cache=cache)[1]
    with pytest.raises(InputError, match="cache size bound"):
        RoutingCache(tmp_path, max_bytes=-1)


def test_entry_records_what_it_was_computed_from(tmp_path: Path) -> None:
    dem, valid = _dem()
    cache = RoutingCache(tmp_path)
    ls, _ = route_ls_cached(dem, valid, 30.0, "d8", formulation="invest", cache=cache)
    (entry,) = cache.entries()
    meta = json.loads((cache.path / f"{entry.key}.json").read_text())
    assert meta["params"] == {"cell_size": 30.0, "method": "d8", "exponent": 1.1,
                              "l_max": float("inf"), "formulation": "invest"}
    assert meta["shape"] == list(dem.shape) and meta["dem_shape"] == list(dem.shape)
    assert meta["sha256"] == hashlib.sha256(ls.tobytes()).hexdigest()
    assert meta["nbytes"] == (cache.path / f"{entry.key}.npy").stat().st_size


def test_writers_of_the_same_key_at_once_leave_one_whole_entry(tmp_path: Path) -> None:
    dem, valid = _dem()
    ls = H.route_ls(dem, valid, 30.0, "mfd")
    cache = RoutingCache(tmp_path)
    key = cache.key(dem, valid, {"any": 1})
    threads = [threading.Thread(target=cache.put, args=(key, ls, {})) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.key for e in cache.entries()] == [key]
    assert sorted(p.name for p in cache.path.iterdir()) == [f"{key}.json", f"{key}.npy"]
    got = cache.get(key, dem.shape)
    assert got is not None and got.tobytes() == ls.tobytes()
    assert cache.clear() == 1 and cache.entries() == []


def test_default_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ECOVALUE_CACHE_DIR", "off")
    assert default_cache_dir() is None
    monkeypatch.setenv("ECOVALUE_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ECOVALUE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "ecovalue"


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny") / "d")


def test_engines_rerun_from_the_cache_with_the_same_table(tiny_root: Path, tmp_path: Path) -> None:
    cache = RoutingCache(tmp_path / "cache")
    plain = run_account_streamed(tiny_root, block_rows=4)
    cold = run_account_streamed(tiny_root, block_rows=4, cache=cache)
    warm = run_account_streamed(tiny_root, block_rows=4, cache=cache)
    assert (plain.routing_from_cache, cold.routing_from_cache, warm.routing_from_cache) == (
        False, False, True)
    for r in (cold, warm):
        pd.testing.assert_frame_equal(r.table, plain.table, check_exact=True)
        assert r.notes == plain.notes and r.hashes == plain.hashes
    mem_plain = run_account(tiny_root)
    mem_cold = run_account(tiny_root, cache=RoutingCache(tmp_path / "other"))
    mem_warm = run_account(tiny_root, cache=cache)  # the streamed engine's entry
    assert (mem_cold.routing_from_cache, mem_warm.routing_from_cache) == (False, True)
    for r in (mem_cold, mem_warm):
        pd.testing.assert_frame_equal(r.table, mem_plain.table, check_exact=True)
        assert r.notes == mem_plain.notes
    # the streamed scan's block-by-block digests (any block size) find the in-memory entry
    for rows in (3, 7):
        again = run_account_streamed(tiny_root, block_rows=rows, cache=RoutingCache(tmp_path / "other"))
        assert again.routing_from_cache
        pd.testing.assert_frame_equal(again.table, plain.table, check_exact=True)


def test_account_command_uses_shows_and_clears_the_cache(tiny_root: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ecovalue.cli.main import app

    cache = tmp_path / "cache"
    runner = CliRunner()

    def run(*extra: str) -> str:
        res = runner.invoke(app, ["account", str(tiny_root), "--out", str(tmp_path / "out"),
                                  "--no-reports", *extra])
        assert res.exit_code == 0, res.output
        return res.output

    assert "reused from the cache" not in run("--cache-dir", str(cache))
    assert "reused from the cache" in run("--cache-dir", str(cache))
    # the streamed engine finds the in-memory engine's entry (the DEM keyed as float64)
    assert "reused from the cache" in run("--cache-dir", str(cache), "--engine", "streamed")
    assert "reused from the cache" not in run("--cache-dir", str(cache), "--no-cache")
    res = runner.invoke(app, ["cache", "info", "--cache-dir", str(cache)])
    assert res.exit_code == 0 and "1 entry" in res.output, res.output
    res = runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache)])
    assert res.exit_code == 0 and "removed 1 entry" in res.output
    assert RoutingCache(cache).entries() == []
    nothing = tmp_path / "nothing"
    run("--cache-dir", str(nothing), "--no-cache")
    assert not nothing.exists()


def test_a_local_cluster_reads_and_writes_the_same_cache(tiny_root: Path, tmp_path: Path) -> None:
    cache = RoutingCache(tmp_path / "cache")
    plain = run_account_streamed(tiny_root, block_rows=4)
    cold = run_account_streamed(tiny_root, block_rows=4, workers=2, cache=cache)
    warm = run_account_streamed(tiny_root, block_rows=4, workers=2, cache=cache)
    assert (cold.routing_from_cache, warm.routing_from_cache) == (False, True)
    for r in (cold, warm):
        pd.testing.assert_frame_equal(r.table, plain.table, check_exact=True)
    assert run_account_streamed(tiny_root, block_rows=4, cache=cache).routing_from_cache
