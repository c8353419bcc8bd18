"""Numbers the way Chinese statistics print them: one money unit per page (亿元 or 万元),
thousands separators, exact Decimal arithmetic.

A page picks its money unit once from the largest amount it shows (:func:`money_scale`),
so a table never mixes 亿元 and 万元; every amount on that page is then printed in that
unit by :func:`money`. Units of physical quantities are shown as people write them
(``reports.xlsx.display_unit``: m³, kW·h, 元), never in pint's spelling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from ecovalue.accounting.catalogue import INDICATORS  # noqa: F401  (templates: n.INDICATORS)
from ecovalue.reports.xlsx import WAN, YI, display_unit

DASH = "—"


@dataclass(frozen=True)
class MoneyScale:
    """The money unit of a page: factor in 元 and the message key of its label."""

    factor: Decimal
    key: str  # money.yi | money.wan | money.yuan


YI_SCALE = MoneyScale(YI, "money.yi")
WAN_SCALE = MoneyScale(WAN, "money.wan")
YUAN_SCALE = MoneyScale(Decimal(1), "money.yuan")


def money_scale(values: Iterable[Decimal | None]) -> MoneyScale:
    """亿元 when the largest amount reaches 1 亿元, 万元 when it reaches 1 万元, else 元."""
    largest = max((abs(v) for v in values if v is not None), default=Decimal(0))
    if largest >= YI:
        return YI_SCALE
    if largest >= WAN:
        return WAN_SCALE
    return YUAN_SCALE


def scaled(value: Decimal, scale: MoneyScale, places: int = 2) -> Decimal:
    """``value`` 元 in the page's unit, rounded half-even to ``places`` decimals."""
    return (value / scale.factor).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def money(value: Decimal | None, scale: MoneyScale, places: int = 2) -> str:
    """An amount in the page's unit with thousands separators: ``1,274.25``."""
    if value is None:
        return DASH
    return f"{scaled(value, scale, places):,.{places}f}"


def signed_money(value: Decimal | None, scale: MoneyScale, places: int = 2) -> str:
    """A change with its sign: ``+12.30`` / ``−4.00``."""
    if value is None:
        return DASH
    text = money(abs(value), scale, places)
    return ("+" if value > 0 else "−" if value < 0 else "±") + text


def quantity(value: float | Decimal | None) -> str:
    """A physical quantity: thousands separators, two decimals; small numbers with 3 digits."""
    if value is None:
        return DASH
    v = float(value)
    if not math.isfinite(v):
        return DASH
    if v == 0 or abs(v) >= 0.01:
        return f"{v:,.2f}"
    return f"{v:.3g}"


def percent(part: Decimal, whole: Decimal, places: int = 1) -> str:
    """``part`` as a percentage of ``whole`` (``—`` when the whole is zero)."""
    if not whole:
        return DASH
    return f"{(part * 100 / whole).quantize(Decimal(1).scaleb(-places)):,.{places}f} %"


def unit(text: str) -> str:
    """A unit as people write it (m³, kW·h, 元)."""
    return display_unit(text)
