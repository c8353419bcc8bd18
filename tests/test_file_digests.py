"""Raster digests remembered by file identity (``raster/file_digests.py``): a rerun on unchanged
files hashes nothing and gets the same dataset hash; any change to a file, or to what is hashed
of it, is a miss; files changed just before or during the reading are not remembered; damaged
entries are misses; the folder stays bounded; ``ecovalue cache`` shows and clears them."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from tests.tiny import write_tiny_dataset

from ecovalue.accounting.pipeline import run_account
from ecovalue.accounting.streaming import run_account_streamed
from ecovalue.raster import digest as D
from ecovalue.raster import file_digests as FD
from ecovalue.raster.file_digests import DigestCache, FileStamp
from ecovalue.raster.routing_cache import RoutingCache

DIGEST = bytes(range(32))


def _old_file(path: Path, text: str = "pixels") -> Path:
    """A file last changed long ago (its status-change time is now: SETTLE_NS decides)."""
    path.write_text(text)
    return path


def _settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by the test count as settled (the test writes and reads at once)."""
    monkeypatch.setattr(FD, "SETTLE_NS", 0)


def _old_file_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, DigestCache]:
    """A settled file ``a.tif`` and an empty digest cache."""
    _settled(monkeypatch)
    return _old_file(tmp_path / "a.tif"), DigestCache(tmp_path / "cache")


def _tiny_with_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, RoutingCache]:
    """A settled tiny dataset and an empty routing cache (with its digest cache) beside it."""
    _settled(monkeypatch)
    return write_tiny_dataset(tmp_path / "d"), RoutingCache(tmp_path / "cache")


def _edit_pixel(path: Path, row: int, col: int, edit: Callable[[float], float]) -> np.dtype:
    """Rewrite one pixel of a raster in place (the same file); returns the band's dtype."""
    with rasterio.open(path, "r+") as dst:
        band = dst.read(1)
        band[row, col] = edit(band[row, col])
        dst.write(band, 1)
    return band.dtype


def test_a_digest_is_found_while_the_file_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, cache = _old_file_and_cache(tmp_path, monkeypatch)
    stamp = FileStamp.of(f)
    assert cache.get(stamp, "band 1 as int32") is None
    assert cache.put(stamp, "band 1 as int32", DIGEST, time.time_ns())
    assert cache.get(FileStamp.of(f), "band 1 as int32") == DIGEST
    # found through another path to the same file (a symbolic link)
    (tmp_path / "link.tif").symlink_to(f)
    assert cache.get(FileStamp.of(tmp_path / "link.tif"), "band 1 as int32") == DIGEST
    # what is hashed of the file is part of the key
    assert cache.get(FileStamp.of(f), "band 1 as float32 × 0.001") is None
    assert cache.entries() == 1


def test_facts_are_remembered_with_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, cache = _old_file_and_cache(tmp_path, monkeypatch)
    assert cache.put(FileStamp.of(f), "w", DIGEST, time.time_ns())
    assert cache.lookup(FileStamp.of(f), "w") == FD.Remembered(DIGEST, None)
    facts = {"range": [0.0, 2.5, 0, 0], "bounds": [0.0, None]}
    assert cache.put(FileStamp.of(f), "w", DIGEST, time.time_ns(), facts)
    assert cache.lookup(FileStamp.of(f), "w") == FD.Remembered(DIGEST, facts)
    assert cache.get(FileStamp.of(f), "w") == DIGEST and cache.entries() == 1


def test_any_change_to_the_file_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f, cache = _old_file_and_cache(tmp_path, monkeypatch)
    before = FileStamp.of(f)
    assert before is not None and cache.put(before, "w", DIGEST, time.time_ns())
    # the same size, and the modification time put back as it was: the status-change time moved
    time.sleep(0.01)
    f.write_text("pixelz")
    os.utime(f, ns=(before.mtime_ns, before.mtime_ns))
    after = FileStamp.of(f)
    assert after is not None and after.size == before.size and after.mtime_ns == before.mtime_ns
    assert after.ctime_ns != before.ctime_ns
    assert cache.get(after, "w") is None
    # replaced by another file (a new inode)
    other = _old_file(tmp_path / "b.tif", "pixels")
    os.replace(other, f)
    assert cache.get(FileStamp.of(f), "w") is None
    # no file, no digest
    assert FileStamp.of(tmp_path / "missing.tif") is None
    assert cache.get(None, "w") is None
    assert not cache.put(None, "w", DIGEST, time.time_ns())


def test_the_reading_code_is_part_of_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, cache = _old_file_and_cache(tmp_path, monkeypatch)
    assert cache.put(FileStamp.of(f), "w", DIGEST, time.time_ns())
    monkeypatch.setattr(FD, "reader_code_hash", lambda: "another version of io.py")
    assert cache.get(FileStamp.of(f), "w") is None


