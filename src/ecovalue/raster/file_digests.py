"""Raster digests remembered by file identity: a rerun on unchanged files hashes nothing.

The dataset hash (provenance of every account) and the routing cache's key are digests of
the rasters' converted pixels (:mod:`ecovalue.raster.digest`). Hashing them costs about a
CPU-second per 16 M pixels × 15 rasters (sha256 at ≈ 1.5 GB/s), paid again on every rerun of
the same files — most of a city's rasters do not change between the year's, the scenario's
and the Monte Carlo draw's runs. As git's index, make and DVC do, a digest is kept beside the
file's identity and used again while that identity holds:

* the file's resolved path, device, inode, size, modification and status-change times
  (nanoseconds; ``os.stat``): rewriting a file changes its modification time, and even a
  rewrite that restores the old modification time (``touch -d``) changes its status-change
  time, which no user tool can set;
* what was hashed (``what``: the dtype, the unit factor, the band), and the code that reads
  and hashes (the sources of :mod:`ecovalue.raster.io` and :mod:`ecovalue.raster.digest`):
  a change to either is a miss, never a wrong hit.

An entry may also hold what the same reading found besides the digest (``facts``): the
streamed engine keeps each raster's value range there (minimum, maximum and the pixels
outside the physical bounds, with the bounds and the sha256 of the code that finds them), so
a rerun's scan looks at no value of an unchanged file either; a range with a value out of its
bounds is never used (that file is scanned, and the validation names the problem).

A digest is remembered only when its file had not changed for :data:`SETTLE_NS` before the
reading started and is unchanged after it (the same identity before and after): a file being
written while it is read could otherwise keep its modification time within the clock's
granularity and be remembered with a digest of neither version (git's "racy" entries). A file
written seconds before the run is simply hashed again on the next run.

An entry is one small JSON file ``<folder>/digests/<key>.json`` written through a temporary
name and an atomic rename; an unreadable entry is removed and counts as a miss; a full or
read-only disk only costs the hashing. At most :data:`MAX_ENTRIES` entries are kept (the least
recently used go first). The folder is the routing cache's (:mod:`ecovalue.caches`);
``ecovalue cache clear`` empties both, ``--no-cache`` or ``ECOVALUE_CACHE_DIR=off`` turns
both off (decision 0016).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

FORMAT = 1
SETTLE_NS = 2_000_000_000
"""A file is remembered only if it had not changed for this long (ns) before it was read
(longer than any filesystem's timestamp granularity: FAT's 2 s)."""
MAX_ENTRIES = 20_000
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def facts_code_hash() -> str:
    """sha256 of the code that finds a raster's facts besides its digest (its value range,
    :func:`ecovalue.raster.pixelwise.range_facts`): remembered facts of other code are not
    used (the digest still is)."""
    from ecovalue.raster import pixelwise

    return hashlib.sha256(Path(pixelwise.__file__).read_bytes()).hexdigest()  # type: ignore[arg-type]


@dataclass(frozen=True)
class Remembered:
    """An entry: the digest, and what the reading found besides (``facts``, a JSON object the
    caller defines, e.g. the value range; None when the entry has none)."""

    digest: bytes
    facts: dict[str, Any] | None


@lru_cache(maxsize=1)
def reader_code_hash() -> str:
    """sha256 of the code that reads and hashes rasters: a change to it invalidates entries."""
    from ecovalue.raster import digest, io

    h = hashlib.sha256()
    for mod in (io, digest):
        h.update(Path(mod.__file__).read_bytes())  # type: ignore[arg-type]
    return h.hexdigest()


@dataclass(frozen=True)
class FileStamp:
    """A file's identity: while it holds, the file's bytes are those that were hashed."""

    path: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str | Path) -> FileStamp | None:
        """The stamp of ``path`` now; None when it cannot be stat'ed (no file: no entry)."""
        try:
            real = os.path.realpath(path)
            st = os.stat(real)
        except OSError:
            return None
        return cls(real, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def settled_before(self, t_ns: int) -> bool:
        """Whether the file had not changed for :data:`SETTLE_NS` at time ``t_ns``."""
        return max(self.mtime_ns, self.ctime_ns) <= t_ns - SETTLE_NS


class DigestCache:
    """Digests of files' converted pixels keyed by :class:`FileStamp` and ``what`` (module
    doc). ``folder``: the cache folder (``digests/`` is made inside it)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @property
    def path(self) -> Path:
        return self.folder / "digests"

    @staticmethod
    def key(stamp: FileStamp, what: str) -> str:
        head = {"format": FORMAT, "code": reader_code_hash(), "file": asdict(stamp), "what": what}
        return hashlib.sha256(json.dumps(head, sort_keys=True).encode()).hexdigest()

    def get(self, stamp: FileStamp | None, what: str) -> bytes | None:
        """The remembered digest, or None (no entry, a changed file, a damaged entry)."""
        found = self.lookup(stamp, what)
        return None if found is None else found.digest

    def lookup(self, stamp: FileStamp | None, what: str) -> Remembered | None:
        """The remembered digest and facts, or None (as :meth:`get`)."""
        if stamp is None:
            return None
        entry = self.path / f"{self.key(stamp, what)}.json"
        try:
            record = json.loads(entry.read_text())
            digest = bytes.fromhex(record["digest"])
            if record.get("format") != FORMAT or len(digest) != 32:
                raise ValueError(f"format {record.get('format')}, {len(digest)}-byte digest")
            facts = record.get("facts")
            if facts is not None and not isinstance(facts, dict):
                raise ValueError(f"facts of type {type(facts).__name__}")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("digest cache entry %s cannot be read (%s); removed it", entry, exc)
            with contextlib.suppress(OSError):
                entry.unlink()
            return None
        with contextlib.suppress(OSError):  # the last use orders eviction
            os.utime(entry)
        return Remembered(digest, facts)

    def put(
        self,
        before: FileStamp | None,
        what: str,
        digest: bytes,
        started_ns: int,
        facts: dict[str, Any] | None = None,
    ) -> bool:
        """Remember ``digest`` (and ``facts``, a JSON object) of the file stamped ``before``
        its reading, which started at ``started_ns`` (``time.time_ns()``). Refused (False)
        when the file changed within :data:`SETTLE_NS` before that, or its stamp now differs;
        a disk error only warns."""
        if before is None or not before.settled_before(started_ns):
            return False
        if FileStamp.of(before.path) != before:
            return False
        record = {
            "format": FORMAT,
            "digest": digest.hex(),
            "what": what,
            "file": asdict(before),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if facts is not None:
            record["facts"] = facts
        entry = self.path / f"{self.key(before, what)}.json"
        tmp = entry.with_name(f"{entry.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(tmp, entry)
        except OSError as exc:
            log.warning("digest cache %s could not store an entry (%s)", self.path, exc)
            return False
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        self._bound()
        return True

    def entries(self) -> int:
        """The number of entries stored."""
        try:
            return sum(1 for e in os.scandir(self.path) if e.name.endswith(".json"))
        except OSError:
            return 0

    def clear(self) -> int:
        """Remove every entry (and stray temporary files); the number of entries removed."""
        n = 0
        with contextlib.suppress(OSError):
            for e in os.scandir(self.path):
                with contextlib.suppress(OSError):
                    os.unlink(e.path)
                    n += e.name.endswith(".json")
        return n

    def _bound(self) -> None:
        """Keep at most :data:`MAX_ENTRIES` entries, removing the least recently used."""
        try:
            found = [e for e in os.scandir(self.path) if e.name.endswith(".json")]
        except OSError:
            return
        if len(found) <= MAX_ENTRIES:
            return
        aged = []
        for e in found:
            with contextlib.suppress(OSError):
                aged.append((e.stat().st_mtime_ns, e.path))
        for _t, p in sorted(aged)[: len(aged) - MAX_ENTRIES]:
            with contextlib.suppress(OSError):
                os.unlink(p)
