"""Plot engines kept between plot jobs, so a drawn plot's GEP comes back in about a second.

A plot job needs the per-pixel layers of an account of its dataset (ADR 0004). Running
that account for every plot would cost seconds at 200 m and minutes at 30 m, so the
:class:`~ecovalue.accounting.plot.PlotEngine` of an account is kept under a key naming
exactly what the account read:

* the code version (:func:`ecovalue.accounting.pipeline.code_version`), the profile and
  the year;
* every file of the dataset (its ``dataset.toml`` and each raster, vector and table it
  names): path, size and modification time in nanoseconds, so a changed file is a new key;
* the departments' approved statistics and reported quantities of the year (their rows,
  sorted), so an approval that changes the account is a new key too.

Engines are saved under the cache folder (``$ECOVALUE_CACHE_DIR/plot-engines``, see
:mod:`ecovalue.caches`; the newest :data:`KEEP_ON_DISK` are kept) and memory-mapped when
loaded, and the last :data:`KEEP_IN_MEMORY` are held by the process. A cached engine holds
the same float64 numbers as a fresh one, so a plot's GEP is the same to the fen as
``ecovalue plot`` on the same dataset. The demo loader saves the engines of its accounts
(:func:`store`), so the demo's first plot is fast as well.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pandas as pd

from ecovalue.accounting.pipeline import code_version
from ecovalue.accounting.plot import PlotEngine
from ecovalue.caches import default_cache_dir
from ecovalue.datasets.manifest import MANIFEST_NAME
from ecovalue.platform.runs.datasets import DatasetRef

FOLDER = "plot-engines"
KEEP_ON_DISK = 6
KEEP_IN_MEMORY = 3


@cache
def _code() -> str:
    return code_version()


def _rows(df: pd.DataFrame) -> bytes:
    if not len(df):
        return b"-"
    text = df.astype(str)
    text = text[sorted(text.columns)]
    return text.sort_values(list(text.columns)).to_csv(index=False).encode()


def engine_key(ref: DatasetRef, approved: tuple[pd.DataFrame, pd.DataFrame], profile: str,
               year: int) -> str:  # fmt: skip
    """The key of the account of ``ref`` with ``approved`` rows (see the module doc)."""
    h = hashlib.sha256()
    for part in (_code(), profile, str(year)):
        h.update(part.encode() + b"\0")
    m = ref.manifest
    names = [MANIFEST_NAME, *(e.path for group in (m.rasters, m.vectors, m.tables)
                              for e in group.values())]  # fmt: skip
    for name in sorted(set(names)):
        path = (ref.folder / name).resolve()
        st = path.stat() if path.exists() else None
        h.update(f"{name}|{st.st_size if st else -1}|{st.st_mtime_ns if st else -1}\0".encode())
    for df in approved:
        h.update(_rows(df) + b"\0")
    return h.hexdigest()[:32]


class PlotEngines:
    """The engines of one process: in memory, then on disk, else built (and saved)."""

    def __init__(self, folder: Path | None = None):
        base = default_cache_dir() if folder is None else folder
        self.folder = None if base is None else base / FOLDER
        self._memory: OrderedDict[str, PlotEngine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, build: Callable[[], PlotEngine]) -> tuple[PlotEngine, str]:
        """The engine of ``key`` and where it came from: ``memory``, ``disk`` or ``built``."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key], "memory"
        engine, origin = self._from_disk(key), "disk"
        if engine is None:
            engine, origin = build(), "built"
            self.store(key, engine)
        self._remember(key, engine)
        return engine, origin

    def _from_disk(self, key: str) -> PlotEngine | None:
        if self.folder is None or not (self.folder / key).is_dir():
            return None
        try:
            engine = PlotEngine.load(self.folder / key)
        except Exception:  # a half-written or foreign folder: build it again
            shutil.rmtree(self.folder / key, ignore_errors=True)
            return None
        os.utime(self.folder / key)  # newest use kept longest
        return engine

    def _remember(self, key: str, engine: PlotEngine) -> None:
        with self._lock:
            self._memory[key] = engine
            self._memory.move_to_end(key)
            while len(self._memory) > KEEP_IN_MEMORY:
                self._memory.popitem(last=False)

    def store(self, key: str, engine: PlotEngine) -> None:
        """Save ``engine`` under ``key`` (written aside, then renamed: readers never see half)."""
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.folder))
        try:
            engine.save(tmp)
            tmp.rename(self.folder / key)
        except OSError:  # another process saved it first
            shutil.rmtree(tmp, ignore_errors=True)
        self._prune()

    def _prune(self) -> None:
        assert self.folder is not None
        saved = sorted((p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime, reverse=True)  # fmt: skip
        for old in saved[KEEP_ON_DISK:]:
            shutil.rmtree(old, ignore_errors=True)
