"""CJK fonts and figure output for the report renderers.

Chinese labels must render on a fresh machine, so the font is the Noto Sans CJK SC file
shipped inside the ``mplfonts`` wheel (a declared dependency), registered with
matplotlib's font manager by path. System fonts are never looked up. DejaVu Sans
(bundled with matplotlib) follows in the family list so that glyphs outside the CJK
font (rare symbols) still fall back to a bundled font rather than to a missing glyph.

Figures are built with :class:`matplotlib.figure.Figure` directly (Agg canvas, no
pyplot), so rendering never touches a GUI backend nor pyplot's global figure list.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Literal

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ecovalue.errors import DataFileError

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
CJK_FAMILY = "Noto Sans CJK SC"
FALLBACK_FAMILY = "DejaVu Sans"  # bundled with matplotlib
DEFAULT_DPI = 110

_registered: Path | None = None


def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK SC font inside the installed ``mplfonts`` package.

    Raises :class:`DataFileError` when the package or the font file is missing.
    """
    try:
        import mplfonts
    except ImportError as exc:  # pragma: no cover - mplfonts is a hard dependency
        raise DataFileError(
            "the PyPI package 'mplfonts' is not installed; it provides the Chinese font for "
            "maps and charts. Fix: pip install mplfonts"
        ) from exc
    path = Path(mplfonts.__file__).parent / "fonts" / CJK_FONT_FILE
    if not path.is_file():
        raise DataFileError(
            f"font file {path} not found in the installed mplfonts package; expected "
            f"{CJK_FONT_FILE}. Fix: pip install --force-reinstall mplfonts"
        )
    return path


def use_cjk_font() -> Path:
    """Register the CJK font (once) and make it matplotlib's default sans-serif font.

    Sets ``font.family``, ``font.sans-serif`` and ``axes.unicode_minus=False`` (the CJK
    font lacks U+2212, so minus signs use the ASCII hyphen). Returns the font path.
    """
    global _registered
    path = cjk_font_path()
    if _registered != path:
        font_manager.fontManager.addfont(str(path))
        _registered = path
    matplotlib.rcParams["font.family"] = "sans-serif"
    sans = [f for f in matplotlib.rcParams["font.sans-serif"] if f not in (CJK_FAMILY,)]
    matplotlib.rcParams["font.sans-serif"] = [CJK_FAMILY, FALLBACK_FAMILY] + [
        f for f in sans if f != FALLBACK_FAMILY
    ]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return path


def new_figure(
    width_in: float, height_in: float, layout: Literal["constrained"] | None = "constrained"
) -> Figure:
    """A figure on an Agg canvas with the CJK font active; ``layout=None`` for axes placed by
    hand (constrained layout measures every text and renders the figure twice)."""
    use_cjk_font()
    fig = Figure(figsize=(width_in, height_in), layout=layout)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = DEFAULT_DPI) -> bytes:
    """Render ``fig`` to PNG bytes (white background)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()
