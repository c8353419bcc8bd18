"""The one pint unit registry of ecovalue, with money (元) as a unit.

Every parameter and output declares its unit as a string that this registry parses.
Money is the dimension ``[currency]`` with the base unit ``yuan`` (aliases ``CNY``,
``元``); ``wan_yuan`` (万元) and ``yi_yuan`` (亿元) are the multiples Chinese reports use.
"""

from __future__ import annotations

import logging
import shutil
import sys
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING


def _import_pint() -> ModuleType:
    """pint, without its dask support unless dask is already imported.

    When dask is installed, ``import pint`` imports ``dask.base`` (and with it jinja2, yaml,
    psutil, toolz): ≈ 0.13 s of every command's start-up, for quantities wrapping dask arrays,
    which ecovalue never makes (its dask runs send plain blocks to the workers). pint decides
    with ``importlib.util.find_spec("dask")``, which is None while ``sys.modules["dask"]`` is;
    the entry is removed again right after, so ``import dask`` works as before.
    """
    if "pint" in sys.modules or "dask" in sys.modules:
        import pint

        return pint
    sys.modules["dask"] = None  # type: ignore[assignment]
    try:
        import pint
    finally:
        if sys.modules.get("dask", 0) is None:
            del sys.modules["dask"]
    return pint


if TYPE_CHECKING:
    import pint
else:
    pint = _import_pint()

from ecovalue.caches import default_cache_dir  # noqa: E402
from ecovalue.errors import UnitError  # noqa: E402

log = logging.getLogger(__name__)


def _registry() -> pint.UnitRegistry:
    """pint's registry, its default definitions parsed once per pint version and kept in
    ``<cache folder>/units`` (:mod:`ecovalue.caches`): parsing them costs ≈ 0.2 s in every
    process, reading the parsed form ≈ 0.05 s. pint checks the cached form against the
    definition files' hashes; a folder that cannot be written or a damaged entry only means
    parsing again, and a damaged entry is removed (no cache with ``ECOVALUE_CACHE_DIR=off``)."""
    folder = default_cache_dir()
    if folder is not None:
        try:
            return pint.UnitRegistry(cache_folder=folder / "units")
        except Exception as exc:  # OSError, a damaged pickle: whatever it is, parse again
            log.debug("unit definitions not cached in %s: %s", folder / "units", exc)
            # a damaged entry is removed, so the next process stores a good one
            shutil.rmtree(folder / "units", ignore_errors=True)
    return pint.UnitRegistry(cache_folder=None)


ureg: pint.UnitRegistry = _registry()
ureg.define("yuan = [currency] = CNY = 元")
ureg.define("wan_yuan = 1e4 * yuan = 万元")
ureg.define("yi_yuan = 1e8 * yuan = 亿元")
ureg.define("mu = 10000 / 15 * meter ** 2 = 亩")
ureg.define("wan_m3 = 1e4 * meter ** 3 = 万m3")
ureg.define("visit = [visit]")
ureg.define("person = [person]")
Q_ = ureg.Quantity


@lru_cache(maxsize=512)
def parse_unit(text: str, where: str = "unit") -> pint.Unit:
    """Parse a unit string; raise :class:`UnitError` naming ``where`` if it is not a unit."""
    if text is None or str(text).strip() == "":
        raise UnitError(f"{where}: no unit given; write one such as 'mm', 't/ha/a' or '1'")
    try:
        return ureg.Unit(str(text).strip())
    except Exception as exc:  # pint raises several types
        raise UnitError(
            f"{where}: '{text}' is not a unit pint understands ({exc.__class__.__name__}); "
            "write e.g. 'mm', 'kg/ha/a', 'CNY/m**3' or '1' for a dimensionless number"
        ) from exc


def conversion_factor(from_unit: str, to_unit: str, where: str = "unit") -> float:
    """Return the factor that converts a number in ``from_unit`` to ``to_unit``.

    Raises :class:`UnitError` when the units are unknown or of different dimensions.
    """
    src = parse_unit(from_unit, where)
    dst = parse_unit(to_unit, where)
    try:
        return float(Q_(1.0, src).to(dst).magnitude)
    except pint.DimensionalityError as exc:
        raise UnitError(
            f"{where}: '{from_unit}' cannot be converted to '{to_unit}' "
            f"(dimensions {src.dimensionality} vs {dst.dimensionality})"
        ) from exc