def test_a_file_changed_just_before_or_during_the_reading_is_not_remembered(
    tmp_path: Path,
) -> None:
    cache = DigestCache(tmp_path / "cache")
    f = _old_file(tmp_path / "a.tif")
    started = time.time_ns()
    # written just now: its timestamps may not tell a rewrite within the clock's granularity
    assert not cache.put(FileStamp.of(f), "w", DIGEST, started)
    assert cache.entries() == 0
    # settled long before the reading started: remembered
    assert cache.put(FileStamp.of(f), "w", DIGEST, started + FD.SETTLE_NS)
    # changed after its stamp was taken (while it was being read): refused
    before = FileStamp.of(f)
    time.sleep(0.01)
    f.write_text("changed while read")
    assert not cache.put(before, "w2", DIGEST, started + FD.SETTLE_NS + 10**10)
    assert cache.entries() == 1


def test_a_damaged_entry_is_a_miss_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    f, cache = _old_file_and_cache(tmp_path, monkeypatch)
    stamp = FileStamp.of(f)
    assert stamp is not None
    for damage in ("{not json", json.dumps({"format": FD.FORMAT, "digest": "abc"}),
                   json.dumps({"format": FD.FORMAT, "digest": "00" * 31}), json.dumps([1]),
                   json.dumps({"format": FD.FORMAT, "digest": "00" * 32, "facts": [1]})):
        assert cache.put(stamp, "w", DIGEST, time.time_ns())
        entry = cache.path / f"{cache.key(stamp, 'w')}.json"
        entry.write_text(damage)
        with caplog.at_level(logging.WARNING, logger="ecovalue.raster.file_digests"):
            assert cache.get(stamp, "w") is None
        assert "cannot be read" in caplog.text and not entry.exists()
        caplog.clear()


def test_a_disk_that_refuses_costs_only_the_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _settled(monkeypatch)
    f = _old_file(tmp_path / "a.tif")
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the folder should be")
    cache = DigestCache(blocked)
    with caplog.at_level(logging.WARNING, logger="ecovalue.raster.file_digests"):
        assert not cache.put(FileStamp.of(f), "w", DIGEST, time.time_ns())
    assert "could not store" in caplog.text
    assert cache.get(FileStamp.of(f), "w") is None and cache.entries() == 0 and cache.clear() == 0


def test_the_least_recently_used_entries_go_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    monkeypatch.setattr(FD, "MAX_ENTRIES", 3)
    cache = DigestCache(tmp_path / "cache")
    stamps = [FileStamp.of(_old_file(tmp_path / f"{i}.tif", str(i))) for i in range(5)]
    for i, s in enumerate(stamps[:3]):
        assert cache.put(s, "w", DIGEST, time.time_ns())
        os.utime(cache.path / f"{cache.key(s, 'w')}.json", (1000.0 + i, 1000.0 + i))
    assert cache.get(stamps[0], "w") == DIGEST  # used: now the most recent
    assert cache.put(stamps[3], "w", DIGEST, time.time_ns())
    assert cache.entries() == 3
    assert cache.get(stamps[1], "w") is None  # the least recently used went
    assert cache.get(stamps[0], "w") == DIGEST and cache.get(stamps[2], "w") == DIGEST
    assert cache.clear() == 3 and cache.entries() == 0


# ------------------------------------------------------------------ in the streamed engine


def _count_hashing(monkeypatch: pytest.MonkeyPatch) -> list[np.dtype]:
    """The dtypes of the rasters whose rows are hashed (the regions' mask, bool, aside)."""
    seen: list[np.dtype] = []
    real = D.row_digests

    def counted(arr, dtype=None):  # type: ignore[no-untyped-def]
        if np.asarray(arr).dtype != np.bool_:
            seen.append(np.asarray(arr).dtype)
        return real(arr, dtype)

    monkeypatch.setattr(D, "row_digests", counted)
    return seen


def test_a_rerun_on_unchanged_files_hashes_nothing_and_gets_the_same_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    root = write_tiny_dataset(tmp_path / "d")
    plain = run_account_streamed(root, block_rows=4)
    cache = RoutingCache(tmp_path / "cache")
    hashed = _count_hashing(monkeypatch)
    first = run_account_streamed(root, block_rows=4, cache=cache)
    n_rasters = len(list((root / "rasters").glob("*.tif")))
    # + the DEM as float64 and its data mask (the routing cache key's, decision 0031)
    assert len(hashed) > 0 and DigestCache(cache.folder).entries() == n_rasters + 2
    hashed.clear()
    again = run_account_streamed(root, block_rows=5, cache=cache)
    assert hashed == []  # neither the scan nor the routing cache's key hashed a raster
    assert again.routing_from_cache
    for r in (first, again):
        assert r.hashes == plain.hashes
        pd.testing.assert_frame_equal(r.table, plain.table, check_exact=True)
    # a dataset hash of a rerun is still the loader's
    assert again.hashes["dataset"] == run_account(root).hashes["dataset"]


