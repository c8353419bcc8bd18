"""Where ecovalue keeps what it can compute again: ``$ECOVALUE_CACHE_DIR`` (``off`` turns
every cache off), else ``$XDG_CACHE_HOME/ecovalue`` or ``~/.cache/ecovalue``.

Inside it: ``routing/`` (the LS factor of a DEM, :mod:`ecovalue.raster.routing_cache`) and
``units/`` (pint's parsed unit definitions, :mod:`ecovalue.units`). Deleting the folder loses
nothing but time.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DIR = "ECOVALUE_CACHE_DIR"


def default_cache_dir() -> Path | None:
    """The cache folder from the environment (see the module doc); None when turned off."""
    value = os.environ.get(ENV_DIR)
    if value is not None:
        value = value.strip()
        return None if value.lower() in ("", "off", "0", "none", "false") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ecovalue"
