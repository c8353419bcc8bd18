"""Colour classes of the web maps, chosen as the reports choose them (``reports.maps``).

Values are binned into quantile classes (zero its own class when present;
:func:`ecovalue.reports.maps.quantile_breaks`) and painted with the matplotlib colour map
the reports use for the indicator's category (``CATEGORY_CMAP``; districts: ``YlGn``), so
a web map and the printed report of the same run agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import BoundaryNorm

from ecovalue.reports.maps import CATEGORY_CMAP, CHOROPLETH_CLASSES, N_CLASSES, quantile_breaks

RGBA = tuple[int, int, int, int]
DISTRICT_CMAP = "YlGn"
NO_DATA = "#dddddd"


@dataclass(frozen=True)
class Legend:
    """Class edges (increasing, one more than the colours) and one colour per class."""

    breaks: tuple[float, ...]
    colors: tuple[RGBA, ...]

    def index(self, value: float) -> int | None:
        """The class of ``value`` (0-based; edges inclusive at the top), None when not finite."""
        if not np.isfinite(value):
            return None
        i = int(np.searchsorted(np.asarray(self.breaks), value, side="right")) - 1
        return min(max(i, 0), len(self.colors) - 1)

    def hex(self, value: float) -> str:
        i = self.index(value)
        if i is None:
            return NO_DATA
        r, g, b, _ = self.colors[i]
        return f"#{r:02x}{g:02x}{b:02x}"

    def rows(self) -> list[tuple[str, float, float]]:
        """(colour, lower edge, upper edge) per class, for the legend box."""
        return [(f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}", lo, hi)
                for c, lo, hi in zip(self.colors, self.breaks, self.breaks[1:], strict=False)]


def make_legend(values: np.ndarray, cmap_name: str, n_classes: int) -> Legend:
    """Quantile classes of the finite ``values`` with colours of ``cmap_name``."""
    breaks = quantile_breaks(np.asarray(values, dtype=np.float64), n_classes)
    cmap = colormaps[cmap_name]
    norm = BoundaryNorm(breaks, cmap.N)
    mids = (breaks[:-1] + breaks[1:]) / 2
    colors = tuple(tuple(int(round(255 * c)) for c in cmap(norm(m))) for m in mids)
    return Legend(tuple(float(b) for b in breaks), colors)  # type: ignore[arg-type]


def district_legend(values: Sequence[float]) -> Legend:
    """The choropleth classes of district values (as the report's district map)."""
    return make_legend(np.asarray(values, dtype=np.float64), DISTRICT_CMAP, CHOROPLETH_CLASSES)


def layer_legend(values: np.ndarray, category: str) -> Legend:
    """The classes of a per-pixel layer (as the report's indicator maps)."""
    return make_legend(values, CATEGORY_CMAP.get(category, "viridis"), N_CLASSES)