def test_a_changed_raster_is_hashed_again_and_changes_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cache = _tiny_with_cache(tmp_path, monkeypatch)
    first = run_account_streamed(root, block_rows=4, cache=cache)
    # the same file, one pixel more rain
    dtype = _edit_pixel(root / "rasters" / "precipitation.tif", 2, 3, lambda v: v + 1.0)
    hashed = _count_hashing(monkeypatch)
    again = run_account_streamed(root, block_rows=4, cache=cache)
    assert len(hashed) > 0 and all(dt == dtype for dt in hashed)  # that raster alone
    assert again.hashes["dataset"] != first.hashes["dataset"]
    assert again.hashes["dataset"] == run_account(root).hashes["dataset"]
    assert again.routing_from_cache  # the DEM did not change
    # the DEM changed: its float64 digest for the routing cache is made again, the LS routed
    _edit_pixel(root / "rasters" / "dem.tif", 5, 5, lambda v: v + 3.0)
    moved = run_account_streamed(root, block_rows=4, cache=cache)
    assert not moved.routing_from_cache
    assert moved.hashes["dataset"] == run_account(root).hashes["dataset"]


def _count_range_scans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per block and raster whose value range the scan finds."""
    from ecovalue.raster import pixelwise

    seen: list[int] = []
    real = pixelwise.range_facts

    def counted(values, mask, low, high):  # type: ignore[no-untyped-def]
        if np.size(values) > 1:  # not load_kernels' warm-up call
            seen.append(1)
        return real(values, mask, low, high)

    monkeypatch.setattr(pixelwise, "range_facts", counted)
    return seen


def test_a_rerun_on_unchanged_files_finds_no_value_range_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value ranges the scan checks are remembered with the digests: a rerun looks at no
    value for them and validates and computes the same."""
    root, cache = _tiny_with_cache(tmp_path, monkeypatch)
    scans = _count_range_scans(monkeypatch)
    first = run_account_streamed(root, block_rows=4, cache=cache)
    assert len(scans) > 0
    records = [json.loads(p.read_text()) for p in (cache.folder / "digests").glob("*.json")]
    ranged = [r for r in records if "facts" in r]
    assert len(ranged) == len(list((root / "rasters").glob("*.tif"))) - 1  # all but land cover
    assert all(r["facts"]["code"] == FD.facts_code_hash() for r in ranged)
    scans.clear()
    again = run_account_streamed(root, block_rows=5, cache=cache)
    assert scans == []
    pd.testing.assert_frame_equal(again.table, first.table, check_exact=True)
    assert again.hashes == first.hashes
    # ranges of other code, or one that shows a value out of bounds: every raster scanned
    from ecovalue.accounting import streaming as S

    monkeypatch.setattr(S, "facts_code_hash", lambda: "other code")
    run_account_streamed(root, block_rows=4, cache=cache)
    assert len(scans) > 0
    monkeypatch.undo()
    _settled(monkeypatch)
    scans = _count_range_scans(monkeypatch)
    entry = next(p for p in (cache.folder / "digests").glob("*.json")
                 if "facts" in json.loads(p.read_text()))
    record = json.loads(entry.read_text())
    record["facts"]["range"][3] = 2  # two pixels above the bound
    entry.write_text(json.dumps(record))
    out = run_account_streamed(root, block_rows=4, cache=cache)
    assert len(scans) > 0  # the file itself is fine: the scan's own ranges validate it
    pd.testing.assert_frame_equal(out.table, first.table, check_exact=True)


def test_a_raster_changed_to_bad_values_fails_validation_beside_remembered_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecovalue.errors import ValidationFailed

    root, cache = _tiny_with_cache(tmp_path, monkeypatch)
    run_account_streamed(root, block_rows=4, cache=cache)
    _edit_pixel(root / "rasters" / "precipitation.tif", 1, 1, lambda v: -5.0)
    scans = _count_range_scans(monkeypatch)
    with pytest.raises(ValidationFailed, match="precipitation has 1 pixels below 0"):
        run_account_streamed(root, block_rows=4, cache=cache)
    assert len(scans) > 0
    # nothing about the bad file was kept as a good range
    with pytest.raises(ValidationFailed, match="precipitation has 1 pixels below 0"):
        run_account_streamed(root, block_rows=4, cache=cache)


def test_without_a_cache_nothing_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(monkeypatch)
    root = write_tiny_dataset(tmp_path / "d")
    run_account_streamed(root, block_rows=4)
    hashed = _count_hashing(monkeypatch)
    run_account_streamed(root, block_rows=4)
    assert len(hashed) > 0


def test_the_cache_command_shows_and_clears_remembered_digests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from ecovalue.cli.main import app

    _settled(monkeypatch)
    root = write_tiny_dataset(tmp_path / "d")
    folder = tmp_path / "cache"
    run_account_streamed(root, block_rows=4, cache=RoutingCache(folder))
    n = DigestCache(folder).entries()
    assert n > 0
    runner = CliRunner()
    res = runner.invoke(app, ["cache", "info", "--cache-dir", str(folder)])
    assert res.exit_code == 0 and f"{n} remembered raster digests" in res.output, res.output
    res = runner.invoke(app, ["cache", "clear", "--cache-dir", str(folder)])
    assert res.exit_code == 0 and f"{n} remembered raster digests" in res.output, res.output
    assert DigestCache(folder).entries() == 0
