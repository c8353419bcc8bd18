"""Per-pixel layers of stored runs on the web map: which exist, who may see them, legends.

A run's layers are the COGs its accounting wrote (``<outputs>/layers/<indicator>_value.tif``
and ``_physical.tif``, :func:`ecovalue.accounting.outputs.write_layers`); the run's
provenance names the outputs folder. Published runs are public; an unpublished run's
layers cover every district, so only the roles that read all unpublished data
(administrators, analysts) see them.

Maps show densities per hectare (value per pixel ÷ pixel area, as the reports' maps do:
``reports.maps.value_per_ha``), so colours do not depend on the resolution; the legend's
classes come from the layer's overview (at most 1024 pixels on the long side).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from ecovalue.accounting.catalogue import INDICATORS
from ecovalue.caches import default_cache_dir
from ecovalue.errors import InputError
from ecovalue.platform.auth.rules import ROLES_READING_ALL_UNPUBLISHED, Principal
from ecovalue.platform.errors import NotFound, PermissionDenied
from ecovalue.platform.runs import service as runs
from ecovalue.raster import io, tiles
from ecovalue.reports.maps import value_per_ha
from ecovalue.web.legend import Legend, layer_legend
from ecovalue.web.results import RunInfo, run_info

KINDS = ("value", "physical")
TILE_CACHE_TILES = 4096  # rendered PNGs kept in memory (≈ 2–20 KB each)


@dataclass(frozen=True)
class Layer:
    """One map layer of a run: an indicator's value or physical quantity per hectare."""

    run_id: int
    indicator: str
    kind: str  # value | physical
    path: Path
    per_ha: float  # multiply a pixel's number by this to get it per hectare
    unit: str  # of the pixel values, before per_ha (元 or the physical unit)

    @property
    def name(self) -> str:
        return f"{self.indicator}_{self.kind}"

    @property
    def category(self) -> str:
        return INDICATORS[self.indicator].category


def readable_run(session: Session, user: Principal, run_id: int) -> RunInfo:
    """The run, if its layers may be shown to ``user`` (published, or a reader of all runs)."""
    run = runs.get_run(session, run_id)
    published = any(p.run_id == run_id for p in runs.publications(session, run.year))
    if not published and user.role not in ROLES_READING_ALL_UNPUBLISHED:
        raise PermissionDenied(
            f"run {run_id} is not published; its map layers cover every district and are "
            "shown only to administrators and analysts")
    return run_info(run)


def layers_dir(run: RunInfo) -> Path | None:
    if not run.outputs_dir:
        return None
    folder = Path(run.outputs_dir) / "layers"
    return folder if folder.is_dir() else None


_available: dict[tuple[int, str], tuple[Layer, ...]] = {}


def available(run: RunInfo) -> list[Layer]:
    """Every layer file of the run, in the catalogue's order (empty when none was kept);
    remembered per run (a stored run's outputs do not change)."""
    key = (run.id, str(run.outputs_dir))
    with _lock:
        found = _available.get(key)
    if found is None:
        found = tuple(_scan(run))
        with _lock:
            _available[key] = found
    return list(found)


def _scan(run: RunInfo) -> list[Layer]:
    folder = layers_dir(run)
    if folder is None:
        return []
    out = []
    for ind, spec in INDICATORS.items():
        for kind in KINDS:
            path = folder / f"{ind}_{kind}.tif"
            if path.is_file():
                out.append(_layer(run, ind, kind, path, spec.physical_unit))
    return out


def _layer(run: RunInfo, indicator: str, kind: str, path: Path, physical_unit: str) -> Layer:
    area = io.info(path).grid.pixel_area_m2
    per_ha = float(value_per_ha(np.array([1.0]), area)[0])
    return Layer(run.id, indicator, kind, path, per_ha, "CNY" if kind == "value" else physical_unit)


def layer(session: Session, user: Principal, run_id: int, name: str) -> Layer:
    """The layer ``<indicator>_<kind>`` of a run the user may see; NotFound otherwise."""
    indicator, _, kind = name.rpartition("_")
    if indicator not in INDICATORS or kind not in KINDS:
        raise InputError(
            f"layer '{name}' is unknown; expected <indicator>_value or <indicator>_physical "
            f"with an indicator of the catalogue, e.g. water_conservation_value")
    run = readable_run(session, user, run_id)
    folder = layers_dir(run)
    path = folder / f"{name}.tif" if folder else None
    if path is None or not path.is_file():
        raise NotFound(f"run {run_id} has no per-pixel layer '{name}' (statistics-only indicators "
                       "have none; runs stored without outputs have no layers)")
    return _layer(run, indicator, kind, path, INDICATORS[indicator].physical_unit)


_legends: dict[Path, Legend] = {}
_tiles: OrderedDict[tuple[Path, int, int, int], bytes | None] = OrderedDict()
_lock = threading.Lock()


def legend(lay: Layer) -> Legend:
    """The colour classes of a layer (cached: a stored run's files do not change)."""
    with _lock:
        found = _legends.get(lay.path)
    if found is None:
        found = layer_legend(tiles.preview(lay.path) * lay.per_ha, lay.category)
        with _lock:
            _legends[lay.path] = found
    return found


_builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-layers")
_building: dict[Path, Future[Path]] = {}


def web_copy_path(lay: Layer) -> Path | None:
    """Where the layer's web-optimized copy is kept (the cache folder; None when caches are
    off): named by the layer file's path, size and time, so a changed file gets a new copy."""
    root = default_cache_dir()
    if root is None:
        return None
    st = lay.path.stat()
    key = hashlib.sha256(f"{lay.path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    return root / "tiles" / f"{key[:32]}.tif"


def tile_source(lay: Layer, wait: bool = False) -> Path:
    """The file tiles are cut from: the web-optimized copy once it exists (it is built in the
    background on first use, or now with ``wait``), the run's own COG until then."""
    target = web_copy_path(lay)
    if target is None:
        return lay.path
    if target.is_file():
        return target
    with _lock:
        job = _building.get(target)
        if job is None:
            job = _builder.submit(tiles.web_optimized_copy, lay.path, target)
            _building[target] = job
    if wait:
        return job.result()
    return target if job.done() and job.exception() is None else lay.path


def prepare(run: RunInfo) -> int:
    """Build the web-optimized copies of every layer of a run now (after publishing)."""
    found = available(run)
    for lay in found:
        tile_source(lay, wait=True)
    return len(found)


def tile(lay: Layer, z: int, x: int, y: int) -> bytes | None:
    """The PNG of tile z/x/y of a layer, or None outside it (kept in a bounded memory cache)."""
    source = tile_source(lay)
    key = (source, z, x, y)
    with _lock:
        if key in _tiles:
            _tiles.move_to_end(key)
            return _tiles[key]
    lg = legend(lay)
    png = tiles.render_tile(tiles.TileRequest(source, z, x, y, lay.per_ha, lg.breaks, lg.colors))
    with _lock:
        _tiles[key] = png
        while len(_tiles) > TILE_CACHE_TILES:
            _tiles.popitem(last=False)
    return png


def clear_tile_cache() -> None:
    """Forget rendered tiles (benchmarks measure cold tiles with it)."""
    with _lock:
        _tiles.clear()


def values_at(run: RunInfo, lon: float, lat: float) -> list[tuple[Layer, float | None]]:
    """Every layer's value per hectare at a point (identify on click)."""
    out = []
    for lay in available(run):
        v = tiles.point(lay.path, lon, lat)
        out.append((lay, None if v is None else v * lay.per_ha))
    return out
