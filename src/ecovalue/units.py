"""The one pint unit registry of ecovalue, and the one spelling of units and numbers for users.

Every parameter and output declares its unit as a string that this registry parses.
Money is the dimension ``[currency]`` with the base unit ``yuan`` (aliases ``CNY``,
``元``); ``wan_yuan`` (万元) and ``yi_yuan`` (亿元) are the multiples Chinese reports use.

Reading: :func:`parse_unit` (and :func:`conversion_factor`, which calls it) accepts what
Chinese statistics write besides pint's own syntax — the multipliers 千, 万, 十万, 百万, 千万
and 亿 before a unit (``万m³``, ``亿kW·h``, ``万hm²``, ``千公顷``, ``万人次``), Chinese unit
names (公顷, 亩, 吨, 立方米, 千瓦时, 人次, 年 …), superscripts and digits as powers (``m³``,
``m3``, ``hm2``), ``·``/``×`` for products and full-width characters (``（万t）``, ``t／a``).

Writing: :func:`format_unit` is the only way a unit reaches a user (tables, CSV, XLSX,
HTML, the command line): ``m**3`` → ``m³``, ``kW*h`` → ``kW·h``, ``CNY/t`` → ``元/t``,
``visit`` → ``人次``, ``kg/ha/a`` → ``kg/(hm²·a)`` (hectare as hm², GB 3102.3). Numbers
follow the same rule: :func:`format_amount`, :func:`format_quantity`, :func:`format_tick`
(thousands separators, an em dash for a missing value), :func:`money_unit` (the 元 / 万元 /
亿元 choice of a column), :func:`round_significant` (quantities without float noise).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
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
ureg.define("mu = 10000 / 15 * meter ** 2 = 亩")  # 15 亩 = 1 公顷 exactly
ureg.define("wan_m3 = 1e4 * meter ** 3 = 万m3")
ureg.define("visit = [visit]")  # 人次: one visit by one person
ureg.define("person = [person]")
ureg.define("head = [head] = 头")  # livestock counted by head
# the Chinese multipliers as dimensionless factors: 万m³ is read as (wan * m**3), 1e4 m³
MULTIPLIERS = {"千万": "qianwan", "百万": "baiwan", "十万": "shiwan", "亿": "yi", "万": "wan", "千": "qian"}
for _zh, _name, _factor in (("千", "qian", "1e3"), ("万", "wan", "1e4"), ("十万", "shiwan", "1e5"),
                            ("百万", "baiwan", "1e6"), ("千万", "qianwan", "1e7"), ("亿", "yi", "1e8")):
    ureg.define(f"{_name} = {_factor}")
Q_ = ureg.Quantity

# Chinese unit names → pint spellings, longest first (千瓦时 before 千瓦, 平方米 before 米)
_CHINESE_NAMES = (
    ("平方公里", "km**2"), ("平方千米", "km**2"), ("立方米", "m**3"), ("平方米", "m**2"),
    ("千瓦时", "kW*h"), ("千瓦", "kW"), ("公顷", "ha"), ("公斤", "kg"), ("千克", "kg"),
    ("公里", "km"), ("千米", "km"), ("毫米", "mm"), ("厘米", "cm"), ("人次", "visit"),
    ("小时", "h"), ("分钟", "min"), ("吨", "t"), ("亩", "mu"), ("克", "g"), ("米", "m"),
    ("年", "a"), ("天", "d"), ("日", "d"), ("秒", "s"), ("元", "yuan"), ("头", "head"), ("人", "person"),
)
_PRODUCT_SIGNS = str.maketrans({"·": "*", "⋅": "*", "×": "*", "−": "-", "^": "*"})
# a unit symbol followed by digits is a power: m3, hm2, m-1 (not wan_m3, not 1e4)
_POWER = re.compile(r"(?<![A-Za-z0-9_.])([A-Za-zμΩ]+)(-?\d+)(?![A-Za-z0-9_.])")
_FACTOR = r"(?:\([^()]*\)|[A-Za-zμΩ°%][\w°]*)(?:\*\*-?\d+(?:\.\d+)?)?"
_MULTIPLIED = re.compile(
    "(" + "|".join(MULTIPLIERS) + r")\s*(" + _FACTOR + r"(?:\s*\*(?!\*)\s*" + _FACTOR + r")*)?"
)


def _pint_syntax(text: str) -> str:
    """A unit as Chinese statistics write it, in pint's syntax (see the module doc).

    ``万m³/a`` → ``(wan*m**3)/a``: a multiplier binds to the product that follows it, so
    ``元/万m³`` is 元 per 10⁴ m³.
    """
    out = unicodedata.normalize("NFKC", text).strip().translate(_PRODUCT_SIGNS)
    out = out.replace("**", "^^").replace("*", " * ").replace("^^", "**")  # '*' keeps its operands apart
    for zh, name in _CHINESE_NAMES:
        out = out.replace(zh, f" {name} " if "*" not in name else f" ({name}) ")
    out = re.sub(r"\s*\*\s*", "*", out.strip()).replace("* *", "**")
    out = re.sub(r"\s*\*\*\s*", "**", out)
    out = re.sub(r"\s+", " ", out)
    out = _POWER.sub(r"\1**\2", out)

    def group(m: re.Match[str]) -> str:
        name = MULTIPLIERS[m.group(1)]
        return f"({name}*{m.group(2).strip()})" if m.group(2) else name

    return _MULTIPLIED.sub(group, out).replace(" /", "/").replace("/ ", "/")


@lru_cache(maxsize=512)
def parse_unit(text: str, where: str = "unit") -> pint.Unit:
    """Parse a unit string (pint's syntax or the Chinese spellings of the module doc); raise
    :class:`UnitError` naming ``where`` if it is not a unit."""
    if text is None or str(text).strip() == "":
        raise UnitError(f"{where}: no unit given; write one such as 'mm', 't/hm²/a' or '1'")
    try:
        return ureg.Unit(_pint_syntax(str(text)))
    except Exception as exc:  # pint raises several types
        raise UnitError(
            f"{where}: '{text}' is not a unit pint understands ({exc.__class__.__name__}); "
            "write e.g. 'mm/a', 't', '万t', '万m³', '亿kW·h', '元/t', 'hm²', '亩', '人次' "
            "or '1' for a dimensionless number"
        ) from exc


def conversion_factor(from_unit: str, to_unit: str, where: str = "unit") -> float:
    """Return the factor that converts a number in ``from_unit`` to ``to_unit``.

    Raises :class:`UnitError` when the units are unknown or of different dimensions; the
    message echoes ``from_unit`` as written and spells ``to_unit`` as users read it.
    """
    src = parse_unit(from_unit, where)
    dst = parse_unit(to_unit, where)
    try:
        return float(Q_(1.0, src).to(dst).magnitude)
    except pint.DimensionalityError as exc:
        raise UnitError(
            f"{where}: '{from_unit}' cannot be converted to '{format_unit(to_unit)}' "
            f"(dimensions {src.dimensionality} vs {dst.dimensionality})"
        ) from exc


# --------------------------------------------------------------------------- units for users

# pint unit name → (symbol, power of the symbol): a hectare is hm² (GB 3102.3)
_SYMBOLS = {
    "yuan": ("元", 1), "wan_yuan": ("万元", 1), "yi_yuan": ("亿元", 1), "visit": ("人次", 1),
    "person": ("人", 1), "head": ("头", 1), "mu": ("亩", 1), "wan_m3": ("万m³", 1),
    "hectare": ("hm", 2), "metric_ton": ("t", 1), "year": ("a", 1), "day": ("d", 1),
    "hour": ("h", 1), "minute": ("min", 1), "second": ("s", 1), "kilowatt_hour": ("kW·h", 1),
    "watt_hour": ("W·h", 1), "liter": ("L", 1), "degree_Celsius": ("°C", 1), "percent": ("%", 1),
    "meter": ("m", 1), "gram": ("g", 1),
}
_MULTIPLIER_SYMBOLS = {name: zh for zh, name in MULTIPLIERS.items()}
_SUPERSCRIPT = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def _symbol(name: str, exponent: float) -> str:
    base, power = _SYMBOLS.get(name) or (ureg.get_symbol(name), 1)
    e = power * exponent
    if e == 1:
        return base
    text = str(int(e)) if float(e).is_integer() else f"{e:g}"
    return base + text.translate(_SUPERSCRIPT)


def _side(factors: list[tuple[str, float]]) -> tuple[str, int]:
    """'万m³·a' of one side of a fraction, and how many unit factors (multipliers aside) it has."""
    mult = "".join(_MULTIPLIER_SYMBOLS[n] for n, e in factors if n in _MULTIPLIER_SYMBOLS for _ in range(int(e)))
    units = [_symbol(n, e) for n, e in factors if n not in _MULTIPLIER_SYMBOLS]
    return mult + "·".join(units), len(units)


@lru_cache(maxsize=512)
def _format_parsed(unit: pint.Unit) -> str:
    # in the order written, which is how people read them
    items = [(str(n), float(e)) for n, e in unit._units.items()]  # type: ignore[arg-type]
    top, _ = _side([(n, e) for n, e in items if e > 0])
    bottom, n_bottom = _side([(n, -e) for n, e in items if e < 0])
    top = top or "1"
    if not bottom:
        return top
    return f"{top}/({bottom})" if n_bottom > 1 else f"{top}/{bottom}"


def format_unit(unit: str | pint.Unit | None) -> str:
    """The unit as a user reads it (module doc): the one spelling of every output.

    Text that is not a unit (a label such as ``class``) is returned as written; an empty or
    missing unit gives ``""``; a dimensionless number gives ``1``.
    """
    if unit is None:
        return ""
    if isinstance(unit, str):
        text = unit.strip()
        if not text:
            return ""
        try:
            return _format_parsed(parse_unit(text))
        except UnitError:
            return text
    return _format_parsed(unit)


# --------------------------------------------------------------------------- numbers for users

DASH = "—"
QUANTITY_SIGNIFICANT_DIGITS = 9
"""Significant digits kept of a physical quantity in stored outputs (XLSX cells): enough for
every digit a statistics table writes, and more than a float32 raster carries; float noise
such as ``7014144.099999359`` becomes ``7014144.1``."""


@dataclass(frozen=True)
class MoneyUnit:
    """元, 万元 or 亿元 and how many 元 one of it is."""

    label: str
    yuan: Decimal

    def of(self, yuan: Decimal) -> Decimal:
        """An amount in 元 expressed in this unit (exact: a power of ten)."""
        return yuan / self.yuan


YUAN = MoneyUnit("元", Decimal(1))
WAN_YUAN = MoneyUnit("万元", Decimal(10_000))
YI_YUAN = MoneyUnit("亿元", Decimal(100_000_000))


def money_unit(amounts_yuan: Iterable[Decimal | float | None]) -> MoneyUnit:
    """The unit a column of amounts is shown in, as Chinese statistics choose it: 亿元 when the
    largest amount reaches 1 亿元, 万元 when it reaches 1 万元, else 元."""
    largest = max((abs(Decimal(repr(a)) if isinstance(a, float) else a) for a in amounts_yuan
                   if a is not None and not (isinstance(a, float) and not math.isfinite(a))),
                  default=Decimal(0))
    return next(u for u in (YI_YUAN, WAN_YUAN, YUAN) if largest >= u.yuan or u is YUAN)


def _missing(v: Decimal | float | None) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v)) or (
        isinstance(v, Decimal) and not v.is_finite())


def format_amount(v: Decimal | float | None, places: int = 2) -> str:
    """An amount (money in the unit shown, a ratio) with thousands separators and ``places``
    decimals: ``1,234,567.89``; an em dash when missing."""
    if _missing(v):
        return DASH
    return f"{v:,.{places}f}"


def format_money(yuan: Decimal, unit: MoneyUnit | None = None, places: int = 2) -> str:
    """``1,234.57 亿元``: an amount in 元 in ``unit`` (default: :func:`money_unit` of itself)."""
    u = unit or money_unit([yuan])
    return f"{format_amount(u.of(yuan), places)} {u.label}"


def format_quantity(v: float | Decimal | None, places: int = 2) -> str:
    """A physical quantity with thousands separators and ``places`` decimals; one too small
    for them shows three significant digits (``0.000123``), never a false ``0.00``."""
    if _missing(v):
        return DASH
    x = float(v)  # type: ignore[arg-type]
    if x != 0 and abs(x) < 10 ** -places:
        return f"{x:.3g}"
    return f"{x:,.{places}f}"


def format_tick(v: float) -> str:
    """A short axis or legend label: ``12,345`` from 1000 on, three significant digits below."""
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def round_significant(v: float, digits: int = QUANTITY_SIGNIFICANT_DIGITS) -> float:
    """``v`` rounded to ``digits`` significant digits (NaN and infinities unchanged)."""
    if v == 0 or not math.isfinite(v):
        return v
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))
